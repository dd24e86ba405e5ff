"""Ray / deformed-SDF intersection found in canonical space (REC-MV §4.2, IDR generalised).

A canonical point p is on the rendered surface of a pixel ray (c, v) when

    f(p) = 0                   (on the zero level set of the canonical SDF)
    [v]x (W(p) - c) = 0        (its warped position lies on the ray)

with W the canonical-to-world warp. `refine_surface_points` finds p without gradients;
`differentiable_surface_points` re-attaches p to every parameter behind f, W, c and v with the
implicit-function gradient.

Derivation. Stack the residuals r(p, theta) = [f(p); [v]x (W(p) - c)] in R^4, theta meaning every
parameter (SDF, warp, c, v). At the solution r(p*, theta) = 0 for all theta near the current one,
so differentiating, B dp/dtheta + dr/dtheta = 0 with B = dr/dp (4x3, full column rank for a ray that
is not tangent to the surface). The (consistent) over-determined system has the unique solution
dp/dtheta = -B^+ dr/dtheta, B^+ = (B^T B)^{-1} B^T. The surrogate

    p(theta) = p* - B^+ (r(p*, theta) - stop_grad(r(p*, theta)))

equals p* in value, and its gradient is exactly -B^+ dr/dtheta, because p* and B are detached.
This is REC-MV's `propagateTmpPsGrad` written as one autograd graph instead of hand-made
surrogate gradients.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from recmv.errors import RecmvError
from recmv.render.camera import PinholeCamera

SdfFn = Callable[[torch.Tensor], torch.Tensor]
WarpFn = Callable[[torch.Tensor], torch.Tensor]


def pixel_angle_threshold(camera: PinholeCamera, pixels: float = 0.5) -> float:
    """The smallest angle subtended by `pixels` pixels at the four image borders (REC-MV `angThreshold`).

    At a border pixel at distance x (in pixels) from the principal point the angle is
    atan((x + pixels)/f) - atan(x/f); it shrinks towards the borders, so the minimum is taken.
    """
    angles = []
    for offset, focal in (
        (camera.cx, camera.fx),
        (camera.width - 1 - camera.cx, camera.fx),
        (camera.cy, camera.fy),
        (camera.height - 1 - camera.cy, camera.fy),
    ):
        x = abs(offset)
        angles.append(math.atan((x + pixels) / focal) - math.atan(x / focal))
    return min(angles)


def ray_sine(world_points: torch.Tensor, ray_origins: torch.Tensor, ray_dirs: torch.Tensor) -> torch.Tensor:
    """Sine of the angle between (x - c) and the ray direction.

    Args:
        world_points: [N, 3] points x.
        ray_origins: [N, 3] c.
        ray_dirs: [N, 3] unit directions v.
    Returns:
        [N] ||(x - c) x v|| / ||x - c||.
    """
    offset = world_points - ray_origins
    return torch.linalg.cross(offset, ray_dirs, dim=-1).norm(dim=-1) / offset.norm(dim=-1).clamp_min(1e-12)


def _check_shapes(p: torch.Tensor, ray_origins: torch.Tensor, ray_dirs: torch.Tensor) -> None:
    for name, tensor in (("points", p), ("ray_origins", ray_origins), ("ray_dirs", ray_dirs)):
        if tensor.ndim != 2 or tensor.shape[1] != 3:
            raise RecmvError(f"{name}: expected shape [N, 3], got {tuple(tensor.shape)}")
    if not p.shape[0] == ray_origins.shape[0] == ray_dirs.shape[0]:
        raise RecmvError(
            f"points, ray_origins, ray_dirs: expected the same N, got "
            f"{p.shape[0]}, {ray_origins.shape[0]}, {ray_dirs.shape[0]}"
        )


def refine_surface_points(
    p0: torch.Tensor,
    sdf_fn: SdfFn,
    warp_fn: WarpFn,
    ray_origins: torch.Tensor,
    ray_dirs: torch.Tensor,
    iterations: int = 20,
    sdf_weight: float = 3.05,
    sdf_tol: float = 5e-5,
    angle_tol: float = 1e-3,
    gauss_newton_steps: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Move canonical points onto the SDF zero set along their pixel rays, without gradients.

    Minimises L(p) = w |f(p)| + ||(W(p) - c) x v|| / ||W(p) - c|| with Newton steps on the scalar
    residual, p <- p - L / ||grad L||^2 grad L (REC-MV). Converged points stop moving. Both terms of
    L are kinks at the solution, so these steps converge only linearly; `gauss_newton_steps` extra
    steps p <- p - B^+ r(p) on the stacked residuals converge quadratically from there (not in REC-MV).

    Args:
        p0: [N, 3] canonical start points.
        sdf_fn: [N, 3] -> [N] canonical SDF.
        warp_fn: [N, 3] -> [N, 3] canonical-to-world warp, point by point.
        ray_origins: [N, 3] world ray origins c.
        ray_dirs: [N, 3] world unit ray directions v.
        iterations: the most Newton steps.
        sdf_weight: w.
        sdf_tol: converged needs |f| < sdf_tol ...
        angle_tol: ... and the ray angle (radians) below angle_tol (see `pixel_angle_threshold`).
        gauss_newton_steps: Gauss-Newton steps after the Newton-like ones.
    Returns:
        points: [N, 3] refined canonical points, detached.
        converged: [N] bool.
    """
    _check_shapes(p0, ray_origins, ray_dirs)
    origins, dirs = ray_origins.detach(), ray_dirs.detach()
    p = p0.detach().clone()
    sine_tol = math.sin(angle_tol)
    for _ in range(iterations):
        with torch.enable_grad():
            leaf = p.clone().requires_grad_(True)
            sdf = sdf_fn(leaf)
            sine = ray_sine(warp_fn(leaf), origins, dirs)
            loss = sdf_weight * sdf.abs() + sine
            (grad,) = torch.autograd.grad(loss.sum(), leaf)
        converged = (sdf.detach().abs() < sdf_tol) & (sine.detach() < sine_tol)
        if bool(converged.all()):
            break
        step = loss.detach() / (grad * grad).sum(dim=-1).clamp_min(1e-20)
        p = p - torch.where(converged[:, None], torch.zeros_like(grad), step[:, None] * grad)
    for _ in range(gauss_newton_steps):
        with torch.no_grad():
            residual = surface_residuals(p, sdf_fn, warp_fn, origins, dirs)
        p = p - (_residual_jacobian_pinv(p, sdf_fn, warp_fn, dirs) @ residual[:, :, None])[:, :, 0]
    with torch.no_grad():
        sdf = sdf_fn(p)
        sine = ray_sine(warp_fn(p), origins, dirs)
    converged = (sdf.abs() < sdf_tol) & (sine < sine_tol) & torch.isfinite(p).all(dim=-1)
    return p, converged


def _warp_jacobian(p: torch.Tensor, warp_fn: WarpFn) -> torch.Tensor:
    """J = dW/dp [N, 3, 3], detached; three backward passes (W is point-wise)."""
    with torch.enable_grad():
        leaf = p.detach().clone().requires_grad_(True)
        world = warp_fn(leaf)
        rows = [torch.autograd.grad(world[:, k].sum(), leaf, retain_graph=k < 2)[0] for k in range(3)]
    return torch.stack(rows, dim=1)


def _sdf_gradient(p: torch.Tensor, sdf_fn: SdfFn) -> torch.Tensor:
    """grad f at p, [N, 3], detached."""
    with torch.enable_grad():
        leaf = p.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(sdf_fn(leaf).sum(), leaf)
    return grad


def cross_matrix(v: torch.Tensor) -> torch.Tensor:
    """[N, 3] vectors -> [N, 3, 3] matrices [v]x with [v]x a = v x a."""
    zero = torch.zeros_like(v[:, 0])
    x, y, z = v.unbind(-1)
    return torch.stack(
        [
            torch.stack([zero, -z, y], dim=-1),
            torch.stack([z, zero, -x], dim=-1),
            torch.stack([-y, x, zero], dim=-1),
        ],
        dim=1,
    )


def _residual_jacobian_pinv(p: torch.Tensor, sdf_fn: SdfFn, warp_fn: WarpFn, ray_dirs: torch.Tensor) -> torch.Tensor:
    """B^+ [N, 3, 4] of B = dr/dp = [grad f^T; [v]x J] [N, 4, 3], detached.

    B^+ = (B^T B)^-1 B^T for a ray that crosses the surface; the SVD pseudo-inverse also gives the
    minimum-norm answer for the rare grazing ray or flat SDF spot where B loses rank.
    """
    jacobian = _warp_jacobian(p, warp_fn)
    b = torch.cat([_sdf_gradient(p, sdf_fn)[:, None, :], cross_matrix(ray_dirs) @ jacobian], dim=1)
    return torch.linalg.pinv(b)


def surface_residuals(
    p: torch.Tensor, sdf_fn: SdfFn, warp_fn: WarpFn, ray_origins: torch.Tensor, ray_dirs: torch.Tensor
) -> torch.Tensor:
    """r(p) = [f(p); v x (W(p) - c)], [N, 4]; zero exactly at a ray / surface intersection."""
    on_ray = torch.linalg.cross(ray_dirs, warp_fn(p) - ray_origins, dim=-1)
    return torch.cat([sdf_fn(p)[:, None], on_ray], dim=-1)


def differentiable_surface_points(
    p_star: torch.Tensor, sdf_fn: SdfFn, warp_fn: WarpFn, ray_origins: torch.Tensor, ray_dirs: torch.Tensor
) -> torch.Tensor:
    """Re-attach refined points to the parameters behind sdf_fn, warp_fn and the rays.

    The value equals p_star; the gradient w.r.t. SDF and warp parameters (captured by the closures),
    ray_origins and ray_dirs is the implicit-function gradient -B^+ dr/dtheta (see module docstring).
    Only meaningful for converged points (r(p_star) ~ 0).

    Args:
        p_star: [N, 3] converged canonical points (detached or not; treated as constants).
        sdf_fn: [N, 3] -> [N].
        warp_fn: [N, 3] -> [N, 3].
        ray_origins: [N, 3] c.
        ray_dirs: [N, 3] v (unit).
    Returns:
        [N, 3] canonical points.
    """
    _check_shapes(p_star, ray_origins, ray_dirs)
    p_star = p_star.detach()
    b_pinv = _residual_jacobian_pinv(p_star, sdf_fn, warp_fn, ray_dirs.detach())
    residual = surface_residuals(p_star, sdf_fn, warp_fn, ray_origins, ray_dirs)
    correction = (b_pinv @ (residual - residual.detach())[:, :, None])[:, :, 0]
    return p_star - correction
