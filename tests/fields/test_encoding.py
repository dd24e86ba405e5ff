import math

import pytest
import torch

from recmv.errors import RecmvError
from recmv.fields.encoding import (
    annealing_weights,
    deformer_annealing_ratio,
    encoded_size,
    positional_encoding,
)


def test_encoded_size_matches_reference_39():
    assert encoded_size(6) == 39
    assert encoded_size(0) == 3


def test_encoding_values_on_known_point():
    x = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)
    out = positional_encoding(x, 2)
    expected = [0.5, -1.0, 2.0]
    for frequency in (1.0, 2.0):
        expected += [math.sin(frequency * v) for v in (0.5, -1.0, 2.0)]
        expected += [math.cos(frequency * v) for v in (0.5, -1.0, 2.0)]
    assert out.shape == (1, 15)
    torch.testing.assert_close(out[0], torch.tensor(expected, dtype=torch.float64))


def test_band_weights_scale_only_their_band():
    x = torch.randn(7, 3, dtype=torch.float64)
    full = positional_encoding(x, 3)
    weighted = positional_encoding(x, 3, torch.tensor([1.0, 0.0, 0.5]))
    assert weighted.shape == (7, 21)
    torch.testing.assert_close(weighted[:, :9], full[:, :9])
    assert torch.all(weighted[:, 9:15] == 0)
    torch.testing.assert_close(weighted[:, 15:], 0.5 * full[:, 15:])
    zeroed = positional_encoding(x, 3, torch.zeros(3))
    torch.testing.assert_close(zeroed[:, :3], x)
    assert torch.all(zeroed[:, 3:] == 0)


def test_encoding_rejects_bad_shapes():
    with pytest.raises(RecmvError):
        positional_encoding(torch.zeros(4, 2), 2)
    with pytest.raises(RecmvError):
        positional_encoding(torch.zeros(4, 3), 2, torch.ones(3))


def test_annealing_weights_schedule():
    torch.testing.assert_close(annealing_weights(-1.0, 6), torch.zeros(6))
    torch.testing.assert_close(annealing_weights(1.0, 6), torch.ones(6))
    # REC-MV's deformer starts at ratio 0.5: bands 0-2 fully on, 3-5 off.
    start = annealing_weights(deformer_annealing_ratio(0), 6)
    torch.testing.assert_close(start, torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0, 0.0]))
    # All six bands are on after 1250 iterations.
    torch.testing.assert_close(annealing_weights(deformer_annealing_ratio(1250), 6), torch.ones(6))
    # Half way through band 3's ramp: (1 - cos(pi / 2)) / 2 = 0.5.
    middle = annealing_weights(3.5 / 6, 6, dtype=torch.float64)
    assert middle.dtype == torch.float64
    torch.testing.assert_close(
        middle, torch.tensor([1.0, 1.0, 1.0, 0.5, 0.0, 0.0], dtype=torch.float64)
    )
