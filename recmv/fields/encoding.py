"""NeRF positional encoding with per-band weights, and the coarse-to-fine annealing schedule.

The layout follows IDR/REC-MV so that the reference networks see the same input channels:
[x, sin(2^0 x), cos(2^0 x), sin(2^1 x), cos(2^1 x), ...], each sin/cos block 3 channels wide.
Band k (frequency 2^k) is multiplied by its weight, so a weight of 0 switches the band off without
changing the tensor shape; the raw input x is never weighted.
"""

from __future__ import annotations

import math

import torch

from recmv.errors import RecmvError


def encoded_size(num_bands: int) -> int:
    """Channels of `positional_encoding` for 3-D points: 3 + 6 * num_bands."""
    if num_bands < 0:
        raise RecmvError(f"num_bands must be >= 0, got {num_bands}")
    return 3 + 6 * num_bands


def positional_encoding(
    x: torch.Tensor, num_bands: int, band_weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Encode points with frequencies 2^0 .. 2^(num_bands-1).

    x: [N, 3]; band_weights: [num_bands] or None (all ones) -> [N, 3 + 6 * num_bands].
    """
    if x.ndim != 2 or x.shape[1] != 3:
        raise RecmvError(f"positional_encoding expects points [N, 3], got {tuple(x.shape)}")
    encoded_size(num_bands)
    if num_bands == 0:
        return x
    frequencies = 2.0 ** torch.arange(num_bands, device=x.device, dtype=x.dtype)  # [B]
    angles = x[:, None, :] * frequencies[None, :, None]  # [N, B, 3]
    bands = torch.cat([torch.sin(angles), torch.cos(angles)], dim=2)  # [N, B, 6]
    if band_weights is not None:
        if band_weights.shape != (num_bands,):
            raise RecmvError(
                f"band_weights must have shape [{num_bands}], got {tuple(band_weights.shape)}"
            )
        bands = bands * band_weights.to(x)[None, :, None]
    return torch.cat([x, bands.reshape(x.shape[0], 6 * num_bands)], dim=1)


def annealing_weights(
    ratio: float,
    num_bands: int,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Per-band weights (1 - cos(pi * clamp(num_bands * ratio - k, 0, 1))) / 2 for k = 0..num_bands-1.

    ratio <= 0 turns every band off, ratio >= 1 turns every band fully on. -> [num_bands]
    """
    encoded_size(num_bands)
    band = torch.arange(num_bands, dtype=dtype, device=device)
    progress = torch.clamp(num_bands * ratio - band, 0.0, 1.0)
    return (1.0 - torch.cos(math.pi * progress)) / 2.0


def deformer_annealing_ratio(iteration: int, period: float = 2500.0, start: float = 0.5) -> float:
    """REC-MV's deformer schedule: ratio = iteration / period + start (half the bands on at 0)."""
    if period <= 0:
        raise RecmvError(f"annealing period must be > 0, got {period}")
    return iteration / period + start
