"""`recmv demo`: synth -> fit -> extract -> eval -> report on one small synthetic subject, minutes on a CPU.

The fit is the fast preset shortened to the demo's size (fewer epochs, a smaller working size, a shorter
SDF initial fit; see `recmv.evaluation.bench.shortened_config`). The template-only baseline is
evaluated beside it, so the gain of fitting shows in the printed table.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from recmv import fileio
from recmv.errors import RecmvError
from recmv.evaluation.bench import FitScale, fit_overrides, shortened_config
from recmv.synth.config import SynthConfig
from recmv.training.config import FitConfig

MARKER = "demo.json"
DEMO_OUTPUTS = ("subject", "run", "garments", "template_baseline", "report.html")
"""What a demo writes into its folder (and removes from there when it runs again)."""
HEADLINE = (("chamfer_cm", "CD cm", "{:.2f}"), ("normal_consistency", "NC", "{:.3f}"), ("mask_iou", "IoU", "{:.3f}"),
            ("boundary_cm_mean", "boundary cm", "{:.2f}"))


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run synth, fit, extract, eval and report on a small synthetic subject",
        description=(
            "Synthesise a small subject, fit it with a shortened fast preset, extract the garments, evaluate them "
            "(and the template-only baseline) against the ground truth and write an HTML report."
        ),
    )
    parser.add_argument("--out", default="demo", help="folder for the subject, run, meshes, metrics and report")
    parser.add_argument("--frames", type=int, default=14, help="frames of the synthetic subject")
    parser.add_argument("--size", type=int, default=128, help="image size of the synthetic subject and the fit")
    parser.add_argument("--epochs", type=int, default=12, help="fit epochs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the subject and the fit")
    parser.add_argument("--topology", default="notoes", help="Anny topology (notoes_collapse5pc for a quicker, coarser body)")
    parser.add_argument("--grid-resolution", type=int, default=64, help="skinning grid cells per side")
    parser.add_argument("--device", default="cpu", help="torch device of the fit: cpu or cuda")
    parser.add_argument("--no-videos", action="store_true", help="extract without the GLB and MP4 renders (quicker)")
    parser.set_defaults(func=run)


def demo_fit_config(args: argparse.Namespace) -> FitConfig:
    """The fast preset at the demo's size and epochs (tests replace this with a tinier one)."""
    return shortened_config("fast", FitScale(epochs=args.epochs, working_size=args.size, sdf_init_iterations=150))


def synth_config(args: argparse.Namespace) -> SynthConfig:
    return SynthConfig(
        garments=("short_sleeve_upper", "skirt"), motion="rotate", frames=args.frames, size=args.size, seed=args.seed,
        body_topology=args.topology, grid_resolution=args.grid_resolution, keyframe_every=3,
    )


def run(args: argparse.Namespace) -> int:
    from recmv.data.validate import validate_subject
    from recmv.evaluation.baseline import template_baseline
    from recmv.evaluation.evaluate import EvaluationOptions, evaluate, write_result
    from recmv.export.extract import ExtractOptions, extract_run
    from recmv.report import build_report
    from recmv.synth.writer import synthesize
    from recmv.training.fit import fit_subject

    if args.frames < 3 or args.size < 32 or args.epochs < 1 or args.grid_resolution < 8:
        raise RecmvError("--frames must be at least 3, --size at least 32, --epochs at least 1, --grid-resolution at least 8")
    out = prepare_out_dir(Path(args.out))
    subject, run_dir, baseline = out / "subject", out / "run", out / "template_baseline"
    started = time.perf_counter()
    print(f"[1/6] synth: {synthesize(synth_config(args), subject)}", flush=True)
    problems = validate_subject(subject)
    if problems:
        raise RecmvError(f"the synthetic subject does not validate: {problems[0]}")
    config = demo_fit_config(args)
    overrides = {**fit_overrides(config), "seed": args.seed}
    summary = fit_subject(subject, run_dir, preset="fast", device=args.device, overrides=overrides)
    print(f"[2/6] fit: {summary.iterations} iterations ({config.epochs} epochs at ≤{config.working_size} px) in "
          f"{sum(summary.timings.values()):.0f} s", flush=True)
    prediction = out / "garments"
    media = not args.no_videos
    extract_run(run_dir, prediction, options=ExtractOptions(videos=media, glb=media, device=args.device))
    print(f"[3/6] extract: garments in {prediction}", flush=True)
    options = EvaluationOptions(samples=20_000)
    result = evaluate(prediction, subject, options)
    write_result(result, prediction / "metrics.json")
    template_baseline(subject, baseline)
    reference = evaluate(baseline, subject, options)
    write_result(reference, baseline / "metrics.json")
    print(f"[4/6] eval: {prediction / 'metrics.json'} (template-only baseline: {baseline / 'metrics.json'})", flush=True)
    report = build_report(run_dir, out / "report.html", extract=prediction)
    print(f"[5/6] report: {report}", flush=True)
    print(f"[6/6] headline metrics (means over {len(result.frames)} frames):")
    print(headline_table({"fit": result, "template only": reference}))
    print(f"demo finished in {time.perf_counter() - started:.0f} s; open {report.resolve()} in a browser")
    return 0


def prepare_out_dir(out: Path) -> Path:
    """An empty demo folder: a previous demo's outputs (marked by demo.json) are removed, anything else is refused."""
    marker = out / MARKER
    if out.exists() and any(out.iterdir()):
        if not marker.is_file():
            raise RecmvError(f"--out {out} is not empty and holds no earlier demo ({MARKER}): choose another folder")
        for name in DEMO_OUTPUTS:
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    fileio.write_json(marker, {"command": "recmv demo", "outputs": list(DEMO_OUTPUTS)})
    return out


def headline_table(results: dict) -> str:
    """Per garment and method: CD, NC, mask IoU and boundary error (an EvaluationResult per method)."""
    header = f"{'garment':20s} {'method':14s}" + "".join(f" {title:>12s}" for _, title, _ in HEADLINE)
    lines = [header]
    for garment in next(iter(results.values())).garments:
        for method, result in results.items():
            mean = result.garments[garment].mean()
            cells = "".join(f" {'-' if mean[k] is None else fmt.format(mean[k]):>12s}" for k, _, fmt in HEADLINE)
            lines.append(f"{garment:20s} {method:14s}{cells}")
    return "\n".join(lines)
