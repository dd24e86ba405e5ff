"""`recmv demo`: the pipeline that exists so far, end to end, on a small synthetic subject.

synth -> validate -> template-only baseline -> eval. Fitting and extraction join it as they land.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from recmv.errors import RecmvError
from recmv.synth.config import SynthConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the pipeline end to end on a small synthetic subject",
        description="Synthesise a small subject, validate it, pose the template-only baseline and evaluate it.",
    )
    parser.add_argument("--out", default="demo", help="folder for the subject, predictions and metrics")
    parser.add_argument("--frames", type=int, default=24, help="frames of the synthetic subject")
    parser.add_argument("--size", type=int, default=256, help="image size of the synthetic subject")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic subject")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recmv.cli.eval import format_tables
    from recmv.data.validate import validate_subject
    from recmv.evaluation.baseline import template_baseline
    from recmv.evaluation.evaluate import EvaluationOptions, evaluate, write_result
    from recmv.synth.writer import synthesize

    out = Path(args.out)
    subject, prediction = out / "subject", out / "template_baseline"
    start = time.perf_counter()
    config = SynthConfig(
        garments=("short_sleeve_upper", "skirt"), motion="rotate", frames=args.frames, size=args.size,
        seed=args.seed, grid_resolution=64,
    )
    print(f"[1/4] synth: {synthesize(config, subject)}")
    problems = validate_subject(subject)
    if problems:
        raise RecmvError(f"the synthetic subject does not validate: {problems[0]}")
    print(f"[2/4] validate: {subject} is a valid subject folder")
    template_baseline(subject, prediction)
    print(f"[3/4] template-only baseline written to {prediction}")
    result = evaluate(prediction, subject, EvaluationOptions(samples=20_000))
    write_result(result, prediction / "metrics.json")
    print(f"[4/4] eval: metrics in {prediction / 'metrics.json'}")
    print(format_tables(result))
    print(f"demo finished in {time.perf_counter() - start:.0f} s")
    return 0
