import math

import pytest
import torch

from recmv.body.lbs import rigid_transform
from recmv.body.skinning_field import SkinningGrid
from recmv.deform.warp import skin_canonical, warp_jacobian, warp_points
from recmv.errors import RecmvError
from recmv.fields.deformation import DeformationConfig, DeformationField
from recmv.geometry.rotations import axis_angle_to_matrix


def two_joint_grid(dtype=torch.float64) -> SkinningGrid:
    """Joint 1's weight grows linearly with x: (x + 1) / 2 (samples at cell centres, align_corners=False)."""
    res = 9
    x = -1 + (2 * torch.arange(res, dtype=dtype) + 1) / res
    w1 = ((x + 1) / 2).view(1, 1, res).expand(res, res, res)
    weights = torch.stack([1 - w1, w1])
    return SkinningGrid(weights=weights, center=torch.zeros(3, dtype=dtype), extent=2.0)


def transforms(batch: int, dtype=torch.float64) -> torch.Tensor:
    angles = torch.tensor([[0.0, 0.0, 0.3], [0.2, -0.4, 0.1]], dtype=dtype)
    rot = axis_angle_to_matrix(angles)
    shift = torch.tensor([[0.1, 0.0, 0.0], [0.0, -0.2, 0.3]], dtype=dtype)
    single = rigid_transform(rot, shift)  # [2, 4, 4], one per joint
    return torch.stack([single * 1.0 for _ in range(batch)])


def field(dtype=torch.float64) -> DeformationField:
    torch.manual_seed(0)
    config = DeformationConfig(hidden_dim=16, num_layers=2, num_bands=2, latent_dim=4, last_layer_std=0.05)
    return DeformationField(config).to(dtype)


def test_zero_offset_warp_is_plain_skinning():
    grid = two_joint_grid()
    deformer = field()
    with torch.no_grad():
        deformer.mlp[-1].weight.zero_()
    points = torch.rand(20, 3, dtype=torch.float64) - 0.5
    codes = torch.zeros(2, 4, dtype=torch.float64)
    tf = transforms(2)
    result = warp_points(deformer, grid, points, codes, tf)
    torch.testing.assert_close(result.deformed, points[None].expand(2, -1, -1))
    # Naive oracle: blend the two rigid maps by the linear weight of x.
    w1 = (points[:, 0] + 1) / 2
    homog = torch.cat([points, torch.ones(20, 1, dtype=torch.float64)], 1)
    expected = ((1 - w1)[:, None] * (homog @ tf[0, 0].T) + w1[:, None] * (homog @ tf[0, 1].T))[:, :3]
    torch.testing.assert_close(result.posed[0], expected)
    torch.testing.assert_close(skin_canonical(grid, points[None], tf[:1])[0], expected)


def test_warp_jacobian_matches_finite_differences():
    grid, deformer = two_joint_grid(), field()
    points = torch.rand(5, 3, dtype=torch.float64) * 0.8 - 0.4
    codes = torch.randn(5, 4, dtype=torch.float64) * 0.1
    tf = transforms(5)
    posed, jacobian = warp_jacobian(deformer, grid, points, codes, tf)
    eps = 1e-6
    for j in range(3):
        step = torch.zeros(3, dtype=torch.float64)
        step[j] = eps
        plus = warp_points(deformer, grid, (points + step)[:, None], codes, tf).posed[:, 0]
        minus = warp_points(deformer, grid, (points - step)[:, None], codes, tf).posed[:, 0]
        torch.testing.assert_close(jacobian[:, :, j], (plus - minus) / (2 * eps), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(posed, warp_points(deformer, grid, points[:, None], codes, tf).posed[:, 0])


def test_warp_jacobian_has_double_backward_into_codes():
    grid, deformer = two_joint_grid(), field()
    points = torch.rand(4, 3, dtype=torch.float64) * 0.8 - 0.4
    codes = (torch.randn(4, 4, dtype=torch.float64) * 0.1).requires_grad_(True)
    _, jacobian = warp_jacobian(deformer, grid, points, codes, transforms(4))
    (grad,) = torch.autograd.grad(jacobian.square().sum(), codes)
    assert torch.isfinite(grad).all()
    assert grad.abs().sum() > 0
    assert not math.isnan(float(grad.sum()))


def test_bad_shapes_are_named():
    grid, deformer = two_joint_grid(), field()
    with pytest.raises(RecmvError, match="codes"):
        warp_points(deformer, grid, torch.zeros(3, 3, dtype=torch.float64), torch.zeros(3, 4, dtype=torch.float64), transforms(2))
    with pytest.raises(RecmvError, match="points"):
        warp_points(deformer, grid, torch.zeros(3, 2, dtype=torch.float64), torch.zeros(2, 4, dtype=torch.float64), transforms(2))
