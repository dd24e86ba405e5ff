"""Per-garment soft silhouettes by point splatting with mutual occlusion (REC-MV §4.1 mask loss).

REC-MV rasterises all deformed garment vertices together with pytorch3d's PointsRasterizer
(K nearest-in-depth points per pixel) and AlphaCompositor with per-point alpha 1 - d²/r², once per
garment with a one-hot feature. Here the same is done in plain PyTorch: every point emits
(point, pixel) pairs over its pixel footprint, the pairs are sorted by (pixel, depth), the first K of
each pixel are composited front to back, and the weights alpha_i T_i are summed per garment.
Gradients reach the point positions through the projected 2D positions (alpha); which pixels a point
covers and the depth order are discrete and carry none. Memory is O(N r²).
"""

from __future__ import annotations

import math

import torch

from recmv.errors import RecmvError
from recmv.render.camera import PinholeCamera

_NEAR = 1e-6


def _footprint_pairs(
    pixels: torch.Tensor, radius_px: float, width: int, height: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(point, pixel) pairs with the pixel centre strictly inside the point's disc.

    Args:
        pixels: [N, 2] projected (u, v).
    Returns:
        point_index: [P] long.
        pixel_index: [P] long, row * width + column.
        alpha: [P] 1 - d²/r², differentiable w.r.t. pixels.
    """
    # |column - u| < r and |u - round(u)| <= 0.5, so offsets up to ceil(r + 0.5) cover the disc.
    half = math.ceil(radius_px + 0.5)
    offsets = torch.arange(-half, half + 1, device=pixels.device)
    dy, dx = torch.meshgrid(offsets, offsets, indexing="ij")
    base = pixels.detach().round().long()
    cols = base[:, None, 0] + dx.reshape(1, -1)
    rows = base[:, None, 1] + dy.reshape(1, -1)
    d2 = (cols.to(pixels) - pixels[:, None, 0]) ** 2 + (rows.to(pixels) - pixels[:, None, 1]) ** 2
    inside = (d2.detach() < radius_px**2) & (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
    point_index = torch.arange(pixels.shape[0], device=pixels.device)[:, None].expand_as(cols)[inside]
    alpha = 1.0 - d2[inside] / radius_px**2
    return point_index, rows[inside] * width + cols[inside], alpha


def _composite_weights(
    pixel_index: torch.Tensor, depth: torch.Tensor, alpha: torch.Tensor, max_points_per_pixel: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Front-to-back compositing weights alpha_i T_i over the K nearest pairs of each pixel.

    Args:
        pixel_index: [P] long; depth: [P] (not differentiated); alpha: [P].
    Returns:
        order: [Q] indices into the P pairs that were kept.
        weights: [Q] alpha_i * prod_{j in front of i} (1 - alpha_j).
    """
    # Stable sort by depth, then stable sort by pixel: pairs grouped by pixel, nearest first.
    by_depth = torch.argsort(depth.detach(), stable=True)
    order = by_depth[torch.argsort(pixel_index[by_depth], stable=True)]
    sorted_pixels = pixel_index[order]
    unique_pixels, counts = torch.unique_consecutive(sorted_pixels, return_counts=True)
    starts = torch.cumsum(counts, 0) - counts
    segment = torch.repeat_interleave(torch.arange(unique_pixels.numel(), device=depth.device), counts)
    rank = torch.arange(order.numel(), device=depth.device) - starts[segment]
    keep = rank < max_points_per_pixel
    order, segment, rank = order[keep], segment[keep], rank[keep]
    # Dense [pixels, K'] layout so that the exclusive product is an exact cumprod (alpha may be 1).
    depth_slots = int(rank.max().item()) + 1 if rank.numel() else 1
    transmit = alpha.new_ones(unique_pixels.numel(), depth_slots + 1)
    transmit = transmit.index_put((segment, rank + 1), 1.0 - alpha[order])
    transmittance = torch.cumprod(transmit, dim=1)[segment, rank]
    return order, alpha[order] * transmittance


def splat_silhouettes(
    points: torch.Tensor,
    point_group: torch.Tensor,
    num_groups: int,
    camera: PinholeCamera,
    radius_px: float,
    max_points_per_pixel: int = 50,
    occluder_depth: torch.Tensor | None = None,
) -> torch.Tensor:
    """Soft per-group silhouettes of a point cloud, with occlusion between groups.

    Args:
        points: [N, 3] world points.
        point_group: [N] long, the group (garment) of each point, in [0, num_groups).
        num_groups: G.
        camera: the view; its width and height give the image size.
        radius_px: splat radius in pixels.
        max_points_per_pixel: K, the nearest-in-depth points composited per pixel.
        occluder_depth: [H, W] or [G, H, W] (per group) camera depth of an opaque surface that is not
            splatted (the body, rendered exactly), inf where there is none; points behind it do not
            cover that pixel.
    Returns:
        [G, H, W] masks in [0, 1]; their sum over groups is the total coverage (also <= 1).
    """
    if points.ndim != 2 or points.shape[1] != 3:
        raise RecmvError(f"points: expected shape [N, 3], got {tuple(points.shape)}")
    if point_group.shape != points.shape[:1]:
        raise RecmvError(f"point_group: expected shape [{points.shape[0]}], got {tuple(point_group.shape)}")
    if point_group.numel() and (int(point_group.min()) < 0 or int(point_group.max()) >= num_groups):
        raise RecmvError(f"point_group: expected values in [0, {num_groups}), got {point_group.unique().tolist()}")
    if radius_px <= 0 or max_points_per_pixel < 1:
        raise RecmvError(
            f"radius_px, max_points_per_pixel: expected > 0 and >= 1, got {radius_px}, {max_points_per_pixel}"
        )
    height, width = camera.height, camera.width
    masks = points.new_zeros(num_groups * height * width)
    pixels, depth = camera.project(points)
    in_front = depth.detach() > _NEAR
    pixels, depth, group = pixels[in_front], depth[in_front], point_group[in_front]
    point_index, pixel_index, alpha = _footprint_pairs(pixels, radius_px, width, height)
    if occluder_depth is not None:
        if occluder_depth.shape == (height, width):
            occluder_depth = occluder_depth.expand(num_groups, height, width)
        if occluder_depth.shape != (num_groups, height, width):
            raise RecmvError(
                f"occluder_depth: expected shape [{height}, {width}] or [{num_groups}, {height}, {width}], "
                f"got {tuple(occluder_depth.shape)}"
            )
        limit = occluder_depth.reshape(num_groups, -1)[group[point_index], pixel_index]
        in_front = depth[point_index].detach() < limit
        point_index, pixel_index, alpha = point_index[in_front], pixel_index[in_front], alpha[in_front]
    if point_index.numel() == 0:
        return masks.view(num_groups, height, width)
    order, weights = _composite_weights(pixel_index, depth[point_index], alpha, max_points_per_pixel)
    target = group[point_index[order]].long() * (height * width) + pixel_index[order]
    return masks.index_add(0, target, weights).view(num_groups, height, width)


def soft_iou_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - soft IoU per group (REC-MV §5.1).

    Args:
        pred: [G, H, W] soft masks M.
        target: [G, H, W] target masks.
    Returns:
        [G] 1 - sum(M target) / sum(M + target - M target); 0 where both masks are empty.
    """
    if pred.shape != target.shape or pred.ndim != 3:
        raise RecmvError(
            f"pred, target: expected equal [G, H, W] shapes, got {tuple(pred.shape)}, {tuple(target.shape)}"
        )
    overlap = (pred * target).flatten(1).sum(1)
    union = (pred + target - pred * target).flatten(1).sum(1)
    # Two empty masks agree perfectly: IoU 1, loss 0.
    iou = torch.where(union > 0, overlap / union.clamp_min(torch.finfo(pred.dtype).tiny), torch.ones_like(union))
    return 1.0 - iou
