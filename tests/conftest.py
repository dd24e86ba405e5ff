"""Fixtures shared across test packages: one tiny synthetic subject per session (synthesis costs seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from recmv.synth.config import SynthConfig
from recmv.synth.writer import synthesize


@pytest.fixture(scope="session")
def tiny_subject(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fit") / "subject"
    config = SynthConfig(
        garments=("short_sleeve_upper", "skirt"), frames=4, size=64, seed=1, body_topology="notoes_collapse5pc",
        grid_resolution=16, keyframe_every=2, garment_resolution=0.03,
    )
    synthesize(config, out)
    return out
