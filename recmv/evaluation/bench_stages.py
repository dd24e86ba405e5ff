"""The stages of `recmv bench`, and running one in its own process with its wall time and peak memory.

Stage functions are module-level so a stage's process can import them; each takes and returns plain
(picklable) values.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from recmv.synth.config import SynthConfig


@dataclass
class StageResult:
    """One stage of one subject and method."""

    stage: str
    status: str
    """"ok", "failed" or "skipped"."""
    wall_s: float | None = None
    peak_rss_gib: float | None = None
    error: str | None = None
    value: dict | None = None


def synth_stage(config: SynthConfig, subject: str) -> dict:
    from recmv.synth.writer import synthesize

    synthesize(config, subject)
    return {}


def skinning_stage(subject: str, resolution: int) -> dict:
    """Recompute the subject's diffused skinning grid (what `recmv skinning` does)."""
    from recmv.body.factory import build_body_model, shape_tensor
    from recmv.body.skinning_field import diffuse_skinning_weights
    from recmv.data.subject import SubjectMeta

    meta = SubjectMeta.load(subject)
    body = build_body_model(meta.body)
    rest = body.rest(shape_tensor(meta.body))
    grid = diffuse_skinning_weights(rest.vertices, body.faces, body.skinning_weights, resolution=resolution)
    grid.save(Path(subject) / "diffused_skinning_weights.npy")
    meta.skinning_grid = {"center": grid.center.tolist(), "extent": float(grid.extent)}
    meta.save(subject)
    return {}


def fit_stage(subject: str, run: str, preset: str, overrides: dict, segment: str) -> dict:
    """Fit the segment; the value holds the fit's iterations and timings, and where the subject has GT
    curves the learned canonical curves' errors (cm) under "canonical_curves_cm" and, beside them, the
    GT canonical loops' own distance from the GT posed loops under skinning alone ("skinning_gap_cm",
    `recmv.evaluation.curves.skinning_gaps`)."""
    from recmv.evaluation.curves import run_canonical_curve_errors, subject_skinning_gaps
    from recmv.training.fit import fit_subject

    # The eval reads `recmv extract`'s meshes, so the fit's own per-frame meshes would be written for nothing.
    summary = fit_subject(
        subject, run, preset=preset, overrides=overrides, segment=segment, write_meshes=False, progress=False
    )
    value = {"iterations": summary.iterations, "timings": summary.timings}
    errors = run_canonical_curve_errors(run, subject)
    if errors is not None:
        value["canonical_curves_cm"] = errors
        value["skinning_gap_cm"] = subject_skinning_gaps(subject, segment)
    return value


def large_motion_stage(subject: str, run: str) -> dict:
    from recmv.training.large_motion import fit_large_motion

    summary = fit_large_motion(subject, run, write_meshes=False, progress=False)
    return {"iterations": summary.iterations, "timings": summary.timings}


def extract_stage(run: str, out: str, media: bool) -> dict:
    from recmv.export.extract import ExtractOptions, extract_run

    options = ExtractOptions(videos=media, glb=media)
    return {"manifest": str(extract_run(run, out, options=options, progress=False))}


def template_stage(subject: str, out: str) -> dict:
    from recmv.evaluation.baseline import template_baseline

    template_baseline(subject, out)
    return {}


def eval_stage(prediction: str, subject: str, samples: int) -> dict:
    from recmv.evaluation.evaluate import EvaluationOptions, evaluate, write_result

    result = evaluate(prediction, subject, EvaluationOptions(samples=samples))
    write_result(result, Path(prediction) / "metrics.json")
    return result.to_json()


# What every stage imports anyway (torch alone takes seconds): the fork server loads it once, so a stage's
# process starts in milliseconds instead of paying the imports again outside its timer.
_PRELOADED_MODULES = (
    "torch", "anny", "recmv.evaluation.bench_stages", "recmv.synth.writer", "recmv.body.skinning_field",
    "recmv.training.fit", "recmv.training.large_motion", "recmv.export.extract", "recmv.evaluation.evaluate",
    "recmv.evaluation.baseline",
)


def _stage_context():
    """A fork server with the stage modules preloaded where the platform has one, else spawn (Windows)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(_PRELOADED_MODULES))
    return context


def _stage_child(connection, target, kwargs: dict, log_path: str, environment: dict, cwd: str) -> None:
    """Run one stage in this process and send back (status, value, error, wall, peak).

    The fork server started with the bench's environment and folder of that time; the stage gets those of
    its own start, as a spawned process would.
    """
    os.environ.clear()
    os.environ.update(environment)
    os.chdir(cwd)
    with open(log_path, "w", encoding="utf-8") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    started = time.perf_counter()
    try:
        value, status, error = target(**kwargs), "ok", None
    except Exception as failure:  # recorded in bench.json; the bench goes on
        value, status, error = None, "failed", f"{type(failure).__name__}: {failure}"
        traceback.print_exc()
    connection.send((status, value, error, time.perf_counter() - started, _peak_rss_gib()))
    connection.close()


def run_stage(stage: str, target, kwargs: dict, log_path: Path, isolated: bool = True) -> StageResult:
    """Run `target(**kwargs)` in a fresh process: its own wall time and peak RSS.

    isolated=False runs it in this process instead (quicker to start; the peak RSS is then this
    process's peak so far, not the stage's own).
    """
    if not isolated:
        return _run_here(stage, target, kwargs)
    context = _stage_context()
    receiver, sender = context.Pipe(duplex=False)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    process = context.Process(
        target=_stage_child, args=(sender, target, kwargs, str(log_path), dict(os.environ), os.getcwd())
    )
    process.start()
    sender.close()
    with _sigterm_as_exit():
        try:
            status, value, error, wall, peak = receiver.recv()
        except EOFError:
            process.join()
            return StageResult(stage, "failed", error=f"the stage's process died (exit code {process.exitcode}); see {log_path}")
        except BaseException:
            # Interrupted (Ctrl-C, or a SIGTERM to the bench): the stage must not run on alone.
            process.terminate()
            process.join()
            raise
    process.join()
    if error is not None:
        error = f"{error} (log: {log_path})"
    return StageResult(stage, status, round(wall, 3), round(peak, 4), error, value)


class _sigterm_as_exit:
    """While inside, SIGTERM raises SystemExit(143) in the main thread, so cleanup code runs."""

    def __enter__(self):
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
        return self

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)


def _run_here(stage: str, target, kwargs: dict) -> StageResult:
    started = time.perf_counter()
    try:
        value, status, error = target(**kwargs), "ok", None
    except Exception as failure:  # recorded in bench.json; the bench goes on
        value, status, error = None, "failed", f"{type(failure).__name__}: {failure}"
    wall = time.perf_counter() - started
    return StageResult(stage, status, round(wall, 3), round(_peak_rss_gib(), 4), error, value)


def _peak_rss_gib() -> float:
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return peak / 2**30
