"""The canonical-curve errors of a fit against GT loops: analytic circles, missing curves and files."""

import json

import numpy as np
import pytest

from recmv.evaluation.curves import canonical_curve_errors, run_canonical_curve_errors


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
