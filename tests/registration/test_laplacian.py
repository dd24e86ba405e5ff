"""Laplacian boundary editing on an analytic disc."""

from __future__ import annotations

import numpy as np
from scipy.spatial import Delaunay

from recmv.geometry.boundary import boundary_loops
from recmv.registration.laplacian import laplacian_edit, uniform_laplacian


def _disc(radius: float = 1.0, rings: int = 8, segments: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """A flat disc in the z = 0 plane: a centre vertex and concentric rings."""
    points = [[0.0, 0.0, 0.0]]
    for ring in range(1, rings + 1):
        angle = np.arange(segments) * 2 * np.pi / segments + 0.5 * ring * np.pi / segments
        r = radius * ring / rings
        points += np.stack([r * np.cos(angle), r * np.sin(angle), np.zeros(segments)], axis=1).tolist()
    vertices = np.asarray(points)
    faces = Delaunay(vertices[:, :2]).simplices
    # Counter-clockwise seen from +z.
    tri = vertices[faces]
    flip = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])[:, 2] < 0
    faces[flip] = faces[flip][:, ::-1]
    return vertices, faces


def test_uniform_laplacian_rows_sum_to_zero_and_vanish_at_a_symmetric_centre():
    vertices, faces = _disc()
    laplacian = uniform_laplacian(faces, len(vertices))
    np.testing.assert_allclose(np.asarray(laplacian.sum(axis=1)).ravel(), 0.0, atol=1e-12)
    # The centre vertex is the mean of its ring of neighbours.
    np.testing.assert_allclose((laplacian @ vertices)[0], 0.0, atol=1e-12)
    assert abs((laplacian @ vertices)[1]).max() > 1e-3


def test_rim_lands_on_a_target_circle_and_the_interior_stays_smooth():
    vertices, faces = _disc()
    (rim,) = boundary_loops(faces)
    angle = np.arctan2(vertices[rim, 1], vertices[rim, 0])
    # The target: a circle 1.3 times wider, lifted by 0.4.
    targets = np.stack([1.3 * np.cos(angle), 1.3 * np.sin(angle), np.full(len(rim), 0.4)], axis=1)
    edited = laplacian_edit(vertices, faces, rim, targets, weight=100.0)
    np.testing.assert_allclose(edited[rim], targets, atol=2e-3)
    interior = np.setdiff1d(np.arange(len(vertices)), rim)
    # Smooth: the lift spreads into the interior and stays between the old and new rim heights,
    # and the edit's displacement field has small Laplacian there (no spikes or folds).
    assert (edited[interior, 2] > 0.0).all() and (edited[interior, 2] < 0.4 + 1e-6).all()
    displacement = edited - vertices
    laplacian = uniform_laplacian(faces, len(vertices))
    roughness = np.linalg.norm(laplacian @ displacement, axis=1)[interior]
    assert roughness.max() < 0.05 * np.linalg.norm(displacement, axis=1).max()
    tri = edited[faces]
    assert (np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])[:, 2] > 0).all()


def test_a_translated_target_translates_the_whole_disc():
    vertices, faces = _disc()
    (rim,) = boundary_loops(faces)
    shift = np.array([0.2, -0.1, 0.3])
    edited = laplacian_edit(vertices, faces, rim, vertices[rim] + shift, weight=10.0)
    np.testing.assert_allclose(edited, vertices + shift, atol=1e-6)
