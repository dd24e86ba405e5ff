"""Non-rigid ICP on analytic spheres."""

from __future__ import annotations

import numpy as np
import trimesh

from recmv.geometry.boundary import boundary_loops
from recmv.registration.nicp import NICPConfig, nicp


def _sphere(radius: float, subdivisions: int = 3) -> tuple[np.ndarray, np.ndarray]:
    sphere = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    return np.asarray(sphere.vertices), np.asarray(sphere.faces)


def _cap(vertices: np.ndarray, faces: np.ndarray, height: float) -> tuple[np.ndarray, np.ndarray]:
    """The faces of a sphere whose vertices all lie above z = height, compacted."""
    kept = faces[(vertices[faces][:, :, 2] > height).all(axis=1)]
    used, remapped = np.unique(kept, return_inverse=True)
    return vertices[used], remapped.reshape(-1, 3)


def test_a_sphere_patch_registers_onto_a_scaled_sphere():
    patch_vertices, patch_faces = _cap(*_sphere(0.3), height=0.1)
    target_vertices, target_faces = _sphere(0.39, subdivisions=4)
    result = nicp(patch_vertices, patch_faces, target_vertices, target_faces, NICPConfig(max_distance=0.2))
    radius = np.linalg.norm(result.vertices, axis=1)
    before = np.abs(np.linalg.norm(patch_vertices, axis=1) - 0.39).mean()
    after = np.abs(radius - 0.39).mean()
    assert before > 0.08 and after < 0.003
    # The patch grows with the sphere instead of folding or sliding: its area scales by about 1.3^2,
    # and it stays one cap around +z.
    area = trimesh.Trimesh(result.vertices, patch_faces, process=False).area
    assert 1.5 < area / trimesh.Trimesh(patch_vertices, patch_faces, process=False).area < 1.9
    assert result.vertices[:, 2].min() > 0.0 and len(boundary_loops(patch_faces)) == 1


def test_held_vertices_end_on_their_targets_and_stay_out_of_the_data_term():
    patch_vertices, patch_faces = _cap(*_sphere(0.3), height=0.1)
    target_vertices, target_faces = _sphere(0.3, subdivisions=4)
    (rim,) = boundary_loops(patch_faces)
    goals = patch_vertices[rim] + np.array([0.0, 0.0, 0.05])
    config = NICPConfig(max_distance=0.2, held_weight=100.0)
    result = nicp(patch_vertices, patch_faces, target_vertices, target_faces, config, rim, goals)
    np.testing.assert_allclose(result.vertices[rim], goals, atol=2e-3)
    assert not result.matched[rim].any()
    interior = np.setdiff1d(np.arange(len(patch_vertices)), rim)
    far = interior[np.linalg.norm(patch_vertices[interior, :2], axis=1) < 0.15]
    assert np.abs(np.linalg.norm(result.vertices[far], axis=1) - 0.3).max() < 0.01
