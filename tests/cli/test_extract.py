"""`recmv extract` end to end on a tiny fitted run, then `recmv eval` on its output; and its errors."""

from __future__ import annotations

import json
import shutil

import imageio.v2 as imageio
import numpy as np
import pytest
import torch
import trimesh

from recmv.cli.main import main
from recmv.export.extract import ExtractOptions
from recmv.geometry.boundary import boundary_loops
from recmv.training.fit import fit_subject
from tests.training.conftest import tiny_config


@pytest.fixture(scope="module")
def fitted_run(tiny_subject, tmp_path_factory):  # noqa: F811
    run = tmp_path_factory.mktemp("extract") / "run"
    fit_subject(tiny_subject, run, overrides=dict(tiny_config(epochs=1).__dict__), write_meshes=False, progress=False)
    return run


@pytest.fixture(scope="module")
def extracted(fitted_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("extract") / "out"
    assert main(["extract", str(fitted_run), "--out", str(out), "--cell-size", "0.02"]) == 0
    return out


def test_extract_writes_one_topology_per_garment_with_named_loops(extracted, tiny_subject):  # noqa: F811
    manifest = json.loads((extracted / "manifest.json").read_text())
    garments = json.loads((tiny_subject / "subject.json").read_text())["garments"]
    assert list(manifest["garments"]) == garments
    frames = manifest["frames"]
    assert frames == [0, 1, 2, 3]
    for garment in garments:
        entry = manifest["garments"][garment]
        canonical = trimesh.load(extracted / entry["canonical"], process=False)
        loops = json.loads((extracted / garment / "boundaries.json").read_text())
        walked = boundary_loops(np.asarray(canonical.faces), strict=True)
        # Every named loop is a whole boundary loop of the mesh and every loop is named.
        assert len(walked) == len(loops)
        assert sorted(sorted(w.tolist()) for w in walked) == sorted(sorted(v) for v in loops.values())
        for name in entry["frames"]:
            mesh = trimesh.load(extracted / name, process=False)
            np.testing.assert_array_equal(np.asarray(mesh.faces), np.asarray(canonical.faces))
        assert manifest["curves"]["source"][garment] in ("learned", "template")
    curves = json.loads((extracted / "curves" / "000002.json").read_text())
    assert set(curves) == set(json.loads((tiny_subject / "subject.json").read_text())["curves"])
    assert all(np.asarray(points).shape[1] == 3 for points in curves.values())


def test_extract_writes_a_playable_glb_and_videos(extracted):
    manifest = json.loads((extracted / "manifest.json").read_text())
    scene = trimesh.load(extracted / manifest["glb"], force="scene")
    assert len(scene.geometry) == (len(manifest["garments"]) + 1) * len(manifest["frames"])
    overlay = imageio.mimread(extracted / manifest["videos"]["overlay"])
    assert len(overlay) == len(manifest["frames"]) and overlay[0].shape[:2] == (64, 64)
    turntable = imageio.get_reader(extracted / manifest["videos"]["turntable"])
    assert turntable.count_frames() == ExtractOptions().turntable_frames
    first = turntable.get_data(0)
    assert first.std() > 5


def test_eval_reads_the_extracted_folder(extracted, tiny_subject, capsys):  # noqa: F811
    assert main(["eval", str(extracted), "--subject", str(tiny_subject), "--samples", "2000"]) == 0
    metrics = json.loads((extracted / "metrics.json").read_text())
    for garment in metrics["garments"].values():
        mean = garment["mean"]
        assert mean["boundary_count_pred"] == mean["boundary_count_gt"]
        assert mean["interpenetration"] < 0.01


def test_extract_refuses_incomplete_or_moved_runs(fitted_run, tmp_path, capsys):
    broken = tmp_path / "no_checkpoint"
    shutil.copytree(fitted_run, broken)
    shutil.rmtree(broken / "checkpoints")
    assert main(["extract", str(broken), "--out", str(tmp_path / "a")]) == 2
    assert "latest.pt" in capsys.readouterr().err

    unfinished = tmp_path / "unfinished"
    shutil.copytree(fitted_run, unfinished)
    summary = json.loads((unfinished / "summary.json").read_text())
    (unfinished / "summary.json").write_text(json.dumps({**summary, "finished": False}))
    assert main(["extract", str(unfinished), "--out", str(tmp_path / "b")]) == 2
    assert "--resume" in capsys.readouterr().err

    moved = tmp_path / "moved"
    shutil.copytree(fitted_run, moved)
    info = json.loads((moved / "run.json").read_text())
    (moved / "run.json").write_text(json.dumps({**info, "subject": str(tmp_path / "gone")}))
    assert main(["extract", str(moved), "--out", str(tmp_path / "c")]) == 2
    assert "--subject" in capsys.readouterr().err

    foreign = tmp_path / "foreign"
    shutil.copytree(fitted_run, foreign)
    checkpoint = torch.load(foreign / "checkpoints" / "latest.pt", weights_only=True)
    torch.save({**checkpoint, "version": 99}, foreign / "checkpoints" / "latest.pt")
    assert main(["extract", str(foreign), "--out", str(tmp_path / "d")]) == 2
    assert "version 99" in capsys.readouterr().err

    (foreign / "config.json").write_text("{not json")
    assert main(["extract", str(foreign), "--out", str(tmp_path / "d")]) == 2
    assert "config.json" in capsys.readouterr().err
    assert not any((tmp_path / name).exists() for name in "abcd")
