"""Hand each job's stages to Ray as tasks, one stage after another, and follow them to the end.

Ray schedules the tasks over the cluster by their declared resources; this module only submits a
job's next stage when the previous one has finished, records every result in the job's state.json,
and shows the progress. Without an address an embedded Ray starts on this machine, bound to the
loopback interface, and stops with the command.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from recmv import fileio
from recmv.batch.manifest import Job
from recmv.batch.stages import execute_stage, input_kind, planned_stages
from recmv.batch.state import JobState, utc_stamp
from recmv.batch.summary import SUMMARY_FILE, job_summary
from recmv.errors import RecmvError

INSTALL_HINT = "pip install 'recmv[batch]'"
GPU_STAGES = ("prepare", "fit", "extract")
"""Stages that get --gpus-per-job and run on cuda when it is positive; eval runs on the CPU."""
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class BatchOptions:
    """How `recmv batch` runs its jobs."""

    out: Path
    """Folder of the job folders and summary.json (shared by all nodes of a cluster)."""
    address: str | None = None
    """Ray cluster to join ("auto", "ray://host:10001", "host:6379"); None starts an embedded one."""
    cpus_per_job: float = 1.0
    """CPUs each stage task reserves; torch uses as many threads."""
    gpus_per_job: float = 0.0
    """GPUs the prepare, fit and extract tasks reserve; above 0 they run on cuda."""
    num_cpus: int | None = None
    """CPUs of the embedded Ray (None: all of this machine's)."""
    progress: bool = True
    """Show a progress bar and a line per finished stage."""
    worker_logs: bool = False
    """Forward the workers' output to this terminal."""


@dataclass
class JobRun:
    """A job in this invocation: its folder, state and the stages it ran now."""

    job: Job
    folder: Path
    kind: str | None = None
    stages: list[str] = field(default_factory=list)
    state: JobState | None = None
    error: str | None = None
    """Why the job could not start (its input or folder); stage errors live in the state."""
    ran: list[str] = field(default_factory=list)

    def next_stage(self) -> str | None:
        return next((s for s in self.stages if not self.state.is_done(s)), None)

    def failed(self) -> bool:
        return self.error is not None or any(self.state.stage(s)["status"] == "failed" for s in self.stages)

    def inputs(self) -> dict:
        merged: dict = {}
        for stage in self.stages:
            merged.update(self.state.outputs(stage))
        return merged


def import_ray(embedded: bool):
    """Ray, or a clear error naming the extra; an embedded instance binds to loopback only."""
    if embedded and "ray" not in sys.modules:
        # Ray reads this once at import: when off, a local instance uses 127.0.0.1 instead of the
        # machine's network address, so the embedded cluster is not reachable from other hosts.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    # Ray's progress bars replace builtins.print in the driver; the progress here is our own tqdm.
    os.environ.setdefault("RAY_TQDM_PATCH_PRINT", "0")
    try:
        import ray
    except ImportError as error:
        raise RecmvError(f"`recmv batch` needs Ray, which is not installed: {INSTALL_HINT}") from error
    return ray


@contextlib.contextmanager
def ray_session(options: BatchOptions):
    """Connect to options.address, reuse a Ray this process already started, or start one."""
    ray = import_ray(embedded=options.address is None)
    if options.address is None and ray.is_initialized():
        yield ray
        return
    try:
        if options.address is None:
            ray.init(  # "local": always a new instance, never one found running on this machine
                address="local", num_cpus=options.num_cpus or os.cpu_count(), include_dashboard=False,
                log_to_driver=options.worker_logs, configure_logging=False,
            )
        else:
            ray.init(address=options.address, log_to_driver=options.worker_logs)
    except (ConnectionError, RuntimeError, ValueError) as error:
        where = f"--address {options.address}: cannot join the Ray cluster" if options.address else "cannot start a local Ray"
        raise RecmvError(f"{where} ({error})") from error
    try:
        yield ray
    finally:
        ray.shutdown()


def plan(job: Job, out: Path) -> JobRun:
    """The job's folder, input kind, stages and state; a job that cannot start carries its error."""
    run = JobRun(job, out / job.name)
    try:
        run.kind = input_kind(job.input)
        run.stages = planned_stages(job, run.kind)
        run.state = JobState.open(run.folder, job.name, job.spec(), run.kind, run.stages)
    except RecmvError as error:
        run.error = f"manifest line {job.line}: {error}"
    return run


def run_batch(jobs: list[Job], options: BatchOptions) -> dict:
    """Run every job to its end (done or failed) and write summary.json; returns the summary."""
    started = time.time()
    runs = [plan(job, options.out) for job in jobs]
    with ray_session(options) as ray:
        _follow(ray, runs, options)
    summary = {
        "out": str(options.out),
        "started": utc_stamp(started),
        "wall_seconds": round(time.time() - started, 3),
        "counts": {
            "done": sum(not r.failed() and r.next_stage() is None for r in runs),
            "failed": sum(r.failed() for r in runs),
        },
        "jobs": [job_summary(r) for r in runs],
    }
    fileio.write_json(options.out / SUMMARY_FILE, summary)
    return summary


def _follow(ray, runs: list[JobRun], options: BatchOptions) -> None:
    task = ray.remote(execute_stage)
    threads = max(1, int(options.cpus_per_job))
    in_flight: dict = {}

    def submit(run: JobRun) -> bool:
        stage = run.next_stage()
        if stage is None:
            return False
        gpus = options.gpus_per_job if stage in GPU_STAGES else 0
        run.state.mark_queued(stage)
        run.ran.append(stage)
        ref = task.options(
            num_cpus=options.cpus_per_job, num_gpus=gpus, max_retries=0, name=f"{run.job.name}:{stage}"
        ).remote(stage, run.job, run.folder, run.kind, "cuda" if gpus else "cpu", threads, run.inputs())
        in_flight[ref] = (run, stage)
        return True

    pending = [r for r in runs if r.error is None]
    finished = len(runs) - sum(submit(r) for r in pending)
    bar = tqdm(total=len(runs), initial=finished, unit="job", desc="batch", disable=not options.progress, dynamic_ncols=True)
    try:
        _show(bar, runs, in_flight)
        while in_flight:
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=POLL_SECONDS)
            for ref in ready:
                run, stage = in_flight.pop(ref)
                result = _result(ray, ref, stage)
                if result["ok"]:
                    run.state.mark_done(stage, result["started"], result["finished"], result["outputs"])
                    _note(bar, options, f"{run.job.name}: {stage} done in {result['finished'] - result['started']:.0f} s")
                    if not submit(run):
                        bar.update(1)
                else:
                    run.state.mark_failed(
                        stage, result["error"], result.get("traceback"), result.get("started"), result.get("finished")
                    )
                    _note(bar, options, f"{run.job.name}: {stage} failed: {result['error']}")
                    bar.update(1)
            _show(bar, runs, in_flight)
    finally:
        bar.close()


def _result(ray, ref, stage: str) -> dict:
    """The task's own report, or a failure when Ray lost the task (its worker or node died)."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return {
            "ok": False,
            "error": f"the worker running the {stage} stage was lost ({type(error).__name__}: {reason}); "
            "run the batch again to continue from the last checkpoint",
        }


def _show(bar: tqdm, runs: list[JobRun], in_flight: dict) -> None:
    running = {run.job.name for run, _ in in_flight.values()}
    done = sum(r.state is not None and not r.failed() and r.next_stage() is None for r in runs)
    failed = sum(r.failed() for r in runs)
    bar.set_postfix_str(f"done {done}, running {len(running)}, failed {failed}", refresh=True)


def _note(bar: tqdm, options: BatchOptions, line: str) -> None:
    if options.progress:
        bar.write(line)
