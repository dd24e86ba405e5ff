"""Person pose from mediapipe 0.10.21's legacy `solutions` (weights inside the wheel, offline).

One pass of `mp.solutions.pose` gives both the 33 pose landmarks (mapped here to COCO-17) and a person
segmentation; `recmv.preprocess.masks` refines the latter. mediapipe is optional: it must be installed
with `pip install --no-deps mediapipe==0.10.21` (see the README), and `require_mediapipe` says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from recmv.errors import RecmvError

logger = logging.getLogger(__name__)

# COCO-17 keypoint -> mediapipe pose landmark (both name the person's own left and right).
COCO_FROM_MEDIAPIPE = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
MEDIAPIPE_LANDMARKS = 33
INSTALL_HINT = (
    'install it with `pip install --no-deps mediapipe==0.10.21` then `pip install absl-py flatbuffers '
    '"protobuf>=4.25.3,<5" attrs matplotlib` (newer mediapipe releases ship no models)'
)


def require_mediapipe():
    """The mediapipe module with the legacy `solutions` API, or a RecmvError that says how to install it."""
    try:
        import mediapipe as mp
    except ImportError as error:
        raise RecmvError(f"person masks and keypoints need mediapipe 0.10.21: {INSTALL_HINT}") from error
    if not hasattr(mp, "solutions"):
        raise RecmvError(f"mediapipe {mp.__version__} has no `solutions` (models); {INSTALL_HINT}")
    return mp


def mediapipe_available() -> bool:
    try:
        require_mediapipe()
    except RecmvError:
        return False
    return True


@dataclass
class PoseTrack:
    """mediapipe pose over a clip.

    landmarks: [F, 33, 3] (x = column, y = row, visibility) in pixels; visibility 0 where no person was found.
    segmentation: [F, H, W] float32 person probability in [0, 1].
    found: [F] bool, frames where a person was found.
    world: [F, 33, 4] mediapipe's world landmarks (x, y, z metres about the hips' midpoint, along the
        camera's right, down and away axes) and visibility; 0 where no person was found.
    """

    landmarks: np.ndarray
    segmentation: np.ndarray
    found: np.ndarray
    world: np.ndarray


def track_pose(frames: np.ndarray, video_mode: bool = True, progress: bool = True) -> PoseTrack:
    """Run mediapipe pose (model complexity 1, the one in the wheel) with segmentation on every frame.

    Args:
        frames: [F, H, W, 3] uint8 RGB.
        video_mode: track between frames (mediapipe's smoothing) rather than detect in each frame anew.
    """
    mp = require_mediapipe()
    num, height, width = frames.shape[:3]
    landmarks = np.zeros((num, MEDIAPIPE_LANDMARKS, 3), dtype=np.float32)
    segmentation = np.zeros((num, height, width), dtype=np.float32)
    found = np.zeros(num, dtype=bool)
    world = np.zeros((num, MEDIAPIPE_LANDMARKS, 4), dtype=np.float32)
    with mp.solutions.pose.Pose(
        static_image_mode=not video_mode, model_complexity=1, enable_segmentation=True, smooth_segmentation=video_mode
    ) as pose:
        for index in tqdm(range(num), desc="prepare: pose", unit="frame", disable=not progress):
            result = pose.process(np.ascontiguousarray(frames[index]))
            if result.pose_landmarks is None:
                continue
            found[index] = True
            points = result.pose_landmarks.landmark
            # mediapipe's normalised coordinates put 0 and 1 at the image edges, not pixel centres.
            landmarks[index] = [(p.x * width - 0.5, p.y * height - 0.5, p.visibility) for p in points]
            if result.pose_world_landmarks is not None:
                world[index] = [(p.x, p.y, p.z, p.visibility) for p in result.pose_world_landmarks.landmark]
            if result.segmentation_mask is not None:
                segmentation[index] = result.segmentation_mask
    return PoseTrack(landmarks, segmentation, found, world)


def coco_keypoints(landmarks: np.ndarray) -> np.ndarray:
    """[F, 17, C] COCO-17 from mediapipe landmarks [F, 33, C] (image: x, y, visibility; world: x, y, z, visibility)."""
    if landmarks.ndim != 3 or landmarks.shape[1] != MEDIAPIPE_LANDMARKS:
        raise ValueError(f"expected [F, 33, C] mediapipe landmarks, got shape {landmarks.shape}")
    return landmarks[:, list(COCO_FROM_MEDIAPIPE)].copy()


def fill_missing(keypoints: np.ndarray, found: np.ndarray) -> np.ndarray:
    """[F, 17, 3] keypoints with frames where no person was found filled from the nearest found frame,
    confidence 0 (so a fit ignores them but has a starting point)."""
    if not found.any():
        return keypoints
    filled = keypoints.copy()
    found_idx = np.flatnonzero(found)
    for index in np.flatnonzero(~found):
        nearest = found_idx[np.argmin(np.abs(found_idx - index))]
        filled[index, :, :2] = keypoints[nearest, :, :2]
        filled[index, :, 2] = 0.0
    return filled
