"""Stage functions without Ray: input kinds, planned stages, failures reported as data, nested options."""

from __future__ import annotations

import ast
import dataclasses
import re
import sys
from pathlib import Path

import pytest

import recmv
from recmv.batch.manifest import load_manifest
from recmv.batch.runner import import_ray
from recmv.batch.stages import execute_stage, input_kind, planned_stages, replace_nested
from recmv.errors import InputFileError, RecmvError
from recmv.registration.register import RegistrationConfig


def job_for(tmp_path: Path, source: Path):
    manifest = tmp_path / "jobs.yaml"
    manifest.write_text(f"- {{name: j, input: '{source}'}}\n", encoding="utf-8")
    return load_manifest(manifest)[0]


def test_input_kinds_and_their_stages(tmp_path):
    subject = tmp_path / "subject"
    (subject / "gt").mkdir(parents=True)
    (subject / "subject.json").write_text("{}")
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "0001.png").write_bytes(b"")
    video = tmp_path / "clip.MP4"
    video.write_bytes(b"")
    assert [input_kind(p) for p in (subject, frames, video)] == ["subject", "frames", "video"]
    assert planned_stages(job_for(tmp_path, subject), "subject") == ["fit", "extract", "eval"]
    (subject / "gt").rmdir()
    assert planned_stages(job_for(tmp_path, subject), "subject") == ["fit", "extract"]
    assert planned_stages(job_for(tmp_path, video), "video") == ["prepare", "fit", "extract"]
    for path, problem in ((tmp_path / "absent", "no such file or folder"), (tmp_path / "jobs.yaml", "expected a video")):
        with pytest.raises(InputFileError, match=problem):
            input_kind(path)


def test_a_video_without_the_prepare_module_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "recmv.preprocess.pipeline", None)
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")
    result = execute_stage("prepare", job_for(tmp_path, video), tmp_path / "out", "video", "cpu", 1, {})
    assert not result["ok"] and "needs `recmv prepare`" in result["error"] and str(video) in result["error"]
    assert result["finished"] >= result["started"]


def test_an_unexpected_exception_is_reported_with_its_traceback(tmp_path):
    subject = tmp_path / "subject"
    subject.mkdir()
    result = execute_stage("eval", job_for(tmp_path, subject), tmp_path / "out", "subject", "cpu", 1, {})
    assert not result["ok"] and result["error"].startswith("KeyError: 'prediction'")
    assert "Traceback" in result["traceback"]


def test_replace_nested_keeps_unset_fields():
    base = RegistrationConfig()
    changed = replace_nested(base, {"edge_length": 0.05, "nicp": {"stiffness": [5.0, 0.8]}})
    assert changed.edge_length == 0.05 and changed.nicp.stiffness == (5.0, 0.8)
    assert changed.nicp.iterations == base.nicp.iterations and changed.refine == base.refine
    assert dataclasses.is_dataclass(changed.nicp)


def test_only_the_batch_runner_imports_ray(monkeypatch):
    importers = []
    for path in Path(recmv.__file__).parent.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if not re.search(r"\b(import|from)\s+ray\b", text):
            continue
        tree = ast.parse(text)
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(name == "ray" or name.startswith("ray.") for name in names):
                module_level = node in tree.body
                importers.append((path.relative_to(Path(recmv.__file__).parent).as_posix(), module_level))
    assert importers == [("batch/runner.py", False)]
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(RecmvError, match=r"pip install 'recmv\[batch\]'"):
        import_ray(embedded=False)


def test_prepare_gets_the_job_garments_device_and_options(tmp_path, monkeypatch):
    from recmv.preprocess import pipeline

    calls = []

    def record(source, out, options, progress):
        calls.append((source, out, options, progress))
        return out

    monkeypatch.setattr(pipeline, "prepare_subject", record)
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")
    manifest = tmp_path / "jobs.yaml"
    manifest.write_text(
        f"- {{name: j, input: '{video}', garments: dress, prepare: {{size: 256, fps: 10, masks: /m, body_fit: {{}}}}}}\n"
    )
    job = load_manifest(manifest)[0]
    result = execute_stage("prepare", job, tmp_path / "out" / "j", "video", "cpu", 1, {})
    assert result["ok"] and result["outputs"] == {"subject": str(tmp_path / "out" / "j" / "subject")}
    (source, out, options, progress), = calls
    assert source == video and not progress
    assert options.garments == ("dress",) and options.size == 256 and options.fps == 10 and options.masks == "/m"
    assert options.device == "cpu" and options.keyframe_every == pipeline.PrepareOptions().keyframe_every
    manifest.write_text(f"- {{name: j, input: '{video}', prepare: {{fps: fast}}}}\n")
    with pytest.raises(RecmvError, match=r"line 1, field 'prepare.fps': expected float or null, got 'fast'"):
        load_manifest(manifest)
