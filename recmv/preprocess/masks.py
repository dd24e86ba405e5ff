"""Person masks: mediapipe segmentation (pose and/or selfie), edge refinement and temporal smoothing.

mediapipe computes its masks at a low resolution (256² around the person) and upsamples them, so edges
are soft and a few pixels off. A guided filter with the frame as guide pulls them onto the image
edges; a short temporal filter removes flicker; the largest connected person region is kept with its
holes filled.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage
from tqdm import tqdm

from recmv.preprocess.keypoints import require_mediapipe


@dataclass
class MaskOptions:
    """Settings of the person-mask step."""

    selfie: bool = False
    """Average mediapipe's selfie segmentation in (off: on textured backgrounds it lowers IoU, 0.73 vs 0.96)."""
    threshold: float = 0.6
    """Probability above which a pixel is the person."""
    guided_radius: float = 0.006
    """Guided-filter window radius as a share of the image side (0 = no edge refinement)."""
    guided_eps: float = 1e-3
    """Guided-filter regulariser: smaller follows image edges more closely."""
    temporal_weight: float = 0.0
    """Weight of each neighbouring frame in the temporal filter (0 = none: mediapipe's video mode already
    smooths its segmentation over time, and more lags the edges of a moving person)."""
    min_region: float = 0.05
    """Person regions smaller than this share of the largest one are dropped as clutter."""


def selfie_probabilities(frames: np.ndarray, progress: bool = True) -> np.ndarray:
    """[F, H, W] float32 person probability from mediapipe selfie segmentation (general model).

    frames: [F, H, W, 3] uint8 RGB.
    """
    mp = require_mediapipe()
    out = np.zeros(frames.shape[:3], dtype=np.float32)
    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as model:
        for index in tqdm(range(frames.shape[0]), desc="prepare: selfie masks", unit="frame", disable=not progress):
            out[index] = model.process(np.ascontiguousarray(frames[index])).segmentation_mask
    return out


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter with a grey guide: an edge-aware smoothing of `source` [H, W] whose edges
    follow `guide` [H, W] (both float in [0, 1]); a local linear model a·guide + b in each window."""
    size = (2 * radius + 1, 2 * radius + 1)

    def mean(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, cv2.CV_64F, size, borderType=cv2.BORDER_REFLECT)

    mean_i, mean_p = mean(guide), mean(source)
    cov_ip = mean(guide * source) - mean_i * mean_p
    var_i = mean(guide * guide) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return mean(a) * guide + mean(b)


def temporal_filter(probabilities: np.ndarray, weight: float) -> np.ndarray:
    """[F, H, W] each frame blended with its neighbours (weight each, clamped at the clip's ends)."""
    if weight <= 0 or probabilities.shape[0] < 2:
        return probabilities
    before = np.concatenate([probabilities[:1], probabilities[:-1]])
    after = np.concatenate([probabilities[1:], probabilities[-1:]])
    return (1.0 - 2.0 * weight) * probabilities + weight * (before + after)


def clean_mask(mask: np.ndarray, min_region: float) -> np.ndarray:
    """[H, W] bool: regions smaller than `min_region` × the largest dropped, holes filled."""
    labels, count = ndimage.label(mask)
    if count == 0:
        return mask
    sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, count + 1))
    keep = np.flatnonzero(sizes >= min_region * sizes.max()) + 1
    return ndimage.binary_fill_holes(np.isin(labels, keep))


def refine_masks(probabilities: np.ndarray, frames: np.ndarray, options: MaskOptions) -> np.ndarray:
    """[F, H, W] bool person masks from segmentation probabilities [F, H, W] and the frames [F, H, W, 3] uint8."""
    smoothed = temporal_filter(probabilities.astype(np.float64), options.temporal_weight)
    radius = round(options.guided_radius * max(frames.shape[1:3]))
    masks = np.zeros(probabilities.shape, dtype=bool)
    for index in range(frames.shape[0]):
        probability = smoothed[index]
        if radius > 0:
            grey = cv2.cvtColor(frames[index], cv2.COLOR_RGB2GRAY).astype(np.float64) / 255.0
            probability = guided_filter(grey, probability, radius, options.guided_eps)
        masks[index] = clean_mask(probability > options.threshold, options.min_region)
    return masks


def mask_iou(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of two bool masks of the same shape (1 when both are empty)."""
    union = np.logical_or(predicted, truth).sum()
    return 1.0 if union == 0 else float(np.logical_and(predicted, truth).sum() / union)
