"""Garment silhouette term (REC-MV §5.1)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from recmv.errors import RecmvError
from recmv.render.splatting import soft_iou_loss


def dilate_masks(masks: torch.Tensor, radius_px: float) -> torch.Tensor:
    """Max-pool dilation by `radius_px` pixels (REC-MV dilates the GT masks by the splat radius); a
    fractional radius blends the dilations by its floor and ceiling, so the mask grows by part of a
    ring of pixels.

    masks: [..., H, W] bool or float -> same shape, float.
    """
    masks = masks.float() if masks.dtype == torch.bool else masks
    if radius_px < 0:
        raise RecmvError(f"radius_px: expected >= 0, got {radius_px}")
    inner, outer = math.floor(radius_px), math.ceil(radius_px)
    share = radius_px - inner
    dilated = _max_pool_dilation(masks, inner)
    return dilated if share == 0 else (1 - share) * dilated + share * _max_pool_dilation(masks, outer)


def _max_pool_dilation(masks: torch.Tensor, radius_px: int) -> torch.Tensor:
    if radius_px <= 0:
        return masks
    shape = masks.shape
    flat = masks.reshape(-1, 1, *shape[-2:])
    return F.max_pool2d(flat, 2 * radius_px + 1, stride=1, padding=radius_px).reshape(shape)


def silhouette_loss(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of 1 - soft IoU over the (image, garment) pairs marked valid.

    pred, target: [B, G, H, W]; valid: [B, G] bool (None: all). Returns a scalar.
    """
    if pred.ndim != 4 or pred.shape != target.shape:
        raise RecmvError(f"pred, target: expected equal [B, G, H, W], got {tuple(pred.shape)}, {tuple(target.shape)}")
    losses = torch.stack([soft_iou_loss(p, t.to(p)) for p, t in zip(pred, target, strict=True)])
    if valid is None:
        return losses.mean()
    if valid.shape != losses.shape:
        raise RecmvError(f"valid: expected shape {tuple(losses.shape)}, got {tuple(valid.shape)}")
    if not bool(valid.any()):
        return losses.sum() * 0.0
    return losses[valid].mean()
