"""Frames: decoding, subsampling, the person crop and its mapping back, clear errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest

from recmv.data import formats
from recmv.errors import InputFileError
from recmv.preprocess.video import CropBox, crop_image, person_box, read_clip, subsample
from recmv.synth.realism import VideoWriter


def moving_square(frames: int = 6, size: int = 64) -> np.ndarray:
    clip = np.zeros((frames, size, size, 3), dtype=np.uint8)
    for index in range(frames):
        clip[index, 20:40, 10 + 3 * index : 30 + 3 * index] = (200, 80, 40)
    return clip


def test_mp4_round_trip(tmp_path):
    clip = moving_square()
    writer = VideoWriter(tmp_path / "clip.mp4", clip.shape[1:3], fps=10.0)
    for frame in clip:
        writer.append(frame)
    writer.close()
    decoded = read_clip(tmp_path / "clip.mp4")
    assert decoded.frames.shape == clip.shape
    assert decoded.fps == pytest.approx(10.0)
    # H.264 is lossy: the square is where it was, to a few levels.
    assert np.abs(decoded.frames.astype(float) - clip).mean() < 4.0


def test_frame_folder_sorted_and_checked(tmp_path):
    clip = moving_square(3)
    for index, frame in enumerate(clip):
        formats.write_image(tmp_path / f"f{index:03d}.png", frame)
    assert np.array_equal(read_clip(tmp_path).frames, clip)
    formats.write_image(tmp_path / "f999.png", np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(InputFileError, match="differs from the first frame"):
        read_clip(tmp_path)


def test_corrupt_and_missing_inputs_give_clear_errors(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 50)
    with pytest.raises(InputFileError, match="not a readable video"):
        read_clip(bad)
    with pytest.raises(InputFileError, match="does not exist"):
        read_clip(tmp_path / "nothing.mp4")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputFileError, match="no .png or .jpg"):
        read_clip(empty)


def test_subsample_keeps_the_target_rate():
    assert subsample(10, 30.0, None).tolist() == list(range(10))
    assert subsample(10, 30.0, 10.0).tolist() == [0, 3, 6, 9]
    assert subsample(10, 30.0, 60.0).tolist() == list(range(10))


def test_person_box_covers_the_clip_and_maps_back():
    masks = np.zeros((2, 100, 80), dtype=bool)
    masks[0, 10:50, 20:30] = True
    masks[1, 30:90, 40:60] = True
    box = person_box(masks, size=50, margin=1.1)
    assert box.side == 88  # ceil(1.1 × the 80 rows the union spans)
    rows, cols = np.nonzero(masks.any(axis=0))
    corners = np.array([[cols.min(), rows.min()], [cols.max(), rows.max()]], dtype=float)
    inside = box.from_source(corners)
    assert (inside >= -0.5).all() and (inside <= box.size - 0.5).all()
    np.testing.assert_allclose(box.to_source(box.from_source(corners)), corners)


def test_crop_pads_outside_the_frame_and_resizes():
    image = np.full((20, 20), 7, dtype=np.uint8)
    cropped = crop_image(image, CropBox(x0=-10, y0=0, side=20, size=10), nearest=True)
    assert cropped.shape == (10, 10)
    assert (cropped[:, :5] == 0).all() and (cropped[:, 5:] == 7).all()
