"""`recmv fit` as a function: run folder management, resume, and the final outputs.

Run folder layout:
    config.json         the resolved FitConfig
    run.json            subject, segment, device and recmv version
    log.jsonl           one line per iteration: loss terms (unweighted) and seconds
    checkpoints/        latest.pt (and <stage>.pt at each stage switch), versioned and atomic
    meshes/<garment>/   canonical.obj and <frame>.obj, posed marching-cubes meshes (until extract)
    summary.json        timings, iterations and final loss terms
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from recmv import __version__, fileio
from recmv.errors import InputFileError, RecmvError
from recmv.training.config import (
    FitConfig,
    config_from_json,
    merged_config,
    preset_config,
)
from recmv.training.curves import initialise_curves, write_curves
from recmv.training.data import load_fit_data
from recmv.training.outputs import write_posed_meshes
from recmv.training.trainer import Trainer

log = logging.getLogger(__name__)


@dataclass
class FitSummary:
    run_dir: Path
    iterations: int
    timings: dict[str, float]
    final_terms: dict[str, float]


def resolve_config(
    run_dir: Path, preset: str | None, resume: bool, overrides: dict, changes: dict | None = None, source: str = "config"
) -> FitConfig:
    """The run's config: the saved one when resuming, else the preset, then `changes` (a full or partial
    config in `to_json` form, from `source`; see `merged_config`), then the non-None overrides."""
    saved = run_dir / "config.json"
    if resume and changes:
        raise RecmvError(f"{source}: a resumed fit keeps the config saved in {saved}")
    if resume:
        if not saved.is_file():
            raise InputFileError(saved, "missing: --resume needs a run folder written by `recmv fit`")
        try:
            config = config_from_json(json.loads(saved.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, TypeError, KeyError) as error:
            raise InputFileError(saved, f"not a fit config ({error})") from error
        if preset is not None and preset != config.preset:
            raise RecmvError(f"--preset {preset}: the run in {run_dir} was started with preset {config.preset}")
        return config
    if (run_dir / "checkpoints" / "latest.pt").exists():
        raise RecmvError(f"{run_dir} already holds a fit: pass --resume to continue it, or choose another --out")
    changes = changes or {}
    named = changes.get("preset")
    if preset is not None and named is not None and named != preset:
        raise RecmvError(f"{source} names preset {named!r} but --preset is {preset}")
    config = preset_config(preset or named or "fast")
    if changes:
        config = merged_config(config, changes, source)
    config = config.replace(**{k: v for k, v in overrides.items() if v is not None})
    config.validate()
    return config


def fit_subject(
    subject: str | Path,
    run_dir: str | Path,
    preset: str | None = None,
    device: str = "cpu",
    resume: bool = False,
    segment: str = "rotation",
    overrides: dict | None = None,
    write_meshes: bool = True,
    progress: bool = True,
    stop_after: int | None = None,
    config_changes: dict | None = None,
    config_source: str = "config",
) -> FitSummary:
    """Fit a subject into run_dir (see the module docstring); stop_after limits the iterations of this
    call; config_changes (from config_source) is laid over the preset before overrides (`resolve_config`)."""
    subject, run_dir = Path(subject), Path(run_dir)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RecmvError(f"--device {device}: no CUDA device is available here")
    config = resolve_config(run_dir, preset, resume, overrides or {}, config_changes, config_source)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        fileio.write_json(run_dir / "config.json", config.to_json())
        fileio.write_json(
            run_dir / "run.json",
            {"subject": str(subject.resolve()), "segment": segment, "device": device, "recmv": __version__},
        )
        (run_dir / "log.jsonl").unlink(missing_ok=True)
    started = time.perf_counter()
    data = load_fit_data(subject, config.working_size, segment)
    load_seconds = time.perf_counter() - started
    trainer = Trainer(config, data, run_dir, device)
    if resume:
        trainer.load()
    else:
        trainer.initialise_sdfs(progress=progress)
        initialise_curves(trainer)
        trainer.save()
    trainer.timings["load"] = trainer.timings.get("load", 0.0) + load_seconds
    return train_and_write(trainer, write_meshes, progress, stop_after)


def train_and_write(trainer: Trainer, write_meshes: bool, progress: bool, stop_after: int | None) -> FitSummary:
    """Run the trainer; once its last epoch is done, write curves (and meshes); always write summary.json."""
    run_dir, config = trainer.run_dir, trainer.config
    trainer.run(stop_after=stop_after, progress=progress)
    finished = trainer.epoch >= config.epochs
    if finished:
        write_curves(trainer, run_dir / "curves", progress=progress)
    if finished and write_meshes:
        started = time.perf_counter()
        write_posed_meshes(trainer, run_dir / "meshes", config.mesh_cell_size, progress=progress)
        trainer.timings["meshes"] = time.perf_counter() - started
    summary = FitSummary(run_dir, trainer.iteration, dict(trainer.timings), _last_terms(run_dir))
    fileio.write_json(
        run_dir / "summary.json",
        {"finished": finished, "iterations": summary.iterations, "timings": summary.timings, "final_terms": summary.final_terms},
    )
    return summary


def _last_terms(run_dir: Path) -> dict[str, float]:
    path = run_dir / "log.jsonl"
    if not path.exists():
        return {}
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines:
        return {}
    record = json.loads(lines[-1])
    return {k: v for k, v in record.items() if k not in ("iteration", "epoch", "stage", "seconds")}
