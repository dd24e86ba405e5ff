"""Garment vertices inside an analytic body (a capsule) end up outside it."""

from __future__ import annotations

import numpy as np
import torch
import trimesh

from recmv.export.pushout import push_out_of_body

RADIUS, HALF_HEIGHT = 0.1, 0.2


def capsule_sdf(points: np.ndarray) -> np.ndarray:
    """Exact signed distance to the capsule of RADIUS around the z segment [-HALF_HEIGHT, HALF_HEIGHT]."""
    axis = np.clip(points[:, 2], -HALF_HEIGHT, HALF_HEIGHT)
    return np.linalg.norm(points - np.stack([np.zeros_like(axis), np.zeros_like(axis), axis], axis=1), axis=1) - RADIUS


def test_no_vertex_is_left_inside_a_capsule_and_outside_ones_stay():
    capsule = trimesh.creation.capsule(height=2 * HALF_HEIGHT, radius=RADIUS, count=[48, 48])
    vertices = torch.from_numpy(np.asarray(capsule.vertices, dtype=np.float32))
    faces = torch.from_numpy(np.asarray(capsule.faces, dtype=np.int64))
    assert np.abs(capsule_sdf(np.asarray(capsule.vertices))).max() < 1e-6  # the mesh is that capsule
    rng = np.random.default_rng(0)
    points = rng.uniform([-0.2, -0.2, -0.35], [0.2, 0.2, 0.35], size=(4000, 3))
    before = capsule_sdf(points)
    assert (before < -0.01).sum() > 300
    clearance = 0.002
    moved, inside = push_out_of_body(torch.from_numpy(points.astype(np.float32)), vertices, faces, clearance)
    after = capsule_sdf(moved.double().numpy())
    # The mesh is inscribed in the analytic capsule (chord sag < 0.3 mm): clearance covers it.
    assert after.min() > 0.0
    assert (inside.numpy() == (before < 0)).mean() > 0.99
    far = before > 0.01
    np.testing.assert_allclose(moved.double().numpy()[far], points[far], atol=1e-6)
    # Pushed points land just outside, not flung away.
    assert after[before < 0].max() < clearance + 0.002
