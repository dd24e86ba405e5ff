"""`recmv bench`: a suite of synthetic subjects through the pipeline; quality, time and memory per preset."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from recmv import fileio
from recmv.cli.options import comma_separated
from recmv.errors import RecmvError
from recmv.evaluation.bench import SUITES, TEMPLATE_METHOD, BenchSuite


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="benchmark quality, time and memory on a suite of synthetic subjects",
        description=(
            "Run synthetic subjects (fixed seeds; each with a `rotate` and a large-motion segment) through synth, "
            "skinning, fit, extract and eval for each preset, plus the template-only baseline. Writes OUT/bench.json "
            "and OUT/bench.md; with two presets, prints their ratios of time and quality."
        ),
    )
    parser.add_argument("--suite", choices=sorted(SUITES), default="default", help="subjects and sizes (default: default)")
    parser.add_argument("--quick", action="store_true", help="the CPU-sized suite (same as --suite quick)")
    parser.add_argument(
        "--size", type=int, default=None,
        help="image side of the synthetic subjects, pixels (default: the suite's, 256 for default and 128 for quick)",
    )
    parser.add_argument(
        "--subjects", default=None,
        help="comma-separated names of the suite's subjects to run (default: all; e.g. dress)",
    )
    parser.add_argument("--presets", default="fast", help="comma-separated presets to compare, e.g. fast,reference")
    parser.add_argument(
        "--config", default=None, metavar="JSON",
        help="a partial fit config, as `recmv fit --config`, laid over every preset's bench config "
        "(e.g. {\"optim\": {\"sdf_lr\": 0.001}}): bench a setting before it becomes a default",
    )
    parser.add_argument(
        "--in-process", action="store_true",
        help="run the stages in this process (quicker to start; peak memory is then the running maximum, not per stage)",
    )
    parser.add_argument("--out", default="bench", help="folder for subjects, runs, logs, bench.json and bench.md")
    parser.set_defaults(func=run)


def subset_of(suite: BenchSuite, names: str) -> BenchSuite:
    """The suite with only the named subjects, in the suite's order."""
    wanted = comma_separated(names)
    known = [s.name for s in suite.subjects]
    unknown = [n for n in wanted if n not in known]
    if unknown or not wanted:
        raise RecmvError(f"--subjects: expected a comma-separated subset of {', '.join(known)}, got {names!r}")
    return dataclasses.replace(suite, subjects=tuple(s for s in suite.subjects if s.name in wanted))


def run(args: argparse.Namespace) -> int:
    from recmv.evaluation.bench import run_bench

    if args.quick and args.suite not in ("default", "quick"):
        raise RecmvError(f"--quick and --suite {args.suite} contradict each other")
    suite = SUITES["quick" if args.quick else args.suite]
    if args.size is not None:
        if args.size < 64:
            raise RecmvError(f"--size: expected an image side of at least 64 pixels, got {args.size}")
        suite = dataclasses.replace(suite, size=args.size)
    if args.subjects is not None:
        suite = subset_of(suite, args.subjects)
    presets = tuple(comma_separated(args.presets))
    if len(set(presets)) != len(presets):
        raise RecmvError(f"--presets: each preset once, got {args.presets!r}")
    changes = None if args.config is None else fileio.read_json_object(args.config)
    bench = run_bench(
        suite, presets, args.out, isolated=not args.in_process, config_changes=changes, config_source=f"--config {args.config}"
    )
    out = Path(args.out)
    print((out / "bench.md").read_text(encoding="utf-8"))
    # Synth and skinning are shared by a subject's methods: count each failure once.
    failed = len({(r["subject"], r["method"] if n not in ("synth", "skinning") else "", n)
                  for r in bench["records"] for n, s in r["stages"].items() if s["status"] == "failed"})
    print(f"bench: {len(bench['records'])} rows ({', '.join(presets)}, {TEMPLATE_METHOD}) in {bench['total_wall_s']:.0f} s; "
          f"{failed} failed stage(s); written to {out / 'bench.json'} and {out / 'bench.md'}")
    if bench["ratios"]:
        mean = bench["ratios"]["geometric_mean"]
        parts = ", ".join(f"{key} {value:.2f}" for key, value in mean.items() if value is not None)
        print(f"bench: {bench['ratios']['numerator']} / {bench['ratios']['denominator']} (geometric mean): {parts}")
    return 1 if failed else 0
