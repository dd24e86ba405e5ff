"""Per-frame latent codes that start smooth in time (REC-MV §3.7 initialisation)."""

from __future__ import annotations

import math

import torch

from recmv.errors import RecmvError


def dct_basis(
    num_frames: int,
    count: int,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The lowest `count` orthonormal DCT-II basis functions over time -> [num_frames, count].

    Column k is sqrt(2/F) * cos(pi * (t + 1/2) * k / F) (k = 0 scaled by sqrt(1/F)), so for
    count = F the matrix B satisfies B.T @ x == scipy.fft.dct(x, type=2, norm="ortho").
    """
    if num_frames < 1 or not 1 <= count <= num_frames:
        raise RecmvError(
            f"dct_basis needs num_frames >= 1 and 1 <= count <= num_frames, got {num_frames}, {count}"
        )
    dtype = torch.get_default_dtype() if dtype is None else dtype
    time = torch.arange(num_frames, dtype=dtype, device=device) + 0.5
    frequency = torch.arange(count, dtype=dtype, device=device)
    basis = torch.cos(math.pi / num_frames * time[:, None] * frequency[None, :])
    scale = torch.full((count,), math.sqrt(2.0 / num_frames), dtype=dtype, device=device)
    scale[0] = math.sqrt(1.0 / num_frames)
    return basis * scale


def smooth_latent_codes(
    num_frames: int,
    dim: int,
    num_bases: int | None = None,
    std: float = 0.1,
    generator: torch.Generator | None = None,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Codes whose every dimension is a random mix of the lowest DCT-II basis functions -> [F, dim].

    num_bases defaults to max(1, floor(F / 5)); coefficients are N(0, std^2). Coefficients are drawn
    on the CPU (so a CPU generator gives the same codes on every device) and then moved.
    """
    if dim < 1:
        raise RecmvError(f"smooth_latent_codes needs dim >= 1, got {dim}")
    if std < 0:
        raise RecmvError(f"smooth_latent_codes needs std >= 0, got {std}")
    count = max(1, num_frames // 5) if num_bases is None else num_bases
    dtype = torch.get_default_dtype() if dtype is None else dtype
    basis = dct_basis(num_frames, count, dtype=dtype, device=device)
    coefficients = torch.randn(count, dim, generator=generator, dtype=dtype) * std
    return basis @ coefficients.to(device)
