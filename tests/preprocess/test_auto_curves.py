"""Automatic 2D feature curves: a drawn label map, and GT parsing of a tiny synthetic subject vs its mask2fl."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial import cKDTree

from recmv.data import formats
from recmv.errors import RecmvError
from recmv.preprocess.auto_curves import feature_curves
from recmv.preprocess.parsing import CHEST, HEAD, RIGHT_UPPER_ARM


def chamfer_px(a: np.ndarray, b: np.ndarray) -> float:
    """Symmetric mean nearest-point distance between two 2D point sets."""
    return 0.5 * (cKDTree(b).query(a)[0].mean() + cKDTree(a).query(b)[0].mean())


def drawn_labels() -> np.ndarray:
    """[1, 40, 30] a front view: face over an upper garment (with two arms) over a skirt over two legs."""
    labels = np.zeros((1, 40, 30), dtype=np.int64)
    labels[0, 2:10, 11:19] = 11  # face
    labels[0, 10:22, 8:22] = 4  # upper garment, rows 10..21
    labels[0, 12:20, 4:8] = 15  # right arm on the image's left (the body faces the camera)
    labels[0, 12:20, 22:26] = 14  # left arm
    labels[0, 22:30, 7:23] = 5  # skirt, rows 22..29
    labels[0, 30:38, 9:14] = 13  # right leg
    labels[0, 30:38, 16:21] = 12  # left leg
    return labels


def test_drawn_borders_become_curves_between_the_pixels():
    curves = feature_curves(drawn_labels(), ["short_sleeve_upper", "skirt"], [0])[0]
    assert set(curves) == {"neck", "left_cuff", "right_cuff", "upper_bottom", "bottom_curve"}
    waist = curves["upper_bottom"]
    assert np.allclose(waist[:, 1], 21.5) and waist[:, 0].min() <= 8.5 and waist[:, 0].max() >= 20.5
    assert np.allclose(curves["neck"][:, 1], 9.5) and np.ptp(curves["neck"][:, 0]) >= 6
    assert np.allclose(curves["left_cuff"][:, 0], 21.5) and np.allclose(curves["right_cuff"][:, 0], 7.5)
    # The hem: over both legs and over the background between them, never up the skirt's sides.
    hem = curves["bottom_curve"]
    assert np.allclose(hem[:, 1], 29.5) and hem[:, 0].min() <= 9.5 and hem[:, 0].max() >= 20.5


def test_a_detached_patch_of_garment_label_adds_no_stretch():
    labels = drawn_labels()
    labels[0, 34:36, 10:13] = 5  # six skirt pixels on the right leg, four rows below the hem
    hem = feature_curves(labels, ["short_sleeve_upper", "skirt"], [0])[0]["bottom_curve"]
    assert np.allclose(hem[:, 1], 29.5)


def test_the_neckline_ignores_torso_skin_apart_from_the_face():
    labels = drawn_labels()
    labels[0, 15:17, 12:15] = 14  # arm skin in front of the chest, where the fitted body's chest is
    parts = np.zeros_like(labels)
    parts[0, 2:10] = HEAD
    parts[0, 10:22, 8:22] = CHEST
    neck = feature_curves(labels, ["short_sleeve_upper", "skirt"], [0], body_parts=parts)[0]["neck"]
    assert np.allclose(neck[:, 1], 9.5)
    # Bare chest skin under the chin is still a neckline.
    labels[0, 10:12, 13:17] = 14
    neck = feature_curves(labels, ["short_sleeve_upper", "skirt"], [0], body_parts=parts)[0]["neck"]
    assert neck[:, 1].max() > 11


def test_a_hem_never_runs_along_the_garments_top_edge():
    labels = drawn_labels()
    labels[0, 21, 9:21] = 12  # a dark stripe at the top's hem taken for skin, labelled leg by its body part
    hem = feature_curves(labels, ["short_sleeve_upper", "skirt"], [0])[0]["bottom_curve"]
    assert np.allclose(hem[:, 1], 29.5)


def test_a_cuff_ignores_arm_labelled_skin_joined_to_the_face():
    labels = drawn_labels()
    labels[0, 10:12, 11:14] = 15  # neck skin under the chin, where the fitted body's right shoulder is
    parts = np.zeros_like(labels)
    parts[0, 2:10] = HEAD
    parts[0, 10:22, 8:22] = RIGHT_UPPER_ARM
    cuff = feature_curves(labels, ["short_sleeve_upper", "skirt"], [0], body_parts=parts)[0]["right_cuff"]
    assert np.allclose(cuff[:, 0], 7.5)


def test_a_cuff_ignores_thin_arm_skin_along_the_sleeve():
    labels = drawn_labels()
    labels[0, 20:22, 14:22] = 14  # a two-pixel shaded fold along the sleeve's lower edge taken for arm skin
    cuff = feature_curves(labels, ["short_sleeve_upper", "skirt"], [0])[0]["left_cuff"]
    # At most the fold's root beside the arm stays; no stretch runs along the sleeve.
    assert cuff[:, 0].min() >= 20.5 and np.mean(np.isclose(cuff[:, 0], 21.5)) > 0.8


def test_a_trouser_hem_never_runs_along_the_crotch():
    labels = np.zeros((1, 30, 20), dtype=np.int64)
    labels[0, 5:22, 2:18] = 6
    labels[0, 12:22, 6:14] = 0  # the gap between the legs; its top, the crotch, faces down onto the background
    labels[0, 22:28, 2:6] = 13
    labels[0, 22:28, 14:18] = 12
    curves = feature_curves(labels, ["long_pants"], [0])[0]
    assert np.allclose(curves["left_pant"][:, 1], 21.5) and np.allclose(curves["right_pant"][:, 1], 21.5)


def test_pant_hems_split_by_leg():
    labels = np.zeros((1, 30, 20), dtype=np.int64)
    labels[0, 5:20, 4:16] = 6
    labels[0, 5:20, 9:11] = 0  # the gap between the trouser legs
    labels[0, 20:28, 4:9] = 13  # right leg (image left)
    labels[0, 20:28, 11:16] = 12
    curves = feature_curves(labels, ["long_pants"], [0])[0]
    assert curves["left_pant"][:, 0].min() > 10 and curves["right_pant"][:, 0].max() < 9
    assert np.allclose(curves["left_pant"][:, 1], 19.5)


def test_gt_parsing_gives_the_synth_curves(tiny_subject):  # noqa: F811
    meta = json.loads((tiny_subject / "subject.json").read_text())
    keyframes = meta["keyframes"]
    labels = np.stack([formats.read_parsing(p) for p in sorted((tiny_subject / "parsing_SCH_ATR").glob("0*.npy"))])
    curves = feature_curves(labels, meta["garments"], keyframes)
    errors = []
    for frame in keyframes:
        gt = formats.read_labelme(tiny_subject / "mask2fl" / f"{frame:06d}.json")
        for name, points in gt.items():
            if len(points) >= 10 and name in curves[frame]:
                errors.append(chamfer_px(curves[frame][name], points))
    assert len(errors) >= 4
    assert np.mean(errors) < 2.0, errors


def test_bad_inputs_give_one_clear_error():
    labels = drawn_labels()
    with pytest.raises(RecmvError, match="keyframes"):
        feature_curves(labels, ["skirt"], [3])
    with pytest.raises(RecmvError, match="labels"):
        feature_curves(labels[0], ["skirt"], [0])
    with pytest.raises(RecmvError, match="body_parts"):
        feature_curves(labels, ["skirt"], [0], body_parts=np.zeros((1, 5, 5), dtype=np.int64))
