"""The similarity initialiser recovers a known rigid offset and scale of a circle from its projections."""

from __future__ import annotations

import math

import torch

from recmv.curves.config import CurveConfig
from recmv.curves.init import fit_similarity, similarity_transform, symmetric_pairs
from recmv.geometry.rotations import axis_angle_to_matrix
from recmv.render.camera import PinholeCamera

CAMERA = PinholeCamera(200.0, 200.0, 63.5, 63.5, torch.eye(3), torch.zeros(3), 128, 128)


def circle(radius: float = 0.12, count: int = 32) -> torch.Tensor:
    angle = torch.arange(count) * (2 * math.pi / count)
    return torch.stack([radius * angle.cos(), 0.3 + 0.0 * angle, radius * angle.sin()], dim=-1)


def two_views(points: torch.Tensor) -> torch.Tensor:
    """[N, 3] canonical -> [2, N, 3]: in front of the camera, and turned 90 degrees about the vertical."""
    turn = axis_angle_to_matrix(torch.tensor([0.0, math.pi / 2, 0.0]))
    shift = torch.tensor([0.0, 0.0, 2.0])
    return torch.stack([points + shift, points @ turn.T + shift])


def loop_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    d = torch.cdist(a, b)
    return float(0.5 * (d.min(1).values.mean() + d.min(0).values.mean()))


def test_recovers_a_known_offset_scale_and_tilt_of_a_circle():
    template = circle()[None]
    truth = similarity_transform(
        template, torch.tensor([[0.03, -0.04, 0.02]]), torch.tensor([math.log(1.25)]), torch.tensor([[0.15, 0.0, 0.0]])
    )
    pixels, _ = CAMERA.project(two_views(truth[0]))
    targets = pixels[:, None]  # [B=2, C=1, P, 2]
    mask = torch.ones(targets.shape[:-1], dtype=torch.bool)
    fit = fit_similarity(
        template, ["neck"], two_views, CAMERA, targets, mask, lambda posed: torch.ones(posed.shape[:-1], dtype=torch.bool),
        CurveConfig(init_steps=100),
    )
    recovered = fit.apply(template)[0]
    assert loop_distance(template[0], truth[0]) > 0.03
    assert loop_distance(recovered, truth[0]) < 0.001
    torch.testing.assert_close(fit.translation, torch.tensor([[0.03, -0.04, 0.02]]), atol=1e-3, rtol=0)
    assert abs(float(fit.log_scale.exp()) - 1.25) < 0.005


def test_left_and_right_pairs_get_one_scale():
    names = ["neck", "left_cuff", "right_cuff", "left_pant", "right_pant"]
    assert symmetric_pairs(names) == [(1, 2), (3, 4)]
    # Two cuffs whose targets ask for different scales end with one scale between the two.
    template = torch.stack([circle(0.05) + torch.tensor([0.2, 0.0, 0.0]), circle(0.05) - torch.tensor([0.2, 0.0, 0.0])])
    truth = torch.stack([
        similarity_transform(template[:1], torch.zeros(1, 3), torch.tensor([math.log(1.3)]), torch.zeros(1, 3))[0],
        similarity_transform(template[1:], torch.zeros(1, 3), torch.tensor([math.log(1.1)]), torch.zeros(1, 3))[0],
    ])
    posed = two_views(truth.reshape(-1, 3)).reshape(2, 2, -1, 3)
    targets, _ = CAMERA.project(posed)
    mask = torch.ones(targets.shape[:-1], dtype=torch.bool)
    fit = fit_similarity(
        template, ["left_cuff", "right_cuff"], lambda p: two_views(p), CAMERA, targets, mask,
        lambda p: torch.ones(p.shape[:-1], dtype=torch.bool), CurveConfig(init_steps=60),
    )
    scales = fit.log_scale.exp()
    assert float(scales[0]) == float(scales[1])
    assert 1.12 < float(scales[0]) < 1.3
