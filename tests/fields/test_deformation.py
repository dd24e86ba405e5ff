import pytest
import torch

from recmv.errors import RecmvError
from recmv.fields.deformation import (
    DeformationConfig,
    DeformationField,
    deformation_jacobian,
)


def _points(count: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(count, 3, dtype=torch.float64, generator=generator) * 2 - 1


def test_reference_shape_and_near_identity_start():
    torch.manual_seed(0)
    field = DeformationField(DeformationConfig.reference()).double()
    assert field.mlp[0].in_features == 167
    assert len([m for m in field.mlp if isinstance(m, torch.nn.Linear)]) == 5
    latent = 0.1 * torch.randn(128, dtype=torch.float64)
    offsets = field(_points(10), latent)
    assert offsets.shape == (10, 3)
    assert offsets.abs().max() < 0.01
    assert torch.all(field.mlp[-1].bias == 0)
    assert 0.5e-3 < field.mlp[-1].weight.std().item() < 1.5e-3


def test_shared_latent_broadcasts_like_per_point_latent():
    torch.manual_seed(0)
    field = DeformationField().double()
    points = _points(6)
    latent = torch.randn(32, dtype=torch.float64)
    shared = field(points, latent)
    per_point = field(points, latent.expand(6, 32))
    torch.testing.assert_close(shared, per_point)
    with pytest.raises(RecmvError):
        field(points, torch.zeros(5, 32, dtype=torch.float64))
    with pytest.raises(RecmvError):
        field(points, torch.zeros(31, dtype=torch.float64))


def _scaled_up(field: DeformationField) -> DeformationField:
    """Make the offset large so the Jacobian is far from the identity."""
    with torch.no_grad():
        field.mlp[-1].weight.mul_(300.0)
    return field


def test_jacobian_matches_finite_differences():
    torch.manual_seed(1)
    field = _scaled_up(DeformationField().double())
    points = _points(8, seed=2)
    latent = torch.randn(8, 32, dtype=torch.float64)
    jacobian = deformation_jacobian(field, points, latent, create_graph=False)
    assert jacobian.shape == (8, 3, 3)
    assert (jacobian - torch.eye(3, dtype=torch.float64)).abs().max() > 0.05
    step = 1e-6
    with torch.no_grad():
        for axis in range(3):
            offset = torch.zeros(3, dtype=torch.float64)
            offset[axis] = step
            forward = points + offset + field(points + offset, latent)
            backward = points - offset + field(points - offset, latent)
            numeric = (forward - backward) / (2 * step)
            torch.testing.assert_close(jacobian[:, :, axis], numeric, atol=1e-6, rtol=1e-5)


def test_jacobian_loss_backpropagates_to_parameters():
    torch.manual_seed(1)
    field = _scaled_up(DeformationField().double())
    points = _points(8, seed=3)
    latent = torch.randn(32, dtype=torch.float64, requires_grad=True)
    band_weights = torch.tensor([1, 1, 1, 0.5, 0, 0], dtype=torch.float64)
    jacobian = deformation_jacobian(field, points, latent, band_weights)
    identity = torch.eye(3, dtype=torch.float64)
    loss = ((jacobian.transpose(1, 2) @ jacobian - identity) ** 2).sum()
    loss.backward()
    first = field.mlp[0].weight.grad
    assert first is not None and first.abs().sum() > 0
    assert field.mlp[-1].weight.grad.abs().sum() > 0
    # A ReLU MLP's x-Jacobian depends on z only through the (piecewise-constant) activation
    # pattern, so Jacobian losses move the network, never the codes (as in REC-MV).
    assert latent.grad is None or torch.all(latent.grad == 0)
    # The weights on switched-off PE bands get no gradient.
    assert torch.all(first[:, 3 + 6 * 4 : 39] == 0)


def test_jacobian_under_no_grad_is_detached():
    field = DeformationField().double()
    with torch.no_grad():
        jacobian = deformation_jacobian(field, _points(4), torch.zeros(32, dtype=torch.float64))
    assert not jacobian.requires_grad
    torch.testing.assert_close(
        jacobian, torch.eye(3, dtype=torch.float64).expand(4, 3, 3), atol=0.05, rtol=0
    )
