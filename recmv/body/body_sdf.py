"""Signed distance to the canonical body, tabulated on a grid once so that it is cheap to query.

Used to keep garments outside the body during fitting (REC-MV has no such term, and its users see
garments cutting into the body). Negative inside; sampled trilinearly, differentiable in the points.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from recmv.geometry.grid_sample import sample_grid_3d
from recmv.geometry.proximity import closest_points


@dataclass
class BodySDFGrid:
    """values: [D, D, D] signed distances, axes (z, y, x), samples at cell centres of the cube (center [3], extent)."""

    values: torch.Tensor
    center: torch.Tensor
    extent: float

    @classmethod
    def from_mesh(
        cls, vertices: torch.Tensor, faces: torch.Tensor, center: torch.Tensor, extent: float, resolution: int = 64
    ) -> BodySDFGrid:
        """Tabulate the mesh's signed distance (inside by winding number) on a resolution^3 grid."""
        steps = (torch.arange(resolution, dtype=torch.float32) + 0.5) / resolution - 0.5
        axis = steps * extent
        z, y, x = torch.meshgrid(axis, axis, axis, indexing="ij")
        points = torch.stack([x, y, z], dim=-1).reshape(-1, 3) + center.float().cpu()
        closest = closest_points(vertices.detach().float().cpu(), faces.cpu(), points, sign="winding")
        values = closest.signed_distance(points).reshape(resolution, resolution, resolution)
        return cls(values=values.to(vertices.device), center=center.detach().to(vertices.device), extent=float(extent))

    def query(self, points: torch.Tensor) -> torch.Tensor:
        """Signed distances [N] at canonical points [N, 3]."""
        coords = 2.0 * (points - self.center.to(points)) / self.extent
        return sample_grid_3d(self.values.to(points)[None], coords)[:, 0]
