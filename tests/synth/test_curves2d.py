import math

import numpy as np
import torch
import trimesh

from recmv.render.camera import PinholeCamera
from recmv.synth.curves2d import resample_loop, visible_curve


def _camera(size=128, focal=120.0):
    c = (size - 1) / 2
    return PinholeCamera(focal, focal, c, c, torch.eye(3), torch.zeros(3), size, size)


def _circle(radius=0.3, z=3.0, n=64):
    angles = torch.arange(n) * 2 * math.pi / n
    return torch.stack([radius * torch.cos(angles), radius * torch.sin(angles), torch.full((n,), z)], dim=1)


def test_resample_loop_is_even_and_on_the_circle():
    # A square of side 2: 8 samples land on the corners and edge midpoints, 1 apart along the perimeter.
    square = torch.tensor([[1.0, 1.0, 0.0], [-1.0, 1.0, 0.0], [-1.0, -1.0, 0.0], [1.0, -1.0, 0.0]])
    points = resample_loop(square, 8)
    expected = torch.tensor(
        [[1, 1], [0, 1], [-1, 1], [-1, 0], [-1, -1], [0, -1], [1, -1], [1, 0]], dtype=torch.float32
    )
    assert torch.allclose(points[:, :2], expected, atol=1e-6)
    # On a finely sampled circle, the samples are evenly spaced and stay on it.
    points = resample_loop(_circle(n=720), 50)
    closed = torch.cat([points, points[:1]])
    steps = (closed[1:] - closed[:-1]).norm(dim=1)
    assert steps.std() / steps.mean() < 1e-3
    assert torch.allclose(points[:, :2].norm(dim=1), torch.full((50,), 0.3), atol=1e-4)


def test_unoccluded_circle_projects_whole_onto_analytic_ellipse():
    camera = _camera()
    curve = visible_curve("neck", _circle(), [(torch.zeros(0, 3), torch.zeros(0, 3, dtype=torch.long))], camera)
    assert len(curve.stretches) == 1
    pixels = curve.dense_points
    radius_px = np.hypot(pixels[:, 0] - camera.cx, pixels[:, 1] - camera.cy)
    assert np.allclose(radius_px, 120.0 * 0.3 / 3.0, atol=0.05)


def test_occluder_hides_half_the_circle():
    # A box in front of the left half (x < 0) of the circle hides it.
    box = trimesh.creation.box(extents=(0.5, 1.0, 0.1))
    vertices = torch.tensor(box.vertices, dtype=torch.float32) + torch.tensor([-0.25, 0.0, 2.0])
    scene = [(vertices, torch.tensor(box.faces))]
    curve = visible_curve("neck", _circle(), scene, _camera(), samples=200)
    pixels = curve.dense_points
    assert len(curve.stretches) == 1
    assert (pixels[:, 0] >= _camera().cx - 1.0).all()
    assert 0.4 < len(pixels) / 200 < 0.6
    assert curve.endpoint_pairs.shape == (2, 2)
