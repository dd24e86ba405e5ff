"""The template-loop fallback lands on the garment's wall, short of the cap that closes the SDF."""

from __future__ import annotations

import numpy as np
import trimesh

from recmv.export.extract import read_curves, template_curves


def test_a_loop_past_a_shorter_surface_lands_on_its_rim_not_its_cap(tmp_path):
    # A closed cylinder (radius 0.1, z in [-0.2, 0.2]) stands for a fitted garment shorter than its
    # template, whose hem loop (radius 0.12) lies at z = -0.25, past the bottom cap.
    cylinder = trimesh.creation.cylinder(radius=0.1, height=0.4, sections=64)
    vertices, faces = np.asarray(cylinder.vertices), np.asarray(cylinder.faces)
    angle = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    hem = np.stack([0.12 * np.cos(angle), 0.12 * np.sin(angle), np.full(40, -0.25)], axis=1)
    top = hem * [1.0, 1.0, -1.0]
    curves = template_curves({"hem": hem, "top": top}, vertices, faces)
    for curve in curves.values():
        np.testing.assert_allclose(np.linalg.norm(curve[:, :2], axis=1), 0.1, atol=2e-3)
        np.testing.assert_allclose(np.abs(curve[:, 2]), 0.2, atol=1e-3)
    path = tmp_path / "canonical.json"
    path.write_text('{"hem": ' + str(curves["hem"].tolist()) + "}")
    np.testing.assert_allclose(read_curves(path)["hem"], curves["hem"])
