"""Feature-curve loss terms (REC-MV §5.5-5.8), each a plain function of tensors."""

from __future__ import annotations

import torch


def curve_chamfer(
    pixels: torch.Tensor, visible: torch.Tensor, targets: torch.Tensor, target_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two-sided mean squared nearest distance between projected curve points and annotated 2D points.

    Args:
        pixels: [..., K, 2] projected curve points; visible: [..., K] bool, the points that take part.
        targets: [..., P, 2] annotated points; target_mask: [..., P] bool, the real (not padded) ones.
    Returns:
        chamfer [...] in squared pixels (0 where a side is empty); valid [...] bool, both sides non-empty.
    """
    squared = (pixels[..., :, None, :] - targets[..., None, :, :]).pow(2).sum(-1)  # [..., K, P]
    large = 1e30  # stands for 'no partner'; finite so sums of masked rows stay finite
    to_target = squared.masked_fill(~target_mask[..., None, :], large).min(dim=-1).values
    to_curve = squared.masked_fill(~visible[..., :, None], large).min(dim=-2).values
    valid = visible.any(-1) & target_mask.any(-1)
    forward = (to_target * visible).sum(-1) / visible.sum(-1).clamp(min=1)
    backward = (to_curve * target_mask).sum(-1) / target_mask.sum(-1).clamp(min=1)
    chamfer = torch.where(valid, forward + backward, torch.zeros_like(forward))
    return chamfer, valid


def curve_projection_loss(
    pixels: torch.Tensor,
    visible: torch.Tensor,
    targets: torch.Tensor,
    target_mask: torch.Tensor,
    weights: torch.Tensor,
) -> torch.Tensor:
    """REC-MV 5.6: per-curve weighted chamfer (squared px) of the visible projected points, averaged
    over the (frame, curve) pairs where both the projection and the annotation are non-empty.

    Args:
        pixels: [B, C, K, 2]; visible: [B, C, K] bool; targets: [B, C, P, 2]; target_mask: [B, C, P] bool;
        weights: [C] per-curve weights (REC-MV's (largest curve size / this curve's size)^2).
    Returns:
        scalar loss (a zero that keeps the graph when no pair is valid).
    """
    chamfer, valid = curve_chamfer(pixels, visible, targets, target_mask)
    return weighted_chamfer_mean(chamfer, valid, weights)


def weighted_chamfer_mean(chamfer: torch.Tensor, valid: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """sum(weights[c] * chamfer[b, c]) over the valid (frame, curve) pairs, divided by their count.

    chamfer, valid: [B, C] (from `curve_chamfer`); weights: [C]. Linear in `weights`, so the term splits
    exactly by curves: weights * m + weights * (1 - m) gives two parts that sum to the whole.
    """
    weighted = chamfer * weights.to(chamfer)
    return (weighted * valid).sum() / valid.sum().clamp(min=1)


def curve_sdf_loss(sdf_values: torch.Tensor) -> torch.Tensor:
    """REC-MV 5.7: mean |f(p)| of the owning garment's SDF at its curve points [N]."""
    return sdf_values.abs().mean()


def curve_smoothness_loss(points: torch.Tensor) -> torch.Tensor:
    """REC-MV 5.8 ("slope"): mean 1 - cos between consecutive edge directions of closed curves [C, K, 3]."""
    edges = torch.nn.functional.normalize(points.roll(-1, dims=-2) - points, dim=-1)
    return (1.0 - (edges * edges.roll(-1, dims=-2)).sum(-1)).mean()


def curve_cap_loss(sdf_values: torch.Tensor) -> torch.Tensor:
    """REC-MV 5.5 (curve-aware): mean |f(x)| of the lower garment's SDF on the disc closing a curve."""
    return sdf_values.abs().mean()
