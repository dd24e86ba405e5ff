"""Terms on the garment SDFs (REC-MV §3.5, 5.4, 5.10)."""

from __future__ import annotations

import math

import torch

from recmv.errors import RecmvError


def surface_loss(sdf_values: torch.Tensor) -> torch.Tensor:
    """Mean |f| at points that should lie on the surface. [N] -> scalar."""
    return sdf_values.abs().mean()


def eikonal_loss(gradients: torch.Tensor) -> torch.Tensor:
    """Mean (|grad f| - 1)^2. [N, 3] -> scalar."""
    return (gradients.norm(dim=-1) - 1.0).square().mean()


def normal_alignment_loss(gradients: torch.Tensor, normals: torch.Tensor) -> torch.Tensor:
    """Mean |grad f - n| against unit surface normals. [N, 3], [N, 3] -> scalar."""
    return (gradients - normals).norm(dim=-1).mean()


def eikonal_samples(
    surface_points: torch.Tensor,
    local_sigma: float,
    box: tuple[torch.Tensor, torch.Tensor],
    global_ratio: float = 1.0 / 6.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Jitters N(0, sigma^2) of every point plus ceil(N * ratio) uniform points in the box.

    surface_points: [N, 3]; box: (low [3], high [3]). Returns [N + M, 3]. Draws on the CPU so a CPU
    generator gives the same samples on every device.
    """
    if surface_points.ndim != 2 or surface_points.shape[1] != 3:
        raise RecmvError(f"surface_points: expected [N, 3], got {tuple(surface_points.shape)}")
    count = surface_points.shape[0]
    noise = torch.randn(count, 3, generator=generator, dtype=surface_points.dtype)
    local = surface_points + local_sigma * noise.to(surface_points.device)
    low, high = (b.to(surface_points) for b in box)
    extra = math.ceil(count * global_ratio)
    uniform = torch.rand(extra, 3, generator=generator, dtype=surface_points.dtype).to(surface_points.device)
    return torch.cat([local, low + (high - low) * uniform])


def body_penetration_loss(body_sdf: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean max(0, margin - d) over garment points at signed body distances d [N] (negative inside)."""
    return torch.relu(margin - body_sdf).mean()
