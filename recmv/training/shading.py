"""Normal and colour terms at ray / canonical-surface intersections (REC-MV §4.2, §5.13-5.14).

Start points come from an exact ray cast of the posed explicit meshes (REC-MV rasterises them): a
pixel whose front-most surface is garment g starts at the barycentric mix of the *canonical*
vertices of the hit face. The search then moves each point onto the SDF's zero set along its pixel
ray, and the points are re-attached to every parameter by implicit differentiation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from recmv.losses.shading import colour_loss, normal_loss
from recmv.model.garment_model import GarmentModel
from recmv.render.camera import PinholeCamera
from recmv.render.raycast import MeshRender
from recmv.render.surface_points import differentiable_surface_points, pixel_angle_threshold, refine_surface_points
from recmv.training.config import SurfaceSearchConfig


@dataclass
class RaySamples:
    """Rays of one garment over a batch. slot: [N] batch slot; pixels: [N, 2] (u, v); start: [N, 3] canonical."""

    slot: torch.Tensor
    pixels: torch.Tensor
    start: torch.Tensor


def sample_rays(
    renders: list[MeshRender],
    garment: int,
    canonical_vertices: torch.Tensor,
    faces: torch.Tensor,
    masks: torch.Tensor,
    count: int,
    generator: torch.Generator,
) -> RaySamples:
    """Up to `count` pixels per image where garment g is the front-most surface and its mask is on.

    renders: per batch slot, the render of [garment meshes..., body]; masks: [B, H, W] this garment's
    target. canonical_vertices: [V, 3]; faces: [F, 3].
    """
    slots, pixels, starts = [], [], []
    for slot, render in enumerate(renders):
        hit = (render.mesh_id == garment) & (masks[slot] > 0.5)
        rows, cols = torch.nonzero(hit, as_tuple=True)
        if rows.numel() == 0:
            continue
        pick = torch.randperm(rows.numel(), generator=generator)[:count]
        rows, cols = rows[pick], cols[pick]
        corners = canonical_vertices.detach()[faces[render.face[rows, cols]]]  # [n, 3, 3]
        bary = render.barycentric[rows, cols].to(corners)
        starts.append((bary[:, :, None] * corners).sum(1))
        pixels.append(torch.stack([cols, rows], dim=-1).to(corners))
        slots.append(torch.full_like(rows, slot))
    if not slots:
        empty = canonical_vertices.new_zeros(0, 3)
        return RaySamples(torch.zeros(0, dtype=torch.long), empty[:, :2], empty)
    return RaySamples(torch.cat(slots), torch.cat(pixels), torch.cat(starts))


@dataclass
class ShadingTerms:
    normal: torch.Tensor
    colour: torch.Tensor
    rays: int
    converged: int


def shading_terms(
    model: GarmentModel,
    garment: int,
    rays: RaySamples,
    frame_indices: torch.Tensor,
    transforms: torch.Tensor,
    camera: PinholeCamera,
    base_camera: PinholeCamera,
    images: torch.Tensor,
    normals: torch.Tensor,
    band_weights: torch.Tensor,
    search: SurfaceSearchConfig,
    use_normals: bool,
) -> ShadingTerms:
    """Normal and colour losses of one garment's rays.

    frame_indices: [B]; transforms: [B, J, 4, 4]; camera: the refined (differentiable) camera;
    images, normals: [B, H, W, 3] of the batch.
    """
    zero = transforms.new_zeros(())
    if rays.slot.numel() == 0:
        return ShadingTerms(zero, zero, 0, 0)
    sdf = model.sdfs[garment]
    point_frames = frame_indices[rays.slot]
    point_transforms = transforms[rays.slot]

    def sdf_fn(points: torch.Tensor) -> torch.Tensor:
        return sdf(points).sdf

    def warp_fn(points: torch.Tensor) -> torch.Tensor:
        return model.warp_each(garment, points, point_frames, point_transforms, band_weights)

    origins, dirs = camera.pixel_rays(rays.pixels)
    found, converged = refine_surface_points(
        rays.start, sdf_fn, warp_fn, origins, dirs,
        iterations=search.newton_steps,
        sdf_tol=search.sdf_tolerance,
        angle_tol=pixel_angle_threshold(base_camera, search.angle_pixels),
        gauss_newton_steps=search.gauss_newton_steps,
    )
    if not bool(converged.any()):
        return ShadingTerms(zero, zero, rays.slot.numel(), 0)
    point_frames, point_transforms = point_frames[converged], point_transforms[converged]
    origins, dirs, slot = origins[converged], dirs[converged], rays.slot[converged]
    pixels = rays.pixels[converged].long()
    points = differentiable_surface_points(found[converged], sdf_fn, warp_fn, origins, dirs)
    feature, gradient = _feature_and_gradient(sdf, points)
    _, jacobian = model.warp_with_jacobian(garment, points, point_frames, point_transforms, band_weights)
    batch = frame_indices.shape[0]
    normal = zero
    if use_normals:
        observed = normals[slot, pixels[:, 1], pixels[:, 0]]
        normal = normal_loss(jacobian, gradient, observed, dirs, slot, batch)
    canonical_normal = F.normalize(gradient, dim=-1)
    canonical_view = F.normalize(torch.linalg.solve(jacobian, dirs[:, :, None])[:, :, 0], dim=-1)
    colours = model.appearance(points, canonical_view, canonical_normal, feature)
    colour = colour_loss(colours, images[slot, pixels[:, 1], pixels[:, 0]], slot, batch)
    return ShadingTerms(normal, colour, rays.slot.numel(), int(converged.sum()))


def _feature_and_gradient(sdf: torch.nn.Module, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """SDF feature [N, F] and differentiable spatial gradient [N, 3] at points that carry a graph."""
    if not points.requires_grad:  # every parameter behind the points is frozen
        points = points.detach().requires_grad_(True)
    output = sdf(points)
    (gradient,) = torch.autograd.grad(output.sdf.sum(), points, create_graph=True)
    return output.feature, gradient
