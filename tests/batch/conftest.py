"""A tiny synthetic subject, a tiny fit and extract configuration for manifests, and a local Ray."""

from __future__ import annotations

from pathlib import Path

import pytest

from recmv.synth.config import SynthConfig
from recmv.synth.writer import synthesize

# Job fields for seconds per stage: 2 frames at 64 px, 2 iterations, coarse meshes, no videos.
TINY_JOB = {
    "epochs": 2,
    "working_size": 64,
    "sdf_init": {"iterations": 10, "batch_size": 500},
    "stages": [{"batch_size": 2, "splat_radius": 0.04, "refresh_every": 3, "cell_size": 0.04, "rays_per_image": 32}],
    "regulariser_points": 128,
    "mesh_cell_size": 0.04,
    "checkpoint_every": 1,
    "eval_samples": 500,
    "extract": {
        "videos": False, "glb": False, "cell_size": 0.04, "push_rounds": 1,
        "registration": {"edge_length": 0.05, "relax_iterations": 0, "nicp": {"stiffness": [5.0, 0.8], "iterations": 1}},
    },
}


@pytest.fixture(scope="session")
def batch_subject(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("batch") / "subject"
    config = SynthConfig(
        garments=("short_sleeve_upper",), frames=2, size=64, seed=1, body_topology="notoes_collapse5pc",
        grid_resolution=16, keyframe_every=2, garment_resolution=0.03,
    )
    synthesize(config, out)
    return out


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """The embedded Ray of `recmv batch` with 2 CPUs, started once for the module's runs."""
    from recmv.batch.runner import BatchOptions, ray_session

    with ray_session(BatchOptions(out=tmp_path_factory.mktemp("ray"), num_cpus=2)) as ray:
        yield ray
