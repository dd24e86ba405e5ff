"""AnnyBody on the low-resolution `notoes_collapse5pc` topology (615 vertices)."""

import pytest
import torch

from recmv.body import lbs
from recmv.body.anny_body import (
    BONE_NAMES,
    AnnyBody,
    anny_axes_matrix,
    keeping_stdout,
    points_from_anny,
    rotations_to_anny,
)
from recmv.body.factory import build_body_model, shape_tensor
from recmv.errors import RecmvError
from recmv.geometry.rotations import axis_angle_to_matrix

DOUBLE = torch.float64
TOPOLOGY = "notoes_collapse5pc"


@pytest.fixture(scope="module")
def body():
    return AnnyBody(TOPOLOGY, dtype=DOUBLE)


def random_pose(batch: int, seed: int = 0) -> torch.Tensor:
    return 0.4 * torch.randn(batch, 38, 3, generator=torch.Generator().manual_seed(seed), dtype=DOUBLE)


def anny_own_vertices(body: AnnyBody, pose: torch.Tensor, shape: torch.Tensor, transl: torch.Tensor):
    """The same pose through Anny's own kinematics and skinning, in Anny's axes, then mapped.

    Anny's `local-ref` kinematics with the rest orientations as reference (reference_orientations
    None) rotate each bone in world-aligned axes about its rest head, as recmv does; the root's
    delta is its world pose relative to the rest root orientation.
    """
    from anny.utils.kinematics import forward_kinematic

    model = body.anny
    output = model(pose_parameters=None, phenotype_kwargs=shape[None])
    rest_poses = output["rest_bone_poses"].expand(pose.shape[0], -1, -1, -1)
    rotations = rotations_to_anny(axis_angle_to_matrix(pose))
    root_orientation, root_head = rest_poses[:, 0, :3, :3], rest_poses[:, 0, :3, 3]
    deltas = torch.eye(4, dtype=pose.dtype).repeat(pose.shape[0], 38, 1, 1)
    deltas[..., :3, :3] = rotations
    deltas[:, 0, :3, :3] = root_orientation @ rotations[:, 0]
    transl_anny = transl @ anny_axes_matrix(pose.dtype, pose.device)  # M^T t
    deltas[:, 0, :3, 3] = (root_orientation @ (root_head + transl_anny)[..., None])[..., 0]
    chain = (model.kinematic_chain_levels, model.kinematic_chain_indices)
    transforms, poses = forward_kinematic(chain, rest_poses, deltas, "local-ref", None)
    vertices = model.get_skinned_vertices(output["rest_vertices"].expand(pose.shape[0], -1, -1), transforms)
    return points_from_anny(vertices), points_from_anny(poses[..., :3, 3])


def test_buffers(body):
    assert body.joint_names == BONE_NAMES and body.num_joints == 38
    assert body.faces.shape == (1226, 3) and body.faces.dtype == torch.int64
    assert int(body.faces.max()) == 614
    assert body.skinning_weights.shape == (615, 38)
    torch.testing.assert_close(body.skinning_weights.sum(1), torch.ones(615, dtype=DOUBLE))
    assert body.parents.tolist()[:3] == [-1, 0, 1]
    assert all(body.parents[j] < j for j in range(1, 38))


def test_zero_pose_is_rest(body):
    shape = torch.tensor([0.2, 0.7, 0.5, 0.3, 0.9, 0.4], dtype=DOUBLE)
    rest = body.rest(shape)
    output = body(body.canonical_pose()[None].expand(2, -1, -1), shape)
    torch.testing.assert_close(output.vertices, rest.vertices.expand(2, -1, -1))
    torch.testing.assert_close(output.joints, rest.joints.expand(2, -1, -1))
    torch.testing.assert_close(output.transforms, torch.eye(4, dtype=DOUBLE).expand(2, 38, 4, 4))


def test_forward_is_lbs_of_canonical_and_matches_anny(body):
    pose, shape = random_pose(3), torch.tensor([0.9, 0.3, 0.6, 0.2, 0.4, 0.7], dtype=DOUBLE)
    transl = torch.tensor([[0.1, -0.3, 2.0], [0.0, 0.0, 0.0], [-1.0, 0.5, 4.0]], dtype=DOUBLE)
    output = body(pose, shape, transl)
    rest = body.rest(shape)
    skinned = lbs.skin_points(rest.vertices[None], body.skinning_weights[None], output.transforms)
    torch.testing.assert_close(output.vertices, skinned)
    expected_vertices, expected_joints = anny_own_vertices(body, pose, shape, transl)
    torch.testing.assert_close(output.vertices, expected_vertices)
    torch.testing.assert_close(output.joints, expected_joints)
    assert (output.vertices - rest.vertices).abs().max() > 0.1


def test_axes_y_up_facing_plus_z_left_at_plus_x(body):
    rest = body.rest()
    joints = dict(zip(BONE_NAMES, rest.joints))
    vertices = rest.vertices
    assert joints["head"][1] > joints["foot.L"][1] + 1.2 and joints["head"][1] > joints["foot.R"][1] + 1.2
    assert vertices[:, 1].max() - vertices[:, 1].min() > 1.5  # height along y
    # The face looks towards +z: the eyes sit in the front half of the head at eye height.
    eye = joints["eye.L"]
    eye_slice = vertices[(vertices[:, 1] - eye[1]).abs() < 0.03]
    assert eye[2] > (eye_slice[:, 2].max() + eye_slice[:, 2].min()) / 2 + 0.03
    assert eye[2] > joints["head"][2] + 0.03
    # The toes point forwards (+z) from the ankle.
    foot = vertices[body.skinning_weights[:, BONE_NAMES.index("foot.L")] > 0.5]
    assert foot[:, 2].mean() > joints["foot.L"][2]
    # The body's left (.L) is at +x.
    assert joints["wrist.L"][0] > 0.3 and joints["wrist.R"][0] < -0.3 and joints["upperleg01.L"][0] > 0


def test_pose_rotates_in_canonical_axes(body):
    # Bending the left elbow by -90° about canonical y (up) swings the forearm towards +z
    # (forwards) for an arm pointing along +x: R_y(-90°) x = +z.
    elbow = BONE_NAMES.index("lowerarm01.L")
    pose = torch.zeros(1, 38, 3, dtype=DOUBLE)
    pose[0, elbow, 1] = -torch.pi / 2
    rest, output = body.rest(), body(pose)
    wrist = BONE_NAMES.index("wrist.L")
    forearm_rest = rest.joints[wrist] - rest.joints[elbow]
    forearm = output.joints[0, wrist] - output.joints[0, elbow]
    torch.testing.assert_close(forearm, torch.stack([-forearm_rest[2], forearm_rest[1], forearm_rest[0]]))
    assert forearm[2] > 0.1


def test_landmarks():
    names = AnnyBody.landmark_joints
    assert len(names) == 20
    assert BONE_NAMES[names["left_wrist"]] == "wrist.L" and BONE_NAMES[names["spine1"]] == "spine05"
    assert names["pelvis"] == 0


def test_float32_default_gradients_and_bad_input():
    body = build_body_model({"model": "anny", "topology": TOPOLOGY})
    assert isinstance(body, AnnyBody)
    shape = shape_tensor({"model": "anny"}).requires_grad_()
    pose = torch.zeros(2, 38, 3, requires_grad=True)
    output = body(pose, shape)
    assert output.vertices.dtype == torch.float32 and output.vertices.shape == (2, 615, 3)
    output.vertices[..., 1].sum().backward()
    assert torch.isfinite(pose.grad).all() and shape.grad.abs().sum() > 0
    with pytest.raises(RecmvError, match="pose"):
        body(torch.zeros(1, 24, 3))
    with pytest.raises(RecmvError, match="phenotypes"):
        body.rest(torch.zeros(10))


def test_a_fixed_shape_reuses_its_rest_body_and_a_free_one_keeps_its_gradient(body):
    shape = body.default_shape()
    first, again = body.rest(shape), body.rest(shape.clone())
    assert again.vertices is first.vertices  # memoised: Anny is not run a second time
    other = body.rest(shape + 0.1)
    assert not torch.allclose(other.vertices, first.vertices)
    assert torch.equal(body.rest(shape).vertices, body._rest_from_anny(shape).vertices)
    free = shape.clone().requires_grad_()
    rest = body.rest(free)
    rest.vertices[:, 1].sum().backward()
    assert free.grad.abs().sum() > 0
    # Posing with a fixed shape twice backpropagates twice: the memoised rest body holds no graph.
    pose = torch.zeros(1, 38, 3, dtype=DOUBLE, requires_grad=True)
    for _ in range(2):
        body(pose, shape).vertices.sum().backward()
    assert torch.isfinite(pose.grad).all()


def test_factory_errors():
    with pytest.raises(RecmvError, match="body model must be one of"):
        build_body_model({"model": "star"})
    with pytest.raises(RecmvError, match="model_path"):
        build_body_model({"model": "smpl"})
    with pytest.raises(RecmvError, match="topology"):
        build_body_model({"model": "anny", "topology": "quads"})
    with pytest.raises(RecmvError, match="6 values"):
        shape_tensor({"model": "anny", "shape": [0.5] * 10})
    torch.testing.assert_close(shape_tensor({"model": "smpl"}), torch.zeros(10))
    torch.testing.assert_close(shape_tensor({"model": "anny", "shape": [0.1] * 6}), torch.full((6,), 0.1))


def test_a_fresh_import_of_annys_warp_helpers_keeps_the_callers_stdout(capsys, monkeypatch):
    import importlib
    import sys

    monkeypatch.delitem(sys.modules, "anny.utils.warp_mesh_utils", raising=False)
    with keeping_stdout():
        importlib.import_module("anny.utils.warp_mesh_utils")
    print("still captured")
    assert capsys.readouterr().out == "still captured\n"
