"""`recmv eval`: metrics of a prediction against a synthetic subject's ground truth."""

from __future__ import annotations

import argparse
from pathlib import Path

from recmv.errors import RecmvError
from recmv.evaluation.evaluate import EvaluationOptions, EvaluationResult, evaluate, write_result

# (JSON key, column header, width, number format) of the per-garment table.
COLUMNS = (
    ("chamfer_cm", "CD cm", 7, "{:.3f}"),
    ("p2s_cm", "P2S cm", 7, "{:.3f}"),
    ("s2p_cm", "S2P cm", 7, "{:.3f}"),
    ("normal_consistency", "NC", 6, "{:.3f}"),
    ("fscore_1cm", "F@1cm", 6, "{:.3f}"),
    ("mask_iou", "IoU", 6, "{:.3f}"),
    ("interpenetration", "pen", 6, "{:.3f}"),
    ("boundary_cm_mean", "bnd cm", 7, "{:.3f}"),
    ("boundary_count", "loops", 9, "{}"),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="measure a prediction against a synthetic subject's gt/",
        description="Compute CD, P2S, NC, F@1cm, boundary errors and counts, mask IoU, acceleration and "
        "interpenetration of predicted garments (PRED/<garment>/<frame>.obj) against SUBJECT/gt/.",
    )
    parser.add_argument("prediction", metavar="PRED", help="prediction folder (output of `recmv extract`)")
    parser.add_argument("--subject", required=True, help="synthetic subject folder with gt/")
    parser.add_argument("--out", help="metrics JSON to write (default PRED/metrics.json)")
    parser.add_argument("--samples", type=int, default=100_000, help="surface samples per mesh and frame")
    parser.add_argument("--frames", default="all", help="comma-separated frame indices, or 'all'")
    parser.add_argument("--seed", type=int, default=0, help="seed of the surface sampling")
    parser.set_defaults(func=run)


def parse_frames(text: str) -> list[int] | None:
    """'all' -> None; '0,5,10' -> [0, 5, 10]."""
    if text.strip().lower() == "all":
        return None
    try:
        frames = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise RecmvError(f"--frames: expected comma-separated integers or 'all', got {text!r}") from error
    if not frames or min(frames) < 0:
        raise RecmvError(f"--frames: expected non-negative frame indices, got {text!r}")
    return frames


def run(args: argparse.Namespace) -> int:
    if args.samples < 1:
        raise RecmvError(f"--samples must be a positive integer, got {args.samples}")
    options = EvaluationOptions(samples=args.samples, frames=parse_frames(args.frames), seed=args.seed)
    result = evaluate(args.prediction, args.subject, options)
    out = Path(args.out) if args.out else Path(args.prediction) / "metrics.json"
    write_result(result, out)
    print(format_tables(result))
    print(f"metrics written to {out}")
    return 0


def format_tables(result: EvaluationResult) -> str:
    """One table per garment (a row per frame and a mean row), then the curve errors if any."""
    blocks = []
    for name, garment in result.garments.items():
        header = " frame " + " ".join(f"{title:>{width}}" for _, title, width, _ in COLUMNS)
        rows = [f"{f.frame:6d} " + _row(_frame_values(f)) for f in garment.frames]
        mean = garment.mean()
        mean["boundary_count"] = _count_text(mean["boundary_count_pred"], mean["boundary_count_gt"], "{:.1f}")
        rows.append("  mean " + _row(mean))
        accel = garment.acceleration
        rows.append(
            f"acceleration cm/frame²: pred {_text(accel.pred, '{:.4f}')}, gt {_text(accel.gt, '{:.4f}')}, "
            f"ratio {_text(accel.ratio, '{:.3f}')}"
        )
        blocks.append("\n".join([f"== {name}", header, *rows]))
    if result.curves is not None:
        lines = [f"  {curve:14s} {_text(value, '{:.3f}')} cm" for curve, value in result.curves.mean().items()]
        blocks.append("\n".join(["== curves (boundary error, mean over frames)", *lines]))
    return "\n\n".join(blocks)


def _frame_values(frame) -> dict:
    values = {key: getattr(frame, key, None) for key, _, _, _ in COLUMNS}
    errors = [e for e in frame.boundary_cm.values() if e is not None]
    values["boundary_cm_mean"] = sum(errors) / len(errors) if errors else None
    values["boundary_count"] = _count_text(frame.boundary_count_pred, frame.boundary_count_gt, "{}")
    return values


def _count_text(pred, gt, fmt: str) -> str:
    return f"{_text(pred, fmt)}/{_text(gt, fmt)}"


def _row(values: dict) -> str:
    cells = []
    for key, _, width, fmt in COLUMNS:
        value = values.get(key)
        cells.append(f"{value if isinstance(value, str) else _text(value, fmt):>{width}}")
    return " ".join(cells)


def _text(value, fmt: str) -> str:
    return "-" if value is None or value != value else fmt.format(value)

