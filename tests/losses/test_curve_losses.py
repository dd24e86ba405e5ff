"""Curve loss terms: zero at the ground truth, growing with the offset, masks and weights respected."""

from __future__ import annotations

import itertools
import math

import torch

from recmv.losses.curves import (
    curve_cap_loss,
    curve_chamfer,
    curve_projection_loss,
    curve_sdf_loss,
    curve_smoothness_loss,
)


def ring(count: int = 40, radius: float = 20.0) -> torch.Tensor:
    t = torch.arange(count) * (2 * math.pi / count)
    return torch.stack([32 + radius * t.cos(), 32 + radius * t.sin()], dim=-1)


def test_projection_loss_is_zero_at_the_ground_truth_and_grows_with_the_offset():
    target = ring()[None, None]
    mask = torch.ones(target.shape[:-1], dtype=torch.bool)
    weights = torch.ones(1)
    values = []
    for offset in (0.0, 0.5, 1.0, 2.0, 4.0):
        pixels = target + torch.tensor([offset, 0.0])
        values.append(float(curve_projection_loss(pixels, mask, target, mask, weights)))
    assert values[0] == 0.0
    assert all(a < b for a, b in itertools.pairwise(values))


def test_projection_loss_matches_a_naive_chamfer_and_respects_masks_and_weights():
    generator = torch.Generator().manual_seed(0)
    pixels = 64 * torch.rand(2, 3, 7, 2, generator=generator)
    targets = 64 * torch.rand(2, 3, 5, 2, generator=generator)
    visible = torch.rand(2, 3, 7, generator=generator) > 0.3
    mask = torch.rand(2, 3, 5, generator=generator) > 0.3
    visible[1, 2] = False  # a curve with no visible point takes no part
    weights = torch.tensor([1.0, 2.0, 0.5])
    total, pairs = 0.0, 0
    for b in range(2):
        for c in range(3):
            p, t = pixels[b, c][visible[b, c]], targets[b, c][mask[b, c]]
            if len(p) and len(t):
                d = torch.cdist(p, t).pow(2)
                total += float(weights[c] * (d.min(1).values.mean() + d.min(0).values.mean()))
                pairs += 1
    loss = curve_projection_loss(pixels, visible, targets, mask, weights)
    assert math.isclose(float(loss), total / pairs, rel_tol=1e-5)
    _, valid = curve_chamfer(pixels, visible, targets, mask)
    assert not valid[1, 2]


def test_projection_loss_gradient_pulls_points_onto_the_curve_and_is_finite_when_empty():
    target = ring()[None, None]
    mask = torch.ones(target.shape[:-1], dtype=torch.bool)
    pixels = (target + torch.tensor([1.0, 0.0])).requires_grad_(True)
    curve_projection_loss(pixels, mask, target, mask, torch.ones(1)).backward()
    assert (pixels.grad[..., 0] > 0).all()  # descending moves every point back in -x
    empty = curve_projection_loss(pixels, torch.zeros_like(mask), target, mask, torch.ones(1))
    empty.backward()
    assert float(empty.detach()) == 0.0 and torch.isfinite(pixels.grad).all()


def test_smoothness_of_a_regular_polygon_and_of_a_zigzag():
    t = torch.arange(12) * (2 * math.pi / 12)
    polygon = torch.stack([t.cos(), t.sin(), torch.zeros_like(t)], dim=-1)[None]
    assert math.isclose(float(curve_smoothness_loss(polygon)), 1 - math.cos(2 * math.pi / 12), rel_tol=1e-5)
    zigzag = polygon.clone()
    zigzag[0, ::2] *= 1.3
    assert curve_smoothness_loss(zigzag) > curve_smoothness_loss(polygon)


def test_sdf_and_cap_terms_are_mean_absolute_values():
    values = torch.tensor([0.01, -0.03, 0.0, 0.02])
    assert math.isclose(float(curve_sdf_loss(values)), 0.015, rel_tol=1e-6)
    assert math.isclose(float(curve_cap_loss(values)), 0.015, rel_tol=1e-6)
