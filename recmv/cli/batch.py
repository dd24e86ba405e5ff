"""`recmv batch`: run a manifest of jobs through prepare → fit → extract → eval on a Ray cluster."""

from __future__ import annotations

import argparse
from pathlib import Path

from recmv.errors import RecmvError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "batch",
        help="run many videos or subjects through prepare, fit, extract and eval on Ray (resumable)",
        description=(
            "Run every job of a YAML or CSV manifest through prepare (videos and frame folders), fit, extract "
            "and eval (subjects with gt/), each stage a Ray task with the resources given here. Each job keeps "
            "its state in OUT/<job>/state.json: running the same command again skips finished stages and "
            "continues an interrupted fit from its checkpoint. Writes OUT/summary.json. Needs the batch extra: "
            "pip install 'recmv[batch]'."
        ),
    )
    parser.add_argument(
        "manifest", metavar="MANIFEST", help="jobs: .yaml/.yml or .csv of name, input and optional garments, preset, fit options"
    )
    parser.add_argument("--out", required=True, help="folder of the job folders and summary.json (shared by all nodes)")
    parser.add_argument(
        "--address", default=None,
        help="Ray cluster to use: auto, ray://HOST:10001 or HOST:6379 (default: start a local Ray for this command)",
    )
    parser.add_argument("--cpus-per-job", type=float, default=1.0, help="CPUs each stage task reserves (default 1)")
    parser.add_argument(
        "--gpus-per-job", type=float, default=0.0, help="GPUs of the prepare, fit and extract tasks; above 0 they run on cuda"
    )
    parser.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray (default: all); not with --address")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar or per-stage lines")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recmv.batch.manifest import load_manifest
    from recmv.batch.runner import BatchOptions, run_batch
    from recmv.batch.summary import format_summary

    if args.cpus_per_job <= 0 or args.gpus_per_job < 0:
        raise RecmvError("--cpus-per-job must be positive and --gpus-per-job non-negative")
    if args.num_cpus is not None and (args.num_cpus < 1 or args.address is not None):
        raise RecmvError("--num-cpus: expected a positive count, and only for the local Ray (without --address)")
    jobs = load_manifest(args.manifest)
    options = BatchOptions(
        out=Path(args.out).resolve(), address=args.address, cpus_per_job=args.cpus_per_job,
        gpus_per_job=args.gpus_per_job, num_cpus=args.num_cpus, progress=not args.no_progress,
        worker_logs=args.verbose,
    )
    summary = run_batch(jobs, options)
    print(format_summary(summary))
    return 1 if summary["counts"]["failed"] else 0
