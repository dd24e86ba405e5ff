"""End-to-end checks of `recmv synth` on a tiny subject (low-res body, 64² images)."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh

from recmv.cli.main import main
from recmv.data.validate import validate_subject
from recmv.render.camera import PinholeCamera
from recmv.render.raycast import render_meshes
from recmv.tables import GARMENT_ATR_LABEL

TINY = ["--frames", "4", "--size", "64", "--topology", "notoes_collapse5pc", "--grid-resolution", "16",
        "--keyframe-every", "2", "--seed", "1", "--garment-resolution", "0.03"]


def _synth(out: Path, *extra: str) -> Path:
    assert main(["synth", str(out), *TINY, *extra]) == 0
    return out


@pytest.fixture(scope="module")
def subject(tmp_path_factory) -> Path:
    return _synth(tmp_path_factory.mktemp("synth") / "subject", "--garments", "short_sleeve_upper,skirt")


def _camera(subject: Path) -> PinholeCamera:
    data = np.load(subject / "camera.npz")
    t = torch.tensor([-data["T"][0], -data["T"][1], data["T"][2]], dtype=torch.float32)
    size = json.loads((subject / "subject.json").read_text())["image_size"]
    return PinholeCamera(
        float(data["fx"]), float(data["fy"]), float(data["cx"]), float(data["cy"]), torch.eye(3), t, size[1], size[0]
    )


def _mesh(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    mesh = trimesh.load(path, process=False, force="mesh")
    return torch.tensor(mesh.vertices, dtype=torch.float32), torch.tensor(mesh.faces)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_subject_validates_and_has_every_file(subject):
    assert validate_subject(subject) == []
    for folder in ("imgs", "masks", "normals", "parsing_SCH_ATR", "mask2fl", "featurelines"):
        assert any((subject / folder).iterdir()), folder
    for name in ("camera.npz", "smpl_rec.npz", "diffused_skinning_weights.npy", "subject.json"):
        assert (subject / name).is_file(), name
    for garment in ("short_sleeve_upper", "skirt"):
        assert len(list((subject / "gt" / "garments" / garment).glob("0*.obj"))) == 4


def test_masks_and_parsing_agree_with_projected_gt_meshes(subject):
    camera = _camera(subject)
    import imageio.v3 as iio

    for frame in range(4):
        stem = f"{frame:06d}"
        meshes = [_mesh(subject / "gt" / "body" / f"{stem}.obj")]
        garments = ["short_sleeve_upper", "skirt"]
        meshes += [_mesh(subject / "gt" / "garments" / g / f"{stem}.obj") for g in garments]
        render = render_meshes(meshes, camera)
        mask = iio.imread(subject / "masks" / f"{stem}.png")
        mask = (mask.reshape(mask.shape[0], mask.shape[1], -1) > 0).any(axis=-1)
        assert _iou(mask, render.foreground.numpy()) >= 0.99
        parsing = np.load(subject / "parsing_SCH_ATR" / f"{stem}.npy")
        for index, garment in enumerate(garments, start=1):
            region = parsing == GARMENT_ATR_LABEL[garment]
            assert _iou(region, (render.mesh_id == index).numpy()) >= 0.99


def test_garments_stay_outside_the_body_and_keep_their_topology(subject):
    from recmv.evaluation.metrics import interpenetration_share

    for garment in ("short_sleeve_upper", "skirt"):
        canonical = trimesh.load(subject / "gt" / "garments" / garment / "canonical.obj", process=False)
        for frame in range(4):
            stem = f"{frame:06d}"
            mesh = trimesh.load(subject / "gt" / "garments" / garment / f"{stem}.obj", process=False)
            body = trimesh.load(subject / "gt" / "body" / f"{stem}.obj", process=False)
            assert np.array_equal(mesh.faces, canonical.faces)
            share = interpenetration_share(np.asarray(mesh.vertices), np.asarray(body.vertices), np.asarray(body.faces))
            assert share == 0.0, (garment, frame, share)


def test_projected_boundaries_lie_on_garment_region_borders(subject):
    keyframes = json.loads((subject / "subject.json").read_text())["keyframes"]
    owners = json.loads((subject / "subject.json").read_text())["curve_owner"]
    checked = 0
    for frame in keyframes:
        parsing = np.load(subject / "parsing_SCH_ATR" / f"{frame:06d}.npy")
        shapes = json.loads((subject / "mask2fl" / f"{frame:06d}.json").read_text())["shapes"]
        for shape in shapes:
            label = GARMENT_ATR_LABEL[owners[shape["label"]]]
            for x, y in np.asarray(shape["points"]):
                r, c = int(round(y)), int(round(x))
                window = parsing[max(r - 2, 0) : r + 3, max(c - 2, 0) : c + 3]
                # A border pixel: the garment is there, and so is something else.
                assert (window == label).any() and (window != label).any(), (frame, shape["label"], x, y)
                checked += 1
    assert checked > 20


def test_same_seed_gives_identical_files(subject, tmp_path):
    again = _synth(tmp_path / "again", "--garments", "short_sleeve_upper,skirt")

    def digest(folder: Path) -> dict[str, str]:
        return {
            str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "subject.json"
        }

    assert digest(subject) == digest(again)


def test_external_garment_mesh_is_dressed_and_moved(subject, tmp_path):
    canonical = subject / "gt" / "garments" / "skirt"
    labels = {"kind": "skirt", "boundaries": json.loads((canonical / "boundaries.json").read_text())}
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    out = _synth(
        tmp_path / "external",
        "--garments", "skirt",
        "--garment-mesh", str(canonical / "canonical.obj"),
        "--garment-labels", str(tmp_path / "labels.json"),
    )
    given = trimesh.load(canonical / "canonical.obj", process=False)
    used = trimesh.load(out / "gt" / "garments" / "skirt" / "canonical.obj", process=False)
    assert np.allclose(given.vertices, used.vertices, atol=1e-6)
    first = trimesh.load(out / "gt" / "garments" / "skirt" / "000000.obj", process=False)
    last = trimesh.load(out / "gt" / "garments" / "skirt" / "000003.obj", process=False)
    assert len(first.vertices) == len(given.vertices) and np.abs(first.vertices - last.vertices).max() > 0.01


def test_noise_options_perturb_masks_normals_and_poses_within_bounds(subject, tmp_path):
    import cv2
    import imageio.v3 as iio

    noisy = _synth(
        tmp_path / "noisy", "--garments", "short_sleeve_upper,skirt",
        "--mask-noise", "2", "--normal-noise", "0.1", "--pose-noise", "3",
    )
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    changed = 0
    for frame in range(4):
        stem = f"{frame:06d}"
        clean = iio.imread(subject / "masks" / f"{stem}.png") > 0
        mask = iio.imread(noisy / "masks" / f"{stem}.png") > 0
        assert (mask <= cv2.dilate(clean.astype(np.uint8), kernel).astype(bool)).all()
        assert (mask >= cv2.erode(clean.astype(np.uint8), kernel).astype(bool)).all()
        changed += int((mask != clean).any())
        assert np.array_equal(iio.imread(subject / "imgs" / f"{stem}.png"), iio.imread(noisy / "imgs" / f"{stem}.png"))
        assert not np.array_equal(
            iio.imread(subject / "normals" / f"{stem}.png"), iio.imread(noisy / "normals" / f"{stem}.png")
        )
    assert changed > 0
    clean_poses = np.load(subject / "smpl_rec.npz")["poses"]
    noisy_poses = np.load(noisy / "smpl_rec.npz")["poses"]
    assert 0.01 < np.abs(noisy_poses - clean_poses).mean() < 0.1


def test_bad_arguments_are_one_clear_error(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "x"), *TINY, "--garments", "cape"]) == 2
    assert "--garments" in capsys.readouterr().err
    labels = tmp_path / "labels.json"
    labels.write_text("{not json")
    assert main(["synth", str(tmp_path / "y"), *TINY, "--garment-mesh", "m.obj", "--garment-labels", str(labels)]) == 2
    assert "labels.json" in capsys.readouterr().err
