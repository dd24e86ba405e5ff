"""The progress bar's short names of the loss terms."""

import dataclasses

from recmv.training.config import LossWeights
from recmv.training.trainer import short_name


def test_every_loss_term_has_its_own_short_name():
    names = [f.name for f in dataclasses.fields(LossWeights)]
    shorts = [short_name(name) for name in names]
    assert len(set(shorts)) == len(names), dict(zip(names, shorts, strict=True))
    assert short_name("curve_smoothness") == "curv_smoo"
