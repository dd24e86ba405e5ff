"""The canonical-curve errors of a fit against GT loops (analytic circles, missing curves and files), and
the GT loops' own skinning gap (analytic translations and flares, a tiny synthetic subject)."""

import json

import numpy as np
import pytest
import torch

from recmv.body.skinning_field import SkinningGrid
from recmv.evaluation.curves import canonical_curve_errors, run_canonical_curve_errors, skinning_gaps, subject_skinning_gaps


def circle(radius: float, height: float, points: int = 64) -> list[list[float]]:
    angle = np.linspace(0.0, 2 * np.pi, points, endpoint=False)
    return np.stack([radius * np.cos(angle), np.full(points, height), radius * np.sin(angle)], 1).tolist()


def test_a_loop_raised_by_two_centimetres_is_two_centimetres_off_and_unshared_curves_are_left_out():
    gt = {"neck": circle(0.08, 1.5), "waist": circle(0.15, 1.0)}
    learned = {"neck": circle(0.08, 1.52), "waist": circle(0.15, 1.0), "hem": circle(0.2, 0.5)}
    errors = canonical_curve_errors(learned, gt)
    assert set(errors) == {"neck", "waist"}
    assert errors["neck"] == pytest.approx(2.0, rel=1e-6)
    assert errors["waist"] == pytest.approx(0.0, abs=1e-9)


def test_a_wider_loop_is_off_by_the_difference_of_radii_up_to_its_chords():
    errors = canonical_curve_errors({"hem": circle(0.21, 0.4, 256)}, {"hem": circle(0.2, 0.4, 256)})
    assert errors["hem"] == pytest.approx(1.0, abs=0.01)


def test_a_run_or_subject_without_curves_has_no_errors(tmp_path):
    run, subject = tmp_path / "run", tmp_path / "subject"
    assert run_canonical_curve_errors(run, subject) is None
    (run / "curves").mkdir(parents=True)
    (run / "curves" / "canonical.json").write_text(json.dumps({"neck": circle(0.08, 1.5)}))
    assert run_canonical_curve_errors(run, subject) is None
    (subject / "gt" / "curves").mkdir(parents=True)
    (subject / "gt" / "curves" / "canonical.json").write_text(json.dumps({"neck": circle(0.08, 1.53)}))
    assert run_canonical_curve_errors(run, subject)["neck"] == pytest.approx(3.0, rel=1e-6)


def two_joint_grid(first_joint_share: float) -> SkinningGrid:
    """Every point weighted first_joint_share on joint 0 and the rest on joint 1."""
    weights = torch.stack([torch.full((4, 4, 4), first_joint_share), torch.full((4, 4, 4), 1.0 - first_joint_share)])
    return SkinningGrid(weights, torch.zeros(3), 4.0)


def translations(*moves: tuple[float, float, float]) -> torch.Tensor:
    """[F, 2, 4, 4]: per frame, joint 0 still and joint 1 translated by the move."""
    transforms = torch.eye(4).repeat(len(moves), 2, 1, 1)
    transforms[:, 1, :3, 3] = torch.tensor(moves)
    return transforms


def test_the_skinning_gap_is_what_skinning_leaves_between_the_rest_loop_and_the_posed_loops():
    rest = {"hem": circle(0.2, 0.4, 256)}
    posed = [{"hem": circle(0.2, 0.4, 256)}, {"hem": circle(0.2, 0.44, 256)}]
    # Joint 1 lifts the loop by 4 cm in the second frame: skinned with all weight on it, the loop follows
    # the posed loops exactly; with half, it stops 2 cm short in that frame (1 cm over the two frames).
    moves = translations((0.0, 0.0, 0.0), (0.0, 0.04, 0.0))
    assert skinning_gaps(rest, posed, moves, two_joint_grid(0.0))["hem"] == pytest.approx(0.0, abs=1e-4)
    assert skinning_gaps(rest, posed, moves, two_joint_grid(0.5))["hem"] == pytest.approx(1.0, rel=1e-3)
    # A loop that flares 1 cm in one frame where the body stands still: the flare is the gap.
    flared = [{"hem": circle(0.2, 0.4, 256)}, {"hem": circle(0.21, 0.4, 256)}]
    still = translations((0.0, 0.0, 0.0), (0.0, 0.0, 0.0))
    assert skinning_gaps(rest, flared, still, two_joint_grid(0.5))["hem"] == pytest.approx(0.5, abs=0.01)


def test_a_synthetic_subjects_held_neckline_has_no_skinning_gap_and_its_free_hem_has_one(tiny_subject, tmp_path):
    gaps = subject_skinning_gaps(tiny_subject)
    gt = json.loads((tiny_subject / "gt" / "curves" / "canonical.json").read_text())
    assert set(gaps) == set(gt)
    # The neckline is where the shirt is held (no swing): skinning alone puts its rest loop on the posed one.
    assert gaps["neck"] < 0.2
    assert gaps["bottom_curve"] > 3 * gaps["neck"]
    assert subject_skinning_gaps(tmp_path) is None
