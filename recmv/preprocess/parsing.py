"""Garment parsing into ATR labels without a learned parser (`recmv prepare`, step 5).

Every mask pixel gets a class: skin (any uncovered body part) or one of the subject's garments.
The fitted body, rendered as body parts (`render_body_parts`), supplies where each class may be: an
upper garment on the torso and arms, a lower one on the legs, skin on the head (`GARMENT_PRIORS`).
Each class has a colour-and-texture model pooled over all frames (k-means centres in Lab, lightness
down-weighted against shading, plus local lightness contrast for texture, with a diagonal spread),
seeded from the body parts it surely covers (skin from the head, an upper garment from the torso, a
lower one from the upper legs) and re-estimated from its own pixels a few times (an EM with hard
assignments). A pixel's class is the argmax of likelihood × part prior, after the class
probabilities are smoothed in the image and averaged over neighbouring frames (temporal consistency).
Skin takes its ATR label from the body part: face, left/right arm (bare torso goes to the nearer
arm, as the synthetic ground truth and human parsers do), left/right leg, left/right shoe.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from scipy import ndimage
from scipy.cluster.vq import kmeans2

from recmv.body.base import BodyModel
from recmv.errors import RecmvError
from recmv.preprocess.bodyfit import BodyFitResult
from recmv.render.camera import PinholeCamera
from recmv.render.raycast import render_meshes
from recmv.tables import ATR_LABELS, GARMENT_ATR_LABEL, GARMENT_TYPES

# Body-part ids of `render_body_parts` (left = the body's left).
BACKGROUND = 0
HEAD = 1
TORSO = 2  # below the chest: belly, pelvis, lower back
LEFT_UPPER_ARM, RIGHT_UPPER_ARM = 3, 4
LEFT_LOWER_ARM, RIGHT_LOWER_ARM = 5, 6  # hands included
LEFT_UPPER_LEG, RIGHT_UPPER_LEG = 7, 8  # below the top of the thigh
LEFT_LOWER_LEG, RIGHT_LOWER_LEG = 9, 10
LEFT_FOOT, RIGHT_FOOT = 11, 12
CHEST = 13  # the torso above midway between the hips and the shoulders
LEFT_THIGH_TOP, RIGHT_THIGH_TOP = 14, 15  # the top of the thigh, just below the hip joint
PART_NAMES = ("background", "head", "torso", "left_upper_arm", "right_upper_arm", "left_lower_arm",
              "right_lower_arm", "left_upper_leg", "right_upper_leg", "left_lower_leg", "right_lower_leg",
              "left_foot", "right_foot", "chest", "left_thigh_top", "right_thigh_top")  # fmt: skip
# A joint belongs to the part of the first of these landmarks met walking up the skeleton (torso if none).
_PART_ROOTS = (
    ("left_ankle", LEFT_FOOT), ("right_ankle", RIGHT_FOOT), ("left_knee", LEFT_LOWER_LEG),
    ("right_knee", RIGHT_LOWER_LEG), ("left_hip", LEFT_UPPER_LEG), ("right_hip", RIGHT_UPPER_LEG),
    ("left_elbow", LEFT_LOWER_ARM), ("right_elbow", RIGHT_LOWER_ARM), ("left_shoulder", LEFT_UPPER_ARM),
    ("right_shoulder", RIGHT_UPPER_ARM), ("neck", HEAD),
)  # fmt: skip
THIGH_TOP_SPAN = (0.1, 0.45)
"""The top of the thigh, as shares of the hip-to-knee length below the hip joint: what the shortest
skirts cover, short of the hip itself, where an upper garment's hem can hang."""
# Part id -> group of the prior table.
_GROUP = ("none", "head", "torso", "upper_arm", "upper_arm", "lower_arm", "lower_arm", "upper_leg",
          "upper_leg", "lower_leg", "lower_leg", "foot", "foot", "chest", "thigh_top", "thigh_top")  # fmt: skip
_GROUPS = ("head", "chest", "torso", "upper_arm", "lower_arm", "thigh_top", "upper_leg", "lower_leg", "foot")
# How likely each class is on each body-part group, in _GROUPS order. The torso below the chest is where
# an upper garment's hem and a lower garment's waist meet, so both are likely there.
GARMENT_PRIORS = {
    "skin": (0.95, 0.15, 0.1, 0.5, 0.9, 0.1, 0.4, 0.7, 0.9),
    "short_sleeve_upper": (0.02, 0.9, 0.7, 0.6, 0.05, 0.1, 0.1, 0.02, 0.01),
    "long_sleeve_upper": (0.02, 0.9, 0.7, 0.9, 0.8, 0.1, 0.1, 0.02, 0.01),
    "no_sleeve_upper": (0.02, 0.85, 0.7, 0.1, 0.02, 0.1, 0.1, 0.02, 0.01),
    "tube": (0.02, 0.8, 0.6, 0.05, 0.02, 0.1, 0.1, 0.02, 0.01),
    "dress": (0.02, 0.9, 0.9, 0.3, 0.05, 0.95, 0.8, 0.4, 0.02),
    "skirt": (0.01, 0.02, 0.5, 0.02, 0.02, 0.95, 0.8, 0.35, 0.02),
    "long_pants": (0.01, 0.02, 0.5, 0.02, 0.02, 0.95, 0.9, 0.9, 0.15),
    "short_pants": (0.01, 0.02, 0.5, 0.02, 0.02, 0.95, 0.6, 0.1, 0.01),
}
# Groups whose pixels seed each class's colour model: parts the class covers in nearly every outfit and
# the other classes of that outfit do not (not the lower torso, where the hem and the waist overlap;
# never the hands or lower legs, which are often bare).
_SEED_GROUPS = {
    "skin": ("head",), "short_sleeve_upper": ("chest",), "long_sleeve_upper": ("chest",),
    "no_sleeve_upper": ("chest",), "tube": ("chest",), "dress": ("chest", "thigh_top"),
    "skirt": ("thigh_top",), "long_pants": ("thigh_top",), "short_pants": ("thigh_top",),
}  # fmt: skip
_SKIN_LABEL = {HEAD: ATR_LABELS["face"], LEFT_UPPER_ARM: 14, LEFT_LOWER_ARM: 14, RIGHT_UPPER_ARM: 15,
               RIGHT_LOWER_ARM: 15, LEFT_UPPER_LEG: 12, LEFT_LOWER_LEG: 12, RIGHT_UPPER_LEG: 13,
               RIGHT_LOWER_LEG: 13, LEFT_FOOT: 9, RIGHT_FOOT: 10, LEFT_THIGH_TOP: 12, RIGHT_THIGH_TOP: 13}  # fmt: skip
TORSO_PARTS = (TORSO, CHEST)
"""Body parts of the trunk (below the neck, above the thighs)."""


@dataclass
class ParsingOptions:
    """Settings of the clustering parser."""

    components: int = 3
    """k-means centres per class (a patterned garment has several colours)."""
    iterations: int = 3
    """Re-estimations of the class models from their own pixels."""
    lightness_weight: float = 0.4
    """Scale of Lab lightness against the chroma channels (shading changes lightness most)."""
    texture_weight: float = 1.5
    """Scale of the local lightness contrast feature."""
    texture_window: int = 7
    """Window (pixels) of the local lightness contrast. Wide enough to span a stripe of a striped
    garment, so that its dark stripes keep the garment's contrast and are not taken for skin (walking
    clip of the prepare benchmark, shirt parsing IoU 0.89 at 5 px, 0.96 at 7 px with weight 1.5)."""
    spread_floor: float = 3.0
    """Smallest per-channel standard deviation of a class model (feature units)."""
    smoothing_px: float = 1.5
    """Gaussian smoothing of the class probabilities in the image, pixels."""
    temporal_window: int = 1
    """Frames on each side whose probabilities are averaged in (0 = none)."""
    temporal_weight: float = 0.5
    """Weight of each neighbouring frame relative to the frame itself."""
    seed_erosion: float = 0.005
    """Seed pixels keep this distance from the edges of their body part (where the rendered body and the
    clothes disagree most), as a share of the image side, at least one pixel (0: none)."""
    anchor_seeds: bool = True
    """Seed pixels stay in their class's samples at every re-estimation, so a shade or stripe of a garment
    that another class's model happens to explain better is not lost from the garment's model."""
    max_samples: int = 20000
    """Pixels per class used to fit its model."""
    seed: int = 0
    """Seed of the k-means initialisation and the pixel subsampling."""
    enclosed_skin_to_garment: bool = True
    """Skin patches on the trunk with no way to the silhouette's edge go to the garment around them
    (`garment_over_enclosed_skin`)."""
    edge_sliver: float = 0.002
    """Skin thinner than about twice this share of the image side (1 px at 512², none below 250²) along
    the silhouette's edge, beside a garment, goes to that garment (`garment_over_edge_slivers`)."""


# --- body parts ---------------------------------------------------------------------------------


def joint_parts(parents: list[int], landmark_joints: dict[str, int]) -> np.ndarray:
    """[J] body-part id of every joint (see _PART_ROOTS)."""
    roots = {landmark_joints[name]: part for name, part in _PART_ROOTS}
    parts = []
    for joint in range(len(parents)):
        node = joint
        while node >= 0 and node not in roots:
            node = parents[node]
        parts.append(roots.get(node, TORSO))
    return np.array(parts, dtype=np.int64)


def face_parts(body: BodyModel) -> np.ndarray:
    """[faces] body-part id of every face: its vertices' dominant-joint part, by majority; then the torso
    above midway between the hips and the shoulders is the chest, and THIGH_TOP_SPAN of each upper leg is
    its thigh top (heights along the rest body's hip-to-shoulder direction)."""
    parts = joint_parts(body.parents.tolist(), body.landmark_joints)
    vertex_parts = parts[body.skinning_weights.argmax(dim=1).cpu().numpy()]
    tri = vertex_parts[body.faces.cpu().numpy()]
    face = np.where(tri[:, 1] == tri[:, 2], tri[:, 1], tri[:, 0])
    rest = body.rest()
    joints = rest.joints.detach().cpu().double().numpy()
    landmark = {name: joints[index] for name, index in body.landmark_joints.items()}
    hips = 0.5 * (landmark["left_hip"] + landmark["right_hip"])
    shoulders = 0.5 * (landmark["left_shoulder"] + landmark["right_shoulder"])
    up = (shoulders - hips) / np.linalg.norm(shoulders - hips)
    centroids = rest.vertices.detach().cpu().double().numpy()[body.faces.cpu().numpy()].mean(axis=1)
    height = (centroids - hips) @ up
    face = np.where((face == TORSO) & (height > 0.5 * (shoulders - hips) @ up), CHEST, face)
    for side, leg, top in (("left", LEFT_UPPER_LEG, LEFT_THIGH_TOP), ("right", RIGHT_UPPER_LEG, RIGHT_THIGH_TOP)):
        hip, knee = landmark[f"{side}_hip"], landmark[f"{side}_knee"]
        depth = (hip - centroids) @ up / ((hip - knee) @ up)
        in_span = (depth > THIGH_TOP_SPAN[0]) & (depth < THIGH_TOP_SPAN[1])
        face = np.where((face == leg) & in_span, top, face)
    return face


def resized_camera(camera: PinholeCamera, size: tuple[int, int]) -> PinholeCamera:
    """The camera for an image of `size` (H, W) covering the same view (pixel centres at integers)."""
    sy, sx = size[0] / camera.height, size[1] / camera.width
    return PinholeCamera(
        camera.fx * sx, camera.fy * sy, (camera.cx + 0.5) * sx - 0.5, (camera.cy + 0.5) * sy - 0.5,
        camera.rotation, camera.translation, width=int(size[1]), height=int(size[0]),
    )


def render_body_parts(result: BodyFitResult, body: BodyModel, size: tuple[int, int]) -> np.ndarray:
    """[F, H, W] int64 body-part id (module constants) of the posed fitted body at image `size` (H, W)."""
    like = body.skinning_weights
    params = result.params
    camera = resized_camera(result.camera, size)
    table = torch.as_tensor(face_parts(body))
    shape = torch.as_tensor(params.shape).to(like)
    maps = []
    for frame in range(params.frames):
        pose = torch.as_tensor(params.poses[frame : frame + 1]).to(like)
        trans = torch.as_tensor(params.trans[frame : frame + 1]).to(like)
        with torch.no_grad():
            vertices = body.forward(pose, shape, trans).vertices[0]
        render = render_meshes([(vertices, body.faces)], camera)
        face = render.face.cpu()
        maps.append(torch.where(face >= 0, table[face.clamp(min=0)], 0).numpy())
    return np.stack(maps).astype(np.int64)


# --- features and class models ------------------------------------------------------------------


def pixel_features(images: np.ndarray, options: ParsingOptions) -> np.ndarray:
    """[F, H, W, 4] (weighted L, a, b, weighted local lightness contrast) of uint8 RGB images [F, H, W, 3]."""
    features = []
    window = (options.texture_window, options.texture_window)
    for image in images:
        lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
        lightness = lab[..., 0]
        mean = cv2.blur(lightness, window)
        contrast = np.sqrt(np.clip(cv2.blur(lightness**2, window) - mean**2, 0.0, None))
        features.append(np.dstack([lab[..., :1] * options.lightness_weight, lab[..., 1:], contrast[..., None] * options.texture_weight]))
    return np.stack(features).astype(np.float32)


@dataclass
class ClassModel:
    """Colour model of one class: centres [K, C] and a per-channel spread [C]."""

    centres: np.ndarray
    spread: np.ndarray

    def log_likelihood(self, features: np.ndarray) -> np.ndarray:
        """[N] log-likelihood (up to a shared constant) of features [N, C] at the nearest centre."""
        scaled = (features[:, None, :] - self.centres[None]) / self.spread
        return -0.5 * (scaled**2).sum(-1).min(1) - np.log(self.spread).sum()


def fit_class_model(samples: np.ndarray, options: ParsingOptions, rng: np.random.Generator) -> ClassModel:
    """k-means on samples [N, C] (N >= 1), spread = RMS residual to the nearest centre per channel."""
    if samples.shape[0] > options.max_samples:
        samples = samples[rng.choice(samples.shape[0], options.max_samples, replace=False)]
    k = min(options.components, samples.shape[0])
    centres, assignment = kmeans2(samples.astype(np.float64), k, minit="++", seed=int(rng.integers(2**31)))
    residual = samples - centres[assignment]
    spread = np.sqrt((residual**2).mean(0)).clip(min=options.spread_floor)
    return ClassModel(centres, spread)


def fill_parts(body_parts: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """[H, W] every mask pixel takes its nearest body part (the body is thinner than its clothes)."""
    if not (body_parts > 0).any():
        return np.where(mask, TORSO, BACKGROUND)
    _, (rows, cols) = ndimage.distance_transform_edt(body_parts == 0, return_indices=True)
    return np.where(mask, body_parts[rows, cols], BACKGROUND)


def prior_table(classes: list[str]) -> np.ndarray:
    """[parts, C] prior of each class on each body-part id (0 on the background)."""
    table = np.zeros((len(PART_NAMES), len(classes)))
    for part in range(1, len(PART_NAMES)):
        group = _GROUPS.index(_GROUP[part])
        table[part] = [GARMENT_PRIORS[c][group] for c in classes]
    return table


def seed_pixels(parts: np.ndarray, classes: list[str], options: ParsingOptions) -> np.ndarray:
    """[F, H, W] class index whose model each pixel seeds, -1 for none: the class's most certain parts."""
    seeds = np.full(parts.shape, -1, dtype=np.int64)
    erosion = max(1, round(options.seed_erosion * max(parts.shape[1:]))) if options.seed_erosion > 0 else 0
    for index, name in enumerate(classes):
        ids = [p for p in range(1, len(PART_NAMES)) if _GROUP[p] in _SEED_GROUPS[name]]
        region = np.isin(parts, ids)
        if erosion > 0:
            region = ndimage.binary_erosion(region, np.ones((1, 3, 3), dtype=bool), iterations=erosion)
        seeds[region & (seeds < 0)] = index
    return seeds


def class_probabilities(log_posterior: np.ndarray, options: ParsingOptions) -> np.ndarray:
    """[F, H, W, C] probabilities from log-posteriors, smoothed in space and over neighbouring frames."""
    shifted = log_posterior - log_posterior.max(-1, keepdims=True)
    prob = np.exp(shifted)
    prob /= prob.sum(-1, keepdims=True)
    if options.smoothing_px > 0:
        prob = ndimage.gaussian_filter(prob, sigma=(0, options.smoothing_px, options.smoothing_px, 0))
    if options.temporal_window > 0 and prob.shape[0] > 1:
        weights = np.full(2 * options.temporal_window + 1, options.temporal_weight)
        weights[options.temporal_window] = 1.0
        prob = ndimage.correlate1d(prob, weights, axis=0, mode="nearest")
    return prob


# --- parsing ------------------------------------------------------------------------------------


def garment_classes(garments: list[str]) -> list[str]:
    """Class names: skin, then each garment once, in the given order."""
    unknown = [g for g in garments if g not in GARMENT_TYPES]
    if unknown or not garments:
        raise RecmvError(f"garments: expected some of {', '.join(GARMENT_TYPES)}, got {garments!r}")
    return ["skin"] + list(dict.fromkeys(garments))


def skin_labels(parts: np.ndarray) -> np.ndarray:
    """[H, W] ATR label of bare skin on each body part; bare torso takes the label of the nearer arm."""
    labels = np.zeros(parts.shape, dtype=np.uint8)
    for part, label in _SKIN_LABEL.items():
        labels[parts == part] = label
    torso = np.isin(parts, TORSO_PARTS)
    if torso.any():
        left = np.isin(parts, (LEFT_UPPER_ARM, LEFT_LOWER_ARM))
        right = np.isin(parts, (RIGHT_UPPER_ARM, RIGHT_LOWER_ARM))
        to_left = ndimage.distance_transform_edt(~left) if left.any() else np.full(parts.shape, np.inf)
        to_right = ndimage.distance_transform_edt(~right) if right.any() else np.full(parts.shape, np.inf)
        labels[torso] = np.where(to_left[torso] <= to_right[torso], 14, 15)
    return labels


def garment_over_enclosed_skin(winner: np.ndarray, mask: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """One frame's classes with skin patches on the trunk that a garment encloses given to that garment.

    Bare skin reaches the silhouette's edge or joins skin that does (a neckline joins the face, an arm its
    hand); a patch of skin on the trunk's body parts with garment all round it is a shade or stripe of the
    garment that the skin's colour model explained better. A forearm held across the chest stays skin:
    its pixels lie on the rendered arm.

    winner: [H, W] int class indices (0 = skin); mask: [H, W] bool person; parts: [H, W] int body parts.
    Returns [H, W] int, a copy.
    """
    winner = winner.copy()
    components, count = ndimage.label((winner == 0) & mask)
    if count == 0:
        return winner
    edge = ~ndimage.binary_erosion(mask, iterations=1, border_value=0)
    on_edge = np.zeros(count + 1, dtype=bool)
    on_edge[np.unique(components[edge])] = True
    on_edge[0] = True  # component 0 is everything but skin
    sizes = np.bincount(components.reshape(-1), minlength=count + 1)
    on_trunk = np.bincount(components.reshape(-1), weights=np.isin(parts, TORSO_PARTS).reshape(-1), minlength=count + 1)
    give_to_surrounding_garment(winner, components, np.flatnonzero(~on_edge & (on_trunk > 0.5 * sizes)), mask, 1)
    return winner


def garment_over_edge_slivers(winner: np.ndarray, mask: np.ndarray, width: int) -> np.ndarray:
    """One frame's classes with thin skin slivers along the silhouette's edge given to the garment beside them.

    The person mask reaches a pixel or two past the clothes, and there a garment's colour is mixed with
    the background's: where the background is skin-coloured (a warm wall) those pixels take the skin
    class, and the garment gains a skin border along its whole outline, which a cuff or a trouser hem
    would then follow. Skin that a 3x3 binary opening repeated `width` times removes (thinner than
    2·width + 1 pixels), within width + 1 pixels of the edge, goes to the garment most common within
    `width` pixels around it; without a garment beside it (a fingertip against the background) it stays
    skin.

    winner: [H, W] int class indices (0 = skin); mask: [H, W] bool person. Returns [H, W] int, a copy.
    """
    winner = winner.copy()
    skin = (winner == 0) & mask
    thin = skin & ~ndimage.binary_opening(skin, structure=np.ones((3, 3), bool), iterations=width)
    near_edge = ~ndimage.binary_erosion(mask, iterations=width + 1, border_value=0)
    components, count = ndimage.label(thin & near_edge)
    give_to_surrounding_garment(winner, components, range(1, count + 1), mask, width)
    return winner


def give_to_surrounding_garment(
    winner: np.ndarray, components: np.ndarray, selected, mask: np.ndarray, reach: int
) -> None:
    """In place: each selected component takes the garment class most common within `reach` pixels around
    it inside the mask; one with no garment around keeps its class.

    winner: [H, W] int class indices (0 = skin), changed in place, in the order of `selected`;
    components: [H, W] int component ids (`ndimage.label`); selected: the ids to relabel.
    """
    boxes = ndimage.find_objects(components)
    for component in selected:
        # The component's bounding box, padded so its ring fits: one small dilation per component.
        window = tuple(slice(max(0, b.start - reach), b.stop + reach) for b in boxes[component - 1])
        region = components[window] == component
        ring = ndimage.binary_dilation(region, iterations=reach) & ~region & mask[window] & (winner[window] > 0)
        if ring.any():
            winner[window][region] = int(np.bincount(winner[window][ring]).argmax())


def check_parsing_inputs(images: np.ndarray, masks: np.ndarray, body_parts: np.ndarray) -> None:
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise RecmvError(f"images: expected uint8 [F, H, W, 3], got {images.dtype} {images.shape}")
    if masks.shape != images.shape[:3] or masks.dtype != bool:
        raise RecmvError(f"masks: expected bool {images.shape[:3]}, got {masks.dtype} {masks.shape}")
    if body_parts.shape != images.shape[:3] or not np.issubdtype(body_parts.dtype, np.integer):
        raise RecmvError(f"body_parts: expected integer {images.shape[:3]}, got {body_parts.dtype} {body_parts.shape}")
    if body_parts.size and (body_parts.min() < 0 or body_parts.max() >= len(PART_NAMES)):
        raise RecmvError(f"body_parts: ids must lie in 0..{len(PART_NAMES) - 1}")


def parse_garments(
    images: np.ndarray, masks: np.ndarray, body_parts: np.ndarray, garments: list[str], options: ParsingOptions
) -> np.ndarray:
    """ATR label maps of a clip.

    Args:
        images: [F, H, W, 3] uint8 RGB frames.
        masks: [F, H, W] bool person masks.
        body_parts: [F, H, W] int body-part ids of the fitted body (`render_body_parts`).
        garments: the subject's garment types.
    Returns:
        [F, H, W] uint8 ATR labels, 0 outside the masks.
    Memory: about F·H·W·(4 + classes)·4 bytes of float32 working arrays.
    """
    check_parsing_inputs(images, masks, body_parts)
    classes = garment_classes(garments)
    rng = np.random.default_rng(options.seed)
    parts = np.stack([fill_parts(p, m) for p, m in zip(body_parts, masks)])
    features = pixel_features(images, options)
    inside = masks.reshape(-1)
    flat_features = features.reshape(-1, features.shape[-1])[inside]
    log_prior = np.log(prior_table(classes)[parts.reshape(-1)[inside]].clip(min=1e-6))
    seeds = seed_pixels(parts, classes, options).reshape(-1)[inside]
    seeded = seeds >= 0
    assignment = seeds
    for _ in range(options.iterations + 1):
        log_like = np.full((flat_features.shape[0], len(classes)), -np.inf)
        for index in range(len(classes)):
            samples = flat_features[assignment == index]
            if samples.shape[0] == 0:
                # No pixel speaks for this class: a likelihood two spreads away everywhere.
                log_like[:, index] = -2.0 * flat_features.shape[1] - np.log(options.spread_floor) * flat_features.shape[1]
                continue
            log_like[:, index] = fit_class_model(samples, options, rng).log_likelihood(flat_features)
        log_posterior = np.full(masks.shape + (len(classes),), -1e3, dtype=np.float32)
        log_posterior.reshape(-1, len(classes))[inside] = log_like + log_prior
        prob = class_probabilities(log_posterior, options)
        decided = prob.reshape(-1, len(classes))[inside].argmax(-1)
        assignment = np.where(seeded, seeds, decided) if options.anchor_seeds else decided
    labels = np.zeros(masks.shape, dtype=np.uint8)
    winner = np.zeros(masks.shape, dtype=np.int64)
    winner.reshape(-1)[inside] = decided
    if options.enclosed_skin_to_garment:
        winner = np.stack([garment_over_enclosed_skin(w, m, p) for w, m, p in zip(winner, masks, parts)])
    sliver_width = round(options.edge_sliver * min(masks.shape[1:]))
    if sliver_width > 0:
        winner = np.stack([garment_over_edge_slivers(w, m, sliver_width) for w, m in zip(winner, masks)])
    for frame in range(masks.shape[0]):
        skin = skin_labels(parts[frame])
        frame_labels = skin.copy()
        for index, name in enumerate(classes[1:], start=1):
            frame_labels[winner[frame] == index] = GARMENT_ATR_LABEL[name]
        labels[frame] = np.where(masks[frame], frame_labels, 0)
    return labels
