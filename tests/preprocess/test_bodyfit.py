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


@pytest.fixture(scope="module")
def fitted(tiny_subject):  # noqa: F811
    meta, body, masks, camera, params = load_subject(tiny_subject)
    regressor = bodyfit.coco_regressor(body)
    pixels, _ = project_keypoints(body, params, camera, regressor)
    keypoints = np.concatenate([pixels, np.ones(pixels.shape[:2] + (1,))], axis=-1)
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
    regressor = bodyfit.coco_regressor(body)
    pixels, _ = project_keypoints(body, params, camera, regressor)
    keypoints = np.concatenate([pixels, np.ones(pixels.shape[:2] + (1,))], axis=-1)
    loose = np.stack([ndimage.binary_dilation(m, iterations=1) for m in masks])
    default = bodyfit.BodyFitOptions(
        iterations=40, global_iterations=20, shape_iterations=200, smooth_weight=0.0, progress=False
    )
    assert default.coverage_weight == 0.0
    off = bodyfit.fit_body(keypoints, loose, body, camera.fx, default)
    on = bodyfit.fit_body(keypoints, loose, body, camera.fx, dataclasses.replace(default, coverage_weight=0.3))
    weight = PHENOTYPES.index("weight")
    assert on.params.shape[weight] > off.params.shape[weight] + 0.15
