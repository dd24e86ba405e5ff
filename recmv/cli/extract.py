"""`recmv extract`: open garment meshes, curves, GLB, videos and a manifest from a fitted run folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from recmv.export.extract import MESH_FORMATS, ExtractOptions, extract_run


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "extract",
        help="registered open garment meshes per frame, curves, GLB and videos from a fitted run",
        description=(
            "Marching-cube each fitted garment SDF, register the garment's labelled template onto it (boundary "
            "loops on the 3D curves, non-rigid ICP), warp it into every frame and push it out of the body. "
            "Writes DIR/<garment>/<frame>.obj, canonical.obj, boundaries.json, DIR/curves/, DIR/<subject>.glb, "
            "DIR/videos/*.mp4 and DIR/manifest.json (readable by `recmv eval`). A run with a finished large-motion "
            "phase (`recmv fit --phase both`) gives the frames of both segments, every frame with the same topology."
        ),
    )
    parser.add_argument("run", metavar="RUN", help="run folder written by `recmv fit`")
    parser.add_argument("--out", required=True, help="folder to write")
    parser.add_argument("--cell-size", type=float, default=None, help="marching-cubes cell in metres (default: the run's)")
    parser.add_argument("--format", choices=MESH_FORMATS, default="obj", help="mesh file format")
    parser.add_argument("--no-videos", action="store_true", help="skip the MP4 renders")
    parser.add_argument("--no-glb", action="store_true", help="skip the animated GLB")
    parser.add_argument(
        "--rotation-only", action="store_true", help="leave out the frames of RUN/large_motion/ (the large-motion phase)"
    )
    parser.add_argument("--device", default="cpu", help="torch device: cpu or cuda")
    parser.add_argument("--subject", default=None, help="the subject folder, if it moved since the fit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    options = ExtractOptions(
        cell_size=args.cell_size,
        mesh_format=args.format,
        videos=not args.no_videos,
        glb=not args.no_glb,
        device=args.device,
        subject=Path(args.subject) if args.subject else None,
        large_motion=not args.rotation_only,
    )
    manifest = extract_run(args.run, args.out, options)
    print(f"extract: garments, curves and renders in {manifest.parent}; manifest {manifest}")
    return 0
