"""The template-loop fallback lands on the garment's wall, short of the cap that closes the SDF; learned
curves are judged by the worst of them."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from recmv.export.extract import CURVE_SURFACE_TOLERANCE, read_curves, template_curves, worst_curve_offset


def ring(radius: float, z: float, points: int) -> np.ndarray:
    """[points, 3] a horizontal circle about the z axis at height z."""
    angle = np.linspace(0, 2 * np.pi, points, endpoint=False)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle), np.full(points, z)], axis=1)


def test_a_loop_past_a_shorter_surface_lands_on_its_rim_not_its_cap(tmp_path):
    # A closed cylinder (radius 0.1, z in [-0.2, 0.2]) stands for a fitted garment shorter than its
    # template, whose hem loop (radius 0.12) lies at z = -0.25, past the bottom cap.
    cylinder = trimesh.creation.cylinder(radius=0.1, height=0.4, sections=64)
    vertices, faces = np.asarray(cylinder.vertices), np.asarray(cylinder.faces)
    hem = ring(0.12, -0.25, 40)
    top = hem * [1.0, 1.0, -1.0]
    curves = template_curves({"hem": hem, "top": top}, vertices, faces)
    for curve in curves.values():
        np.testing.assert_allclose(np.linalg.norm(curve[:, :2], axis=1), 0.1, atol=2e-3)
        np.testing.assert_allclose(np.abs(curve[:, 2]), 0.2, atol=1e-3)
    path = tmp_path / "canonical.json"
    path.write_text('{"hem": ' + str(curves["hem"].tolist()) + "}")
    np.testing.assert_allclose(read_curves(path)["hem"], curves["hem"])


def test_one_learned_curve_off_the_surface_is_not_hidden_by_the_others():
    cylinder = trimesh.creation.cylinder(radius=0.1, height=0.4, sections=128)
    vertices, faces = np.asarray(cylinder.vertices), np.asarray(cylinder.faces)
    on_wall = [ring(0.1, z, 50) for z in (-0.1, 0.0, 0.1)]
    assert worst_curve_offset(on_wall, vertices, faces) < 1e-3
    # Three curves on the wall and one 3 cm off it: 7.5 mm on average over all points, 3 cm at worst.
    offset = worst_curve_offset([*on_wall, ring(0.13, 0.05, 50)], vertices, faces)
    assert offset == pytest.approx(0.03, abs=1e-3) and offset > CURVE_SURFACE_TOLERANCE
    assert worst_curve_offset([], vertices, faces) == 0.0
