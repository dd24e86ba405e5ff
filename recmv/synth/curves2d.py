"""2D feature curves of a synthetic frame: the visible stretches of each GT boundary loop, projected.

Gives what REC-MV reads from `mask2fl/` (dense polylines) and `featurelines/` (endpoint pairs of each
visible stretch).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from recmv.render.camera import PinholeCamera
from recmv.render.raycast import cast_rays


@dataclass
class VisibleCurve:
    """The visible part of one closed 3D curve in one frame.

    stretches: list of [K_i, 2] pixel polylines (x = column, y = row), in loop order.
    """

    name: str
    stretches: list[np.ndarray]

    @property
    def dense_points(self) -> np.ndarray:
        """[K, 2] all visible points, stretches concatenated in loop order."""
        return np.concatenate(self.stretches) if self.stretches else np.zeros((0, 2))

    @property
    def endpoint_pairs(self) -> np.ndarray:
        """[2k, 2] first and last point of every stretch (REC-MV's featurelines layout)."""
        if not self.stretches:
            return np.zeros((0, 2))
        return np.concatenate([s[[0, -1]] for s in self.stretches])


def resample_loop(points: torch.Tensor, count: int) -> torch.Tensor:
    """[count, 3] points evenly spaced by arc length along the closed polyline points [K, 3]."""
    closed = torch.cat([points, points[:1]])
    seg = (closed[1:] - closed[:-1]).norm(dim=-1)
    cum = torch.cat([torch.zeros(1, dtype=seg.dtype), seg.cumsum(0)])
    targets = torch.arange(count, dtype=seg.dtype) * (cum[-1] / count)
    index = torch.searchsorted(cum, targets, right=True).clamp(1, len(points)) - 1
    frac = ((targets - cum[index]) / seg[index].clamp(min=1e-12))[:, None]
    return closed[index] * (1 - frac) + closed[index + 1] * frac


def point_visibility(
    points: torch.Tensor, scene: list[tuple[torch.Tensor, torch.Tensor]], camera: PinholeCamera, tolerance: float
) -> torch.Tensor:
    """[N] bool: a point is visible when the first hit on the ray from the camera lies within `tolerance` of it."""
    vertices = torch.cat([v.float() for v, _ in scene])
    offsets = np.cumsum([0] + [v.shape[0] for v, _ in scene[:-1]])
    faces = torch.cat([f.long() + int(o) for (_, f), o in zip(scene, offsets)])
    origin = camera.center.float().expand_as(points)
    to_point = points.float() - origin
    distance = to_point.norm(dim=-1)
    hits = cast_rays(vertices, faces, origin, to_point / distance[:, None])
    in_front = hits.hit & (hits.t < distance - tolerance)
    _, depth = camera.project(points.float())
    in_image = depth > 0
    return in_image & ~in_front


def visible_curve(
    name: str,
    loop: torch.Tensor,
    scene: list[tuple[torch.Tensor, torch.Tensor]],
    camera: PinholeCamera,
    samples: int = 200,
    tolerance: float = 0.01,
    min_points: int = 3,
) -> VisibleCurve:
    """Project the visible stretches of a closed 3D loop [K, 3] (world) seen among the scene meshes."""
    dense = resample_loop(loop, samples)
    visible = point_visibility(dense, scene, camera, tolerance)
    pixels, _ = camera.project(dense.float())
    inside = (
        (pixels[:, 0] >= 0) & (pixels[:, 0] <= camera.width - 1) & (pixels[:, 1] >= 0) & (pixels[:, 1] <= camera.height - 1)
    )
    keep = (visible & inside).numpy()
    if keep.all():
        return VisibleCurve(name, [pixels.numpy()])
    # Start the walk just after a hidden point so no stretch wraps around the array end.
    start = int(np.flatnonzero(~keep)[0])
    order = np.roll(np.arange(samples), -start)
    stretches, current = [], []
    for i in order:
        if keep[i]:
            current.append(i)
        elif current:
            stretches.append(current)
            current = []
    if current:
        stretches.append(current)
    pixel_array = pixels.numpy()
    return VisibleCurve(name, [pixel_array[s] for s in stretches if len(s) >= min_points])
