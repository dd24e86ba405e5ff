"""Template registration end to end on analytic shapes: an open tube onto a wider, longer cylinder."""

from __future__ import annotations

import numpy as np
import trimesh

from recmv.geometry.boundary import boundary_loops
from recmv.registration.register import RegistrationConfig, register_template
from recmv.registration.target import faces_past_curves, submesh, visible_faces
from tests.registration.test_remesh import _open_cylinder


def _circle(radius: float, height: float, count: int = 90) -> np.ndarray:
    angle = np.arange(count) * 2 * np.pi / count
    return np.stack([radius * np.cos(angle), radius * np.sin(angle), np.full(count, height)], axis=1)


def test_a_tube_template_lands_on_the_curves_and_the_surface():
    vertices, faces = _open_cylinder(segments=24, rings=6)  # radius 0.1, z in [-0.3, 0.3]
    loops = {("top" if vertices[loop, 2].mean() > 0 else "bottom"): loop for loop in boundary_loops(faces, strict=True)}
    target = trimesh.creation.cylinder(radius=0.13, height=0.8, sections=96)
    target_vertices, target_faces = np.asarray(target.vertices), np.asarray(target.faces)
    curves = {"top": _circle(0.13, 0.35), "bottom": _circle(0.13, -0.35)}
    # The caps of the closed target lie past the curves; nothing of the side is hidden.
    keep = visible_faces(target_vertices, target_faces, spacing=0.01)
    past = faces_past_curves(target_vertices, target_faces, list(curves.values()), np.zeros(3))
    assert keep.all() and past.any()
    target_vertices, target_faces = submesh(target_vertices, target_faces, keep & ~past)
    result = register_template(vertices, faces, loops, target_vertices, target_faces, curves, RegistrationConfig(edge_length=0.03))
    registered = result.vertices
    assert len(boundary_loops(result.faces, strict=True)) == 2
    for name, curve in curves.items():
        loop = registered[result.boundaries[name]]
        np.testing.assert_allclose(loop[:, 2], curve[0, 2], atol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(loop[:, :2], axis=1), 0.13, atol=2e-3)
    radius = np.linalg.norm(registered[:, :2], axis=1)
    assert np.abs(radius - 0.13).mean() < 1e-3 and np.abs(radius - 0.13).max() < 5e-3
    assert result.stats["target_distance_mean_m"] < 1e-3
    # The tube was stretched evenly along its length, not bunched at the ends.
    heights = np.sort(registered[:, 2])
    assert np.abs(np.median(heights)) < 0.02
