"""Clustering parser on a tiny synthetic subject: body-part renders and per-garment IoU against the GT parsing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recmv.body.factory import build_body_model
from recmv.data import formats
from recmv.errors import RecmvError
from recmv.preprocess import parsing
from recmv.preprocess.bodyfit import BodyFitResult
from recmv.tables import GARMENT_ATR_LABEL


@pytest.fixture(scope="module")
def subject_data(tiny_subject):  # noqa: F811
    meta = json.loads((tiny_subject / "subject.json").read_text())
    body = build_body_model(meta["body"])
    frames = sorted((tiny_subject / "imgs").glob("*.png"))
    images = np.stack([formats.read_image(p) for p in frames])
    masks = np.stack([formats.read_mask(tiny_subject / "masks" / p.name) for p in frames])
    labels = np.stack([formats.read_parsing(tiny_subject / "parsing_SCH_ATR" / f"{p.stem}.npy") for p in frames])
    camera = formats.read_camera(tiny_subject / "camera.npz", masks.shape[1:])
    params = formats.read_body_params(tiny_subject / "smpl_rec.npz", body.num_joints)
    result = BodyFitResult(params, camera, np.zeros(len(frames)), np.ones(len(frames)))
    parts = parsing.render_body_parts(result, body, masks.shape[1:])
    return meta, body, result, images, masks, labels, parts


def test_body_parts_lie_inside_the_person_and_match_gt_regions(subject_data):
    _, _, _, _, masks, labels, parts = subject_data
    assert parts.shape == masks.shape and parts.max() < len(parsing.PART_NAMES)
    body = parts > 0
    assert (body & masks).sum() / body.sum() > 0.97
    # The GT face label sits on the rendered head, GT shoes on the rendered feet.
    face = labels == 11
    assert (parts[face] == parsing.HEAD).mean() > 0.8
    feet = np.isin(labels, (9, 10)) & body
    assert np.isin(parts[feet], (parsing.LEFT_FOOT, parsing.RIGHT_FOOT)).mean() > 0.8


def test_body_parts_render_at_another_size(subject_data):
    _, body, result, _, _, _, parts = subject_data
    double = parsing.render_body_parts(result, body, (parts.shape[1] * 2, parts.shape[2] * 2))
    assert np.mean(double[:, ::2, ::2] == parts) > 0.9


def test_parsing_reaches_iou_on_every_garment(subject_data):
    meta, _, _, images, masks, labels, parts = subject_data
    predicted = parsing.parse_garments(images, masks, parts, meta["garments"], parsing.ParsingOptions())
    assert predicted.shape == labels.shape and (predicted[~masks] == 0).all()
    for garment in meta["garments"]:
        label = GARMENT_ATR_LABEL[garment]
        a, b = predicted == label, labels == label
        iou = (a & b).sum() / (a | b).sum()
        assert iou > 0.8, (garment, iou)
    skin = np.isin(labels, (11, 12, 13, 14, 15))
    assert np.isin(predicted[skin], (11, 12, 13, 14, 15, 9, 10)).mean() > 0.7


def test_joint_parts_follow_the_skeleton(subject_data):
    _, body, *_ = subject_data
    table = parsing.joint_parts(body.parents.tolist(), body.landmark_joints)
    marks = body.landmark_joints
    assert table[marks["head"]] == parsing.HEAD and table[marks["pelvis"]] == parsing.TORSO
    assert table[marks["left_wrist"]] == parsing.LEFT_LOWER_ARM
    assert table[marks["right_knee"]] == parsing.RIGHT_LOWER_LEG and table[marks["left_ankle"]] == parsing.LEFT_FOOT


def test_chest_and_thigh_tops_split_the_torso_and_the_upper_legs_by_height(subject_data):
    _, body, *_ = subject_data
    face = parsing.face_parts(body)
    rest = body.rest()
    height = rest.vertices[body.faces].mean(dim=1)[:, 1].numpy()  # y is up in the canonical frame
    joint = {name: float(rest.joints[index, 1]) for name, index in body.landmark_joints.items()}
    assert set(face.tolist()) == set(range(1, len(parsing.PART_NAMES)))
    chest, torso = height[face == parsing.CHEST], height[face == parsing.TORSO]
    middle = 0.5 * (joint["left_hip"] + joint["left_shoulder"])
    assert chest.min() > middle - 0.02 and np.median(torso) < middle
    for top, leg, side in ((parsing.LEFT_THIGH_TOP, parsing.LEFT_UPPER_LEG, "left"), (parsing.RIGHT_THIGH_TOP, parsing.RIGHT_UPPER_LEG, "right")):
        hip, knee = joint[f"{side}_hip"], joint[f"{side}_knee"]
        span = height[face == top]
        assert span.max() < hip - 0.05 * (hip - knee) and span.min() > hip - 0.5 * (hip - knee)
        assert np.median(height[face == leg]) < span.min()


def test_skin_on_the_torso_takes_the_nearer_arm():
    parts = np.zeros((5, 9), dtype=np.int64)
    parts[:, 0] = parsing.LEFT_UPPER_ARM
    parts[:, 8] = parsing.RIGHT_UPPER_ARM
    parts[:, 1:8] = parsing.TORSO
    labels = parsing.skin_labels(parts)
    assert (labels[:, :4] == 14).all() and (labels[:, 5:] == 15).all()


def test_skin_enclosed_by_a_garment_on_the_trunk_goes_to_that_garment():
    mask = np.zeros((30, 30), dtype=bool)
    mask[5:25, 5:25] = True
    parts = np.where(mask, parsing.CHEST, parsing.BACKGROUND)
    parts[5:25, 5:9] = parsing.RIGHT_UPPER_ARM
    winner = np.where(mask, 1, 0)
    winner[12:15, 12:18] = 0  # a stripe of the garment taken for skin
    winner[18:21, 5:9] = 0  # skin of an arm, at the silhouette's edge
    winner[10:13, 6:8] = 0  # skin on the arm's part, inside the garment (a forearm across it)
    result = parsing.garment_over_enclosed_skin(winner, mask, parts)
    assert (result[12:15, 12:18] == 1).all()
    assert (result[18:21, 5:9] == 0).all() and (result[10:13, 6:8] == 0).all()
    assert (result[winner == 1] == 1).all()


def test_thin_skin_along_the_silhouette_edge_goes_to_the_garment_beside_it():
    mask = np.zeros((30, 40), dtype=bool)
    mask[5:25, 5:25] = True
    mask[10:16, 25:31] = True  # a hand beside the garment
    mask[12, 31:35] = True  # a one-pixel finger off the hand
    winner = np.where(mask, 1, 0)
    winner[10:16, 25:31] = 0
    winner[12, 31:35] = 0
    winner[5:25, 5] = 0  # background mixed into the garment's edge, taken for skin
    winner[18:25, 18:24] = 0  # a forearm at the silhouette's edge, six pixels across
    result = parsing.garment_over_edge_slivers(winner, mask, width=1)
    assert (result[5:25, 5] == 1).all()
    assert (result[10:16, 25:31] == 0).all() and (result[12, 31:35] == 0).all() and (result[18:25, 18:24] == 0).all()
    assert (result[winner == 1] == 1).all()


def test_bad_inputs_give_one_clear_error(subject_data):
    meta, _, _, images, masks, _, parts = subject_data
    options = parsing.ParsingOptions()
    with pytest.raises(RecmvError, match="images"):
        parsing.parse_garments(images[..., :2], masks, parts, meta["garments"], options)
    with pytest.raises(RecmvError, match="body_parts"):
        parsing.parse_garments(images, masks, parts[:, :10], meta["garments"], options)
    with pytest.raises(RecmvError, match="garments"):
        parsing.parse_garments(images, masks, parts, ["cape"], options)
