"""A fit config sized for seconds on a CPU (the tiny subject is in tests/conftest.py)."""

from __future__ import annotations

import dataclasses

from recmv.training.config import FitConfig, LossWeights, Stage, fast_config


def tiny_config(weights: LossWeights | None = None, epochs: int = 2, **changes) -> FitConfig:
    """The fast preset at 64 px, coarse cells, a short SDF initial fit and one stage."""
    base = fast_config()
    weights = base.stages[0].weights if weights is None else weights
    settings = dict(
        epochs=epochs,
        working_size=64,
        sdf_init=dataclasses.replace(base.sdf_init, iterations=40, batch_size=2000),
        stages=(Stage("coarse", 0, 2, 0.04, 3, 0.04, 64, weights),),
        regulariser_points=256,
        mesh_cell_size=0.04,
        checkpoint_every=2,
    )
    return dataclasses.replace(base, **{**settings, **changes})
