"""The garment warp W: canonical point -> x + offset(x, z_g(t)) -> linear blend skinning (REC-MV §3.7).

One warp serves SDF samples, marching-cubes vertices, curve points and registered meshes alike. The
skinning weights are read from the diffused grid at the *offset* point, as REC-MV does, so the
Jacobian dW/dx involves the grid sampler's derivative (which has a double backward).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from recmv.body.lbs import skin_points
from recmv.body.skinning_field import SkinningGrid
from recmv.errors import RecmvError
from recmv.fields.deformation import DeformationField


@dataclass
class WarpResult:
    """deformed: [B, N, 3] canonical points after the non-rigid offset; posed: [B, N, 3] world points."""

    deformed: torch.Tensor
    posed: torch.Tensor


def skin_canonical(grid: SkinningGrid, points: torch.Tensor, transforms: torch.Tensor) -> torch.Tensor:
    """Skinning alone, weights sampled at each point. points: [B|1, N, 3], transforms: [B, J, 4, 4] -> [B, N, 3]."""
    if points.ndim != 3 or points.shape[-1] != 3:
        raise RecmvError(f"points: expected [B, N, 3], got {tuple(points.shape)}")
    weights = grid.query(points.reshape(-1, 3)).reshape(*points.shape[:2], -1)
    return skin_points(points, weights, transforms)


def warp_points(
    deformer: DeformationField,
    grid: SkinningGrid,
    points: torch.Tensor,
    codes: torch.Tensor,
    transforms: torch.Tensor,
    band_weights: torch.Tensor | None = None,
) -> WarpResult:
    """Warp canonical points into B frames.

    Args:
        points: [N, 3] canonical points shared by the frames, or [B, N, 3] per frame.
        codes: [B, L] the garment's latent code of each frame.
        transforms: [B, J, 4, 4] canonical-to-world joint transforms of each frame (translation included).
        band_weights: [bands] the deformer's positional-encoding annealing weights.
    Returns:
        WarpResult with [B, N, 3] tensors.
    """
    batch = transforms.shape[0]
    if codes.ndim != 2 or codes.shape[0] != batch:
        raise RecmvError(f"codes: expected [{batch}, L], got {tuple(codes.shape)}")
    if points.ndim == 2:
        points = points[None].expand(batch, -1, -1)
    if points.ndim != 3 or points.shape[0] != batch or points.shape[-1] != 3:
        raise RecmvError(f"points: expected [N, 3] or [{batch}, N, 3], got {tuple(points.shape)}")
    count = points.shape[1]
    per_point_codes = codes[:, None, :].expand(batch, count, codes.shape[1]).reshape(batch * count, -1)
    offsets = deformer(points.reshape(-1, 3), per_point_codes, band_weights).reshape(batch, count, 3)
    deformed = points + offsets
    return WarpResult(deformed=deformed, posed=skin_canonical(grid, deformed, transforms))


def warp_jacobian(
    deformer: DeformationField,
    grid: SkinningGrid,
    points: torch.Tensor,
    codes: torch.Tensor,
    transforms: torch.Tensor,
    band_weights: torch.Tensor | None = None,
    create_graph: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Posed points and the full warp Jacobian, one frame per point.

    Args:
        points: [N, 3] canonical points; codes: [N, L]; transforms: [N, J, 4, 4] (each point's frame).
    Returns:
        posed: [N, 3]; jacobian: [N, 3, 3] with J[n, i, j] = d posed_i / d points_j.
    """
    outer_grad = torch.is_grad_enabled()
    with torch.enable_grad():
        leaf = points if points.requires_grad else points.detach().requires_grad_(True)
        posed = warp_points(deformer, grid, leaf[:, None, :], codes, transforms, band_weights).posed[:, 0]
        rows = [
            torch.autograd.grad(posed[:, i].sum(), leaf, create_graph=create_graph and outer_grad, retain_graph=True)[0]
            for i in range(3)
        ]
    jacobian = torch.stack(rows, dim=1)
    return (posed, jacobian) if outer_grad else (posed.detach(), jacobian.detach())
