"""Curve resampling, cap-disc sampling and the self-intersection oracle."""

from __future__ import annotations

import math

import torch

from recmv.curves.ops import fan_disc_samples, polygon_self_intersects, resample_closed


def square() -> torch.Tensor:
    return torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0]])


def test_resampling_spaces_points_evenly_along_the_closed_loop():
    points = resample_closed(square(), 8)
    gaps = (points.roll(-1, 0) - points).norm(dim=-1)
    torch.testing.assert_close(gaps, torch.full((8,), 0.5))
    torch.testing.assert_close(points[0], square()[0])


def test_disc_samples_cover_a_circle_uniformly_by_area():
    angle = torch.arange(64) * (2 * math.pi / 64)
    loop = torch.stack([angle.cos(), angle.sin(), torch.zeros_like(angle)], dim=-1) + torch.tensor([0.0, 0.0, 2.0])
    samples = fan_disc_samples(loop, 20000, torch.Generator().manual_seed(0))
    assert torch.allclose(samples[:, 2], torch.tensor(2.0))
    radius = samples[:, :2].norm(dim=-1)
    assert radius.max() <= 1.0 + 1e-6
    # Uniform on a unit disc: E[r^2] = 1/2 (a 64-gon has ~0.998 of the disc's second moment).
    assert abs(float(radius.pow(2).mean()) - 0.5) < 0.01


def test_self_intersection_oracle():
    t = torch.arange(40) * (2 * math.pi / 40)
    circle = torch.stack([t.cos(), t.sin()], dim=-1)
    eight = torch.stack([torch.sin(2 * t), t.sin()], dim=-1)
    assert not polygon_self_intersects(circle)
    assert polygon_self_intersects(eight)
