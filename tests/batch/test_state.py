"""Job state files: stage records, run counts, and refusal of a folder started from another entry."""

from __future__ import annotations

import pytest

from recmv.batch.state import JobState
from recmv.errors import InputFileError

SPEC = {"input": "/data/a", "fit": {"epochs": 2}}


def test_stage_records_survive_a_reopen(tmp_path):
    state = JobState.open(tmp_path, "a", SPEC, "subject", ["fit", "extract"])
    assert [state.stage(s)["status"] for s in ("fit", "extract")] == ["pending", "pending"]
    state.mark_queued("fit")
    state.mark_done("fit", 100.0, 112.5, {"run": "x"})
    state.mark_queued("extract")
    state.mark_failed("extract", "extract: broke", started=113.0, finished=114.0)
    again = JobState.open(tmp_path, "a", SPEC, "subject", ["fit", "extract"])
    fit, extract = again.stage("fit"), again.stage("extract")
    assert again.is_done("fit") and not again.is_done("extract")
    assert fit["runs"] == 1 and fit["seconds"] == 12.5 and fit["started"].startswith("1970-01-01T00:01:40")
    assert again.outputs("fit") == {"run": "x"}
    assert extract["status"] == "failed" and extract["error"] == "extract: broke"
    again.mark_queued("extract")
    assert again.stage("extract")["runs"] == 2 and again.stage("extract")["error"] is None


def test_a_folder_from_another_manifest_entry_is_refused(tmp_path):
    JobState.open(tmp_path, "a", SPEC, "subject", ["fit"])
    with pytest.raises(InputFileError, match=r"state.json: the job was started from a different manifest entry \(changed: fit\)"):
        JobState.open(tmp_path, "a", {**SPEC, "fit": {"epochs": 3}}, "subject", ["fit"])


def test_an_unreadable_state_names_its_file(tmp_path):
    (tmp_path / "state.json").write_text("{", encoding="utf-8")
    with pytest.raises(InputFileError, match="state.json: not a batch job state"):
        JobState.open(tmp_path, "a", SPEC, "subject", ["fit"])
