"""Subdivision and relaxation keep a mesh's named boundary loops."""

from __future__ import annotations

import numpy as np
import trimesh

from recmv.geometry.boundary import boundary_loops
from recmv.registration.remesh import (
    mean_edge_length,
    relax_tangentially,
    subdivide,
    subdivide_to_edge,
)


def _open_cylinder(segments: int = 24, rings: int = 6) -> tuple[np.ndarray, np.ndarray]:
    angle = np.arange(segments) * 2 * np.pi / segments
    heights = np.linspace(-0.3, 0.3, rings)
    vertices = np.array([[0.1 * np.cos(a), 0.1 * np.sin(a), z] for z in heights for a in angle])
    faces = []
    for r in range(rings - 1):
        for s in range(segments):
            a, b = r * segments + s, r * segments + (s + 1) % segments
            faces += [[a, b, b + segments], [a, b + segments, a + segments]]
    return vertices, np.asarray(faces)


def _named(vertices, faces):
    loops = boundary_loops(faces, strict=True)
    return {("top" if vertices[loop, 2].mean() > 0 else "bottom"): loop for loop in loops}


def test_boundary_loops_survive_subdivision_and_relaxation():
    vertices, faces = _open_cylinder()
    loops = _named(vertices, faces)
    new_vertices, new_faces, new_loops = subdivide(vertices, faces, loops)
    assert len(new_faces) == 4 * len(faces)
    walked = boundary_loops(new_faces, strict=True)
    assert len(walked) == 2
    for name, loop in new_loops.items():
        assert len(loop) == 2 * len(loops[name])
        # The named loop is a walked loop, in the same cyclic order (either direction).
        (match,) = [w for w in walked if set(w.tolist()) == set(loop.tolist())]
        start = int(np.nonzero(match == loop[0])[0][0])
        rolled = np.roll(match, -start)
        assert np.array_equal(rolled, loop) or np.array_equal(np.roll(rolled[::-1], 1), loop)
        np.testing.assert_allclose(np.abs(new_vertices[loop, 2]), 0.3)
    fixed = np.concatenate(list(new_loops.values()))
    relaxed = relax_tangentially(new_vertices, new_faces, fixed, iterations=10)
    np.testing.assert_array_equal(relaxed[fixed], new_vertices[fixed])
    assert len(boundary_loops(new_faces, strict=True)) == 2


def test_relaxation_evens_triangles_without_leaving_the_surface():
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.2)
    vertices, faces = np.asarray(sphere.vertices), np.asarray(sphere.faces)
    jitter = np.random.default_rng(0).normal(scale=0.005, size=vertices.shape)
    jitter -= (jitter * vertices).sum(axis=1, keepdims=True) * vertices / 0.04  # tangential only
    noisy = vertices + jitter
    relaxed = relax_tangentially(noisy, faces, fixed=np.zeros(0, dtype=np.int64), iterations=10)

    def edge_spread(points):
        edges = np.asarray(trimesh.Trimesh(points, faces, process=False).edges_unique)
        length = np.linalg.norm(points[edges[:, 0]] - points[edges[:, 1]], axis=1)
        return length.std() / length.mean()

    assert edge_spread(relaxed) < 0.6 * edge_spread(noisy)
    assert np.abs(np.linalg.norm(relaxed, axis=1) - 0.2).max() < 0.01


def test_subdivide_to_edge_stops_at_the_target_length():
    vertices, faces = _open_cylinder()
    loops = _named(vertices, faces)
    start = mean_edge_length(vertices, faces)
    new_vertices, new_faces, _ = subdivide_to_edge(vertices, faces, loops, edge_length=start / 3)
    assert mean_edge_length(new_vertices, new_faces) <= 1.5 * start / 3
    assert len(new_faces) == 16 * len(faces)
