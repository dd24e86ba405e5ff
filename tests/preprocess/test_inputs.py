"""Every pluggable input of `prepare` is read with its shape checked, and bad ones name the file."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from recmv.data import formats
from recmv.errors import InputFileError
from recmv.geometry.rotations import axis_angle_to_matrix
from recmv.preprocess import inputs

SIZE = (12, 10)
KEPT = np.array([0, 2])


def write_masks(folder, count, size=SIZE, empty_at=None):
    for index in range(count):
        mask = np.zeros(size, dtype=bool)
        if index != empty_at:
            mask[2:6, 3:7] = True
        formats.write_mask(folder / f"{index:04d}.png", mask)


def test_masks_per_input_frame_or_per_kept_frame(tmp_path):
    write_masks(tmp_path, 3)
    assert inputs.read_masks(tmp_path, 3, KEPT, SIZE).shape == (2, *SIZE)
    with pytest.raises(InputFileError, match="holds 3 mask images"):
        inputs.read_masks(tmp_path, 5, KEPT, SIZE)
    with pytest.raises(InputFileError, match="the mask is 12x10"):
        inputs.read_masks(tmp_path, 3, KEPT, (24, 20))


def test_empty_mask_is_named(tmp_path):
    write_masks(tmp_path, 2, empty_at=1)
    with pytest.raises(InputFileError, match="0001.png: mask is empty"):
        inputs.read_masks(tmp_path, 2, np.arange(2), SIZE)


def test_parsing_maps_checked_for_labels_and_size(tmp_path):
    np.save(tmp_path / "000000.npy", np.full(SIZE, 4, dtype=np.uint8))
    np.save(tmp_path / "mask_parsing_000000.npy", np.zeros(SIZE, dtype=np.uint8))  # derived, not an input
    assert inputs.read_parsing_maps(tmp_path, 1, np.arange(1), SIZE).shape == (1, *SIZE)
    np.save(tmp_path / "000000.npy", np.full(SIZE, 30, dtype=np.uint8))
    with pytest.raises(InputFileError, match="ATR labels must lie in 0..17"):
        inputs.read_parsing_maps(tmp_path, 1, np.arange(1), SIZE)
    np.save(tmp_path / "000000.npy", np.zeros((3, 12, 10), dtype=np.uint8))
    with pytest.raises(InputFileError, match=r"integer \[H, W\] label map"):
        inputs.read_parsing_maps(tmp_path, 1, np.arange(1), SIZE)


def test_normal_maps_checked_for_size(tmp_path):
    formats.write_image(tmp_path / "000000.png", np.zeros((8, 8, 3), dtype=np.uint8))
    with pytest.raises(InputFileError, match="the normal map is 8x8"):
        inputs.read_normal_maps(tmp_path, 1, np.arange(1), SIZE)
    with pytest.raises(InputFileError, match="expected a folder of normal maps"):
        inputs.read_normal_maps(tmp_path / "none", 1, np.arange(1), SIZE)


def test_smpl_rec_npz(tmp_path):
    path = tmp_path / "smpl_rec.npz"
    np.savez(path, poses=np.zeros((3, 72)), shape=np.zeros(10), trans=np.ones((3, 3)))
    sequence = inputs.read_smpl_sequence(path, 3)
    assert sequence.poses.shape == (3, 24, 3)
    np.testing.assert_array_equal(sequence.translations(1000.0, SIZE), np.ones((3, 3)))
    with pytest.raises(InputFileError, match="has 3 frames of poses; the prepared clip has 4"):
        inputs.read_smpl_sequence(path, 4)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"poses": np.zeros((3, 69)), "shape": np.zeros(10), "trans": np.zeros((3, 3))}, r"\[F, 72\] or \[F, 24, 3\]"),
        ({"poses": np.zeros((3, 72)), "shape": np.zeros(6), "trans": np.zeros((3, 3))}, "10 SMPL shape values"),
        ({"poses": np.zeros((3, 72)), "shape": np.zeros((2, 10)), "trans": np.zeros((3, 3))}, r"\[10\] or \[F, 10\]"),
        ({"poses": np.zeros((3, 72)), "shape": np.zeros(10), "trans": np.zeros((3, 2))}, r"must be \[3, 3\]"),
        ({"poses": np.zeros((3, 72)), "shape": np.zeros(10)}, "needs 'trans'"),
        ({"shape": np.zeros(10), "trans": np.zeros((3, 3))}, "missing poses"),
        ({"poses": np.full((3, 72), np.nan), "shape": np.zeros(10), "trans": np.zeros((3, 3))}, "NaN"),
    ],
)
def test_bad_smpl_sequences_name_the_problem(tmp_path, arrays, message):
    path = tmp_path / "seq.npz"
    np.savez(path, **arrays)
    with pytest.raises(InputFileError, match=message):
        inputs.read_smpl_sequence(path, 3)


def test_tcmr_pickle_with_weak_perspective_camera(tmp_path):
    person = {
        "pose": np.zeros((2, 72)), "betas": np.zeros((2, 10)), "frame_ids": np.arange(2),
        "orig_cam": np.array([[0.5, 0.5, 0.1, -0.2], [0.25, 0.25, 0.0, 0.0]]),
    }  # fmt: skip
    path = tmp_path / "tcmr_output.pkl"
    path.write_bytes(pickle.dumps({1: person, 2: {k: v[:1] for k, v in person.items()}}))
    sequence = inputs.read_smpl_sequence(path, 2)
    trans = sequence.translations(focal=1000.0, size=(200, 100))
    # depth = 2 f / (W sx): halving the scale doubles the distance.
    np.testing.assert_allclose(trans[:, 2], [40.0, 80.0])
    np.testing.assert_allclose(trans[0, :2], [0.1, -0.2])


def test_4d_humans_rotation_matrices(tmp_path):
    axis_angle = torch.zeros(2, 24, 3, dtype=torch.float64)
    axis_angle[:, 0, 0] = np.pi / 2
    axis_angle[:, 5, 1] = 0.3
    matrices = axis_angle_to_matrix(axis_angle).numpy()
    path = tmp_path / "phalp.npz"
    np.savez(path, global_orient=matrices[:, :1], body_pose=matrices[:, 1:], betas=np.zeros((2, 10)),
             pred_cam_t=np.zeros((2, 3)))  # fmt: skip
    np.testing.assert_allclose(inputs.read_smpl_sequence(path, 2).poses, axis_angle.numpy(), atol=1e-5)
    np.savez(path, global_orient=matrices[:, :1], body_pose=matrices[:, 1:5], betas=np.zeros(10), pred_cam_t=np.zeros((2, 3)))
    with pytest.raises(InputFileError, match=r"\[F, 23, 3, 3\]"):
        inputs.read_smpl_sequence(path, 2)


def test_unreadable_sequence(tmp_path):
    path = tmp_path / "seq.pkl"
    path.write_bytes(b"not a pickle")
    with pytest.raises(InputFileError, match="not a readable"):
        inputs.read_smpl_sequence(path, 2)
