"""`recmv prepare`: from a raw video (or a folder of frames) to a subject folder, offline."""

from __future__ import annotations

import argparse
import dataclasses

from recmv.cli.options import comma_separated
from recmv.preprocess.bodyfit import BodyFitOptions
from recmv.tables import GARMENT_TYPES


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "prepare",
        help="turn a video into a subject folder (masks, keypoints, body, parsing, curves)",
        description=(
            "Decode, crop and resize the video; estimate person masks and 2D keypoints (mediapipe), fit the "
            "body and camera, parse the garments (ATR), extract 2D feature curves on keyframes and compute the "
            "skinning grid. Each step is replaced by your own result when you give it."
        ),
    )
    parser.add_argument("input", help="video file or folder of frames")
    parser.add_argument("--out", required=True, help="subject folder to write")
    parser.add_argument(
        "--garments", required=True, help=f"comma-separated garment types, upper first ({', '.join(GARMENT_TYPES)})"
    )
    parser.add_argument("--fps", type=float, help="keep frames at this rate (default: every frame)")
    parser.add_argument("--size", type=int, default=1080, help="side of the square subject frames (pixels)")
    parser.add_argument("--margin", type=float, default=1.1, help="crop side as a multiple of the person's extent")
    parser.add_argument("--keyframe-every", type=int, default=5, help="frames between keyframes with 2D curves")
    parser.add_argument("--focal", type=float, help="focal length of the input frames in pixels (default: estimated)")
    parser.add_argument("--body-model", help="SMPL model file (.npz/.pkl) to fit SMPL instead of Anny")
    parser.add_argument("--topology", default="notoes", help="Anny topology (notoes, notoes_collapse5pc)")
    parser.add_argument("--grid-resolution", type=int, default=96, help="skinning grid cells per side")
    parser.add_argument("--fit-iterations", type=int, default=BodyFitOptions.iterations, help="body-fit steps per batch")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    given = parser.add_argument_group("your own results (each replaces its step; per-frame folders: one file per input frame)")
    given.add_argument("--masks", help="folder of person masks")
    given.add_argument("--parsing", help="folder of SCHP ATR label maps (.npy)")
    given.add_argument("--normals", help="folder of normal maps (REC-MV/PIFuHD encoding); otherwise none are written")
    given.add_argument("--smpl", help="SMPL sequence (TCMR/VIBE/4D-Humans output or smpl_rec.npz); needs --body-model, --focal")
    given.add_argument("--curves", help="folder of dense 2D curves on the subject's frames (labelme NNNNNN.json)")
    given.add_argument("--featurelines", help="folder of curve endpoint pairs on the subject's frames (labelme)")
    parser.set_defaults(func=run)


def options_from_args(args: argparse.Namespace):
    from recmv.preprocess.pipeline import PrepareOptions

    return PrepareOptions(
        garments=tuple(comma_separated(args.garments)),
        size=args.size, fps=args.fps, margin=args.margin, keyframe_every=args.keyframe_every, focal=args.focal,
        body_model=args.body_model, topology=args.topology, grid_resolution=args.grid_resolution,
        masks=args.masks, parsing=args.parsing, normals=args.normals, smpl=args.smpl, curves=args.curves,
        featurelines=args.featurelines, device=args.device,
        body_fit=dataclasses.replace(BodyFitOptions(), iterations=args.fit_iterations),
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from recmv.preprocess.pipeline import prepare_subject

    out = prepare_subject(args.input, args.out, options_from_args(args))
    print(f"wrote {out}")
    return 0
