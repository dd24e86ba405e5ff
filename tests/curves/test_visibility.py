"""Visibility by ray casting: points behind an occluder are hidden, others seen."""

from __future__ import annotations

import torch

from recmv.curves.visibility import visible_points
from recmv.render.camera import PinholeCamera

CAMERA = PinholeCamera(100.0, 100.0, 31.5, 31.5, torch.eye(3), torch.zeros(3), 64, 64)


def wall(z: float, half: float = 0.2) -> tuple[torch.Tensor, torch.Tensor]:
    """A square at depth z covering |x|, |y| < half."""
    vertices = torch.tensor([[-half, -half, z], [half, -half, z], [half, half, z], [-half, half, z]])
    return vertices, torch.tensor([[0, 1, 2], [0, 2, 3]])


def test_points_behind_an_occluder_are_hidden_and_the_rest_seen():
    points = torch.tensor([
        [0.0, 0.0, 2.5],    # behind the wall
        [0.05, 0.05, 1.5],  # in front of it
        [0.5, 0.0, 2.5],    # beside it (its ray misses the wall)
        [0.0, 0.0, 2.02],   # just behind, within the tolerance
        [3.0, 0.0, 2.5],    # outside the image
        [0.0, 0.0, -1.0],   # behind the camera
    ])
    seen = visible_points(points, [wall(2.0)], CAMERA, tolerance=0.05)
    assert seen.tolist() == [False, True, True, True, False, False]


def test_per_point_tolerance_and_several_occluders():
    points = torch.tensor([[0.0, 0.0, 2.3], [0.0, 0.0, 2.3]])
    seen = visible_points(points, [wall(3.0), wall(2.2)], CAMERA, tolerance=torch.tensor([0.05, 0.2]))
    assert seen.tolist() == [False, True]
