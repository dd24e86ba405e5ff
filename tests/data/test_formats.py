import numpy as np
import pytest
import torch

from recmv.data import formats
from recmv.data.subject import SubjectMeta
from recmv.errors import InputFileError
from recmv.render.camera import PinholeCamera


def test_image_and_mask_round_trip(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    formats.write_image(tmp_path / "a.png", rgb)
    assert np.array_equal(formats.read_image(tmp_path / "a.png"), rgb)
    assert formats.image_size(tmp_path / "a.png") == (5, 7)
    mask = rgb[..., 0] > 128
    formats.write_mask(tmp_path / "m.png", mask)
    assert np.array_equal(formats.read_mask(tmp_path / "m.png"), mask)


def test_mask_is_foreground_where_any_channel_is_set(tmp_path):
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[0, 1, 2] = 1
    formats.write_image(tmp_path / "m.png", rgb)
    assert formats.read_mask(tmp_path / "m.png").tolist() == [[False, True], [False, False]]


def test_normal_map_round_trip_within_quantisation(tmp_path):
    normals = np.random.default_rng(1).normal(size=(6, 6, 3))
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    valid = np.ones((6, 6), bool)
    valid[0, 0] = False
    formats.write_normal_map(tmp_path / "n.png", normals, valid)
    decoded = formats.read_normal_map(tmp_path / "n.png")
    assert np.abs(decoded[valid] - normals[valid]).max() <= 1.0 / 255.0 + 1e-6
    assert formats.read_image(tmp_path / "n.png")[0, 0].tolist() == [0, 0, 0]


def test_parsing_round_trip_and_label_check(tmp_path):
    labels = np.random.default_rng(2).integers(0, 18, size=(4, 5)).astype(np.uint8)
    formats.write_parsing(tmp_path / "p.npy", labels)
    assert np.array_equal(formats.read_parsing(tmp_path / "p.npy"), labels)
    np.save(tmp_path / "bad.npy", np.full((2, 2), 40))
    with pytest.raises(InputFileError, match="0..17"):
        formats.read_parsing(tmp_path / "bad.npy")


def test_fill_parsing_matches_a_naive_nearest_neighbour_loop():
    rng = np.random.default_rng(3)
    labels = np.zeros((12, 10), np.uint8)
    seeds = rng.choice(120, size=6, replace=False)
    labels.flat[seeds] = rng.integers(1, 18, size=6)
    mask = rng.uniform(size=(12, 10)) > 0.3
    filled = formats.fill_parsing(labels, mask)
    seed_rc = np.argwhere(labels > 0)
    for r in range(12):
        for c in range(10):
            if not mask[r, c]:
                assert filled[r, c] == 0
                continue
            distances = ((seed_rc - [r, c]) ** 2).sum(axis=1)
            nearest = seed_rc[distances == distances.min()]
            assert filled[r, c] in {labels[a, b] for a, b in nearest}


def test_labelme_round_trip_and_errors(tmp_path):
    curves = {"neck": np.array([[1.5, 2.0], [3.0, 4.25]]), "left_cuff": np.array([[0.0, 0.0], [1.0, 1.0]])}
    formats.write_labelme(tmp_path / "c.json", curves, image_size=(10, 20))
    read = formats.read_labelme(tmp_path / "c.json")
    assert set(read) == set(curves) and all(np.allclose(read[k], curves[k]) for k in curves)
    (tmp_path / "dup.json").write_text(
        '{"shapes": [{"label": "neck", "points": [[0, 0]]}, {"label": "neck", "points": [[1, 1]]}]}'
    )
    with pytest.raises(InputFileError, match="twice"):
        formats.read_labelme(tmp_path / "dup.json")


def test_camera_round_trip_matches_rec_mv_projection(tmp_path):
    t = torch.tensor([0.1, -0.2, 0.3])
    camera = PinholeCamera(500.0, 520.0, 30.0, 40.0, torch.eye(3), t, 64, 48)
    formats.write_camera(tmp_path / "camera.npz", camera)
    data = np.load(tmp_path / "camera.npz")
    assert set(data.files) == {"fx", "fy", "cx", "cy", "quat", "T"}
    read = formats.read_camera(tmp_path / "camera.npz", (48, 64))
    points = torch.tensor([[0.3, 0.2, 2.0], [-0.5, 0.1, 3.0]])
    pixels, _ = read.project(points)
    # REC-MV: u = cx + fx (X - T_x) / (Z + T_z), v = cy + fy (Y - T_y) / (Z + T_z).
    T, p = data["T"].astype(np.float64), points.numpy().astype(np.float64)
    u = float(data["cx"]) + float(data["fx"]) * (p[:, 0] - T[0]) / (p[:, 2] + T[2])
    v = float(data["cy"]) + float(data["fy"]) * (p[:, 1] - T[1]) / (p[:, 2] + T[2])
    assert np.allclose(pixels.numpy(), np.stack([u, v], axis=1), atol=1e-3)


def test_body_params_round_trip_and_flat_poses(tmp_path):
    params = formats.BodyParams(
        poses=np.random.default_rng(4).normal(size=(5, 24, 3)).astype(np.float32),
        shape=np.arange(10, dtype=np.float32),
        trans=np.ones((5, 3), np.float32),
        gender="female",
        vid_seg_indices=[0, 3],
    )
    formats.write_body_params(tmp_path / "smpl_rec.npz", params)
    read = formats.read_body_params(tmp_path / "smpl_rec.npz", num_joints=24)
    assert np.array_equal(read.poses, params.poses) and read.gender == "female" and read.vid_seg_indices == [0, 3]
    np.savez(tmp_path / "flat.npz", poses=params.poses.reshape(5, 72), shape=params.shape, trans=params.trans)
    assert formats.read_body_params(tmp_path / "flat.npz").poses.shape == (5, 24, 3)
    with pytest.raises(InputFileError, match="38"):
        formats.read_body_params(tmp_path / "flat.npz", num_joints=38)


def test_rect_round_trip(tmp_path):
    boxes = np.array([[1, 2, 30, 30], [5, 6, 7, 7]])
    formats.write_rect(tmp_path / "000000_rect.txt", boxes)
    assert np.array_equal(formats.read_rect(tmp_path / "000000_rect.txt"), boxes)


def test_subject_json_round_trip(tmp_path):
    meta = SubjectMeta.for_garments(
        "s",
        ["long_sleeve_upper", "long_pants"],
        {"model": "anny", "shape": [0.5] * 6},
        keyframes=[0, 5],
        segments={"rotation": [0, 5], "large_motion": [6, 9]},
        image_size=[48, 64],
        skinning_grid={"center": [0.0, 0.1, 0.0], "extent": 2.2},
    )
    meta.save(tmp_path)
    assert SubjectMeta.load(tmp_path) == meta
    assert meta.curve_owner["upper_bottom"] == "long_sleeve_upper"
    assert meta.garment_boundaries["long_pants"] == ["upper_bottom", "left_pant", "right_pant"]


def test_parsing_png_round_trip_and_colour_png_is_refused(tmp_path):
    labels = np.random.default_rng(5).integers(0, 18, size=(6, 9)).astype(np.uint8)
    formats.write_parsing_png(tmp_path / "p.png", labels)
    assert np.array_equal(formats.read_parsing(tmp_path / "p.png"), labels)
    formats.write_image(tmp_path / "colour.png", formats.ATR_PALETTE[labels])
    with pytest.raises(InputFileError, match="visualisation"):
        formats.read_parsing(tmp_path / "colour.png")


def test_skinning_grid_round_trip_and_checks(tmp_path):
    grid = np.random.default_rng(6).uniform(size=(5, 4, 4, 4))
    grid /= grid.sum(axis=0, keepdims=True)
    formats.write_skinning_grid(tmp_path / "w.npy", grid)
    read = formats.read_skinning_grid(tmp_path / "w.npy", num_joints=5, mmap=True)
    assert read.dtype == np.float32 and np.allclose(read, grid, atol=1e-7)
    with pytest.raises(InputFileError, match="5 joints"):
        formats.read_skinning_grid(tmp_path / "w.npy", num_joints=24)
    np.save(tmp_path / "flat.npy", grid[:, :, :, :2].astype(np.float32))
    with pytest.raises(InputFileError, match=r"\[J, D, D, D\]"):
        formats.read_skinning_grid(tmp_path / "flat.npy")
    grid[2, 1, 1, 1] = np.nan
    np.save(tmp_path / "nan.npy", grid.astype(np.float32))
    with pytest.raises(InputFileError, match="NaN"):
        formats.read_skinning_grid(tmp_path / "nan.npy")


def test_camera_with_another_rotation_is_refused(tmp_path):
    np.savez(tmp_path / "camera.npz", fx=1.0, fy=1.0, cx=0.0, cy=0.0, quat=np.array([1.0, 0, 0, 0]), T=np.zeros(3))
    with pytest.raises(InputFileError, match="quat"):
        formats.read_camera(tmp_path / "camera.npz", (4, 4))


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path):
    formats.write_image(tmp_path / "a.png", np.zeros((2, 2, 3), np.uint8))
    formats.write_parsing_png(tmp_path / "p.png", np.zeros((2, 2), np.uint8))
    formats.write_labelme(tmp_path / "c.json", {"neck": np.zeros((2, 2))}, (2, 2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "c.json", "p.png"]
