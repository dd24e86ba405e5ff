import pytest
import torch
import torch.nn.functional as F

from recmv.errors import RecmvError
from recmv.geometry.grid_sample import sample_grid_3d, sample_grid_3d_channels_last


def reference(grid: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """F.grid_sample on grid [B, C, D, H, W], coords [B, N, 3] -> [B, N, C]."""
    out = F.grid_sample(
        grid, coords[:, None, None], mode="bilinear", padding_mode="border", align_corners=False
    )
    return out[:, :, 0, 0].transpose(1, 2)


@pytest.mark.parametrize("shape", [(2, 3, 5, 4, 6), (1, 1, 1, 2, 3), (3, 2, 7, 7, 7)])
def test_forward_matches_grid_sample(shape):
    generator = torch.Generator().manual_seed(0)
    grid = torch.randn(shape, generator=generator, dtype=torch.float64)
    # 1.5 reaches well outside the cube on every side (border padding).
    coords = 3.0 * torch.rand(shape[0], 200, 3, generator=generator, dtype=torch.float64) - 1.5
    torch.testing.assert_close(sample_grid_3d(grid, coords), reference(grid, coords))


def test_unbatched_matches_batched():
    grid = torch.randn(3, 4, 5, 6)
    coords = 2.0 * torch.rand(50, 3) - 1.0
    torch.testing.assert_close(
        sample_grid_3d(grid, coords), sample_grid_3d(grid[None], coords[None])[0]
    )


def test_voxel_centres_return_voxel_values():
    grid = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    k, j, i = 2, 1, 3  # z (D), y (H), x (W)
    centre = torch.tensor(
        [[(2 * i + 1) / 5 - 1, (2 * j + 1) / 4 - 1, (2 * k + 1) / 3 - 1]], dtype=torch.float64
    )
    torch.testing.assert_close(sample_grid_3d(grid, centre)[0], grid[:, k, j, i])


def test_gradcheck_and_gradgradcheck_coords_and_grid():
    generator = torch.Generator().manual_seed(1)
    grid = torch.randn(1, 2, 3, 4, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    # Inside the cube only: at the clamp the derivative jumps, which finite differences cannot check.
    coords = (
        1.6 * torch.rand(1, 6, 3, generator=generator, dtype=torch.float64) - 0.8
    ).requires_grad_()
    assert torch.autograd.gradcheck(sample_grid_3d, (grid, coords))
    assert torch.autograd.gradgradcheck(sample_grid_3d, (grid, coords))


def test_jacobian_of_linear_grid_is_its_gradient():
    # A field linear in space is reproduced exactly by trilinear interpolation inside the centre hull.
    depth, height, width = 6, 5, 7
    gradient = torch.tensor(
        [0.3, -1.2, 2.0], dtype=torch.float64
    )  # d/dx, d/dy, d/dz in normalised units
    z, y, x = torch.meshgrid(
        *[(2 * torch.arange(n, dtype=torch.float64) + 1) / n - 1 for n in (depth, height, width)],
        indexing="ij",
    )
    grid = (gradient[0] * x + gradient[1] * y + gradient[2] * z + 0.5)[None]
    coords = (1.0 * torch.rand(20, 3, dtype=torch.float64) - 0.5).requires_grad_()
    value = sample_grid_3d(grid, coords)[:, 0]
    (jacobian,) = torch.autograd.grad(value.sum(), coords, create_graph=True)
    torch.testing.assert_close(jacobian, gradient.expand(20, 3))
    torch.testing.assert_close(value, coords.detach() @ gradient + 0.5)
    # Second derivatives of a linear field vanish, and the graph allows asking for them.
    (hessian_row,) = torch.autograd.grad(jacobian[:, 0].sum(), coords)
    torch.testing.assert_close(hessian_row, torch.zeros_like(hessian_row))


def test_second_derivative_matches_grid_sample_double_backward():
    generator = torch.Generator().manual_seed(2)
    grid = torch.randn(1, 3, 4, 5, 6, generator=generator, dtype=torch.float64)
    coords = 1.6 * torch.rand(1, 30, 3, generator=generator, dtype=torch.float64) - 0.8
    mixed = []
    for sampler in (sample_grid_3d, reference):
        points = coords.clone().requires_grad_()
        (first,) = torch.autograd.grad(sampler(grid, points).sum(), points, create_graph=True)
        (second,) = torch.autograd.grad(first[..., 0].sum(), points)
        mixed.append(second)
    assert mixed[0].abs().max() > 1e-3
    torch.testing.assert_close(mixed[0], mixed[1])


def test_outside_points_have_zero_coordinate_gradient():
    grid = torch.randn(1, 3, 3, 3, dtype=torch.float64)
    coords = torch.tensor(
        [[1.7, 0.1, -0.2], [-0.1, -2.0, 0.3]], dtype=torch.float64, requires_grad=True
    )
    (grad,) = torch.autograd.grad(sample_grid_3d(grid, coords).sum(), coords)
    assert grad[0, 0] == 0 and grad[1, 1] == 0
    assert grad[0, 1] != 0 and grad[1, 0] != 0


def test_bad_shapes_raise():
    with pytest.raises(RecmvError, match="coords"):
        sample_grid_3d(torch.zeros(1, 2, 2, 2), torch.zeros(1, 5, 3))
    with pytest.raises(RecmvError, match="x, y, z"):
        sample_grid_3d(torch.zeros(1, 2, 2, 2), torch.zeros(5, 2))


def test_channels_last_matches_grid_sample_with_its_derivatives():
    generator = torch.Generator().manual_seed(2)
    grid = torch.randn(3, 4, 5, 6, generator=generator, dtype=torch.float64)
    coords = 3.0 * torch.rand(300, 3, generator=generator, dtype=torch.float64) - 1.5
    last = grid.permute(1, 2, 3, 0).contiguous()
    torch.testing.assert_close(sample_grid_3d_channels_last(last, coords), reference(grid[None], coords[None])[0])
    inside = (1.6 * torch.rand(6, 3, generator=generator, dtype=torch.float64) - 0.8).requires_grad_()
    small = torch.randn(2, 3, 4, 2, generator=generator, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(sample_grid_3d_channels_last, (small, inside))
    assert torch.autograd.gradgradcheck(sample_grid_3d_channels_last, (small, inside))


def test_channels_last_refuses_other_shapes():
    with pytest.raises(RecmvError, match="channels_last"):
        sample_grid_3d_channels_last(torch.zeros(1, 2, 2, 2, 2), torch.zeros(5, 3))
