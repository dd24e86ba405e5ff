"""The work of each batch stage, as plain functions that a Ray worker (or a test) calls.

Job folder layout (DIR/<job>/):
    state.json          progress (recmv.batch.state)
    subject/            `recmv prepare` output, when the input is a video or a frame folder
    fit/                the `recmv fit` run folder (checkpoints/latest.pt makes a re-run resume)
    garments/           `recmv extract` output
    eval/metrics.json   `recmv eval` result, when the subject has gt/
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import time
import traceback
from pathlib import Path

from recmv.batch.manifest import Job
from recmv.errors import InputFileError, RecmvError

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")
CRASH_EXIT_CODE = 70


def input_kind(path: Path) -> str:
    """'subject' (a folder with subject.json), 'video' or 'frames' (a folder of images)."""
    if path.is_dir():
        if (path / "subject.json").exists():
            return "subject"
        if any(p.suffix.lower() in FRAME_SUFFIXES for p in path.iterdir()):
            return "frames"
        raise InputFileError(path, "expected a subject folder (with subject.json) or a folder of frames")
    if path.is_file():
        if path.suffix.lower() in VIDEO_SUFFIXES:
            return "video"
        raise InputFileError(path, f"expected a video ({', '.join(VIDEO_SUFFIXES)}) or a folder")
    raise InputFileError(path, "no such file or folder")


def planned_stages(job: Job, kind: str) -> list[str]:
    """The stages a job goes through: prepare unless it is a subject folder, eval only with gt/."""
    stages = ["fit", "extract"]
    if kind != "subject":
        stages.insert(0, "prepare")
    elif (job.input / "gt").is_dir():
        stages.append("eval")
    return stages


def execute_stage(stage: str, job: Job, job_dir: Path, kind: str, device: str, threads: int, inputs: dict) -> dict:
    """Run one stage and report it as data, so that a failure is recorded and other jobs go on.

    inputs: the outputs of the job's earlier stages, merged.

    Returns {"ok", "started", "finished"} plus "outputs" on success or "error" (and "traceback" for an
    unexpected exception) on failure; times are time.time() seconds.
    """
    import torch

    torch.set_num_threads(max(1, threads))
    started = time.time()
    try:
        outputs = STAGE_FUNCTIONS[stage](job, job_dir, kind, device, inputs)
    except RecmvError as error:
        return {"ok": False, "error": str(error), "started": started, "finished": time.time()}
    except Exception as error:  # any failure of one job is recorded, and the other jobs go on
        return {
            "ok": False, "error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc(),
            "started": started, "finished": time.time(),
        }
    return {"ok": True, "outputs": outputs, "started": started, "finished": time.time()}


def run_prepare(job: Job, job_dir: Path, kind: str, device: str, inputs: dict) -> dict:
    try:
        pipeline = importlib.import_module("recmv.preprocess.pipeline")
    except ImportError as error:
        raise RecmvError(
            f"{job.input}: a {kind} input needs `recmv prepare` (recmv.preprocess.pipeline), which this "
            f"installation lacks ({error}); give a subject folder instead"
        ) from error
    options = pipeline.PrepareOptions(device=device)
    if job.garments:
        options = dataclasses.replace(options, garments=job.garments)
    options = replace_nested(options, job.prepare_options)
    subject = pipeline.prepare_subject(job.input, job_dir / "subject", options, progress=False)
    return {"subject": str(subject)}


def run_fit(job: Job, job_dir: Path, kind: str, device: str, inputs: dict) -> dict:
    from recmv.training.checkpoint import load_checkpoint
    from recmv.training.fit import fit_subject

    run_dir = job_dir / "fit"
    checkpoint = run_dir / "checkpoints" / "latest.pt"
    resume = checkpoint.exists()
    resumed_from = load_checkpoint(checkpoint, {})["iteration"] if resume else 0
    crash = job.crash_fit_after is not None and not resume
    summary = fit_subject(
        Path(inputs.get("subject", job.input)), run_dir, preset=job.preset, device=device, resume=resume,
        segment=job.segment, overrides=job.fit_kwargs(), progress=False,
        stop_after=job.crash_fit_after if crash else None,
    )
    if crash:  # the testing aid: die as a killed worker would, with no chance to clean up
        os._exit(CRASH_EXIT_CODE)
    return {
        "run": str(run_dir), "iterations": summary.iterations, "resumed_from": resumed_from,
        "timings": summary.timings, "final_terms": summary.final_terms,
    }


def run_extract(job: Job, job_dir: Path, kind: str, device: str, inputs: dict) -> dict:
    from recmv.export.extract import ExtractOptions, extract_run

    prediction = job_dir / "garments"
    options = replace_nested(ExtractOptions(device=device), job.extract_options)
    manifest = extract_run(inputs["run"], prediction, options, progress=False)
    return {"prediction": str(prediction), "manifest": str(manifest)}


def run_eval(job: Job, job_dir: Path, kind: str, device: str, inputs: dict) -> dict:
    from recmv.evaluation.evaluate import EvaluationOptions, evaluate, write_result

    subject = Path(inputs.get("subject", job.input))
    result = evaluate(inputs["prediction"], subject, EvaluationOptions(samples=job.eval_samples))
    path = job_dir / "eval" / "metrics.json"
    write_result(result, path)
    return {"metrics": result.to_json()["overall"], "file": str(path)}


def replace_nested(settings, changes: dict):
    """A copy of the dataclass `settings` with changes applied, nested dataclasses key by key."""
    values = {}
    for key, value in changes.items():
        current = getattr(settings, key)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            value = replace_nested(current, value)
        elif isinstance(current, tuple) and isinstance(value, list):
            value = tuple(value)
        values[key] = value
    return dataclasses.replace(settings, **values)


STAGE_FUNCTIONS = {"prepare": run_prepare, "fit": run_fit, "extract": run_extract, "eval": run_eval}
