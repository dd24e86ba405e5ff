import math

import pytest
import torch

from recmv.errors import RecmvError
from recmv.render.camera import PinholeCamera
from recmv.render.surface_points import (
    differentiable_surface_points,
    pixel_angle_threshold,
    refine_surface_points,
    surface_residuals,
)

DTYPE = torch.float64


def _rotation(angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]], dtype=DTYPE)


ROTATION = _rotation(0.4)


def _scene():
    """Canonical sphere (centre a, radius r) warped by W(p) = s R p + t; camera at the origin."""
    params = {
        "radius": torch.tensor(0.5, dtype=DTYPE, requires_grad=True),
        "centre": torch.tensor([0.1, -0.05, 0.2], dtype=DTYPE, requires_grad=True),
        "translation": torch.tensor([0.05, 0.1, 3.0], dtype=DTYPE, requires_grad=True),
        "scale": torch.tensor(1.1, dtype=DTYPE, requires_grad=True),
    }
    return params


def _fns(radius, centre, translation, scale):
    def sdf_fn(p):
        return (p - centre).norm(dim=-1) - radius

    def warp_fn(p):
        return scale * p @ ROTATION.T + translation

    return sdf_fn, warp_fn


def _analytic_hit(radius, centre, translation, scale, origins, dirs):
    """Closed-form nearest ray / warped-sphere intersection, mapped back to canonical space."""
    dirs = dirs / dirs.norm(dim=-1, keepdim=True)
    world_centre = scale * ROTATION @ centre + translation
    offset = world_centre - origins
    along = (offset * dirs).sum(-1)
    disc = along**2 - ((offset * offset).sum(-1) - (scale * radius) ** 2)
    depth = along - disc.sqrt()
    world = origins + depth[:, None] * dirs
    return ((world - translation) @ ROTATION) / scale


def _rays():
    origins = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.02, -0.01, 0.1]], dtype=DTYPE)
    dirs = torch.tensor([[0.05, 0.04, 1.0], [0.15, 0.1, 1.0], [0.0, -0.02, 1.0]], dtype=DTYPE)
    return origins, dirs / dirs.norm(dim=-1, keepdim=True)


def _refined(params, origins, dirs, perturbation=0.05):
    sdf_fn, warp_fn = _fns(**params)
    with torch.no_grad():
        truth = _analytic_hit(**params, origins=origins, dirs=dirs)
    p0 = truth + perturbation * torch.tensor([1.0, -1.0, 0.5], dtype=DTYPE)
    return refine_surface_points(
        p0, sdf_fn, warp_fn, origins, dirs, sdf_tol=1e-12, angle_tol=1e-12, gauss_newton_steps=6
    )


def test_rec_mv_steps_alone_converge_from_a_nearby_start():
    params = _scene()
    origins, dirs = _rays()
    sdf_fn, warp_fn = _fns(**params)
    with torch.no_grad():
        truth = _analytic_hit(**params, origins=origins, dirs=dirs)
    p0 = truth + 5e-3 * torch.tensor([1.0, -1.0, 0.5], dtype=DTYPE)
    p, converged = refine_surface_points(p0, sdf_fn, warp_fn, origins, dirs, iterations=150)
    assert converged.all()
    assert (p - truth).norm(dim=-1).max() < 5e-4
    # Polyak-type steps on a kinked L converge only linearly: twenty steps are not enough here.
    _, converged = refine_surface_points(p0, sdf_fn, warp_fn, origins, dirs, iterations=20, sdf_tol=1e-6)
    assert not converged.any()


def test_refine_with_gauss_newton_converges_to_analytic_hit():
    params = _scene()
    origins, dirs = _rays()
    p, converged = _refined(params, origins, dirs)
    assert converged.all()
    with torch.no_grad():
        truth = _analytic_hit(**params, origins=origins, dirs=dirs)
    assert torch.allclose(p, truth, atol=1e-8)
    assert not p.requires_grad


def test_rays_missing_the_sphere_are_not_converged():
    params = _scene()
    sdf_fn, warp_fn = _fns(**params)
    origins = torch.zeros(2, 3, dtype=DTYPE)
    dirs = torch.tensor([[0.05, 0.04, 1.0], [0.6, 0.0, 1.0]], dtype=DTYPE)
    dirs = dirs / dirs.norm(dim=-1, keepdim=True)
    p0 = torch.tensor([[0.1, 0.0, -0.3], [0.5, 0.0, 0.0]], dtype=DTYPE)
    _, converged = refine_surface_points(p0, sdf_fn, warp_fn, origins, dirs, iterations=60, gauss_newton_steps=3)
    assert converged.tolist() == [True, False]


def test_surrogate_keeps_values_and_matches_finite_differences():
    params = _scene()
    origins, dirs = _rays()
    dirs = dirs.clone().requires_grad_(True)
    origins = origins.clone().requires_grad_(True)
    p_star, converged = _refined(params, origins, dirs)
    assert converged.all()
    sdf_fn, warp_fn = _fns(**params)
    p = differentiable_surface_points(p_star, sdf_fn, warp_fn, origins, dirs)
    assert torch.equal(p.detach(), p_star)
    weights = torch.tensor([[1.0, -2.0, 0.5], [0.3, 0.7, -1.1], [2.0, 0.1, 0.4]], dtype=DTYPE)
    (p * weights).sum().backward()

    inputs = dict(params, origins=origins, dirs=dirs)
    eps = 1e-6
    for name, tensor in inputs.items():
        expected = torch.zeros_like(tensor)
        flat = expected.view(-1)
        for i in range(tensor.numel()):
            values = {k: v.detach().clone() for k, v in inputs.items()}
            values[name].view(-1)[i] += eps
            plus = (_analytic_hit(**values) * weights).sum()
            values[name].view(-1)[i] -= 2 * eps
            minus = (_analytic_hit(**values) * weights).sum()
            flat[i] = (plus - minus) / (2 * eps)
        assert torch.allclose(tensor.grad, expected, atol=1e-6), name


def test_gradcheck_through_refine_and_surrogate():
    origins, dirs = _rays()

    def hit(radius, centre, translation):
        sdf_fn, warp_fn = _fns(radius, centre, translation, torch.tensor(1.1, dtype=DTYPE))
        with torch.no_grad():
            p0 = _analytic_hit(radius, centre, translation, 1.1, origins, dirs) + 0.03
        p_star, converged = refine_surface_points(
            p0, sdf_fn, warp_fn, origins, dirs, sdf_tol=1e-12, angle_tol=1e-12, gauss_newton_steps=6
        )
        assert converged.all()
        return differentiable_surface_points(p_star, sdf_fn, warp_fn, origins, dirs)

    params = _scene()
    assert torch.autograd.gradcheck(
        hit, (params["radius"], params["centre"], params["translation"]), eps=1e-6, atol=1e-6
    )


def test_residuals_vanish_at_the_hit():
    params = _scene()
    origins, dirs = _rays()
    p, _ = _refined(params, origins, dirs)
    sdf_fn, warp_fn = _fns(**params)
    assert surface_residuals(p, sdf_fn, warp_fn, origins, dirs).abs().max() < 1e-9


def test_angle_threshold_is_half_pixel_at_the_border():
    camera = PinholeCamera(500.0, 500.0, 49.5, 49.5, torch.eye(3), torch.zeros(3), 100, 100)
    expected = math.atan(50.0 / 500.0) - math.atan(49.5 / 500.0)
    assert pixel_angle_threshold(camera) == pytest.approx(expected)


def test_bad_shapes_raise():
    params = _scene()
    sdf_fn, warp_fn = _fns(**params)
    with pytest.raises(RecmvError, match="ray_dirs"):
        refine_surface_points(torch.zeros(2, 3), sdf_fn, warp_fn, torch.zeros(2, 3), torch.zeros(2, 2))
