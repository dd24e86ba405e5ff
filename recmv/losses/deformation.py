"""Terms on the non-rigid deformation (REC-MV §5.2, 5.11, 5.12)."""

from __future__ import annotations

import torch

from recmv.errors import RecmvError

MIN_SINGULAR_VALUE = 1e-6


def geman_mcclure(squared: torch.Tensor, scale: float) -> torch.Tensor:
    """Robust penalty rho(x, c) = 2 (x / c^2) / (x / c^2 + 4) of squared values x. [...] -> [...]."""
    ratio = squared / scale**2
    return 2.0 * ratio / (ratio + 4.0)


def pseudo_huber(squared: torch.Tensor, scale: float) -> torch.Tensor:
    """Robust penalty sqrt(1 + x / c^2) - 1 of squared lengths x: quadratic under c, linear above, so its
    pull is bounded (gradient 1/c per unit length far away) but never vanishes. [...] -> [...]."""
    return torch.sqrt(1.0 + squared / scale**2) - 1.0


def deformation_consistency_loss(
    warped: torch.Tensor, skinned_only: torch.Tensor, scale: float = 0.01, margin: float = 0.0
) -> torch.Tensor:
    """Mean rho(max(|W(v) - LBS(v)| - margin, 0)^2, c): keeps warped points near their plain-skinned positions.

    margin (metres, not in REC-MV) leaves offsets up to that length free, for cloth that swings away from
    where skinning puts it. warped, skinned_only: [N, 3]. Returns a scalar.
    """
    if warped.shape != skinned_only.shape or warped.shape[-1] != 3:
        raise RecmvError(f"warped, skinned_only: expected equal [N, 3], got {tuple(warped.shape)}, {tuple(skinned_only.shape)}")
    squared = (warped - skinned_only).square().sum(-1)
    if margin > 0:
        # Clamped before the root, whose gradient is infinite at a zero offset.
        squared = (squared.clamp_min(1e-12).sqrt() - margin).clamp_min(0.0).square()
    return geman_mcclure(squared, scale).mean()


def rigidity_loss(jacobian: torch.Tensor, scale: float = 0.5) -> torch.Tensor:
    """Mean rho(sum_k log(s_k)^2, c) over Jacobians [N, 3, 3] (singular values s; 0 for rotations)."""
    if jacobian.ndim != 3 or jacobian.shape[1:] != (3, 3):
        raise RecmvError(f"jacobian: expected [N, 3, 3], got {tuple(jacobian.shape)}")
    singular = torch.linalg.svdvals(jacobian).clamp_min(MIN_SINGULAR_VALUE)
    return geman_mcclure(torch.log(singular).square().sum(-1), scale).mean()


def mean_offset_loss(offsets: torch.Tensor, scale: float = 0.01) -> torch.Tensor:
    """Mean pseudo-Huber length of the non-rigid offsets [N, 3] under a garment's mean code.

    Not in REC-MV. The offset network and the SDF can trade a static shape change between them: REC-MV's
    consistency term saturates beyond ~2 cm and does not stop the offset from carrying it. Pulling the
    offset of the average frame to zero puts the garment's rest shape in its SDF (and curves), so that
    the canonical meshes and curves are the garment's own, and leaves the per-frame offsets free.
    Returns a scalar.
    """
    if offsets.ndim != 2 or offsets.shape[-1] != 3:
        raise RecmvError(f"offsets: expected [N, 3], got {tuple(offsets.shape)}")
    return pseudo_huber(offsets.square().sum(-1), scale).mean()


def offset_norm(offsets: torch.Tensor) -> torch.Tensor:
    """Mean length of the non-rigid offsets [N, 3] (logged by REC-MV, weight 0)."""
    return offsets.norm(dim=-1).mean()
