"""`recmv fit`: fit canonical garment SDFs and their deformation to a subject folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from recmv import fileio
from recmv.training.config import PRESETS
from recmv.training.fit import FitSummary, fit_subject
from recmv.training.large_motion import PHASE_FOLDER, fit_large_motion


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fit",
        help="fit garment SDFs, deformation and per-frame parameters to a subject",
        description=(
            "Fit one canonical SDF per garment, the non-rigid deformation and the per-frame poses, codes and "
            "camera to a subject folder's masks, normals and colours. Writes a run folder: config.json, "
            "log.jsonl, checkpoints/, meshes/<garment>/<frame>.obj and summary.json."
        ),
    )
    parser.add_argument("subject", help="subject folder (see `recmv validate`)")
    parser.add_argument("--out", required=True, help="run folder to write")
    parser.add_argument("--preset", choices=PRESETS, default=None, help="fast (default: minutes on a CPU) or reference (REC-MV's own networks and schedule)")
    parser.add_argument("--device", default="cpu", help="torch device: cpu or cuda")
    parser.add_argument("--resume", action="store_true", help="continue the fit in --out from its latest checkpoint")
    parser.add_argument("--segment", choices=("rotation", "large_motion", "all"), default="rotation", help="frames to fit (default: the rotation segment)")
    parser.add_argument(
        "--config", default=None, metavar="JSON",
        help="a full or partial fit config in the form of RUN/config.json, laid over the preset "
        "(e.g. {\"epochs\": 8, \"working_size\": 128, \"sdf_init\": {\"iterations\": 100}}); "
        "--epochs, --seed and --curves still apply on top",
    )
    parser.add_argument("--epochs", type=int, default=None, help="override the preset's number of epochs")
    parser.add_argument("--seed", type=int, default=None, help="override the preset's seed")
    parser.add_argument("--no-meshes", action="store_true", help="do not write the per-frame meshes at the end")
    parser.add_argument(
        "--phase", choices=("rotation", "large-motion", "both"), default="rotation",
        help="rotation (default); large-motion: continue a finished rotation run in --out on the large-motion "
        "segment with SDFs and curves frozen (written to OUT/large_motion/); both: one after the other",
    )
    parser.add_argument(
        "--curves", choices=("decoupled", "coupled"), default=None,
        help="decoupled (default, REC-MV): curve terms move only the curves; coupled: also the SDFs and deformation "
        "(the fast preset has no curve terms unless its stages' curve weights are set)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.phase in ("rotation", "both"):
        changes = {} if args.config is None else fileio.read_json_object(args.config)
        if args.curves is not None:
            curves = changes.get("curves") if isinstance(changes.get("curves"), dict) else {}
            changes["curves"] = {**curves, "coupled": args.curves == "coupled"}
        summary = fit_subject(
            args.subject,
            args.out,
            preset=args.preset,
            device=args.device,
            resume=args.resume,
            segment=args.segment,
            overrides={"epochs": args.epochs, "seed": args.seed},
            write_meshes=not args.no_meshes,
            config_changes=changes,
            config_source=f"--config {args.config}" if args.config else "--curves",
        )
        _report(summary)
    if args.phase in ("large-motion", "both"):
        started = (Path(args.out) / PHASE_FOLDER / "checkpoints" / "latest.pt").exists()
        summary = fit_large_motion(
            args.subject, args.out, device=args.device, resume=args.resume and started, epochs=args.epochs,
            write_meshes=not args.no_meshes,
        )
        _report(summary)
    return 0


def _report(summary: FitSummary) -> None:
    timings = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in summary.timings.items())
    terms = ", ".join(f"{name} {value:.4g}" for name, value in summary.final_terms.items())
    print(f"fit: {summary.iterations} iterations ({timings})")
    print(f"fit: last loss terms: {terms}")
    print(f"fit: run folder {summary.run_dir}; meshes in {summary.run_dir / 'meshes'}")
