"""Body fit on a tiny synthetic subject: recovers the pose and placement behind its own keypoints and mask."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math

import numpy as np
import pytest
import torch

from recmv.body.anny_body import PHENOTYPES
from recmv.body.factory import build_body_model, shape_tensor
from recmv.data import formats
from recmv.errors import RecmvError
from recmv.preprocess import bodyfit


def load_subject(subject):
    meta = json.loads((subject / "subject.json").read_text())
    body = build_body_model(meta["body"])
    masks = np.stack([formats.read_mask(p) for p in sorted((subject / "masks").glob("*.png"))])
    camera = formats.read_camera(subject / "camera.npz", masks.shape[1:])
    params = formats.read_body_params(subject / "smpl_rec.npz", body.num_joints)
    return meta, body, masks, camera, params


def project_keypoints(body, params, camera, regressor) -> tuple[np.ndarray, np.ndarray]:
    """COCO-17 pixels [F, 17, 2] and root joints [F, 3] of body parameters, posed by the body model itself."""
    out = body.forward(torch.as_tensor(params.poses), torch.as_tensor(params.shape), torch.as_tensor(params.trans))
    points = bodyfit.body_keypoints(out.vertices, out.joints, regressor)
    return camera.project(points)[0].detach().numpy(), out.joints[:, 0].detach().numpy()


def exact_keypoints(body, params, camera) -> tuple[torch.Tensor, np.ndarray]:
    """The COCO regressor and the keypoints [F, 17, 3] of body parameters as projected, at full confidence."""
    regressor = bodyfit.coco_regressor(body)
    pixels, _ = project_keypoints(body, params, camera, regressor)
    return regressor, np.concatenate([pixels, np.ones(pixels.shape[:2] + (1,))], axis=-1)


@pytest.fixture(scope="module")
def fitted(tiny_subject):  # noqa: F811
    meta, body, masks, camera, params = load_subject(tiny_subject)
    regressor, keypoints = exact_keypoints(body, params, camera)
    # The tiny clip turns 90° between frames, far more than a video: no temporal smoothness here.
    options = bodyfit.BodyFitOptions(
        iterations=80, global_iterations=20, shape_iterations=10, smooth_weight=0.0, progress=False
    )
    result = bodyfit.fit_body(keypoints, masks, body, camera.fx, options)
    return body, camera, params, regressor, keypoints, result, masks


def test_fit_recovers_keypoints_and_placement(fitted):
    body, camera, gt, regressor, keypoints, result, masks = fitted
    pixels, root = project_keypoints(body, result.params, result.camera, regressor)
    gt_vertices = body.forward(torch.as_tensor(gt.poses), torch.as_tensor(gt.shape), torch.as_tensor(gt.trans)).vertices
    _, gt_root = project_keypoints(body, gt, camera, regressor)
    error = np.linalg.norm(pixels - keypoints[..., :2], axis=-1)
    assert error.mean() < 1.0, error.mean(axis=1)  # 64 px images: < 1/64 of the frame
    assert np.allclose(error.mean(axis=1), result.keypoint_error_px, atol=1e-3)
    # The root where the camera sees it: within a pixel across the image, within 10 % in depth
    # (depth trades against body size, which the shape fit only partly pins down).
    root_px, gt_root_px = camera.project(torch.as_tensor(root))[0], camera.project(torch.as_tensor(gt_root))[0]
    assert (root_px - gt_root_px).norm(dim=-1).max() < 1.0
    assert np.abs(root[:, 2] / gt_root[:, 2] - 1.0).max() < 0.1
    # About as much of the body inside the mask as the true body has (64 px masks cut vertices at the edge).
    gt_inside = bodyfit.sample_image(
        torch.as_tensor(bodyfit.outside_distance(masks)), camera.project(gt_vertices)[0]
    ) < 0.5
    assert (result.inside_fraction > gt_inside.float().mean(dim=1).numpy() - 0.15).all()
    assert result.params.poses.shape == gt.poses.shape and result.params.trans.shape == gt.trans.shape
    assert result.camera.fx == camera.fx and result.camera.width == camera.width


def test_fitted_params_survive_smpl_rec_round_trip(fitted, tmp_path):
    body, _, _, regressor, _, result, _ = fitted
    formats.write_body_params(tmp_path / "smpl_rec.npz", result.params)
    again = formats.read_body_params(tmp_path / "smpl_rec.npz", body.num_joints)
    a, _ = project_keypoints(body, result.params, result.camera, regressor)
    b, _ = project_keypoints(body, again, result.camera, regressor)
    assert np.abs(a - b).max() < 1e-3


def test_initial_yaw_follows_the_rotation(tiny_subject):  # noqa: F811
    meta, body, masks, camera, params = load_subject(tiny_subject)
    shape = shape_tensor(meta["body"])
    regressor = bodyfit.coco_regressor(body)
    pixels, _ = project_keypoints(body, params, camera, regressor)
    rest = body.rest(shape)
    rest_points = (regressor @ torch.cat([rest.vertices, rest.joints])).numpy().astype(np.float64)
    rotation, _ = bodyfit.initial_placement(
        rest_points, rest.joints[0].numpy(), pixels, np.ones(pixels.shape[:2]), camera.fx, (camera.cx, camera.cy),
        bodyfit.BodyFitOptions(),
    )
    gt_rotation = bodyfit.axis_angle_to_matrix(torch.as_tensor(params.poses[:, 0])).numpy()
    # Angle between the fitted and the true world orientation of the torso.
    relative = np.einsum("fji,fjk->fik", rotation, gt_rotation)
    angle = np.degrees(np.arccos(np.clip((np.trace(relative, axis1=1, axis2=2) - 1) / 2, -1, 1)))
    assert (angle < 20.0).all(), angle


def test_scale_offset_is_exact_on_noise_free_points():
    rng = np.random.default_rng(0)
    model = rng.normal(size=(3, 9, 2))
    observed = 2.5 * model + np.array([4.0, -1.0])
    scale, offset, error = bodyfit.fit_scale_offset(model, observed, np.ones((3, 9)))
    assert np.allclose(scale, 2.5) and np.allclose(offset, [4.0, -1.0]) and np.allclose(error, 0.0, atol=1e-12)


def test_smooth_choice_matches_brute_force():
    rng = np.random.default_rng(1)
    costs = rng.uniform(size=(4, 5))
    angles = np.arange(5) * 2 * math.pi / 5
    path = bodyfit.smooth_choice(costs, angles, 0.7)

    def total(choice):
        jumps = np.angle(np.exp(1j * np.diff(angles[list(choice)])))
        return costs[np.arange(4), list(choice)].sum() + 0.7 * (jumps**2).sum()

    best = min(itertools.product(range(5), repeat=4), key=total)
    assert total(path) == pytest.approx(total(best))


def test_face_vertices_on_a_sphere_head():
    points = np.random.default_rng(2).normal(size=(400, 3))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    chosen = bodyfit.face_vertices(points, np.ones(400, dtype=bool))
    assert points[chosen["nose"], 2] == points[:, 2].max()
    assert points[chosen["left_ear"], 0] > 0.9 and points[chosen["right_ear"], 0] < -0.9
    assert points[chosen["left_eye"], 0] > 0 > points[chosen["right_eye"], 0]
    assert points[chosen["left_eye"], 2] > 0.5


def test_bad_inputs_give_one_clear_error(tiny_subject):  # noqa: F811
    _, body, masks, camera, _ = load_subject(tiny_subject)
    keypoints = np.ones((masks.shape[0], 17, 3))
    with pytest.raises(RecmvError, match="keypoints"):
        bodyfit.fit_body(keypoints[:, :12], masks, body, camera.fx, bodyfit.BodyFitOptions())
    with pytest.raises(RecmvError, match="frame count"):
        bodyfit.fit_body(keypoints[:2], masks, body, camera.fx, bodyfit.BodyFitOptions())
    empty = masks.copy()
    empty[1] = False
    with pytest.raises(RecmvError, match="no foreground"):
        bodyfit.fit_body(keypoints, empty, body, camera.fx, bodyfit.BodyFitOptions())
    with pytest.raises(RecmvError, match="focal"):
        bodyfit.fit_body(keypoints, masks, body, -1.0, bodyfit.BodyFitOptions())


def test_the_optional_coverage_term_fattens_the_body_onto_a_loose_silhouette(tiny_subject):  # noqa: F811
    """Masks grown by a pixel stand for loose clothes (within the term's truncation at 64 px): with the
    coverage term on, the fit makes the body heavier to reach their contour, as it did on the dressed
    walking clip; by default (off) nothing pulls the body out to the clothes."""
    from scipy import ndimage

    _, body, masks, camera, params = load_subject(tiny_subject)
    _, keypoints = exact_keypoints(body, params, camera)
    loose = np.stack([ndimage.binary_dilation(m, iterations=1) for m in masks])
    default = bodyfit.BodyFitOptions(
        iterations=40, global_iterations=20, shape_iterations=200, smooth_weight=0.0, progress=False
    )
    assert default.coverage_weight == 0.0
    off = bodyfit.fit_body(keypoints, loose, body, camera.fx, default)
    on = bodyfit.fit_body(keypoints, loose, body, camera.fx, dataclasses.replace(default, coverage_weight=0.3))
    weight = PHENOTYPES.index("weight")
    assert on.params.shape[weight] > off.params.shape[weight] + 0.15


def test_direction_loss_is_one_minus_the_cosine_and_skips_unweighted_bones():
    points = torch.as_tensor(np.random.default_rng(0).normal(size=(1, 17, 3)), dtype=torch.float32)
    points[0, 13] = points[0, 11] + torch.tensor([0.0, 0.4, 0.0])  # left knee straight below the left hip
    targets = bodyfit.bone_directions(points)
    assert bodyfit.direction_loss(targets, targets, torch.ones(1, targets.shape[1])) == pytest.approx(0.0, abs=1e-6)
    turned = points.clone()
    turned[0, 13] = points[0, 11] + 0.4 * torch.tensor([0.0, math.cos(0.3), math.sin(0.3)])  # swung 0.3 rad in depth
    thigh = bodyfit.DIRECTION_BONES.index((11, 13))
    weight = torch.zeros(1, targets.shape[1])
    weight[0, thigh] = 1.0
    value = bodyfit.direction_loss(bodyfit.bone_directions(turned), targets, weight)
    assert value == pytest.approx(1.0 - math.cos(0.3), rel=1e-5)
    weight[0, thigh] = 0.0
    weight[0, 0] = 1.0
    assert bodyfit.direction_loss(bodyfit.bone_directions(turned), targets, weight) == pytest.approx(0.0, abs=1e-6)


def test_target_directions_weigh_bones_by_their_ends_and_refuse_a_bad_array():
    world = np.zeros((2, 17, 4), dtype=np.float32)
    world[..., :3] = np.random.default_rng(0).normal(size=(2, 17, 3))
    world[..., 3] = 0.9
    world[1, 13, 3] = 0.1  # an unsure left knee: both left-thigh and left-shin bones drop out in frame 1
    directions, weight = bodyfit.target_directions(world, 2, min_confidence=0.2)
    assert directions.shape == (2, len(bodyfit.DIRECTION_BONES), 3)
    np.testing.assert_allclose(np.linalg.norm(directions, axis=-1), 1.0, rtol=1e-5)
    dropped = [i for i, bone in enumerate(bodyfit.DIRECTION_BONES) if 13 in bone]
    assert (weight[1, dropped] == 0).all() and np.allclose(weight[0], 0.9)
    none_given = bodyfit.target_directions(None, 3, 0.2)[1]
    assert none_given.shape == (3, len(bodyfit.DIRECTION_BONES)) and not none_given.any()
    with pytest.raises(RecmvError, match="world_keypoints"):
        bodyfit.target_directions(world[:, :16], 2, 0.2)


def test_world_keypoints_settle_which_way_the_limbs_point_in_depth(tiny_subject):  # noqa: F811
    """Thighs swung forward and back, seen in 2D (a whole-frame mask, so only keypoints speak): the
    foreshortened thighs may point either way in depth. Given the true 3D COCO points as the estimator's
    world keypoints, the fitted thighs point the true way."""
    _, body, masks, camera, params = load_subject(tiny_subject)
    poses = params.poses.copy()
    poses[:, body.landmark_joints["left_hip"]] += np.array([-0.8, 0.0, 0.0], dtype=np.float32)  # forward
    poses[:, body.landmark_joints["right_hip"]] += np.array([0.6, 0.0, 0.0], dtype=np.float32)  # back
    swung = formats.BodyParams(poses, params.shape, params.trans)
    regressor, keypoints = exact_keypoints(body, swung, camera)
    out = body.forward(torch.as_tensor(poses), torch.as_tensor(params.shape), torch.as_tensor(params.trans))
    true = camera.to_camera(bodyfit.body_keypoints(out.vertices, out.joints, regressor)).detach()
    world = np.concatenate([true.numpy(), np.ones(true.shape[:2] + (1,))], axis=-1).astype(np.float32)
    whole = np.ones_like(masks)
    options = bodyfit.BodyFitOptions(iterations=80, global_iterations=20, shape_iterations=10, smooth_weight=0.0, progress=False)
    thighs = [bodyfit.DIRECTION_BONES.index(bone) for bone in ((11, 13), (12, 14))]

    def thigh_error(result) -> float:
        fitted = body.forward(torch.as_tensor(result.params.poses), torch.as_tensor(result.params.shape), torch.as_tensor(result.params.trans))
        points = result.camera.to_camera(bodyfit.body_keypoints(fitted.vertices, fitted.joints, regressor))
        cosine = (bodyfit.bone_directions(points) * bodyfit.bone_directions(true)).sum(-1).clamp(-1, 1)[:, thighs]
        return float(torch.rad2deg(torch.arccos(cosine)).mean())

    without = thigh_error(bodyfit.fit_body(keypoints, whole, body, camera.fx, options))
    given = thigh_error(bodyfit.fit_body(keypoints, whole, body, camera.fx, options, world))
    assert given < 10.0 and given < 0.5 * without, (given, without)
