import numpy as np
import torch

from recmv.synth.appearance import face_labels, joint_regions
from recmv.data.formats import decode_normals, encode_normals
from recmv.tables import ATR_LABELS

# A toy skeleton: 0 pelvis, 1 spine, 2 neck, 3 head, 4 left collar, 5 left elbow, 6 left hip, 7 left ankle, 8 left toe.
PARENTS = [-1, 0, 1, 2, 1, 4, 0, 6, 7]
LANDMARKS = {
    "neck": 2,
    "left_collar": 4,
    "right_collar": 4,
    "left_hip": 6,
    "right_hip": 6,
    "left_ankle": 7,
    "right_ankle": 7,
}


def test_joint_regions_follow_the_skeleton():
    regions = joint_regions(PARENTS, LANDMARKS)
    assert regions[0] == "torso" and regions[1] == "torso"
    assert regions[2] == "face" and regions[3] == "face"
    assert regions[5] in ("left_arm", "right_arm")
    assert regions[8] in ("left_shoe", "right_shoe")


def test_face_label_is_the_majority():
    labels = torch.tensor([4, 4, 5, 6])
    faces = torch.tensor([[0, 1, 2], [2, 3, 0], [2, 3, 3]])
    assert face_labels(labels, faces).tolist() == [4, 5, 6]
    assert ATR_LABELS["skirt"] == 5


def test_normal_encoding_is_rec_mv_pifuhd_convention():
    # A surface facing the camera has world normal -z, PIFuHD (z towards viewer) +z -> blue 255.
    normals = np.zeros((2, 2, 3))
    normals[..., 2] = -1.0
    valid = np.array([[True, False], [True, True]])
    png = encode_normals(normals, valid)
    assert png[0, 0].tolist() == [128, 128, 255]
    assert png[0, 1].tolist() == [0, 0, 0]
    # World y down -> PIFuHD y up: a normal pointing up in the image (world -y) encodes green 255.
    up = np.zeros((1, 1, 3))
    up[..., 1] = -1.0
    assert encode_normals(up, np.ones((1, 1), bool))[0, 0].tolist() == [128, 255, 128]
    # Decoding inverts encoding up to 8-bit quantisation.
    unit = np.random.default_rng(0).normal(size=(4, 4, 3))
    unit /= np.linalg.norm(unit, axis=-1, keepdims=True)
    decoded = decode_normals(encode_normals(unit, np.ones((4, 4), bool)))
    assert np.abs(decoded - unit).max() < 1.0 / 255.0 + 1e-6
