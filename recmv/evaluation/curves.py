"""The learned canonical feature curves of a fit against a synthetic subject's GT canonical loops."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

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
