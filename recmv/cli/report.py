"""`recmv report`: a self-contained HTML page about a fit."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write a self-contained HTML report of a fit",
        description=(
            "Write one HTML file (viewable offline) with the input frames beside the fitted garments, the loss "
            "curves, the metrics when a metrics.json exists, a 3D viewer of the per-frame garment meshes and the "
            "run's config."
        ),
    )
    parser.add_argument("run", metavar="RUN", help="run folder written by `recmv fit`")
    parser.add_argument("--extract", help="meshes written by `recmv extract` (default: RUN/meshes)")
    parser.add_argument("--metrics", help="metrics JSON of `recmv eval` (default: metrics.json beside the meshes or in RUN)")
    parser.add_argument("--subject", help="subject folder for the input frames and camera (default: the one in RUN/run.json)")
    parser.add_argument("--out", help="HTML file to write (default RUN/report.html)")
    parser.add_argument("--viewer-frames", type=int, default=120, help="at most this many frames in the 3D viewer")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recmv.errors import RecmvError
    from recmv.report import ReportOptions, build_report

    if args.viewer_frames < 1:
        raise RecmvError(f"--viewer-frames must be a positive integer, got {args.viewer_frames}")
    out = build_report(
        args.run, args.out, extract=args.extract, metrics=args.metrics, subject=args.subject,
        options=ReportOptions(viewer_frames=args.viewer_frames),
    )
    print(f"report written to {out} ({out.stat().st_size / 2**20:.1f} MiB)")
    return 0
