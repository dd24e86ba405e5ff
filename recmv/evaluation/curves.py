"""The learned canonical feature curves of a fit against a synthetic subject's GT canonical loops, and how
far those GT loops themselves are from the GT posed loops when carried into the frames by skinning alone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from recmv.body.factory import build_body_model, shape_tensor
from recmv.body.lbs import skin_points
from recmv.body.skinning_field import SkinningGrid
from recmv.data import formats
from recmv.data.subject import SubjectMeta
from recmv.evaluation.baseline import load_skinning_grid
from recmv.evaluation.metrics import loop_distance

CM = 100.0


def canonical_curve_errors(learned: dict, gt: dict) -> dict[str, float]:
    """Curve name -> two-sided mean distance (cm) between a learned curve and its GT loop.

    learned, gt: {curve name: [[x, y, z], ...]} (metres, canonical world), as RUN/curves/canonical.json and
    SUBJECT/gt/curves/canonical.json; curves that only one of them has are left out.
    """
    return {n: loop_distance(np.asarray(learned[n]), np.asarray(gt[n])) * CM for n in gt if n in learned}


def run_canonical_curve_errors(run: str | Path, subject: str | Path) -> dict[str, float] | None:
    """`canonical_curve_errors` of RUN/curves/canonical.json against SUBJECT/gt/curves/canonical.json, or
    None where either file is absent (a subject without ground truth, a fit without curves)."""
    learned_path = Path(run) / "curves" / "canonical.json"
    gt_path = Path(subject) / "gt" / "curves" / "canonical.json"
    if not (learned_path.is_file() and gt_path.is_file()):
        return None
    return canonical_curve_errors(json.loads(learned_path.read_text()), json.loads(gt_path.read_text()))


def skinning_gaps(
    canonical: dict, posed: list[dict], transforms: torch.Tensor, grid: SkinningGrid
) -> dict[str, float]:
    """Curve name -> mean over the frames of the distance (cm) between the GT posed loop and the GT
    canonical loop carried into that frame by skinning alone.

    This is the garment's own motion at the curve (inertial swing, flare, ripple), which only the per-frame
    deformation can carry: a canonical curve placed to explain the frames through skinning lies between
    the rest loop and the swung loops, up to this far from the rest loop, so below this figure its
    canonical error says where the swing went more than how well the frames were fitted.

    canonical: {name: [K, 3]} GT rest loops; posed: per frame {name: [K', 3]} GT posed loops;
    transforms: [F, J, 4, 4] the body's rest-to-posed transforms of those frames; grid: the skinning grid.
    """
    gaps = {}
    for name, loop in canonical.items():
        points = torch.as_tensor(np.asarray(loop), dtype=transforms.dtype)
        skinned = skin_points(points[None], grid.query(points)[None], transforms).numpy()
        distances = [loop_distance(skinned[f], np.asarray(frame[name])) for f, frame in enumerate(posed)]
        gaps[name] = float(np.mean(distances)) * CM
    return gaps


def subject_skinning_gaps(subject: str | Path, segment: str = "rotation") -> dict[str, float] | None:
    """`skinning_gaps` of a subject's GT curves over a segment's frames (all frames when the subject names
    no such segment), posed by its body parameters and skinning grid; None without GT curves."""
    subject = Path(subject)
    folder = subject / "gt" / "curves"
    if not (folder / "canonical.json").is_file():
        return None
    meta = SubjectMeta.load(subject)
    body, shape = build_body_model(meta.body), shape_tensor(meta.body)
    params = formats.read_body_params(subject / "smpl_rec.npz")
    span = meta.segments.get(segment)
    frames = list(range(span[0], span[1] + 1)) if span else list(range(len(params.poses)))
    with torch.no_grad():
        transforms = body.forward(
            torch.as_tensor(params.poses[frames], dtype=torch.float32), shape, torch.as_tensor(params.trans[frames], dtype=torch.float32)
        ).transforms
        grid = load_skinning_grid(subject, meta, body.rest(shape).vertices)
        posed = [json.loads((folder / f"{frame:06d}.json").read_text()) for frame in frames]
        return skinning_gaps(json.loads((folder / "canonical.json").read_text()), posed, transforms, grid)
