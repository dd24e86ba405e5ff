"""The intersection-free curve model: identity at start, star-shaped under any optimisation."""

from __future__ import annotations

import math

import torch

from recmv.curves.model import FeatureCurves
from recmv.curves.ops import plane_coordinates, polygon_self_intersects


def wavy_loop(count: int = 48) -> torch.Tensor:
    angle = torch.arange(count) * (2 * math.pi / count)
    radius = 0.1 + 0.02 * torch.cos(3 * angle)
    return torch.stack([radius * angle.cos(), 0.01 * torch.cos(2 * angle), radius * angle.sin()], dim=-1)


def figure_eight(count: int = 48) -> torch.Tensor:
    """A target that crosses itself: what an unconstrained curve would be pulled into."""
    angle = torch.arange(count) * (2 * math.pi / count)
    return torch.stack([0.15 * torch.sin(2 * angle), 0.02 * angle.cos(), 0.1 * angle.sin()], dim=-1)


def test_starts_at_its_loops_and_its_frame_is_the_loops_own():
    loops = torch.stack([wavy_loop(), wavy_loop() + torch.tensor([0.3, 0.0, 0.0])])
    curves = FeatureCurves(["left_cuff", "right_cuff"], [0, 0], loops)
    torch.testing.assert_close(curves(), loops, atol=1e-6, rtol=0)
    torch.testing.assert_close(curves.centre, loops.mean(1))
    assert torch.allclose(curves.normal.abs(), torch.tensor([0.0, 1.0, 0.0]).expand(2, 3), atol=0.05)
    assert curves.index("right_cuff") == 1


def _pull(points_fn, parameters, target: torch.Tensor, steps: int = 150) -> list[torch.Tensor]:
    optimizer = torch.optim.Adam(parameters, lr=0.02)
    seen = []
    for _ in range(steps):
        optimizer.zero_grad()
        (points_fn() - target).pow(2).sum().backward()
        optimizer.step()
        seen.append(points_fn().detach())
    return seen


def test_stays_free_of_self_intersection_when_pulled_towards_a_crossing_target():
    loop = wavy_loop()
    curves = FeatureCurves(["neck"], [0], loop[None])
    target = figure_eight()
    states = _pull(lambda: curves()[0], list(curves.parameters()), target)
    assert (states[-1] - target).norm(dim=-1).mean() < (loop - target).norm(dim=-1).mean()  # it did move
    for points in states[::10] + states[-1:]:
        flat = plane_coordinates(points, curves.centre[0], curves.normal[0])
        assert not polygon_self_intersects(flat)


def test_free_points_under_the_same_pull_do_cross_themselves():
    """The oracle: the same optimisation on unconstrained points ends in a crossing polygon."""
    loop = wavy_loop()
    free = loop.clone().requires_grad_(True)
    states = _pull(lambda: free, [free], figure_eight())
    normal = torch.tensor([0.0, 1.0, 0.0])
    assert polygon_self_intersects(plane_coordinates(states[-1], loop.mean(0), normal))
