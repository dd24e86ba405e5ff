"""A tiny filmed synthetic subject (textured background, lighting drift, noise, blur, shake, video.mp4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from recmv.synth.config import RealismParams, SynthConfig
from recmv.synth.writer import synthesize


@pytest.fixture(scope="session")
def filmed_subject(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("prepare") / "synth"
    realism = RealismParams(
        background="texture", light_jitter=0.3, image_noise=3.0, motion_blur_px=1.5, camera_shake_px=1.0, video=True
    )
    config = SynthConfig(
        garments=("short_sleeve_upper", "skirt"), motion="walk", frames=4, size=128, seed=1,
        body_topology="notoes_collapse5pc", grid_resolution=8, keyframe_every=2, garment_resolution=0.04,
        realism=realism,
    )  # fmt: skip
    synthesize(config, out)
    return out
