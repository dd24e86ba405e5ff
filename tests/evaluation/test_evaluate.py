"""End to end: a hand-made subject (an open sphere "tube" moving as x = 0.01 t²) through `recmv eval`."""

import argparse
import json
import shutil

import numpy as np
import pytest
import torch
import trimesh

from recmv.cli import eval as eval_cli
from recmv.errors import InputFileError, RecmvError
from recmv.evaluation import EvaluationOptions, evaluate
from recmv.evaluation.metrics import boundary_loops
from recmv.render.camera import PinholeCamera
from recmv.render.raycast import render_meshes

FRAMES = 4
SIZE = 48
CAMERA_T = np.array([0.02, -0.01, 0.5])  # REC-MV camera.npz T; ours is t = (-Tx, -Ty, Tz)


def _open_sphere():
    """An icosphere with its z caps cut off: loops 'neck' (z < 0, facing the camera) and 'bottom_curve'."""
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=0.1)
    keep = np.all(np.abs(mesh.vertices[mesh.faces][:, :, 2]) < 0.08, axis=1)
    faces = mesh.faces[keep]
    used = np.unique(faces)
    remap = np.full(len(mesh.vertices), -1)
    remap[used] = np.arange(len(used))
    vertices, faces = np.asarray(mesh.vertices[used]), remap[faces]
    loops = boundary_loops(faces)
    for loop in loops:  # planar loops, so that a shift along z moves every loop point by the shift
        vertices[loop, 2] = vertices[loop, 2].mean()
    names = {("neck" if vertices[loop, 2].mean() < 0 else "bottom_curve"): loop.tolist() for loop in loops}
    return vertices, faces, names


def _cli(argv):
    """Parse and run `recmv eval` through its own parser (main.py also imports the other commands)."""
    parser = argparse.ArgumentParser()
    eval_cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def _write_obj(path, vertices, faces):
    path.parent.mkdir(parents=True, exist_ok=True)
    trimesh.Trimesh(vertices, faces, process=False).export(path)


def _frame_vertices(vertices, t):
    return vertices + np.array([0.01 * t**2, 0.0, 1.0])


@pytest.fixture(scope="module")
def subject(tmp_path_factory):
    root = tmp_path_factory.mktemp("subject")
    vertices, faces, names = _open_sphere()
    body = trimesh.creation.icosphere(subdivisions=2, radius=0.05)
    (root / "subject.json").write_text(
        json.dumps({"format_version": 1, "name": "tiny", "garments": ["tube"], "image_size": [SIZE, SIZE]})
    )
    np.savez(root / "camera.npz", fx=200.0, fy=200.0, cx=23.5, cy=23.5, quat=np.array([0.0, 0, 0, 1]), T=CAMERA_T)
    camera = PinholeCamera(
        200.0, 200.0, 23.5, 23.5, torch.eye(3, dtype=torch.float64), torch.tensor(CAMERA_T * [-1, -1, 1]), SIZE, SIZE
    )
    (root / "parsing_SCH_ATR").mkdir()
    (root / "gt" / "curves").mkdir(parents=True)
    for t in range(FRAMES):
        name = f"{t:06d}"
        garment = _frame_vertices(vertices, t)
        body_vertices = np.asarray(body.vertices) + garment.mean(axis=0)
        _write_obj(root / "gt" / "garments" / "tube" / f"{name}.obj", garment, faces)
        _write_obj(root / "gt" / "body" / f"{name}.obj", body_vertices, body.faces)
        render = render_meshes(
            [(torch.tensor(garment), torch.tensor(faces)), (torch.tensor(body_vertices), torch.tensor(body.faces))],
            camera,
        )
        mesh_id = render.mesh_id.numpy()
        parsing = np.where(mesh_id == 0, 4, np.where(mesh_id == 1, 11, 0))  # tube is ATR 4, skin "face" 11
        assert (parsing == 4).sum() > 100 and (parsing == 11).sum() > 0  # the body shows through the front opening
        np.save(root / "parsing_SCH_ATR" / f"{name}.npy", parsing)
        curves = {n: garment[idx].tolist() for n, idx in names.items()}
        (root / "gt" / "curves" / f"{name}.json").write_text(json.dumps(curves))
    (root / "gt" / "garments" / "tube" / "boundaries.json").write_text(json.dumps(names))
    return root


def test_identical_prediction_through_the_cli(subject, tmp_path, capsys):
    prediction = tmp_path / "pred"
    shutil.copytree(subject / "gt" / "garments", prediction)
    (prediction / "tube" / "boundaries.json").unlink()  # loops must be found and matched
    shutil.copytree(subject / "gt" / "curves", prediction / "curves")
    out = tmp_path / "metrics.json"
    code = _cli(["eval", str(prediction), "--subject", str(subject), "--out", str(out), "--samples", "5000"])
    assert code == 0
    assert "== tube" in capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["frames"] == list(range(FRAMES))
    tube = report["garments"]["tube"]
    assert len(tube["frames"]) == FRAMES
    mean = tube["mean"]
    assert mean["chamfer_cm"] < 0.4  # sampling bias only: 0.5 * sqrt(area / N) ≈ 0.2 cm
    assert mean["p2s_cm"] < 1e-3 and mean["s2p_cm"] < 1e-3
    assert mean["fscore_1cm"] == 1.0
    assert mean["normal_consistency"] > 0.99
    assert mean["interpenetration"] == 0.0
    assert all(f["mask_iou"] == 1.0 for f in tube["frames"])
    assert mean["boundary_cm"]["neck"] < 1e-6 and mean["boundary_cm"]["bottom_curve"] < 1e-6
    assert mean["boundary_count_pred"] == mean["boundary_count_gt"] == 2
    accel = tube["acceleration_cm_per_frame2"]
    assert accel["pred"] == pytest.approx(2.0) and accel["gt"] == pytest.approx(2.0)
    assert accel["ratio"] == pytest.approx(1.0)
    assert report["curves"]["mean"]["neck"] < 1e-6
    assert report["overall"]["mask_iou"] == 1.0


def test_shifted_prediction_on_selected_frames(subject, tmp_path):
    prediction = tmp_path / "pred"
    shift = np.array([0.0, 0.0, 0.005])  # along the loops' normal: boundary error = 0.5 cm exactly
    for t in (1, 2):
        mesh = trimesh.load(subject / "gt" / "garments" / "tube" / f"{t:06d}.obj", process=False)
        mesh.vertices = mesh.vertices + shift
        _write_obj(prediction / "tube" / f"{t:06d}.ply", np.asarray(mesh.vertices), np.asarray(mesh.faces))
    shutil.copy(subject / "gt" / "garments" / "tube" / "boundaries.json", prediction / "tube" / "boundaries.json")
    result = evaluate(prediction, subject, EvaluationOptions(samples=3000, frames=[2, 1]))
    assert result.frames == [1, 2]
    mean = result.garments["tube"].mean()
    assert mean["boundary_cm"]["neck"] == pytest.approx(0.5, abs=0.01)
    assert mean["boundary_cm"]["bottom_curve"] == pytest.approx(0.5, abs=0.01)
    assert 0.1 < mean["p2s_cm"] < 0.5 and 0.1 < mean["s2p_cm"] < 0.5
    assert 0.5 < mean["mask_iou"] < 1.0  # the camera sees the shift in depth as a smaller disc
    assert result.garments["tube"].acceleration.pred is None  # two frames make no acceleration
    assert result.curves is None


def test_a_boundary_shared_with_another_garments_curve_is_measured_against_that_curve(subject, tmp_path):
    """The tube's bottom_curve belongs to another garment (as a skirt's waist belongs to the shirt over
    it) and that GT curve lies 1 cm below the tube's own hidden edge: a copy of the GT mesh scores 1 cm
    there and 0 at its own neck."""
    shared = tmp_path / "subject"
    shutil.copytree(subject, shared)
    info = json.loads((shared / "subject.json").read_text())
    info["curve_owner"] = {"neck": "tube", "bottom_curve": "coat"}
    (shared / "subject.json").write_text(json.dumps(info))
    for t in range(FRAMES):
        path = shared / "gt" / "curves" / f"{t:06d}.json"
        curves = json.loads(path.read_text())
        curves["bottom_curve"] = (np.asarray(curves["bottom_curve"]) + [0.0, 0.0, 0.01]).tolist()
        path.write_text(json.dumps(curves))
    prediction = tmp_path / "pred"
    shutil.copytree(subject / "gt" / "garments", prediction)
    mean = evaluate(prediction, shared, EvaluationOptions(samples=2000, frames=[0, 3])).garments["tube"].mean()
    assert mean["boundary_cm"]["bottom_curve"] == pytest.approx(1.0, abs=0.01)
    assert mean["boundary_cm"]["neck"] < 1e-6


def test_curves_only_prediction(subject, tmp_path):
    prediction = tmp_path / "pred"
    (prediction / "curves").mkdir(parents=True)
    for t in range(FRAMES):
        curves = json.loads((subject / "gt" / "curves" / f"{t:06d}.json").read_text())
        shifted = {n: (np.asarray(p) + [0.0, 0.0, 0.01]).tolist() for n, p in curves.items() if n == "neck"}
        (prediction / "curves" / f"{t:06d}.json").write_text(json.dumps(shifted))
    result = evaluate(prediction, subject, EvaluationOptions(samples=1000))
    assert result.garments == {}
    assert result.curves.mean()["neck"] == pytest.approx(1.0, abs=1e-6)
    assert result.curves.mean()["bottom_curve"] is None  # not predicted


def test_bad_inputs_are_reported(subject, tmp_path):
    with pytest.raises(InputFileError, match="expected a folder per garment"):
        evaluate(tmp_path, subject)
    prediction = tmp_path / "pred"
    shutil.copytree(subject / "gt" / "garments", prediction)
    with pytest.raises(RecmvError, match="--frames"):
        _cli(["eval", str(prediction), "--subject", str(subject), "--frames", "0,99"])
    with pytest.raises(RecmvError, match="--frames"):
        _cli(["eval", str(prediction), "--subject", str(subject), "--frames", "0,x"])
    with pytest.raises(InputFileError, match="subject.json"):
        evaluate(prediction, tmp_path)
