import pytest
import torch

from recmv.errors import RecmvError
from recmv.fields.appearance import AppearanceConfig, AppearanceField


def test_shapes_range_and_gradients():
    field = AppearanceField(AppearanceConfig.fast())
    n = 7
    inputs = [torch.randn(n, 3), torch.randn(n, 3), torch.randn(n, 3), torch.randn(n, 32, requires_grad=True)]
    colours = field(*inputs)
    assert colours.shape == (n, 3) and colours.abs().max() <= 1
    colours.sum().backward()
    assert inputs[3].grad.abs().sum() > 0


def test_reference_matches_rec_mv_widths():
    field = AppearanceField(AppearanceConfig.reference())
    first = field.mlp[0]
    assert first.weight.shape == (512, 3 + 27 + 3 + 256)  # p, PE_4(v), n, feature
    assert sum(isinstance(m, torch.nn.ReLU) for m in field.mlp) == 4


def test_bad_feature_width_is_named():
    field = AppearanceField(AppearanceConfig.fast())
    with pytest.raises(RecmvError, match="features"):
        field(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 8))
