"""`recmv skinning`: compute a subject's diffused skinning-weight grid."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from recmv.body.factory import build_body_model, shape_tensor
from recmv.body.skinning_field import diffuse_skinning_weights
from recmv.data.subject import SubjectMeta
from recmv.errors import RecmvError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "skinning",
        help="write a subject's diffused skinning-weight grid",
        description=(
            "Extend the body model's skinning weights into a cube around the canonical body (harmonic "
            "interpolation) and write SUBJECT/diffused_skinning_weights.npy."
        ),
    )
    parser.add_argument("subject", help="subject folder (its subject.json names the body)")
    parser.add_argument("--resolution", type=int, default=128, help="grid cells per side (REC-MV: 256)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.resolution < 8:
        raise RecmvError(f"--resolution must be at least 8, got {args.resolution}")
    subject = Path(args.subject)
    meta = SubjectMeta.load(subject)
    device = torch.device(args.device)
    body = build_body_model(meta.body, device=device)
    rest = body.rest(shape_tensor(meta.body, device=device))
    start = time.perf_counter()
    grid = diffuse_skinning_weights(rest.vertices, body.faces, body.skinning_weights, resolution=args.resolution)
    grid.save(subject / "diffused_skinning_weights.npy")
    meta.skinning_grid = {"center": grid.center.tolist(), "extent": float(grid.extent)}
    meta.save(subject)
    print(
        f"wrote {subject / 'diffused_skinning_weights.npy'}: {grid.num_joints} joints at {args.resolution}³ "
        f"in {time.perf_counter() - start:.1f} s"
    )
    return 0
