"""`recmv batch` end to end on a local 2-CPU Ray: a good job, a job whose fit worker dies, a broken subject."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from recmv.cli.main import main
from tests.batch.conftest import TINY_JOB

pytestmark = pytest.mark.slow


def read_json(path):
    return json.loads(path.read_text(encoding="utf-8"))


def run_batch_command(manifest, out, capsys) -> tuple[int, dict, str]:
    code = main(["batch", str(manifest), "--out", str(out), "--no-progress"])
    printed = capsys.readouterr().out
    return code, {job["name"]: job for job in read_json(out / "summary.json")["jobs"]}, printed


def test_failures_are_recorded_reruns_skip_finished_work_and_a_killed_fit_resumes(local_ray, batch_subject, tmp_path, capsys):
    assert local_ray.util.get_node_ip_address() == "127.0.0.1"  # the embedded Ray stays on loopback
    broken = tmp_path / "broken"
    shutil.copytree(batch_subject, broken)
    (broken / "subject.json").write_text('{"garments": [', encoding="utf-8")
    manifest = tmp_path / "jobs.yaml"
    manifest.write_text(yaml.safe_dump({
        "defaults": {**TINY_JOB, "input": str(batch_subject)},
        "jobs": [{"name": "good"}, {"name": "killed", "crash_fit_after": 1}, {"name": "broken", "input": str(broken)}],
    }), encoding="utf-8")
    out = tmp_path / "out"

    # Run 1: "good" goes through every stage; "killed" loses its worker after one fit iteration (the
    # checkpoint of iteration 1 survives); "broken" fails on its subject and the others go on.
    code, jobs, printed = run_batch_command(manifest, out, capsys)
    assert code == 1
    assert jobs["good"]["status"] == "done" and jobs["good"]["ran_now"] == ["fit", "extract", "eval"]
    assert (out / "good" / "garments" / "short_sleeve_upper" / "000001.obj").is_file()
    assert jobs["good"]["metrics"]["chamfer_cm"] > 0 and jobs["good"]["fit"]["iterations"] == 2
    assert jobs["killed"]["status"] == "failed" and "worker running the fit stage was lost" in jobs["killed"]["error"]
    assert (out / "killed" / "fit" / "checkpoints" / "latest.pt").is_file()
    assert jobs["broken"]["status"] == "failed"
    assert "not a valid subject folder" in jobs["broken"]["error"]
    assert "subject.json: not readable JSON" in jobs["broken"]["error"]
    assert "broken" in printed and "1 of 3 jobs done, 2 failed" in printed
    good_state = read_json(out / "good" / "state.json")
    assert all(stage["runs"] == 1 and stage["status"] == "done" for stage in good_state["stages"].values())

    # Run 2: nothing of "good" runs again; "killed" continues its fit from the checkpoint and ends like
    # an uninterrupted fit (same seeds, same iterations), so its metrics equal "good"'s.
    code, jobs, printed = run_batch_command(manifest, out, capsys)
    assert code == 1
    assert jobs["good"]["ran_now"] == [] and read_json(out / "good" / "state.json") == good_state
    killed = jobs["killed"]
    assert killed["status"] == "done" and killed["ran_now"] == ["fit", "extract", "eval"]
    fit = read_json(out / "killed" / "state.json")["stages"]["fit"]
    assert fit["runs"] == 2 and fit["outputs"]["resumed_from"] == 1 and fit["outputs"]["iterations"] == 2
    for name, value in jobs["good"]["metrics"].items():
        assert killed["metrics"][name] == pytest.approx(value, abs=1e-6), name
    assert jobs["broken"]["status"] == "failed" and jobs["broken"]["ran_now"] == ["fit"]
    assert "2 of 3 jobs done, 1 failed" in printed

    # Run 3: both finished jobs are left as they are.
    killed_state = read_json(out / "killed" / "state.json")
    code, jobs, _ = run_batch_command(manifest, out, capsys)
    assert jobs["good"]["ran_now"] == jobs["killed"]["ran_now"] == []
    assert read_json(out / "good" / "state.json") == good_state
    assert read_json(out / "killed" / "state.json") == killed_state
    assert read_json(out / "broken" / "state.json")["stages"]["fit"]["runs"] == 3
