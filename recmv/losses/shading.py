"""Normal and colour terms at ray / surface points (REC-MV §5.13, 5.14)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

MIN_DETERMINANT = 1e-4
MIN_NORMAL_LENGTH = 1e-4


def per_image_mean(values: torch.Tensor, image_index: torch.Tensor, num_images: int) -> torch.Tensor:
    """Mean of values [N] per image (index [N]), then the mean over images that have any. -> scalar."""
    sums = values.new_zeros(num_images).index_add(0, image_index, values)
    counts = values.new_zeros(num_images).index_add(0, image_index, torch.ones_like(values))
    present = counts > 0
    if not bool(present.any()):
        return values.sum() * 0.0
    return (sums[present] / counts[present]).mean()


def observed_normals(jacobian: torch.Tensor, sdf_gradient: torch.Tensor) -> torch.Tensor:
    """World normals J^-T grad f, normalised; J itself where it is near singular. [N,3,3], [N,3] -> [N,3]."""
    determinant = torch.linalg.det(jacobian)
    usable = determinant.abs() > MIN_DETERMINANT
    safe = torch.where(usable[:, None, None], jacobian, torch.eye(3, dtype=jacobian.dtype, device=jacobian.device))
    solved = torch.linalg.solve(safe.transpose(1, 2), sdf_gradient[:, :, None])[:, :, 0]
    fallback = (jacobian @ sdf_gradient[:, :, None])[:, :, 0]
    return F.normalize(torch.where(usable[:, None], solved, fallback), dim=-1)


def normal_loss(
    jacobian: torch.Tensor,
    sdf_gradient: torch.Tensor,
    observed: torch.Tensor,
    ray_dirs: torch.Tensor,
    image_index: torch.Tensor,
    num_images: int,
    weighted: bool = True,
    renormalize: bool = False,
) -> torch.Tensor:
    """REC-MV's normal term: |J^T n_obs - n_can| per ray, weighted by clamp(-v . n, 0, 1)^2.

    The observed world normal is pulled back to canonical space as J^T n_obs, which REC-MV does not
    renormalise (it has unit length only where J is a rotation); `renormalize` normalises it.

    jacobian: [N, 3, 3] dW/dp; sdf_gradient: [N, 3] canonical grad f; observed: [N, 3] world normals
    from the normal map (rays with |n| <= 1e-4 are skipped); ray_dirs: [N, 3] unit view directions;
    image_index: [N]. Returns the per-image mean, averaged over images.
    """
    canonical = F.normalize(sdf_gradient, dim=-1)
    target = (jacobian.transpose(1, 2) @ observed[:, :, None])[:, :, 0]
    if renormalize:
        target = F.normalize(target, dim=-1)
    per_ray = (target - canonical).norm(dim=-1)
    if weighted:
        facing = observed_normals(jacobian, sdf_gradient).detach()
        per_ray = per_ray * (-(ray_dirs * facing).sum(-1)).clamp(0.0, 1.0).square()
    valid = observed.norm(dim=-1) > MIN_NORMAL_LENGTH
    if not bool(valid.any()):
        return per_ray.sum() * 0.0
    return per_image_mean(per_ray[valid], image_index[valid], num_images)


def colour_loss(predicted: torch.Tensor, observed: torch.Tensor, image_index: torch.Tensor, num_images: int) -> torch.Tensor:
    """Per ray sum over RGB of |I - c|, per-image mean, then mean over images. [N, 3] each -> scalar."""
    return per_image_mean((predicted - observed).abs().sum(-1), image_index, num_images)
