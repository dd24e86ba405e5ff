"""Garment templates stay clean on randomised bodies and parameters (as `recmv synth` draws them),
and the mesh repairs behind that do what they say."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from recmv.body.anny_body import AnnyBody
from recmv.tables import GARMENT_TYPES
from recmv.templates.body_geometry import BodyGeometry
from recmv.templates.cutting import PlaneCut, boundary_loops
from recmv.templates.fields import FieldSampler, Grid
from recmv.templates.garments import build_garment
from recmv.templates.slivers import flip_thin_triangles, trim_loop_slivers
from tests.templates.checks import check_template, synth_params

RESOLUTION = 0.025


@functools.lru_cache(maxsize=1)
def low_res_body() -> AnnyBody:
    return AnnyBody(topology="notoes_collapse5pc")


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("kind", GARMENT_TYPES)
def test_random_bodies_and_parameters_build_clean_garments(kind, seed):
    rng = np.random.default_rng([seed, GARMENT_TYPES.index(kind)])
    shape = torch.tensor(rng.uniform(0.3, 0.7, size=6).round(4), dtype=torch.float32)
    body = BodyGeometry.from_body_model(low_res_body(), shape)
    # Odd seeds: an upper garment worn over trousers, so looser (up to about 4 cm).
    params = synth_params(kind, rng, RESOLUTION, layered=bool(seed % 2))
    check_template(build_garment(kind, body, params), body, params)


def _smallest_angle(vertices: np.ndarray, faces: np.ndarray) -> float:
    triangles = vertices[faces]
    angles = []
    for corner in range(3):
        u = triangles[:, (corner + 1) % 3] - triangles[:, corner]
        v = triangles[:, (corner + 2) % 3] - triangles[:, corner]
        cosine = np.einsum("ij,ij->i", u, v) / (np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1))
        angles.append(np.degrees(np.arccos(np.clip(cosine, -1, 1))))
    return float(np.min(angles))


def _normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    triangles = vertices[faces]
    return np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])


def test_flip_replaces_a_sliver_by_the_other_diagonal_keeping_the_winding():
    # A flat quad whose diagonal 0-1 leaves vertex 2 almost on it: two slivers.
    vertices = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.5, 0.02, 0.0], [0.5, -1.0, 0.0]])
    faces = np.array([[0, 1, 2], [1, 0, 3]])
    flipped = flip_thin_triangles(vertices, faces)
    assert sorted(map(sorted, flipped.tolist())) == [[0, 2, 3], [1, 2, 3]]
    assert _smallest_angle(vertices, flipped) > 2.0 * _smallest_angle(vertices, faces)
    assert (_normals(vertices, flipped)[:, 2] > 0).all() and (_normals(vertices, faces)[:, 2] > 0).all()


def test_flip_leaves_a_folded_pair_alone():
    # The same quad with vertex 3 folded far up: flipping would change the surface's shape.
    vertices = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.5, 0.02, 0.0], [0.5, -0.2, 1.0]])
    faces = np.array([[0, 1, 2], [1, 0, 3]])
    np.testing.assert_array_equal(flip_thin_triangles(vertices, faces), faces)


def test_trim_turns_a_loop_sliver_into_a_loop_vertex_on_the_plane():
    # A strip above the cut plane y = 0 with its loop along y = 0 (vertices 0..3). Vertex 4 sits
    # just above the loop edge 1-2, making a sliver with it; vertices 5, 6 are further in.
    vertices = np.array(
        [[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0], [1.5, 0.01, 0], [0.5, 1, 0], [2.5, 1, 0]], dtype=float
    )
    faces = np.array([[1, 0, 5], [1, 5, 4], [2, 1, 4], [2, 4, 6], [4, 5, 6], [3, 2, 6]])
    (loop,) = [loop for loop in boundary_loops(faces) if 1 in loop]
    cut = PlaneCut("hem", np.zeros(3), np.array([0.0, -1.0, 0.0]))
    new_vertices, new_faces, loops = trim_loop_slivers(vertices, faces, {"hem": loop}, {"hem": cut})
    assert len(new_faces) == len(faces) - 1 and not (np.sort(new_faces, axis=1) == [1, 2, 4]).all(axis=1).any()
    assert new_vertices[4, 1] == 0.0
    (new_loop,) = boundary_loops(new_faces)
    assert sorted(new_loop.tolist()) == sorted(loops["hem"].tolist())
    assert 4 in loops["hem"].tolist() and len(loops["hem"]) == len(loop) + 1
    assert _smallest_angle(new_vertices, new_faces) > 10.0


def test_projection_never_jumps_more_than_half_a_grid_step():
    # A field whose gradient almost vanishes: a full Newton step would go 100 m.
    grid = Grid.around(np.zeros(3), np.ones(3), 0.1)
    values = 0.5 + 0.001 * grid.points()[:, 0]
    sampler = FieldSampler(grid, values)
    start = np.array([[0.5, 0.5, 0.5]])
    moved = sampler.project(start, iterations=1)
    assert np.linalg.norm(moved - start) == pytest.approx(0.05)
