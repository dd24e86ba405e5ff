"""Fixtures shared across test packages: one tiny synthetic subject per session (synthesis costs seconds),
and a template cache of the session's own (tests never touch the user's ~/.cache)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from recmv.synth.config import SynthConfig
from recmv.synth.writer import synthesize


@pytest.fixture(scope="session", autouse=True)
def session_template_cache(tmp_path_factory):
    from recmv.templates.cache import CACHE_ENV

    previous = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(tmp_path_factory.mktemp("template_cache"))
    yield
    if previous is None:
        del os.environ[CACHE_ENV]
    else:
        os.environ[CACHE_ENV] = previous


@pytest.fixture(scope="session")
def tiny_subject(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fit") / "subject"
    config = SynthConfig(
        garments=("short_sleeve_upper", "skirt"), frames=4, size=64, seed=1, body_topology="notoes_collapse5pc",
        grid_resolution=16, keyframe_every=2, garment_resolution=0.03,
    )
    synthesize(config, out)
    return out
