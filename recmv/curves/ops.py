"""Small pure operations on closed 3D curves: resampling, local frames, cap discs."""

from __future__ import annotations

import torch

from recmv.errors import RecmvError


def resample_closed(points: torch.Tensor, count: int) -> torch.Tensor:
    """[count, 3] points evenly spaced in arc length along the closed polyline points [K, 3], K >= 2."""
    if points.ndim != 2 or points.shape[0] < 2:
        raise RecmvError(f"curve: expected [K >= 2, D] points, got {tuple(points.shape)}")
    closed = torch.cat([points, points[:1]])
    lengths = (closed[1:] - closed[:-1]).norm(dim=-1)
    arc = torch.cat([lengths.new_zeros(1), lengths.cumsum(0)])
    targets = torch.arange(count, dtype=arc.dtype, device=arc.device) * (arc[-1] / count)
    index = (torch.searchsorted(arc, targets, right=True) - 1).clamp(0, points.shape[0] - 1)
    share = ((targets - arc[index]) / lengths[index].clamp(min=1e-12))[:, None]
    return closed[index] * (1 - share) + closed[index + 1] * share


def curve_frame(points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """REC-MV's fixed frame of a closed curve (Intersect_Free_Curve buffers).

    Args:
        points: [C, K, 3] closed curves.
    Returns:
        centre [C, 3] mean point; directions [C, K, 3] unit radial directions; radii [C, K] distances
        to the centre; normal [C, 3] unit mean of the cross products of consecutive directions.
    """
    centre = points.mean(dim=1)
    offsets = points - centre[:, None]
    radii = offsets.norm(dim=-1)
    directions = offsets / radii.clamp(min=1e-9)[..., None]
    crosses = torch.linalg.cross(directions, directions.roll(-1, dims=1), dim=-1)
    normal = torch.nn.functional.normalize(crosses, dim=-1).mean(dim=1)
    return centre, directions, radii, torch.nn.functional.normalize(normal, dim=-1)


def fan_disc_samples(loop: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """Area-uniform samples [count, 3] on the fan disc spanned by a closed loop [K, 3] and its centroid."""
    centre = loop.mean(dim=0)
    a, b = loop, loop.roll(-1, dims=0)
    areas = 0.5 * torch.linalg.cross(a - centre, b - centre, dim=-1).norm(dim=-1)
    faces = torch.multinomial(areas.detach().cpu() + 1e-12, count, replacement=True, generator=generator)
    uv = torch.rand(count, 2, generator=generator, dtype=loop.dtype)
    flip = uv.sum(dim=1) > 1
    uv = torch.where(flip[:, None], 1 - uv, uv).to(loop.device)
    faces = faces.to(loop.device)
    return centre + uv[:, :1] * (a[faces] - centre) + uv[:, 1:] * (b[faces] - centre)


def polygon_self_intersects(points: torch.Tensor) -> bool:
    """Whether a closed 2D polygon [K, 2] has two non-adjacent edges that cross (a naive O(K^2) check)."""
    p = points.double()
    q = p.roll(-1, dims=0)
    count = p.shape[0]

    def orient(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0])

    a, b = p[:, None], q[:, None]
    c, d = p[None], q[None]
    crossing = (orient(a, b, c) * orient(a, b, d) < 0) & (orient(c, d, a) * orient(c, d, b) < 0)
    index = torch.arange(count)
    gap = (index[:, None] - index[None]).abs()
    adjacent = (gap <= 1) | (gap == count - 1)
    return bool((crossing & ~adjacent).any())


def plane_coordinates(points: torch.Tensor, centre: torch.Tensor, normal: torch.Tensor) -> torch.Tensor:
    """[K, 2] coordinates of points [K, 3] in the plane through centre [3] with unit normal [3]."""
    helper = torch.zeros_like(normal)
    helper[int(normal.abs().argmin())] = 1.0
    u = torch.nn.functional.normalize(torch.linalg.cross(normal, helper, dim=-1), dim=-1)
    v = torch.linalg.cross(normal, u, dim=-1)
    offsets = points - centre
    return torch.stack([offsets @ u, offsets @ v], dim=-1)
