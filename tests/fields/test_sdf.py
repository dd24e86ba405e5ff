import dataclasses

import pytest
import torch

from recmv.errors import RecmvError
from recmv.fields.sdf import GarmentSDF, SDFConfig, fibonacci_sphere


def _ball_points(count: int, radius: float, seed: int = 123) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    direction = torch.randn(count, 3, dtype=torch.float64, generator=generator)
    direction = direction / direction.norm(dim=1, keepdim=True)
    length = torch.rand(count, 1, dtype=torch.float64, generator=generator) ** (1 / 3) * radius
    return direction * length


def _first_linear(net: GarmentSDF) -> torch.Tensor:
    return net.layers[0].weight


def _init_errors(net: GarmentSDF, count: int) -> tuple[float, float]:
    """Mean |f - (|x - c| - r)| / r in a ball of radius 2r, and sign agreement away from the sphere."""
    config = net.config
    radius = config.init_radius
    center = torch.tensor(config.center, dtype=torch.float64)
    points = _ball_points(count, 2 * radius) + center
    with torch.no_grad():
        sdf = net(points).sdf
    distance = (points - center).norm(dim=1)
    error = (sdf - (distance - radius)).abs().mean().item() / radius
    away = (distance - radius).abs() > 0.5 * radius
    sign_ok = ((sdf < 0) == (distance < radius))[away].double().mean().item()
    return error, sign_ok


def test_reference_architecture_and_init():
    torch.manual_seed(0)
    net = GarmentSDF(SDFConfig.reference()).double()
    assert len(net.layers) == 9
    assert net.layers[0].in_features == 39
    assert net.layers[3].out_features == 512 - 39
    assert net.layers[8].out_features == 257
    # Weight norm through the parametrizations API.
    assert hasattr(net.layers[0], "parametrizations")
    assert torch.all(_first_linear(net)[:, 3:] == 0)
    assert torch.all(net.layers[4].weight[:, -36:] == 0)
    torch.testing.assert_close(net.layers[8].bias[1:], torch.full((256,), -0.6, dtype=torch.float64))
    out = net(torch.zeros(5, 3, dtype=torch.float64))
    assert out.sdf.shape == (5,) and out.feature.shape == (5, 256)


def test_reference_init_approximates_sphere():
    # IDR's geometric init is exact only at infinite width and with ReLU; at REC-MV's own sphere
    # (r 0.6 m) the shifted 8 x 512 field is off by 0.08-0.14 r on average (seeds 0-3).
    torch.manual_seed(0)
    net = GarmentSDF(SDFConfig.reference()).double()
    error, sign_ok = _init_errors(net, 256)
    assert error < 0.25
    assert sign_ok == 1.0


def test_without_the_shift_the_reference_init_has_no_garment_sized_surface():
    # A garment's sphere (r 0.28 m, as the trainer sets it from a template's box): the Softplus lift
    # leaves the 8 x 512 field positive everywhere (measured +0.11..+0.39 m), hence the shift.
    assert SDFConfig.reference().level_set_on_sphere
    config = dataclasses.replace(SDFConfig.reference(), init_radius=0.28, level_set_on_sphere=False)
    torch.manual_seed(0)
    net = GarmentSDF(config).double()
    with torch.no_grad():
        assert net(_ball_points(256, 0.56)).sdf.min().item() > 0


@pytest.mark.parametrize("config", [SDFConfig.fast(), SDFConfig.reference()], ids=["fast", "reference"])
def test_the_shift_gives_a_garment_sized_sphere_at_any_width(config):
    config = dataclasses.replace(config, center=(0.0, 0.3, 0.0), init_radius=0.28, level_set_on_sphere=True)
    center = torch.tensor(config.center, dtype=torch.float64)
    for seed in range(3):
        torch.manual_seed(seed)
        net = GarmentSDF(config).double()
        with torch.no_grad():
            on_sphere = net(center + 0.28 * fibonacci_sphere(256)).sdf
            assert on_sphere.mean().item() == pytest.approx(0.0, abs=1e-6)
            assert net(center[None]).sdf.item() < -0.05
        error, sign_ok = _init_errors(net, 256)
        # Measured over seeds 0-2: sign agreement 0.96-1.0 and mean error 0.12-0.31 r (the field is
        # neither isotropic nor of slope 1; the initial fit corrects both).
        assert sign_ok > 0.9
        assert error < 0.4


def test_fibonacci_directions_are_unit_and_balanced():
    directions = fibonacci_sphere(500)
    torch.testing.assert_close(directions.norm(dim=-1), torch.ones(500, dtype=torch.float64))
    assert directions.mean(0).norm().item() < 0.01


def test_fast_init_approximates_off_centre_sphere():
    config = dataclasses.replace(SDFConfig.fast(), center=(0.1, -0.3, 0.05), init_radius=0.3)
    errors, signs = [], []
    for seed in range(5):
        torch.manual_seed(seed)
        error, sign_ok = _init_errors(GarmentSDF(config).double(), 512)
        errors.append(error)
        signs.append(sign_ok)
    # Measured: mean error 0.09-0.36 r per seed, ~0.2 r on average.
    assert sum(errors) / len(errors) < 0.3
    assert min(signs) > 0.97


def test_relu_limit_init_is_a_cone_minus_radius():
    # With zero biases and zero PE weights, f(x) + r is positively homogeneous in x - c in the
    # ReLU limit: f(c + t v) + r = t (f(c + v) + r). Fails if any bias or PE weight is not zero.
    config = dataclasses.replace(SDFConfig.fast(), softplus_beta=1e7, center=(0.2, 0.0, 0.0))
    torch.manual_seed(1)
    net = GarmentSDF(config).double()
    center = torch.tensor(config.center, dtype=torch.float64)
    v = _ball_points(64, 1.0)
    with torch.no_grad():
        base = net(center + v).sdf + config.init_radius
        scaled = net(center + 2.5 * v).sdf + config.init_radius
    torch.testing.assert_close(scaled, 2.5 * base, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("config", [SDFConfig.fast(), SDFConfig.reference()])
def test_band_weights_do_not_change_init_function(config):
    torch.manual_seed(0)
    net = GarmentSDF(config).double()
    points = _ball_points(16, 1.0)
    with torch.no_grad():
        off = net(points, torch.zeros(config.num_bands, dtype=torch.float64))
        on = net(points, torch.ones(config.num_bands, dtype=torch.float64))
    torch.testing.assert_close(off.sdf, on.sdf, rtol=0, atol=0)
    torch.testing.assert_close(off.feature, on.feature, rtol=0, atol=0)


def _perturbed(config: SDFConfig) -> GarmentSDF:
    """A net with random (non-init) weights, so PE channels and all layers matter."""
    torch.manual_seed(3)
    net = GarmentSDF(config).double()
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    return net


def test_gradient_matches_finite_differences():
    net = _perturbed(dataclasses.replace(SDFConfig.fast(), softplus_beta=10.0))
    points = _ball_points(12, 0.8)
    sdf, gradient = net.sdf_and_gradient(points)
    torch.testing.assert_close(sdf, net(points).sdf)
    step = 1e-6
    numeric = torch.zeros_like(points)
    with torch.no_grad():
        for axis in range(3):
            offset = torch.zeros(3, dtype=torch.float64)
            offset[axis] = step
            numeric[:, axis] = (net(points + offset).sdf - net(points - offset).sdf) / (2 * step)
    torch.testing.assert_close(gradient, numeric, atol=1e-6, rtol=1e-5)


def test_gradient_under_no_grad_and_with_create_graph():
    net = _perturbed(SDFConfig.fast())
    points = _ball_points(8, 0.8)
    with torch.no_grad():
        sdf, gradient = net.sdf_and_gradient(points)
    assert not sdf.requires_grad and not gradient.requires_grad
    assert gradient.shape == (8, 3)
    _, gradient = net.sdf_and_gradient(points, create_graph=True)
    eikonal = ((gradient.norm(dim=1) - 1) ** 2).mean()
    eikonal.backward()
    first = net.layers[0].parametrizations.weight.original1
    assert first.grad is not None and first.grad.abs().sum() > 0


def test_follows_input_dtype_and_rejects_bad_input():
    net = GarmentSDF()
    out = net(torch.zeros(3, 3))
    assert out.sdf.dtype == torch.float32 and out.feature.shape == (3, 32)
    with pytest.raises(RecmvError):
        net(torch.zeros(3, 2))
    with pytest.raises(RecmvError):
        SDFConfig(skip_layers=(0,))
    with pytest.raises(RecmvError):
        SDFConfig(hidden_dim=16, num_bands=4)
