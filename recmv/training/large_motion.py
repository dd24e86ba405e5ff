"""REC-MV's second phase (§6.4): the large-motion segment, fitted from a finished rotation run.

The garment SDFs and the feature curves stay as the rotation phase left them; the deformation
network, the appearance, the camera corrections, and the per-frame codes and poses of the new frames
are optimised with the last stage of the rotation config (REC-MV runs its fine stage throughout). The
new frames' codes start at the mean code of the rotation frames plus the usual smooth jitter: the
deformation the rotation fit learnt on average, rather than an untrained corner of code space.

Layout: the phase is a run folder of its own, ROTATION_RUN/large_motion/ (config, log, checkpoints,
meshes, curves), so it resumes the same way.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import torch

from recmv import __version__, fileio
from recmv.errors import InputFileError, RecmvError
from recmv.training.checkpoint import load_checkpoint
from recmv.training.config import FitConfig, config_from_json
from recmv.training.data import load_fit_data
from recmv.training.fit import FitSummary, resolve_config, train_and_write
from recmv.training.trainer import Trainer

PHASE_FOLDER = "large_motion"
FROZEN_TERMS = ("pc_sdf", "eikonal", "curve_projection", "curve_sdf", "curve_smoothness", "curve_cap")
"""Terms that only act on the frozen SDFs and curves."""
PER_FRAME_PARAMETERS = ("frames.poses", "frames.trans", "frames.garment_codes.")
"""Prefixes of the state keys of the per-frame tables, which the new segment replaces."""


def large_motion_config(rotation: FitConfig, epochs: int | None = None) -> FitConfig:
    """The rotation config with SDFs and curves frozen and its last stage from epoch 0."""
    last = rotation.stages[-1]
    weights = dataclasses.replace(last.weights, **{name: 0.0 for name in FROZEN_TERMS})
    stage = dataclasses.replace(last, name="large_motion", start_epoch=0, weights=weights)
    optim = dataclasses.replace(rotation.optim, sdf_lr=0.0)
    curves = dataclasses.replace(rotation.curves, lr=0.0)
    return rotation.replace(stages=(stage,), optim=optim, curves=curves, epochs=epochs or rotation.epochs)


def rotation_state(rotation_run: Path) -> tuple[FitConfig, dict]:
    """The config and final model state of a finished rotation run."""
    summary_path = rotation_run / "summary.json"
    try:
        finished = json.loads(summary_path.read_text(encoding="utf-8")).get("finished", False)
        config = config_from_json(json.loads((rotation_run / "config.json").read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, TypeError, KeyError) as error:
        raise InputFileError(summary_path, f"not a finished `recmv fit` rotation run ({error})") from error
    if not finished:
        raise InputFileError(summary_path, "the rotation fit is not finished: `recmv fit --resume` it first")
    record = load_checkpoint(rotation_run / "checkpoints" / "latest.pt", {})
    return config, record["model"]


def start_from_rotation(trainer: Trainer, state: dict) -> None:
    """Load the rotation model into a large-motion trainer: everything but the per-frame tables,
    whose new codes are shifted to the rotation frames' mean code."""
    shared = {k: v for k, v in state.items() if not k.startswith(PER_FRAME_PARAMETERS)}
    missing, unexpected = trainer.model.load_state_dict(shared, strict=False)
    if any(not k.startswith(PER_FRAME_PARAMETERS) for k in missing) or unexpected:
        raise RecmvError(f"the rotation checkpoint does not fit this model (missing {missing}, unexpected {unexpected})")
    with torch.no_grad():
        for g, codes in enumerate(trainer.model.frames.garment_codes):
            codes.add_(state[f"frames.garment_codes.{g}"].to(codes).mean(dim=0, keepdim=True))


def fit_large_motion(
    subject: str | Path,
    rotation_run: str | Path,
    device: str = "cpu",
    resume: bool = False,
    epochs: int | None = None,
    write_meshes: bool = True,
    progress: bool = True,
    stop_after: int | None = None,
) -> FitSummary:
    """Fit the large-motion segment into ROTATION_RUN/large_motion/ (see the module docstring)."""
    subject, rotation_run = Path(subject), Path(rotation_run)
    run_dir = rotation_run / PHASE_FOLDER
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RecmvError(f"--device {device}: no CUDA device is available here")
    rotation_config, state = rotation_state(rotation_run)
    if resume:
        config = resolve_config(run_dir, None, True, {})
    else:
        if (run_dir / "checkpoints" / "latest.pt").exists():
            raise RecmvError(f"{run_dir} already holds a large-motion fit: pass --resume to continue it")
        config = large_motion_config(rotation_config, epochs)
        config.validate()
        run_dir.mkdir(parents=True, exist_ok=True)
        fileio.write_json(run_dir / "config.json", config.to_json())
        fileio.write_json(
            run_dir / "run.json",
            {"subject": str(subject.resolve()), "segment": "large_motion", "phase": "large_motion",
             "rotation_run": str(rotation_run.resolve()), "device": device, "recmv": __version__},
        )
        (run_dir / "log.jsonl").unlink(missing_ok=True)
    started = time.perf_counter()
    data = load_fit_data(subject, config.working_size, "large_motion")
    trainer = Trainer(config, data, run_dir, device)
    if resume:
        trainer.load()
    else:
        start_from_rotation(trainer, state)
        trainer.save()
    trainer.timings["load"] = trainer.timings.get("load", 0.0) + time.perf_counter() - started
    return train_and_write(trainer, write_meshes, progress, stop_after)
