"""Fit a body model to per-frame 2D keypoints (COCO-17) and person silhouettes (`recmv prepare`, step 4).

The camera is the subject's static pinhole camera with R = I, t = 0 (world = OpenCV camera frame),
the principal point at the image centre and one focal length, given or picked by a small search.
Shape is fitted once, on frames spread over the clip; pose and translation per frame, in batches of
consecutive frames, with a temporal smoothness term that also ties a batch to the end of the last one.

COCO-17 keypoints of the body (`coco_regressor`): shoulders, elbows, wrists, hips, knees and ankles
are the model's landmark joints (docs/conventions.md: for Anny upperarm01, lowerarm01, wrist,
upperleg01, lowerleg01, foot); nose, eyes and ears are vertices of the canonical head picked by
geometric rules, so that Anny on any topology and SMPL share one mapping (Anny's own COCO regressor
exists only on its native topology).

Silhouettes, without a rasteriser: every projected body vertex should fall inside the mask (a
distance-transform penalty, bilinearly sampled, so it is differentiable), and, for silhouettes that hug
the body, optionally the mask's contour should lie near a projected vertex (a truncated chamfer term,
off by default: on a dressed person it pulls the body out onto the clothes).
Depth, which 2D keypoints leave open (a foreshortened thigh may point towards the camera or away), comes
from the pose estimator's 3D landmarks where given (mediapipe's world landmarks): the fitted limbs, hips
and shoulders are pulled towards their directions (1 - cos, scale-free, since those landmarks have their
own origin and scale).
Initialisation avoids the front/back and left/right flips: the torso and face keypoints choose a
yaw per frame among a ring of candidates (closed-form scale and offset for each), smoothed over time
by dynamic programming.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import ndimage
from tqdm import tqdm

from recmv.body.anny_body import AnnyBody
from recmv.body.base import BodyModel
from recmv.data.formats import BodyParams
from recmv.errors import RecmvError
from recmv.geometry.rotations import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    matrix_to_rotation_6d,
    rotation_6d_to_matrix,
)
from recmv.render.camera import PinholeCamera

COCO_KEYPOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
FACE_KEYPOINTS = (0, 1, 2, 3, 4)
DIRECTION_BONES = ((5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15), (12, 14), (14, 16), (11, 12), (5, 6))
"""COCO-17 (from, to) pairs whose 3D directions the direction term compares: the limbs, hips and shoulders."""
_BONE_STARTS, _BONE_ENDS = ([bone[side] for bone in DIRECTION_BONES] for side in (0, 1))
# Keypoints that fix the torso's orientation in the initial yaw search (face, shoulders, hips).
TORSO_KEYPOINTS = (0, 1, 2, 3, 4, 5, 6, 11, 12)
# Landmark joints the fit rotates; the other joints (twist bones, feet, eyes) keep the canonical pose.
FITTED_LANDMARKS = (
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "spine1", "spine2",
    "spine3", "neck", "head", "left_collar", "right_collar", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)  # fmt: skip
# Relative strength of the pose prior per landmark: joints the keypoints barely see are held stiffer.
_STIFFNESS = {"spine1": 4.0, "spine2": 4.0, "spine3": 4.0, "neck": 4.0, "head": 2.0, "left_collar": 8.0,
              "right_collar": 8.0, "left_wrist": 4.0, "right_wrist": 4.0, "left_ankle": 4.0, "right_ankle": 4.0}
_WORLD_FROM_CANONICAL = ((1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, -1.0))


@dataclass
class BodyFitOptions:
    """Settings of the body fit."""

    iterations: int = 200
    """Adam steps on pose and translation per batch (after the global steps)."""
    global_iterations: int = 60
    """Adam steps on the global orientation and translation alone, before the full fit."""
    shape_iterations: int = 60
    """Adam steps with the shape free too, after the pose fit of the shape frames (each rebuilds the rest body)."""
    focal_search_iterations: int = 60
    """Full-fit steps per candidate focal length when the focal is estimated."""
    focal_candidates: tuple[float, ...] = (0.8, 1.1, 1.5, 2.0, 2.8)
    """Focal lengths tried when none is given, as multiples of the larger image side."""
    batch_frames: int = 32
    """Consecutive frames fitted together (also the number of frames the shape is fitted on)."""
    learning_rate: float = 0.02
    """Adam learning rate for rotations (6D / axis-angle), translations (metres) and shape."""
    keypoint_weight: float = 1.0
    """Weight of the confidence-weighted pseudo-Huber keypoint error (in units of the image size)."""
    keypoint_huber: float = 0.01
    """Pseudo-Huber transition of the keypoint error, as a fraction of the image size."""
    face_weight: float = 0.5
    """Relative weight of nose, eyes and ears, whose body-model definition is the least certain."""
    min_confidence: float = 0.2
    """Keypoints below this confidence are ignored."""
    inside_weight: float = 1.0
    """Weight of the mean distance (image-size units) of projected vertices outside the mask."""
    coverage_weight: float = 0.0
    """Weight of the truncated chamfer from the mask contour to the projected vertices (0 = off). Off by
    default: the contour of a dressed person is mostly the garments', and pulling the body onto it
    inflates the body (on the prepare benchmark's walking clip, shirt and skirt, at 0.3 the fitted Anny
    weight phenotype went to 0.97 against the true 0.53, and the prepared skirt's CD was 3.72 cm against
    2.30 cm at 0). The inside term keeps the body within the silhouette either way; turn this on for
    silhouettes that hug the body (tight clothing)."""
    coverage_truncation: float = 0.03
    """Contour points farther than this (fraction of the image size) from the body pull no more."""
    coverage_points: int = 256
    """Contour points sampled per frame for the coverage term."""
    coverage_vertices: int = 2000
    """Body vertices (a fixed random subset) the coverage term measures against."""
    direction_weight: float = 0.1
    """Weight of 1 - cos between the fitted body's limb, hip and shoulder directions and the pose
    estimator's 3D ones (mediapipe's world landmarks), where they are given: they settle what 2D keypoints
    leave open, which way a limb points in depth."""
    smooth_weight: float = 20.0
    """Weight of the squared second difference of the posed joints over time (metres)."""
    pose_prior_weight: float = 2e-3
    """Weight of the squared axis-angle deviation from the canonical pose, scaled per joint."""
    shape_prior_weight: float = 1e-2
    """Weight of the squared deviation of the shape from the model's default shape."""
    yaw_steps: int = 24
    """Candidate yaw angles of the initial orientation search (evenly spaced over a full turn)."""
    yaw_change_weight: float = 0.02
    """Penalty per squared radian of yaw change between frames in the initial search."""
    fit_shape: bool = True
    """Fit the shape; False keeps the model's default shape."""
    seed: int = 0
    """Seed of the contour and vertex subsets."""
    progress: bool = True
    """Show a progress bar."""


@dataclass
class BodyFitResult:
    """A fitted body sequence and camera.

    params: poses [F, J, 3], shape [S], trans [F, 3] as smpl_rec.npz stores them.
    camera: the static camera (R = I, t = 0).
    keypoint_error_px: [F] confidence-weighted mean 2D keypoint error of the fit, pixels.
    inside_fraction: [F] share of projected body vertices that fall inside the mask.
    focal_losses: candidate focal (px) -> final loss of the search (empty when the focal was given).
    seconds: wall time of the fit.
    """

    params: BodyParams
    camera: PinholeCamera
    keypoint_error_px: np.ndarray
    inside_fraction: np.ndarray
    focal_losses: dict[float, float] = field(default_factory=dict)
    seconds: float = 0.0


# --- keypoints of the body model ----------------------------------------------------------------


def head_joints(body: BodyModel) -> list[int]:
    """The head landmark joint and every joint below it (eyes, for Anny)."""
    head = body.landmark_joints["head"]
    parents = body.parents.tolist()
    joints = []
    for joint in range(len(parents)):
        node = joint
        while node >= 0 and node != head:
            node = parents[node]
        if node == head:
            joints.append(joint)
    return joints


def face_vertices(vertices: np.ndarray, head: np.ndarray) -> dict[str, int]:
    """Vertex ids of nose, eyes and ears on a canonical head (y up, facing +z, left +x).

    vertices: [V, 3] canonical vertices; head: [V] bool, the head's vertices.
    Nose: the front-most head vertex. Ears: the head's extreme left and right vertices. Eyes: the
    front-half vertex nearest (in x, y) to a point a third of the head's half-width beside the nose
    and a quarter of the way from the nose up to the crown.
    """
    ids = np.flatnonzero(head)
    if ids.size < 5:
        raise RecmvError(f"the body model's head has {ids.size} vertices; need at least 5 to place face keypoints")
    points = vertices[ids]
    nose = ids[np.argmax(points[:, 2])]
    centre_x = 0.5 * (points[:, 0].min() + points[:, 0].max())
    half_width = 0.5 * (points[:, 0].max() - points[:, 0].min())
    eye_y = vertices[nose, 1] + 0.25 * (points[:, 1].max() - vertices[nose, 1])
    front = points[:, 2] >= np.median(points[:, 2])
    chosen = {"nose": int(nose), "left_ear": int(ids[np.argmax(points[:, 0])]),
              "right_ear": int(ids[np.argmin(points[:, 0])])}
    for name, side in (("left_eye", 1.0), ("right_eye", -1.0)):
        target = np.array([centre_x + side * half_width / 3.0, eye_y])
        distance = np.linalg.norm(points[:, :2] - target, axis=1) + np.where(front, 0.0, np.inf)
        chosen[name] = int(ids[np.argmin(distance)])
    return chosen


def coco_regressor(body: BodyModel) -> torch.Tensor:
    """[17, V + J] weights that map the concatenated (vertices, joints) of a posed body to COCO-17.

    Limb keypoints are landmark joints; face keypoints are head vertices (`face_vertices`), chosen on
    the canonical body of the default shape, so the map is the same whatever shape is fitted.
    """
    rest = body.rest()
    vertices = rest.vertices.detach().cpu().double().numpy()
    num_vertices = vertices.shape[0]
    dominant = body.skinning_weights.argmax(dim=1).cpu().numpy()
    faces = face_vertices(vertices, np.isin(dominant, head_joints(body)))
    weights = torch.zeros(len(COCO_KEYPOINTS), num_vertices + body.num_joints, dtype=rest.vertices.dtype)
    for index, name in enumerate(COCO_KEYPOINTS):
        if name in faces:
            weights[index, faces[name]] = 1.0
        else:
            weights[index, num_vertices + body.landmark_joints[name]] = 1.0
    return weights.to(rest.vertices.device)


def body_keypoints(vertices: torch.Tensor, joints: torch.Tensor, regressor: torch.Tensor) -> torch.Tensor:
    """[B, 17, 3] COCO-17 points of posed bodies: vertices [B, V, 3], joints [B, J, 3], regressor [17, V+J]."""
    return torch.einsum("kn,bnc->bkc", regressor, torch.cat([vertices, joints], dim=1))


def project_pinhole(points: torch.Tensor, focal: float, centre: tuple[float, float]) -> torch.Tensor:
    """[..., 2] pixels (u, v) of camera-frame points [..., 3] (R = I, t = 0)."""
    z = points[..., 2].clamp_min(1e-3)
    return torch.stack([focal * points[..., 0] / z + centre[0], focal * points[..., 1] / z + centre[1]], dim=-1)


# --- initial orientation and translation --------------------------------------------------------


def yaw_rotation(yaw: np.ndarray) -> np.ndarray:
    """[K, 3, 3] world rotations of an upright body turned by `yaw` [K] (0 = facing the camera)."""
    c, s = np.cos(yaw), np.sin(yaw)
    zero, one = np.zeros_like(yaw), np.ones_like(yaw)
    about_y = np.stack([np.stack([c, zero, s], -1), np.stack([zero, one, zero], -1), np.stack([-s, zero, c], -1)], -2)
    return np.asarray(_WORLD_FROM_CANONICAL) @ about_y


def fit_scale_offset(model_xy: np.ndarray, observed: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted least squares of observed ≈ s · model_xy + o, per row.

    Args:
        model_xy: [..., K, 2]; observed: [..., K, 2] centred pixels; weight: [..., K].
    Returns:
        scale [...], offset [..., 2], weighted mean squared residual [...] divided by scale².
    """
    w = weight[..., None]
    total = weight.sum(-1).clip(min=1e-9)[..., None]
    mean_m = (w * model_xy).sum(-2) / total
    mean_o = (w * observed).sum(-2) / total
    dm, do = model_xy - mean_m[..., None, :], observed - mean_o[..., None, :]
    scale = (w * dm * do).sum((-1, -2)) / (w * dm * dm).sum((-1, -2)).clip(min=1e-12)
    scale = scale.clip(min=1e-6)
    offset = mean_o - scale[..., None] * mean_m
    residual = observed - scale[..., None, None] * model_xy - offset[..., None, :]
    error = (weight * (residual**2).sum(-1)).sum(-1) / total[..., 0]
    return scale, offset, error / scale**2


def smooth_choice(costs: np.ndarray, angles: np.ndarray, change_weight: float) -> np.ndarray:
    """[F] candidate index per frame minimising sum of costs [F, K] + change_weight · (Δangle)² (Viterbi)."""
    diff = np.angle(np.exp(1j * (angles[:, None] - angles[None, :])))
    transition = change_weight * diff**2
    total = costs[0].copy()
    back = np.zeros(costs.shape, dtype=np.int64)
    for frame in range(1, costs.shape[0]):
        step = total[:, None] + transition
        back[frame] = step.argmin(0)
        total = step.min(0) + costs[frame]
    path = [int(total.argmin())]
    for frame in range(costs.shape[0] - 1, 0, -1):
        path.append(int(back[frame, path[-1]]))
    return np.array(path[::-1])


def initial_placement(
    rest_keypoints: np.ndarray, root: np.ndarray, keypoints: np.ndarray, weight: np.ndarray,
    focal: float, centre: tuple[float, float], options: BodyFitOptions,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame world rotation [F, 3, 3] and translation [F, 3] of the canonical body.

    rest_keypoints: [17, 3] COCO points of the canonical body; root: [3] its root joint;
    keypoints: [F, 17, 2] pixels; weight: [F, 17] keypoint weights.
    """
    angles = np.arange(options.yaw_steps) * (2.0 * math.pi / options.yaw_steps)
    rotations = yaw_rotation(angles)
    rotated = np.einsum("kij,nj->kni", rotations, rest_keypoints - root) + root  # [K, 17, 3]
    torso = list(TORSO_KEYPOINTS)
    observed = keypoints - np.asarray(centre)
    scale, offset, error = fit_scale_offset(
        rotated[None, :, torso, :2], observed[:, None, torso], weight[:, None, torso]
    )  # [F, K]
    choice = smooth_choice(error / np.median(error).clip(min=1e-12), angles, options.yaw_change_weight)
    frames = np.arange(keypoints.shape[0])
    s, o = scale[frames, choice], offset[frames, choice]
    # u - cx ≈ (f / z) (x + t_x) with z the root depth; s = f / z.
    depth = focal / s
    trans = np.stack([o[:, 0] / s, o[:, 1] / s, depth - root[2]], axis=-1)
    return rotations[choice], trans


# --- silhouette targets -------------------------------------------------------------------------


def outside_distance(masks: np.ndarray) -> np.ndarray:
    """[F, H, W] float32 distance (px) of each pixel to the nearest mask pixel (0 inside)."""
    return np.stack([ndimage.distance_transform_edt(~m) for m in masks]).astype(np.float32)


def contour_samples(masks: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """[F, count, 2] (u, v) pixels drawn from each mask's boundary (repeated when it has fewer)."""
    if count == 0:
        return np.zeros((len(masks), 0, 2), dtype=np.float32)
    samples = []
    for mask in masks:
        boundary = mask & ~ndimage.binary_erosion(mask)
        rows, cols = np.nonzero(boundary)
        pick = rng.choice(rows.size, size=count, replace=rows.size < count)
        samples.append(np.stack([cols[pick], rows[pick]], axis=-1))
    return np.stack(samples).astype(np.float32)


def sample_image(images: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
    """Bilinear lookup with border clamping: images [B, H, W], pixels [B, N, 2] (u, v) -> [B, N]."""
    height, width = images.shape[-2:]
    grid = torch.stack([2.0 * pixels[..., 0] / (width - 1) - 1.0, 2.0 * pixels[..., 1] / (height - 1) - 1.0], -1)
    sampled = torch.nn.functional.grid_sample(
        images[:, None], grid[:, :, None], mode="bilinear", padding_mode="border", align_corners=True
    )
    return sampled[:, 0, :, 0]


def bone_directions(points: torch.Tensor) -> torch.Tensor:
    """Unit directions [..., len(DIRECTION_BONES), 3] of the DIRECTION_BONES of COCO-17 points [..., 17, 3]."""
    return torch.nn.functional.normalize(points[..., _BONE_ENDS, :] - points[..., _BONE_STARTS, :], dim=-1)


def direction_loss(directions: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted mean of 1 - cos between unit directions [B, K, 3] and targets [B, K, 3]; weight [B, K]."""
    mismatch = 1.0 - (directions * targets).sum(dim=-1)
    return (weight * mismatch).sum() / weight.sum().clamp_min(1e-9)


def pseudo_huber(distance: torch.Tensor, delta: float) -> torch.Tensor:
    return torch.sqrt(distance**2 + delta**2) - delta


# --- the optimisation ---------------------------------------------------------------------------


@dataclass
class _Targets:
    """What a batch of B frames is fitted to.

    keypoints: [B, 17, 2] pixels; weight: [B, 17]; distance: [B, H, W] outside distance (px);
    contour: [B, N, 2] mask contour pixels; directions: [B, K, 3] the estimator's DIRECTION_BONES and
    direction_weight: [B, K] their weights (0 where not given).
    """

    keypoints: torch.Tensor
    weight: torch.Tensor
    distance: torch.Tensor
    contour: torch.Tensor
    directions: torch.Tensor
    direction_weight: torch.Tensor


TARGET_KEYS = ("keypoints", "weight", "distance", "contour", "directions", "direction_weight")


@dataclass
class _Problem:
    """Everything a batch fit shares: the body, its keypoint map, the camera and the loss settings."""

    body: BodyModel
    regressor: torch.Tensor
    fitted: torch.Tensor
    stiffness: torch.Tensor
    coverage_vertices: torch.Tensor
    shape_bounds: tuple[float, float] | None
    focal: float
    centre: tuple[float, float]
    size: float
    options: BodyFitOptions


@dataclass
class _State:
    """Free parameters of B frames: rotation6d [B, 6] world rotation, trans [B, 3], delta [B, L, 3]
    axis-angle offsets of the fitted landmarks from the canonical pose, shape [S]."""

    rotation6d: torch.Tensor
    trans: torch.Tensor
    delta: torch.Tensor
    shape: torch.Tensor


def pose_batch(problem: _Problem, state: _State) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """World vertices [B, V, 3], joints [B, J, 3] and full axis-angle poses [B, J, 3] of a state."""
    body = problem.body
    canonical = body.canonical_pose().to(state.delta)
    batch = state.delta.shape[0]
    pose = canonical.expand(batch, -1, -1).clone()
    pose[:, problem.fitted] = canonical[problem.fitted] + state.delta
    shape = state.shape if problem.shape_bounds is None else state.shape.clamp(*problem.shape_bounds)
    out = body.forward(pose, shape)
    rotation = rotation_6d_to_matrix(state.rotation6d)
    root = out.joints[:, :1]
    offset = root + state.trans[:, None]
    vertices = (out.vertices - root) @ rotation.transpose(1, 2) + offset
    joints = (out.joints - root) @ rotation.transpose(1, 2) + offset
    full = pose.clone()
    full[:, 0] = matrix_to_axis_angle(rotation @ axis_angle_to_matrix(canonical[0]))
    return vertices, joints, full


def batch_losses(
    problem: _Problem, state: _State, targets: _Targets, previous: torch.Tensor | None, smooth: bool
) -> dict[str, torch.Tensor]:
    """Loss terms of one batch; previous: [2, J, 3] fixed joints of the two frames before it, or None."""
    options = problem.options
    vertices, joints, _ = pose_batch(problem, state)
    points = body_keypoints(vertices, joints, problem.regressor)
    pixels = project_pinhole(points, problem.focal, problem.centre)
    error = (pixels - targets.keypoints).norm(dim=-1) / problem.size
    keypoint = (targets.weight * pseudo_huber(error, options.keypoint_huber)).sum() / targets.weight.sum().clamp_min(1e-9)
    projected = project_pinhole(vertices, problem.focal, problem.centre)
    inside = sample_image(targets.distance, projected).mean() / problem.size
    prior = (problem.stiffness[:, None] * state.delta**2).sum(dim=(1, 2)).mean()
    shape_prior = ((state.shape - problem.body.default_shape().to(state.shape)) ** 2).mean()
    terms = {
        "keypoint": options.keypoint_weight * keypoint,
        "inside": options.inside_weight * inside,
        "pose_prior": options.pose_prior_weight * prior,
        "shape_prior": options.shape_prior_weight * shape_prior,
    }
    if options.direction_weight > 0 and bool((targets.direction_weight > 0).any()):
        terms["direction"] = options.direction_weight * direction_loss(
            bone_directions(points), targets.directions, targets.direction_weight
        )
    if options.coverage_weight > 0:
        sparse = projected[:, problem.coverage_vertices]
        nearest = torch.cdist(targets.contour, sparse).min(dim=-1).values / problem.size
        terms["coverage"] = options.coverage_weight * nearest.clamp(max=options.coverage_truncation).mean()
    track = joints if previous is None else torch.cat([previous, joints])
    if smooth and track.shape[0] >= 3:
        accel = track[2:] - 2.0 * track[1:-1] + track[:-2]
        terms["smooth"] = options.smooth_weight * (accel**2).sum(-1).mean()
    return terms


def optimise(
    problem: _Problem, state: _State, targets: _Targets, steps: int, free: tuple[str, ...],
    previous: torch.Tensor | None, smooth: bool, bar: tqdm,
) -> float:
    """Adam on the `free` fields of `state` (in place); returns the final total loss."""
    parameters = [getattr(state, name).requires_grad_(True) for name in free]
    optimiser = torch.optim.Adam(parameters, lr=problem.options.learning_rate)
    total = torch.zeros(())
    for _ in range(steps):
        optimiser.zero_grad()
        total = sum(batch_losses(problem, state, targets, previous, smooth).values())
        total.backward()
        optimiser.step()
        bar.update(1)
    for name in free:
        setattr(state, name, getattr(state, name).detach())
    return float(total.detach())


def initial_state(problem: _Problem, keypoints: np.ndarray, weight: np.ndarray, shape: torch.Tensor) -> _State:
    """The state of B frames from the yaw search on the canonical body of `shape`."""
    body = problem.body
    rest = body.rest(shape)
    rest_points = (problem.regressor @ torch.cat([rest.vertices, rest.joints])).detach().cpu().double().numpy()
    root = rest.joints[0].detach().cpu().double().numpy()
    rotation, trans = initial_placement(rest_points, root, keypoints, weight, problem.focal, problem.centre, problem.options)
    like = shape.detach()
    return _State(
        rotation6d=matrix_to_rotation_6d(torch.as_tensor(rotation).to(like)),
        trans=torch.as_tensor(trans).to(like),
        delta=like.new_zeros(keypoints.shape[0], problem.fitted.numel(), 3),
        shape=shape.detach().clone(),
    )


def fit_frames(
    problem: _Problem, frames: np.ndarray, data: dict[str, np.ndarray], shape: torch.Tensor, fit_shape: bool,
    previous: torch.Tensor | None, smooth: bool, steps: int, bar: tqdm,
) -> tuple[_State, float]:
    """Initialise and fit the given frames: global orientation and translation first, then everything."""
    like = shape
    targets = _Targets(*(torch.as_tensor(data[key][frames]).to(like) for key in TARGET_KEYS))
    state = initial_state(problem, data["keypoints"][frames], data["weight"][frames], shape)
    options = problem.options
    pose_free = ("rotation6d", "trans", "delta")
    optimise(problem, state, targets, options.global_iterations, ("rotation6d", "trans"), previous, smooth, bar)
    loss = optimise(problem, state, targets, steps, pose_free, previous, smooth, bar)
    if fit_shape:
        loss = optimise(problem, state, targets, options.shape_iterations, pose_free + ("shape",), previous, smooth, bar)
    return state, loss


def target_directions(world: np.ndarray | None, frames: int, min_confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """The estimator's bone directions [F, K, 3] and weights [F, K] (the smaller confidence of the two ends,
    0 below min_confidence) from world keypoints [F, 17, 4], or zeros without them."""
    count = len(DIRECTION_BONES)
    if world is None:
        return np.zeros((frames, count, 3), dtype=np.float32), np.zeros((frames, count), dtype=np.float32)
    if world.shape != (frames, 17, 4) or not np.isfinite(world).all():
        raise RecmvError(f"world_keypoints: expected finite [{frames}, 17, 4] (x, y, z, confidence), got shape {world.shape}")
    points = torch.as_tensor(world[..., :3], dtype=torch.float64)
    directions = bone_directions(points).numpy().astype(np.float32)
    weight = np.minimum(world[:, _BONE_STARTS, 3], world[:, _BONE_ENDS, 3])
    length = np.linalg.norm(world[:, _BONE_ENDS, :3] - world[:, _BONE_STARTS, :3], axis=-1)
    weight = weight * (weight >= min_confidence) * (length > 1e-6)
    return directions, weight.astype(np.float32)


def check_inputs(keypoints: np.ndarray, masks: np.ndarray, focal: float | None) -> None:
    if keypoints.ndim != 3 or keypoints.shape[1:] != (17, 3):
        raise RecmvError(f"keypoints: expected [F, 17, 3] COCO-17 (x, y, confidence), got shape {keypoints.shape}")
    if masks.ndim != 3 or masks.dtype != bool:
        raise RecmvError(f"masks: expected a bool [F, H, W] array, got {masks.dtype} {masks.shape}")
    if masks.shape[0] != keypoints.shape[0]:
        raise RecmvError(f"keypoints and masks disagree on the frame count: {keypoints.shape[0]} vs {masks.shape[0]}")
    if not np.isfinite(keypoints).all():
        raise RecmvError("keypoints: contain NaN or inf")
    empty = np.flatnonzero(~masks.reshape(masks.shape[0], -1).any(axis=1))
    if empty.size:
        raise RecmvError(f"masks: frame(s) {empty[:5].tolist()} have no foreground pixel; no person to fit")
    if focal is not None and not focal > 0:
        raise RecmvError(f"focal: expected a positive focal length in pixels, got {focal}")


def make_problem(body: BodyModel, height: int, width: int, focal: float, options: BodyFitOptions) -> _Problem:
    like = body.skinning_weights
    regressor = coco_regressor(body)
    fitted = torch.tensor([body.landmark_joints[n] for n in FITTED_LANDMARKS], device=like.device)
    stiffness = torch.tensor([_STIFFNESS.get(n, 1.0) for n in FITTED_LANDMARKS]).to(like)
    rng = np.random.default_rng(options.seed)
    count = min(options.coverage_vertices, body.skinning_weights.shape[0])
    subset = torch.as_tensor(np.sort(rng.choice(body.skinning_weights.shape[0], count, replace=False)), device=like.device)
    bounds = (0.0, 1.0) if isinstance(body, AnnyBody) else None
    centre = ((width - 1) / 2.0, (height - 1) / 2.0)
    return _Problem(body, regressor, fitted, stiffness, subset, bounds, float(focal), centre, float(max(height, width)), options)


def fit_body(
    keypoints: np.ndarray, masks: np.ndarray, body: BodyModel, focal: float | None, options: BodyFitOptions,
    world_keypoints: np.ndarray | None = None,
) -> BodyFitResult:
    """Fit shape (once), pose and translation (per frame) of `body` to keypoints and silhouettes.

    Args:
        keypoints: [F, 17, 3] COCO-17 (x = column, y = row, confidence) in pixels.
        masks: [F, H, W] bool person masks.
        body: the body model (Anny or SMPL); device and dtype follow its buffers.
        focal: focal length in pixels, or None to pick it among `options.focal_candidates`.
        world_keypoints: optional [F, 17, 4] COCO-17 3D points (x, y, z in the camera's axes: right, down,
            away; any origin and scale) and confidence, for the direction term.
    """
    start = time.perf_counter()
    check_inputs(keypoints, masks, focal)
    directions, direction_weight = target_directions(world_keypoints, keypoints.shape[0], options.min_confidence)
    num_frames, height, width = masks.shape
    weight = keypoints[..., 2] * (keypoints[..., 2] >= options.min_confidence)
    weight[:, list(FACE_KEYPOINTS)] *= options.face_weight
    rng = np.random.default_rng(options.seed)
    data = {
        "keypoints": keypoints[..., :2].astype(np.float32),
        "weight": weight.astype(np.float32),
        "distance": outside_distance(masks),
        "contour": contour_samples(masks, options.coverage_points if options.coverage_weight > 0 else 0, rng),
        "directions": directions,
        "direction_weight": direction_weight,
    }
    batch = max(1, options.batch_frames)
    subset = np.unique(np.linspace(0, num_frames - 1, min(num_frames, batch)).round().astype(np.int64))
    whole = subset.size == num_frames
    candidates = [focal] if focal is not None else [c * max(height, width) for c in options.focal_candidates]
    per_fit = options.global_iterations + options.iterations
    shape_steps = options.shape_iterations if options.fit_shape else 0
    search = 0 if focal is not None else len(candidates) * (options.global_iterations + options.focal_search_iterations)
    chunks = [] if whole else [np.arange(i, min(i + batch, num_frames)) for i in range(0, num_frames, batch)]
    total_steps = search + per_fit * (1 + len(chunks)) + shape_steps
    bar = tqdm(total=total_steps, desc="prepare: body fit", unit="step", disable=not options.progress)
    shape0 = body.default_shape()
    focal_losses: dict[float, float] = {}
    if focal is None:
        for candidate in candidates:
            problem = make_problem(body, height, width, candidate, options)
            # The default shape during the search: rebuilding the rest body per step would dominate.
            _, loss = fit_frames(problem, subset, data, shape0, False, None, whole, options.focal_search_iterations, bar)
            focal_losses[float(candidate)] = loss
        focal = min(focal_losses, key=focal_losses.get)
    problem = make_problem(body, height, width, focal, options)
    state, _ = fit_frames(problem, subset, data, shape0, options.fit_shape, None, whole, options.iterations, bar)
    shape = state.shape if problem.shape_bounds is None else state.shape.clamp(*problem.shape_bounds)
    states = [state] if whole else []
    previous = None
    for frames in chunks:
        chunk_state, _ = fit_frames(problem, frames, data, shape, False, previous, True, options.iterations, bar)
        states.append(chunk_state)
        with torch.no_grad():
            previous = pose_batch(problem, chunk_state)[1][-2:]
    bar.close()
    state = _State(*(torch.cat([getattr(s, n) for s in states]) for n in ("rotation6d", "trans", "delta")), shape)
    return finish(problem, state, data, focal_losses, time.perf_counter() - start)


def finish(
    problem: _Problem, state: _State, data: dict[str, np.ndarray], focal_losses: dict[float, float], seconds: float
) -> BodyFitResult:
    """The result and its diagnostics from the fitted state of every frame."""
    with torch.no_grad():
        vertices, joints, poses = pose_batch(problem, state)
        pixels = project_pinhole(body_keypoints(vertices, joints, problem.regressor), problem.focal, problem.centre)
        projected = project_pinhole(vertices, problem.focal, problem.centre)
        distance = sample_image(torch.as_tensor(data["distance"]).to(vertices), projected)
    weight = data["weight"] > 0
    error = np.linalg.norm(pixels.cpu().numpy() - data["keypoints"], axis=-1)
    per_frame = (error * weight).sum(1) / weight.sum(1).clip(min=1)
    height, width = data["distance"].shape[1:]
    camera = PinholeCamera(
        problem.focal, problem.focal, problem.centre[0], problem.centre[1],
        torch.eye(3), torch.zeros(3), width=int(width), height=int(height),
    )
    params = BodyParams(
        poses=poses.cpu().numpy().astype(np.float32),
        shape=state.shape.detach().cpu().numpy().astype(np.float32),
        trans=state.trans.detach().cpu().numpy().astype(np.float32),
    )
    inside = (distance < 0.5).float().mean(dim=1).cpu().numpy()
    return BodyFitResult(params, camera, per_frame, inside, focal_losses, seconds)
