import json

import numpy as np
import pytest
import torch

from recmv.data import formats
from recmv.data.frames import SubjectFolder, open_at_largest_gap, projection_weights, resample_polyline
from recmv.errors import InputFileError
from recmv.tables import ATR_LABELS
from tests.data.fixtures import curve_polyline, disc, disc_centre, disc_normals, make_tiny_subject


@pytest.fixture
def folder(tmp_path):
    return SubjectFolder(make_tiny_subject(tmp_path / "subject"))


def _circle(count: int, start: float = 0.0) -> np.ndarray:
    angles = start + np.linspace(0.0, 2 * np.pi, count, endpoint=False)
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def test_loop_is_opened_at_its_largest_gap():
    points = np.delete(_circle(20), [5, 6, 7], axis=0)  # a gap between original points 4 and 8
    opened = open_at_largest_gap(points)
    assert np.allclose(opened[0], _circle(20)[8]) and np.allclose(opened[-1], _circle(20)[4])
    assert sorted(map(tuple, opened)) == sorted(map(tuple, points))


def test_open_polyline_is_left_alone():
    line = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.5], [3.0, 0.5]])
    assert np.array_equal(open_at_largest_gap(line), line)


def test_resampling_is_uniform_in_arc_length():
    polyline = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 3.0]])  # an L, length 4
    resampled = resample_polyline(polyline, 9)
    assert resampled.shape == (9, 2)
    # Arc length 0, 0.5, ..., 4 along the L, checked point by point.
    for k, point in enumerate(resampled):
        s = 0.5 * k
        expected = [s, 0.0] if s <= 1.0 else [1.0, s - 1.0]
        assert np.allclose(point, expected)


def test_resampling_a_single_point_repeats_it():
    assert np.array_equal(resample_polyline(np.array([[2.0, 3.0]]), 4), np.tile([2.0, 3.0], (4, 1)))


def test_projection_weights_up_weight_small_curves_and_zero_unseen_ones():
    extents = np.array([[10.0, 4.0, np.nan], [10.0, 6.0, np.nan]])
    assert np.allclose(projection_weights(extents), [1.0, 4.0, 0.0])


def test_frames_images_masks_and_normals(folder):
    assert folder.num_frames == 3 and folder.image_size == (32, 32)
    image = folder.image(1)
    assert image.shape == (32, 32, 3) and image.dtype == np.float32
    assert np.allclose(image * 255.0, formats.read_image(folder.image_path(1)))
    centre = disc_centre(1, 32)
    mask = disc(32, centre, 32 / 3)
    assert np.array_equal(folder.mask(1), mask)
    assert np.abs(folder.normals(1)[mask] - disc_normals(32, centre, 32 / 3)[mask]).max() <= 1.0 / 255.0 + 1e-6
    with pytest.raises(InputFileError, match="frame 7"):
        folder.image(7)


def test_parsing_covers_the_mask_and_is_derived_when_its_file_is_missing(folder):
    stored = folder.parsing(2)
    assert np.array_equal(stored > 0, folder.mask(2))
    folder.mask_parsing_path(2).unlink()
    assert np.array_equal(folder.parsing(2), stored)


def test_garment_and_training_masks(folder):
    labels, mask = folder.parsing(0), folder.mask(0)
    groups = folder.group_masks(0)
    assert np.array_equal(groups["upper"] | groups["bottom"] | groups["body"], mask)
    assert np.array_equal(groups["bottom"], labels == ATR_LABELS["skirt"])
    garments = folder.garment_masks(0)
    assert np.array_equal(garments["short_sleeve_upper"], labels == ATR_LABELS["upper_clothes"])
    assert (groups["upper"] & (labels == ATR_LABELS["left_arm"])).any()  # REC-MV's upper group holds the arms
    training = folder.training_masks(0)
    assert np.array_equal(training["short_sleeve_upper"], groups["upper"])
    assert np.array_equal(training["skirt"], groups["bottom"])
    clothing = folder.clothing_masks(0)
    assert np.array_equal(clothing["short_sleeve_upper"], labels == ATR_LABELS["upper_clothes"])  # no arms, no face
    assert np.array_equal(clothing["skirt"], labels == ATR_LABELS["skirt"])


def test_camera_and_body(folder):
    camera = folder.camera
    assert (camera.width, camera.height) == (32, 32)
    pixels, _ = camera.project(torch.tensor([[0.0, -0.1, 1.0]]))
    assert torch.allclose(pixels, torch.tensor([[15.5, 15.5]]), atol=1e-4)  # t = (0, 0.1, 0) in the fixture
    assert folder.body_params.poses.shape == (3, 38, 3)


def test_keyframe_lookup(folder):
    assert [folder.keyframe_for(f) for f in range(3)] == [0, 0, 2]
    assert folder.keyframe_for(-1) is None


def test_curves_2d_are_resampled_from_mask2fl(folder):
    curves = folder.curves_2d(2)
    assert curves.names == ("neck", "left_cuff", "right_cuff", "upper_bottom", "bottom_curve")
    assert curves.points.shape == (5, 100, 2) and curves.visible.all()
    centre, radius = disc_centre(2, 32), 32 / 3
    cuff = curve_polyline("left_cuff", centre, radius)
    assert np.allclose(curves.points[1, [0, -1]], cuff[[0, -1]], atol=1e-4)
    neck = curve_polyline("neck", centre, radius)  # a loop: opened at its hidden back, the largest gap
    opened = np.concatenate([neck[8:], neck[:8]])
    assert np.allclose(open_at_largest_gap(neck), opened)
    assert np.allclose(curves.points[0], resample_polyline(opened), atol=1e-3)


def test_curves_2d_fall_back_to_featurelines_and_mark_missing_curves(folder):
    (folder.root / "mask2fl" / "000000.json").unlink()
    path = folder.root / "featurelines" / "000000.json"
    data = json.loads(path.read_text())
    data["shapes"] = [s for s in data["shapes"] if s["label"] != "right_cuff"]
    path.write_text(json.dumps(data))
    curves = folder.curves_2d(0)
    assert curves.visible.tolist() == [True, True, False, True, True]
    assert not curves.points[2].any()
    pairs = np.array(next(s for s in data["shapes"] if s["label"] == "neck")["points"])
    assert np.allclose(curves.points[0], resample_polyline(open_at_largest_gap(pairs)), atol=1e-4)


def test_curve_weights_follow_the_curve_sizes(folder):
    sizes = []
    for frame in (0, 2):
        centre = disc_centre(frame, 32)
        sizes.append([np.ptp(curve_polyline(n, centre, 32 / 3), axis=0).max() for n in folder.meta.curves])
    mean = np.mean(sizes, axis=0)
    assert np.allclose(folder.curve_weights, (mean.max() / mean) ** 2, rtol=1e-3)
    assert folder.curve_weights[1] > folder.curve_weights[3]  # a cuff weighs more than the waist
