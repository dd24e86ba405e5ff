"""Open a finished `recmv fit` run folder (see recmv/training/fit.py) and restore its model.

Every way a run folder can be unusable gets one error naming the file and what to do: no run.json or
config.json, a config this recmv cannot read (another version), no checkpoint, an unfinished fit, a
subject folder that is no longer where run.json says, a checkpoint from another run or version.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from recmv import __version__, fileio
from recmv.errors import InputFileError, RecmvError
from recmv.training.checkpoint import load_checkpoint
from recmv.training.config import FitConfig, config_from_json
from recmv.training.data import load_fit_data
from recmv.training.trainer import Trainer

log = logging.getLogger(__name__)


@dataclass
class FittedRun:
    """A run folder with its restored trainer (model, data, boxes, iteration)."""

    run_dir: Path
    subject: Path
    segment: str
    config: FitConfig
    trainer: Trainer
    recmv_version: str


def open_run(run_dir: str | Path, subject: str | Path | None = None, device: str = "cpu") -> FittedRun:
    """Check a run folder and restore its fitted model on `device`.

    subject: the subject folder, when it is no longer where run.json recorded it.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RecmvError(f"{run_dir}: no such run folder (expected the --out folder of `recmv fit`)")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RecmvError(f"--device {device}: no CUDA device is available here")
    info = fileio.read_json_object(run_dir / "run.json", "missing: not a run folder written by `recmv fit`")
    version = str(info.get("recmv", "unknown"))
    if "subject" not in info:
        raise InputFileError(run_dir / "run.json", "no 'subject' entry (written by another recmv version?)")
    raw_config = fileio.read_json_object(run_dir / "config.json", "missing: not a run folder written by `recmv fit`")
    try:
        config = config_from_json(raw_config)
        config.validate()
    except (TypeError, KeyError, ValueError, RecmvError) as error:
        raise InputFileError(
            run_dir / "config.json", f"not a fit config this recmv {__version__} reads (run written by recmv {version}: {error})"
        ) from error
    checkpoint = run_dir / "checkpoints" / "latest.pt"
    if not checkpoint.is_file():
        raise InputFileError(checkpoint, "missing: the fit has not saved a checkpoint yet (is it still running?)")
    summary_path = run_dir / "summary.json"
    if summary_path.is_file() and fileio.read_json_object(summary_path).get("finished") is False:
        raise RecmvError(f"{run_dir}: the fit is unfinished (summary.json); continue it with `recmv fit SUBJECT --out {run_dir} --resume`")
    # Format, version and progress first: a foreign or unfinished checkpoint fails before the data loads.
    record = load_checkpoint(checkpoint, {})
    if record.get("epoch", 0) < config.epochs:
        raise RecmvError(
            f"{checkpoint}: the fit stopped at epoch {record.get('epoch')} of {config.epochs}; continue it with "
            f"`recmv fit {info['subject']} --out {run_dir} --resume`"
        )
    subject_dir = Path(subject) if subject is not None else Path(info["subject"])
    if not subject_dir.is_dir():
        raise RecmvError(
            f"{subject_dir}: subject folder of the run not found (moved? pass its new place with --subject)"
        )
    segment = str(info.get("segment", "rotation"))
    data = load_fit_data(subject_dir, config.working_size, segment)
    trainer = Trainer(config, data, run_dir, device)
    trainer.load()
    if version != __version__:
        log.warning("%s was written by recmv %s; this is recmv %s", run_dir, version, __version__)
    trainer.model.eval()
    return FittedRun(run_dir, subject_dir, segment, config, trainer, version)
