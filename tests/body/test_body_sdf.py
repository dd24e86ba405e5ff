import torch
import trimesh

from recmv.body.body_sdf import BodySDFGrid


def test_grid_matches_the_analytic_sphere_and_has_gradients():
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=0.3)
    grid = BodySDFGrid.from_mesh(
        torch.tensor(mesh.vertices, dtype=torch.float32), torch.tensor(mesh.faces), torch.tensor([0.05, 0.0, 0.0]), 1.0, 48
    )
    points = ((torch.rand(2000, 3, generator=torch.Generator().manual_seed(0)) - 0.5) * 0.8).requires_grad_(True)
    values = grid.query(points)
    error = (values - (points.norm(dim=-1) - 0.3)).abs()
    assert error.max() < 0.005  # icosphere faceting plus trilinear interpolation
    assert (values[points.norm(dim=-1) < 0.25] < 0).all()
    (gradient,) = torch.autograd.grad(values.sum(), points)
    radial = torch.nn.functional.normalize(points.detach(), dim=-1)
    far = points.detach().norm(dim=-1) > 0.1
    assert ((gradient[far] * radial[far]).sum(-1) > 0.8).float().mean() > 0.95
