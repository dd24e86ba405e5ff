import math

import numpy as np
import pytest
import torch
import trimesh

from recmv.evaluation import metrics
from recmv.render.camera import PinholeCamera
from recmv.render.raycast import render_meshes


def _sphere(radius, centre=(0.0, 0.0, 0.0), subdivisions=5):
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    return np.asarray(mesh.vertices) + np.asarray(centre), np.asarray(mesh.faces)


def _open_cylinder(radius=0.1, z_min=-0.3, z_max=0.3, segments=32, rings=13):
    """Vertices ring by ring; the two end rings are the open boundary."""
    angle = 2 * np.pi * np.arange(segments) / segments
    z = np.linspace(z_min, z_max, rings)
    vertices = np.stack(
        [np.tile(radius * np.cos(angle), rings), np.tile(radius * np.sin(angle), rings), np.repeat(z, segments)], axis=1
    )
    faces = []
    for r in range(rings - 1):
        for s in range(segments):
            a, b = r * segments + s, r * segments + (s + 1) % segments
            faces += [[a, b, b + segments], [a, b + segments, a + segments]]
    return vertices, np.asarray(faces)


def _samples(mesh, count, seed):
    return metrics.sample_surface(*mesh, count, np.random.default_rng(seed))


def test_sampling_is_uniform_by_area_and_seeded():
    # Areas 0.5 (in z = 0) and 4.5 (in z = 1), both with normal +z.
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [3, 0, 1], [0, 3, 1]], dtype=float)
    faces = np.array([[0, 1, 2], [3, 4, 5]])
    samples = _samples((vertices, faces), 20000, 0)
    on_small = samples.points[:, 2] == 0
    assert abs(on_small.mean() - 0.1) < 0.01
    big = samples.points[~on_small]
    assert np.allclose(big[:, 2], 1) and np.all(big[:, :2] >= 0) and np.all(big[:, :2].sum(axis=1) <= 3 + 1e-12)
    assert abs(np.mean(big[:, :2].sum(axis=1) <= 1) - 1 / 9) < 0.01  # uniform inside a triangle
    np.testing.assert_array_equal(samples.normals, np.tile([0.0, 0.0, 1.0], (20000, 1)))
    np.testing.assert_array_equal(samples.points, _samples((vertices, faces), 20000, 0).points)


def test_concentric_spheres_give_the_radius_difference():
    inner, outer = _sphere(0.10), _sphere(0.12)
    comparison = metrics.compare_surfaces(_samples(outer, 20000, 0), _samples(inner, 20000, 1))
    assert comparison.chamfer == pytest.approx(0.02, abs=5e-4)
    assert comparison.normal_consistency > 0.995
    assert comparison.fscore == 0.0
    p2s = metrics.point_to_mesh_distance(_samples(outer, 5000, 2).points, *inner)
    assert p2s.mean() == pytest.approx(0.02, abs=2e-4)  # faceting of the inner icosphere is < 0.1 mm


def test_offset_spheres_match_quadrature_oracle():
    radius, shift = 0.1, 0.03
    moved, fixed = _sphere(radius, (shift, 0, 0)), _sphere(radius)
    # A point on the moved sphere is |c'| = sqrt(r² + d² + 2 r d u) from the fixed centre, u = cos θ
    # uniform in [-1, 1] for uniform points on a sphere.
    u = np.linspace(-1, 1, 200001)
    expected = np.trapezoid(np.abs(np.sqrt(radius**2 + shift**2 + 2 * radius * shift * u) - radius), u) / 2
    p2s = metrics.point_to_mesh_distance(_samples(moved, 20000, 0).points, *fixed).mean()
    assert p2s == pytest.approx(expected, rel=0.02)
    comparison = metrics.compare_surfaces(_samples(moved, 20000, 0), _samples(fixed, 20000, 1))
    assert comparison.chamfer == pytest.approx(expected, rel=0.1)


def test_identical_meshes_score_perfectly():
    mesh = _sphere(0.1)
    comparison = metrics.compare_surfaces(_samples(mesh, 20000, 0), _samples(mesh, 20000, 1))
    assert comparison.chamfer < 0.002  # only the sampling bias, ~0.5 * sqrt(area / N)
    assert comparison.fscore == 1.0 and comparison.precision == 1.0 and comparison.recall == 1.0
    assert comparison.normal_consistency > 0.99
    assert metrics.point_to_mesh_distance(_samples(mesh, 2000, 0).points, *mesh).max() < 1e-6


def test_point_to_mesh_distance_matches_trimesh():
    vertices, faces = _open_cylinder()
    points = np.random.default_rng(0).uniform(-0.4, 0.4, (300, 3))
    _, expected, _ = trimesh.proximity.closest_point(trimesh.Trimesh(vertices, faces, process=False), points)
    np.testing.assert_allclose(metrics.point_to_mesh_distance(points, vertices, faces), expected, atol=1e-6)


def test_open_cylinder_has_two_ordered_boundary_loops():
    vertices, faces = _open_cylinder(segments=32, rings=5)
    loops = metrics.boundary_loops(faces)
    assert sorted(len(loop) for loop in loops) == [32, 32]
    assert sorted(set(np.round(vertices[loop, 2], 6).tolist()) for loop in loops) == [{-0.3}, {0.3}]
    for loop in loops:  # consecutive loop vertices are neighbours on the ring
        step = np.linalg.norm(vertices[loop] - vertices[np.roll(loop, -1)], axis=1)
        np.testing.assert_allclose(step, 2 * 0.1 * math.sin(math.pi / 32))
    assert metrics.boundary_loops(_sphere(0.1, subdivisions=2)[1]) == []


def _circle(radius=0.1, count=90, centre=(0.0, 0.0, 0.0)):
    angle = 2 * np.pi * np.arange(count) / count
    return np.stack([radius * np.cos(angle), radius * np.sin(angle), np.zeros(count)], axis=1) + np.asarray(centre)


def test_loop_distance_of_a_shift_along_the_normal_is_the_shift():
    assert metrics.loop_distance(_circle(), _circle(centre=(0, 0, 0.01))) == pytest.approx(0.01, abs=1e-9)
    assert metrics.loop_distance(_circle(), _circle()) == pytest.approx(0.0, abs=1e-12)


def test_loop_distance_of_an_in_plane_shift_matches_naive_oracle():
    a, b = _circle(count=60), _circle(count=45, centre=(0.03, 0.01, 0))

    def densify(loop, per_segment=40):  # regular polygons: equal points per segment = uniform by length
        t = np.arange(per_segment)[:, None, None] / per_segment
        return (loop[None] + t * (np.roll(loop, -1, axis=0) - loop)[None]).reshape(-1, 3)

    # Naive oracle: brute-force nearest dense point, both directions.
    pairwise = np.linalg.norm(densify(a)[:, None] - densify(b)[None], axis=2)
    oracle = 0.5 * (pairwise.min(axis=1).mean() + pairwise.min(axis=0).mean())
    assert oracle > 0.02
    assert metrics.loop_distance(a, b) == pytest.approx(oracle, rel=2e-3)


def test_resampled_polyline_is_evenly_spaced_on_the_loop():
    square = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=float)
    points = metrics.resample_closed_polyline(square, 8)
    np.testing.assert_allclose(
        points[:, :2], [[0, 0], [0.5, 0], [1, 0], [1, 0.5], [1, 1], [0.5, 1], [0, 1], [0, 0.5]], atol=1e-12
    )


def test_match_loops_names_shuffled_loops():
    gt = {"neck": _circle(centre=(0, -0.3, 0)), "left_cuff": _circle(centre=(0.3, 0, 0)), "bottom": _circle()}
    pred = [gt["bottom"] + 0.01, gt["neck"] - 0.01, gt["left_cuff"]]
    assert metrics.match_loops(pred, gt) == {"neck": 1, "left_cuff": 2, "bottom": 0}
    assert metrics.match_loops(pred[:1], gt) == {"bottom": 0}


def test_interpenetration_of_a_cylinder_through_a_sphere_body():
    cylinder, _ = _open_cylinder(radius=0.1, rings=61)
    body = _sphere(0.2, subdivisions=5)
    inside = np.linalg.norm(cylinder, axis=1) < 0.2 - 0.002
    expected = inside.mean()
    assert 0.2 < expected < 0.9
    assert metrics.interpenetration_share(cylinder, *body) == pytest.approx(expected, abs=2 / len(cylinder))
    # A body mesh with a hole (think eye sockets) away from the garment gives the same answer.
    vertices, faces = body
    centroid = vertices[faces].mean(axis=1)
    holed = faces[np.linalg.norm(centroid - [0.2, 0, 0], axis=1) > 0.03]
    assert len(holed) < len(faces)
    assert metrics.interpenetration_share(cylinder, vertices, holed) == pytest.approx(expected, abs=2 / len(cylinder))


def test_signed_distance_is_negative_inside():
    vertices, faces = _sphere(0.2)
    points = np.array([[0.0, 0.0, 0.0], [0.0, 0.15, 0.0], [0.3, 0.0, 0.0]])
    np.testing.assert_allclose(metrics.signed_distance(points, vertices, faces), [-0.2, -0.05, 0.1], atol=2e-4)


def test_acceleration_of_constant_velocity_and_of_t_squared():
    t = np.arange(6, dtype=float)[:, None, None]
    direction = np.array([0.6, 0.0, 0.8])
    start = np.random.default_rng(0).normal(size=(4, 3))
    np.testing.assert_allclose(metrics.acceleration_norms(start + 0.3 * t * direction), 0.0, atol=1e-12)
    np.testing.assert_allclose(metrics.acceleration_norms(start + t**2 * direction), 2.0)
    assert metrics.acceleration_norms(start + t**2 * direction).shape == (4, 4)


def test_mask_iou_of_identical_half_overlapping_and_empty_masks():
    a = np.zeros((8, 8), dtype=bool)
    a[2:6, 0:4] = True
    b = np.roll(a, 2, axis=1)  # half of each square overlaps the other
    assert metrics.mask_iou(a, a) == 1.0
    assert metrics.mask_iou(a, b) == pytest.approx(1 / 3)
    assert math.isnan(metrics.mask_iou(np.zeros_like(a), np.zeros_like(a)))


def test_mask_iou_of_rendered_half_overlapping_squares():
    camera = PinholeCamera(40.0, 40.0, 31.5, 31.5, torch.eye(3), torch.zeros(3), 64, 64)

    def square(x0):
        vertices = torch.tensor([[x0, -0.2, 1.0], [x0 + 0.4, -0.2, 1.0], [x0 + 0.4, 0.2, 1.0], [x0, 0.2, 1.0]])
        return vertices, torch.tensor([[0, 1, 2], [0, 2, 3]])

    left = render_meshes([square(-0.3)], camera).foreground.numpy()
    shifted = render_meshes([square(-0.1)], camera).foreground.numpy()
    assert metrics.mask_iou(left, left) == 1.0
    assert metrics.mask_iou(left, shifted) == pytest.approx(1 / 3, abs=0.02)
