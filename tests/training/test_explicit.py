"""MeshSDF projection of the explicit vertices: on-surface fixed point and the level set's derivative."""

from __future__ import annotations

import torch

from recmv.fields.sdf import GarmentSDF, SDFConfig
from recmv.training.config import OptimConfig
from recmv.training.explicit import ExplicitMeshes, level_set_vertices, vertex_gradients


def _bumpy_sdf() -> GarmentSDF:
    """The fast SDF (a sphere of 0.3 m at initialisation) with perturbed weights: a non-trivial shape."""
    torch.manual_seed(0)
    sdf = GarmentSDF(SDFConfig(init_radius=0.3)).double()
    with torch.no_grad():
        for param in sdf.parameters():
            param.add_(0.003 * torch.randn_like(param))
    return sdf


def _on_surface(sdf: GarmentSDF, points: torch.Tensor, steps: int = 30) -> torch.Tensor:
    for _ in range(steps):
        value, gradient = sdf.sdf_and_gradient(points.detach())
        points = points - (value / gradient.square().sum(-1))[:, None] * gradient
    return points.detach()


def _directions(count: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return torch.nn.functional.normalize(torch.randn(count, 3, generator=generator, dtype=torch.float64), dim=-1)


def test_surface_points_are_fixed_and_nearby_points_land_on_the_surface():
    sdf = _bumpy_sdf()
    surface = _on_surface(sdf, 0.3 * _directions(64))
    assert float(sdf(surface).sdf.detach().abs().max()) < 1e-9
    torch.testing.assert_close(level_set_vertices(sdf, surface), surface, rtol=0, atol=1e-9)
    off = surface + 0.01 * _directions(64).flip(0)
    projected = level_set_vertices(sdf, off)
    # One Newton step: the residual is second order in the 1 cm offset.
    assert float(sdf(projected).sdf.detach().abs().max()) < 1e-3 < float(sdf(off).sdf.detach().abs().max())


def test_parameter_derivative_is_the_motion_of_the_level_set():
    """d/dt of the surface point on each fixed normal line, under theta + t d, by central differences."""
    sdf = _bumpy_sdf()
    surface = _on_surface(sdf, 0.3 * _directions(32))
    _, gradient = sdf.sdf_and_gradient(surface)
    normals = torch.nn.functional.normalize(gradient, dim=-1)
    weights = torch.randn(32, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    params = list(sdf.parameters())
    direction = [torch.randn(p.shape, generator=torch.Generator().manual_seed(3 + i), dtype=p.dtype) for i, p in enumerate(params)]

    moved = level_set_vertices(sdf, surface)
    objective = (weights * ((moved - surface) * normals).sum(-1)).sum()
    analytic = sum((g * d).sum() for g, d in zip(torch.autograd.grad(objective, params), direction, strict=True))

    def offsets_along_normals(t: float) -> torch.Tensor:
        """Signed distance s along each normal line to the zero set of the field at theta + t d."""
        with torch.no_grad():
            for p, d in zip(params, direction, strict=True):
                p.add_(t * d)
        s = torch.zeros(32, dtype=torch.float64)
        for _ in range(30):
            value, grad = sdf.sdf_and_gradient(surface + s[:, None] * normals)
            s = s - value / (grad * normals).sum(-1)
        with torch.no_grad():
            for p, d in zip(params, direction, strict=True):
                p.sub_(t * d)
        return s

    step = 1e-5
    numeric = (weights * (offsets_along_normals(step) - offsets_along_normals(-step))).sum() / (2 * step)
    assert abs(float(numeric.detach())) > 1e-3
    torch.testing.assert_close(analytic, numeric, rtol=1e-4, atol=1e-7)


def test_step_along_given_gradients():
    """The gradient at the vertices now gives the default step; an older one still lands within reach."""
    sdf = _bumpy_sdf()
    surface = _on_surface(sdf, 0.3 * _directions(64))
    off = surface + 0.01 * _directions(64).flip(0)
    torch.testing.assert_close(level_set_vertices(sdf, off, vertex_gradients(sdf, off)), level_set_vertices(sdf, off))
    # The gradient of the surface points stands in for the one at the moved points (a stale normal).
    stale = level_set_vertices(sdf, off, vertex_gradients(sdf, surface))
    assert float(sdf(stale).sdf.detach().abs().max()) < 0.3 * float(sdf(off).sdf.detach().abs().max())
    torch.testing.assert_close(level_set_vertices(sdf, surface, vertex_gradients(sdf, surface)), surface, rtol=0, atol=1e-9)


def test_meshes_without_a_vertex_optimizer_are_fixed_and_round_trip():
    vertices = torch.rand(5, 3)
    faces = torch.tensor([[0, 1, 2], [2, 3, 4]])
    gradients = [torch.rand(5, 3)]
    meshes = ExplicitMeshes.create([(vertices, faces)], OptimConfig(vertex_optimizer="none"), gradients)
    assert meshes.optimizer is None and not meshes.vertices[0].requires_grad
    again = ExplicitMeshes.from_state(meshes.state(), OptimConfig(vertex_optimizer="none"))
    torch.testing.assert_close(again.vertices[0], vertices)
    torch.testing.assert_close(again.gradients[0], gradients[0])
    older = {key: value for key, value in meshes.state().items() if key != "gradients"}
    assert ExplicitMeshes.from_state(older, OptimConfig(vertex_optimizer="none")).gradients is None
