"""Person masks and keypoints: the refinement maths on analytic images, mediapipe on a filmed render."""

from __future__ import annotations

import numpy as np
import pytest

from recmv.data import formats
from recmv.preprocess.keypoints import (
    COCO_FROM_MEDIAPIPE,
    coco_keypoints,
    fill_missing,
    mediapipe_available,
)
from recmv.preprocess.masks import (
    MaskOptions,
    clean_mask,
    guided_filter,
    mask_iou,
    refine_masks,
    temporal_filter,
)

needs_mediapipe = pytest.mark.skipif(
    not mediapipe_available(), reason="mediapipe 0.10.21 is not installed (pip install --no-deps mediapipe==0.10.21)"
)


def test_guided_filter_snaps_a_soft_mask_onto_the_image_edge():
    guide = np.zeros((40, 40))
    guide[:, 20:] = 1.0
    for offset in (10, 12):  # soft ramps crossing 0.5 one column before and after the image edge
        soft = np.clip((np.arange(40) - offset) / 16.0, 0, 1)[None].repeat(40, axis=0)
        assert np.flatnonzero(soft[0] > 0.5)[0] != 20
        sharp = guided_filter(guide, soft, radius=5, eps=1e-4)
        assert (np.flatnonzero(sharp[0] > 0.5)[0] == 20) and np.allclose(sharp, sharp[:1])
    flat = guided_filter(np.random.default_rng(0).uniform(size=(20, 20)), np.full((20, 20), 0.3), 3, 1e-3)
    np.testing.assert_allclose(flat, 0.3, atol=1e-9)


def test_temporal_filter_and_clean_mask():
    frames = np.zeros((3, 4, 4))
    frames[1] = 1.0
    smoothed = temporal_filter(frames, 0.25)
    np.testing.assert_allclose(smoothed[:, 0, 0], [0.25, 0.5, 0.25])
    mask = np.zeros((20, 20), dtype=bool)
    mask[2:15, 2:15] = True
    mask[6:9, 6:9] = False  # a hole
    mask[18, 18] = True  # a speck
    cleaned = clean_mask(mask, 0.05)
    assert cleaned[7, 7] and not cleaned[18, 18] and cleaned.sum() == 13 * 13


def test_coco_mapping_and_missing_frames():
    landmarks = np.zeros((3, 33, 3))
    landmarks[..., 0] = np.arange(33)
    landmarks[..., 2] = 0.9
    keypoints = coco_keypoints(landmarks)
    assert keypoints[0, :, 0].tolist() == list(COCO_FROM_MEDIAPIPE)
    assert keypoints[0, 5, 0] == 11 and keypoints[0, 16, 0] == 28  # left shoulder, right ankle
    filled = fill_missing(keypoints, np.array([True, False, True]))
    assert (filled[1, :, 2] == 0).all() and np.array_equal(filled[1, :, :2], keypoints[0, :, :2])


@needs_mediapipe
def test_mediapipe_masks_and_keypoints_on_a_filmed_render(filmed_subject):
    from recmv.preprocess.keypoints import track_pose
    from recmv.preprocess.masks import selfie_probabilities

    frames = np.stack([formats.read_image(p) for p in sorted((filmed_subject / "imgs").glob("*.png"))])
    truth = np.stack([formats.read_mask(p) for p in sorted((filmed_subject / "masks").glob("*.png"))])
    track = track_pose(frames, progress=False)
    assert track.found.all()
    probability = 0.5 * (track.segmentation + selfie_probabilities(frames, progress=False))
    masks = refine_masks(probability, frames, MaskOptions())
    assert np.mean([mask_iou(m, t) for m, t in zip(masks, truth)]) > 0.8
    # Shoulders and hips land on the person.
    keypoints = coco_keypoints(track.landmarks)
    for frame, points in zip(truth, keypoints):
        for x, y, _ in points[[5, 6, 11, 12]]:
            assert frame[round(y), round(x)]
