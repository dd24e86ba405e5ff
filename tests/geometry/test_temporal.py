"""Smoothing in time: against a weighted least-squares oracle, steady motions kept, noise averaged."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from recmv.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from recmv.geometry.temporal import local_linear_weights, smooth_axis_angles, smooth_points

F64 = torch.float64


def _rotation_angles(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Angles (rad) of first^-1 second; axis-angles [..., 3] -> [...]."""
    relative = axis_angle_to_matrix(first).transpose(-1, -2) @ axis_angle_to_matrix(second)
    return matrix_to_axis_angle(relative).norm(dim=-1)


def test_points_match_a_weighted_least_squares_line_through_each_window():
    sigma, frames = 1.5, 12
    series = torch.randn(frames, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    smoothed = smooth_points(series, sigma)
    half = math.ceil(3 * sigma)
    for t in range(frames):
        times = np.arange(max(0, t - half), min(frames, t + half + 1))
        gauss = np.exp(-0.5 * ((times - t) / sigma) ** 2)
        for column in range(2):
            # np.polyfit's weights multiply the residuals, so they are the square roots of the Gaussian.
            slope, intercept = np.polyfit(times - t, series[times, column].numpy(), 1, w=np.sqrt(gauss))
            assert smoothed[t, column].item() == pytest.approx(intercept, abs=1e-10)


def test_weights_sum_to_one_have_no_first_moment_and_are_gaussian_in_the_middle():
    weights, indices = local_linear_weights(20, 2.0, F64, torch.device("cpu"))
    offsets = torch.arange(-6, 7, dtype=F64)
    assert torch.allclose(weights.sum(1), torch.ones(20, dtype=F64))
    assert torch.allclose((weights * offsets).sum(1), torch.zeros(20, dtype=F64), atol=1e-12)
    gauss = torch.exp(-0.5 * (offsets / 2.0) ** 2)
    assert torch.allclose(weights[10], gauss / gauss.sum())
    assert (weights[0, :6] == 0).all()  # frames before the first
    assert indices[10].tolist() == list(range(4, 17)) and indices[0, :7].tolist() == [0] * 7


def test_a_steady_motion_passes_unchanged_up_to_the_ends():
    times = torch.arange(30, dtype=F64)
    line = times[:, None] * torch.tensor([0.01, -0.02, 0.005], dtype=F64) + 1.0
    assert torch.allclose(smooth_points(line, 2.0), line, atol=1e-12)
    axis = torch.nn.functional.normalize(torch.tensor([0.3, 1.0, 0.2], dtype=F64), dim=0)
    # 0.21 rad per frame: the rotation vector wraps at angle π around frame 15.
    spin = (times[:, None, None] * 0.21 * axis).expand(30, 2, 3)
    start = axis_angle_to_matrix(torch.tensor([0.4, 0.0, -0.3], dtype=F64))
    from_start = matrix_to_axis_angle(start @ axis_angle_to_matrix(spin[:, 1:]))
    steady = torch.cat([spin[:, :1], from_start], dim=1)
    assert _rotation_angles(smooth_axis_angles(steady, 2.0), steady).max() < 1e-9


def test_rotation_noise_is_averaged_and_the_result_commutes_with_fixed_rotations():
    generator = torch.Generator().manual_seed(1)
    times = torch.arange(40, dtype=F64)
    truth = times[:, None, None] * 0.05 * torch.tensor([0.0, 1.0, 0.0], dtype=F64) + torch.zeros(40, 3, 3, dtype=F64)
    noisy = axis_angle_to_matrix(truth) @ axis_angle_to_matrix(0.05 * torch.randn(40, 3, 3, generator=generator, dtype=F64))
    noisy_aa = matrix_to_axis_angle(noisy)
    smoothed = smooth_axis_angles(noisy_aa, 2.0)
    middle = slice(6, 34)
    assert _rotation_angles(smoothed, truth)[middle].mean() < 0.5 * _rotation_angles(noisy_aa, truth)[middle].mean()
    assert _rotation_angles(smoothed, truth).mean() < _rotation_angles(noisy_aa, truth).mean()
    left = axis_angle_to_matrix(torch.tensor([0.3, -0.7, 1.1], dtype=F64))
    right = axis_angle_to_matrix(torch.tensor([-1.2, 0.2, 0.5], dtype=F64))
    moved = matrix_to_axis_angle(left @ noisy @ right)
    expected = matrix_to_axis_angle(left @ axis_angle_to_matrix(smoothed) @ right)
    assert _rotation_angles(smooth_axis_angles(moved, 2.0), expected).max() < 1e-9


@pytest.mark.parametrize("frames", [1, 2, 5])
def test_short_sequences_and_zero_width_are_handled(frames):
    series = torch.randn(frames, 4, 3, generator=torch.Generator().manual_seed(2), dtype=F64)
    assert torch.equal(smooth_points(series, 0.0), series)
    assert torch.equal(smooth_axis_angles(series, 0.0), series)
    smoothed = smooth_axis_angles(series, 2.0)
    assert smoothed.shape == series.shape and torch.isfinite(smoothed).all()
    if frames <= 2:  # a line passes through any two frames: nothing to smooth
        assert _rotation_angles(smoothed, series).max() < 1e-9
        assert torch.allclose(smooth_points(series, 2.0), series, atol=1e-12)
