"""Smoothing in time of point and rotation trajectories, by Gaussian-weighted local linear regression.

In the middle of a sequence this is a plain Gaussian filter. Near the ends the window is one-sided, and
fitting a line rather than a constant keeps a steady motion from being pulled towards the middle (as
a truncated Gaussian does) while still averaging the end frames' noise (which odd reflection does not).
A motion of constant velocity, linear or angular, passes through unchanged.
"""

from __future__ import annotations

import math

import torch

from recmv.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle


def local_linear_weights(
    frames: int, sigma: float, dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights of the frames t + k, k = -P .. P (P = 3 sigma, at most frames - 1), in frame t's smoothed
    value, and those frames' indices.

    The value at t of the Gaussian-weighted least-squares line through its window: rows sum to 1,
    and sum_k weight[t, k] * k = 0, so linear sequences are reproduced. Offsets outside the sequence
    get weight 0 and an index clamped into it. -> weights [frames, 2P + 1], indices [frames, 2P + 1] long
    """
    half = min(math.ceil(3.0 * sigma), frames - 1)
    offsets = torch.arange(-half, half + 1, dtype=dtype, device=device)
    times = torch.arange(frames, device=device)[:, None] + offsets.long()
    inside = (times >= 0) & (times < frames)
    gauss = torch.exp(-0.5 * (offsets / sigma) ** 2) * inside
    moment0, moment1, moment2 = (
        (gauss * offsets**power).sum(-1, keepdim=True) for power in range(3)
    )
    weights = gauss * (moment2 - offsets * moment1) / (moment0 * moment2 - moment1**2)
    return weights, times.clamp(0, frames - 1)


def _weighted_sum(windows: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """windows: [T, W, ...], weights: [T, W] -> [T, ...]"""
    return (windows * weights.reshape(*weights.shape, *[1] * (windows.dim() - 2))).sum(1)


def smooth_points(points: torch.Tensor, sigma: float) -> torch.Tensor:
    """Points smoothed over the first axis with a sigma-frame Gaussian (sigma <= 0: unchanged).

    points: [T, ...] -> [T, ...]
    """
    frames = points.shape[0]
    if sigma <= 0 or frames < 2:
        return points
    weights, indices = local_linear_weights(frames, sigma, points.dtype, points.device)
    return _weighted_sum(points[indices], weights)


def smooth_axis_angles(axis_angle: torch.Tensor, sigma: float) -> torch.Tensor:
    """Rotations smoothed over the first axis with a sigma-frame Gaussian (sigma <= 0: unchanged).

    Each frame's window is expressed relative to that frame, log(R_t^T R_s), smoothed there as vectors
    and mapped back: a steady rotation is a line in these coordinates, and the wrap of rotation vectors
    at angle π never enters.

    axis_angle: [T, ..., 3] rotation vectors -> [T, ..., 3]
    """
    frames = axis_angle.shape[0]
    if sigma <= 0 or frames < 2:
        return axis_angle
    weights, indices = local_linear_weights(frames, sigma, axis_angle.dtype, axis_angle.device)  # [T, W]
    matrices = axis_angle_to_matrix(axis_angle)  # [T, ..., 3, 3]
    relative = matrix_to_axis_angle(matrices[:, None].transpose(-1, -2) @ matrices[indices])  # [T, W, ..., 3]
    step = _weighted_sum(relative, weights)
    return matrix_to_axis_angle(matrices @ axis_angle_to_matrix(step))
