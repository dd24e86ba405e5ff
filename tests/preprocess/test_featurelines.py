"""The endpoint-pair tool on a drawn polygon: dense curves follow the shorter contour arc."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from recmv.data import formats
from recmv.errors import InputFileError
from recmv.preprocess.featurelines import (
    dense_curve,
    dense_curves,
    featurelines_to_mask2fl,
    polyline_length,
    region_contours,
)

OWNERS = {"neck": "short_sleeve_upper", "bottom_curve": "skirt"}


def drawn_labels() -> np.ndarray:
    """A pentagon of upper clothes (ATR 4) and a rectangle of skirt (ATR 5)."""
    labels = np.zeros((120, 120), dtype=np.uint8)
    cv2.fillPoly(labels, [np.array([[20, 10], [100, 10], [110, 50], [60, 70], [10, 50]])], 4)
    labels[80:110, 30:90] = 5
    return labels


def test_stretch_follows_the_shorter_arc_of_the_contour():
    labels = drawn_labels()
    # Endpoints a little off the top edge of the pentagon: the short way is along that edge.
    dense = dense_curves({"neck": np.array([[30.0, 7.0], [90.0, 7.0]])}, labels, OWNERS)["neck"]
    np.testing.assert_allclose(dense[[0, -1]], [[30, 7], [90, 7]])
    inner = dense[1:-1]
    assert np.abs(inner[:, 1] - 10).max() <= 1.0  # on the drawn top edge
    assert 55 <= polyline_length(inner) <= 65  # the 60 px edge, not the ~230 px way round
    assert inner[0, 0] < inner[-1, 0]  # runs from the first endpoint


def test_wrap_around_arc_and_orientation():
    contour = region_contours(drawn_labels() == 5)[0]
    # Two points on the left side of the rectangle, either side of its first contour point.
    start, end = np.array([29.0, 95.0]), np.array([29.0, 82.0])
    arc = dense_curve(np.stack([start, end]), [contour])
    assert polyline_length(arc) < 20
    assert np.abs(arc[1:-1, 0] - 30).max() <= 1.0


def test_far_endpoints_and_continuations_are_kept_as_drawn():
    contours = region_contours(drawn_labels() == 4)
    far = np.array([[0.0, 119.0], [119.0, 119.0]])
    np.testing.assert_array_equal(dense_curve(far, contours), far)
    pairs = np.array([[30.0, 10.0], [60.0, 10.0], [62.0, 10.0], [90.0, 10.0]])
    dense = dense_curve(pairs, contours)
    np.testing.assert_array_equal(dense[-2:], pairs[2:])  # within 10 px of the previous end
    with pytest.raises(ValueError, match="even number"):
        dense_curve(pairs[:3], contours)


def test_folder_conversion_writes_mask2fl(tmp_path):
    labels = drawn_labels()
    formats.write_parsing(tmp_path / "parsing" / "mask_parsing_000005.npy", labels)
    pairs = {"neck": np.array([[30.0, 8.0], [90.0, 8.0]]), "bottom_curve": np.array([[35.0, 111.0], [85.0, 111.0]])}
    formats.write_labelme(tmp_path / "featurelines" / "000005.json", pairs, image_size=labels.shape)
    frames = featurelines_to_mask2fl(tmp_path / "featurelines", tmp_path / "parsing", tmp_path / "mask2fl", OWNERS)
    assert frames == [5]
    dense = formats.read_labelme(tmp_path / "mask2fl" / "000005.json")
    assert len(dense["bottom_curve"]) > 40 and np.abs(dense["bottom_curve"][1:-1, 1] - 109).max() <= 1.0
    formats.write_labelme(tmp_path / "featurelines" / "000006.json", {"left_pant": pairs["neck"]}, labels.shape)
    with pytest.raises(InputFileError, match="not among the subject's curves"):
        featurelines_to_mask2fl(tmp_path / "featurelines", tmp_path / "parsing", tmp_path / "out2", OWNERS)
