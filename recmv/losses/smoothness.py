"""Terms on the body trajectory: DCT smoothness (REC-MV §5.15, with the translation included) and a
prior that keeps refined poses near the input poses (not in REC-MV)."""

from __future__ import annotations

import torch

from recmv.errors import RecmvError
from recmv.fields.latent import dct_basis
from recmv.losses.deformation import pseudo_huber


def dct_smoothness_loss(
    trajectory: torch.Tensor, window: int = 30, keep: int = 10, detrend: bool = False
) -> torch.Tensor:
    """Mean |coefficient| of the high-frequency DCT-II bases of each coordinate's time series.

    trajectory: [T, ...] (for example posed joints [T, J, 3]). Of a T-frame series, the bases
    round(keep * T / window) .. T-1 are penalised (REC-MV: 10..29 of 30). detrend: first subtract
    `end_slope_quadratic`, so that a smooth motion still under way at the window's ends costs nothing.
    Without it (REC-MV), the DCT's mirror extension turns those end velocities into kinks whose high
    frequencies the term then removes by bending the first and last frames. Returns a scalar (0 for T < 3).
    """
    frames = trajectory.shape[0]
    if frames < 3:
        return trajectory.sum() * 0.0
    first = max(1, round(keep * frames / window))
    if first >= frames:
        return trajectory.sum() * 0.0
    series = trajectory.reshape(frames, -1)
    if detrend:
        series = series - end_slope_quadratic(series)
    basis = dct_basis(frames, frames, dtype=trajectory.dtype, device=trajectory.device)[:, first:]
    coefficients = basis.T @ series
    return coefficients.abs().mean()


def end_slope_quadratic(series: torch.Tensor) -> torch.Tensor:
    """The quadratic q(t) = a t + b t^2 whose slopes at t = 0 and t = T-1 are the series' slopes there.

    series: [T, D], T >= 3 -> [T, D]. The slopes are second-order one-sided differences, so q matches
    them exactly for any quadratic motion; series - q then starts and ends at rest, which the DCT's
    mirror extension continues without a kink.
    """
    frames = series.shape[0]
    if frames < 3:
        raise RecmvError(f"series: expected at least 3 frames, got {frames}")
    start = (4 * series[1] - 3 * series[0] - series[2]) / 2
    end = (3 * series[-1] - 4 * series[-2] + series[-3]) / 2
    time = torch.arange(frames, dtype=series.dtype, device=series.device)[:, None]
    return start * time + (end - start) / (2 * (frames - 1)) * time.square()


def dct_windows(frames: torch.Tensor, num_frames: int, window: int) -> torch.Tensor:
    """Per frame, the `window` consecutive frame indices centred on it, shifted to fit the sequence.

    frames: [B] long -> [B, min(window, num_frames)] long.
    """
    if window < 1 or num_frames < 1:
        raise RecmvError(f"window, num_frames: expected >= 1, got {window}, {num_frames}")
    length = min(window, num_frames)
    start = (frames - length // 2).clamp(0, num_frames - length)
    return start[:, None] + torch.arange(length, device=frames.device)[None]


def pose_prior_loss(vertices: torch.Tensor, given: torch.Tensor, scale: float = 0.005) -> torch.Tensor:
    """Mean pseudo-Huber distance sqrt(1 + (d / scale)^2) - 1 of the refined body's vertices from where
    the input poses put them.

    vertices, given: [B, V, 3] posed body vertices (refined, input). Measured on vertices rather than
    on axis-angles so that translation, twist and every joint count in one unit, by how far they move
    the body. Quadratic under `scale` metres, linear above: a bounded pull that the images can outweigh
    where the input poses are wrong. Returns a scalar.
    """
    if vertices.shape != given.shape or vertices.shape[-1] != 3:
        raise RecmvError(f"vertices, given: expected equal [B, V, 3], got {tuple(vertices.shape)}, {tuple(given.shape)}")
    return pseudo_huber((vertices - given).square().sum(-1), scale).mean()
