"""A job's progress, kept in `DIR/<job>/state.json` and rewritten atomically after every change.

    name, spec      the manifest entry the folder was started from (a changed entry is not resumed)
    input_kind      subject, video or frames
    stages          per stage: status (pending, queued, done, failed), runs (times it was started),
                    started / finished (UTC, ISO 8601), seconds, error, traceback, outputs

Only the driver writes it, so a job folder on a shared filesystem has one writer.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from recmv import fileio
from recmv.errors import InputFileError

STATE_FILE = "state.json"


def utc_stamp(seconds: float) -> str:
    """time.time() seconds -> '2026-12-01T18:03:33.123456+00:00'."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat()


class JobState:
    """The state of one job folder; every mark_* call saves it."""

    def __init__(self, path: Path, data: dict):
        self.path = path
        self.data = data

    @classmethod
    def open(cls, job_dir: Path, name: str, spec: dict, input_kind: str, stages: list[str]) -> JobState:
        """The folder's state, or a fresh one; a state from a different manifest entry is refused."""
        path = job_dir / STATE_FILE
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                saved_spec = data["spec"]
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                raise InputFileError(path, f"not a batch job state ({error}); delete it to start the job again") from error
            if saved_spec != spec:
                changed = sorted(k for k in set(spec) | set(saved_spec) if spec.get(k) != saved_spec.get(k))
                raise InputFileError(
                    path,
                    f"the job was started from a different manifest entry (changed: {', '.join(changed)}); "
                    "restore the entry, or delete the job folder to start it again",
                )
        else:
            data = {"name": name, "spec": spec, "stages": {}}
        data["input_kind"] = input_kind
        for stage in stages:
            data["stages"].setdefault(stage, {"status": "pending", "runs": 0})
        state = cls(path, data)
        state.save()
        return state

    def stage(self, name: str) -> dict:
        return self.data["stages"][name]

    def is_done(self, name: str) -> bool:
        return self.stage(name)["status"] == "done"

    def outputs(self, name: str) -> dict:
        return self.stage(name).get("outputs") or {}

    def mark_queued(self, name: str) -> None:
        record = self.stage(name)
        record.update(status="queued", runs=record.get("runs", 0) + 1, error=None, traceback=None)
        self.save()

    def mark_done(self, name: str, started: float, finished: float, outputs: dict) -> None:
        self.stage(name).update(
            status="done", started=utc_stamp(started), finished=utc_stamp(finished),
            seconds=round(finished - started, 3), outputs=outputs,
        )
        self.save()

    def mark_failed(self, name: str, error: str, traceback: str | None = None, started: float | None = None,
                    finished: float | None = None) -> None:
        record = self.stage(name)
        record.update(status="failed", error=error, traceback=traceback)
        if started is not None and finished is not None:
            record.update(started=utc_stamp(started), finished=utc_stamp(finished), seconds=round(finished - started, 3))
        self.save()

    def save(self) -> None:
        fileio.write_json(self.path, self.data)
