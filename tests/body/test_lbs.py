"""Rotation conversions (scipy oracle, gradcheck) and pure LBS maths (analytic and naive oracles)."""

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from recmv.body import lbs
from recmv.errors import RecmvError
from recmv.geometry import rotations

DOUBLE = torch.float64


def random_axis_angles(count: int, seed: int = 0) -> torch.Tensor:
    """Rotation vectors covering tiny, ordinary and near-π angles."""
    generator = torch.Generator().manual_seed(seed)
    axes = torch.nn.functional.normalize(torch.randn(count, 3, generator=generator, dtype=DOUBLE), dim=-1)
    angles = torch.rand(count, 1, generator=generator, dtype=DOUBLE) * (math.pi - 1e-3)
    angles[:4] = torch.tensor([[0.0], [1e-9], [1e-4], [math.pi - 1e-6]], dtype=DOUBLE)
    return axes * angles


# --- rotations -------------------------------------------------------------------------------


def test_axis_angle_to_matrix_matches_scipy():
    axis_angle = random_axis_angles(200)
    expected = Rotation.from_rotvec(axis_angle.numpy()).as_matrix()
    np.testing.assert_allclose(rotations.axis_angle_to_matrix(axis_angle).numpy(), expected, atol=1e-12)


def test_axis_angle_to_matrix_keeps_batch_dims_and_dtype():
    axis_angle = torch.zeros(2, 5, 3, dtype=torch.float32)
    matrix = rotations.axis_angle_to_matrix(axis_angle)
    assert matrix.shape == (2, 5, 3, 3) and matrix.dtype == torch.float32
    torch.testing.assert_close(matrix, torch.eye(3).expand(2, 5, 3, 3))


def test_matrix_to_axis_angle_matches_scipy():
    axis_angle = random_axis_angles(200, seed=1)
    matrix = torch.from_numpy(Rotation.from_rotvec(axis_angle.numpy()).as_matrix())
    recovered = rotations.matrix_to_axis_angle(matrix)
    np.testing.assert_allclose(recovered.numpy(), Rotation.from_matrix(matrix.numpy()).as_rotvec(), atol=1e-9)
    np.testing.assert_allclose(recovered.numpy(), axis_angle.numpy(), atol=1e-6)


@pytest.mark.parametrize("angle_axis", [(math.pi, 0), (math.pi, 1), (math.pi, 2), (0.0, 0)])
def test_matrix_to_axis_angle_at_half_turns_and_identity(angle_axis):
    angle, axis = angle_axis
    axis_angle = torch.zeros(3, dtype=DOUBLE)
    axis_angle[axis] = angle
    matrix = rotations.axis_angle_to_matrix(axis_angle)
    back = rotations.axis_angle_to_matrix(rotations.matrix_to_axis_angle(matrix))
    torch.testing.assert_close(back, matrix, atol=1e-10, rtol=0)


def test_rotation_6d_round_trip_and_orthonormalisation():
    matrix = rotations.axis_angle_to_matrix(random_axis_angles(50, seed=2))
    six = rotations.matrix_to_rotation_6d(matrix)
    torch.testing.assert_close(six[..., :3], matrix[..., :, 0])
    torch.testing.assert_close(rotations.rotation_6d_to_matrix(six), matrix)
    # A perturbed 6D vector still gives a proper rotation.
    noisy = rotations.rotation_6d_to_matrix(six + 0.3 * torch.randn_like(six))
    torch.testing.assert_close(noisy @ noisy.transpose(-1, -2), torch.eye(3, dtype=DOUBLE).expand(50, 3, 3))
    torch.testing.assert_close(torch.linalg.det(noisy), torch.ones(50, dtype=DOUBLE))


@pytest.mark.parametrize("scale", [0.0, 1e-5, 0.5])
def test_axis_angle_to_matrix_gradcheck_at_and_near_zero(scale):
    axis_angle = (scale * torch.tensor([[0.3, -0.5, 0.8]], dtype=DOUBLE)).requires_grad_()
    assert torch.autograd.gradcheck(rotations.axis_angle_to_matrix, (axis_angle,))
    assert torch.autograd.gradgradcheck(rotations.axis_angle_to_matrix, (axis_angle,))


def test_axis_angle_to_matrix_gradient_at_zero_is_the_skew_basis():
    axis_angle = torch.zeros(3, dtype=DOUBLE, requires_grad=True)
    jacobian = torch.autograd.functional.jacobian(rotations.axis_angle_to_matrix, axis_angle)
    expected = rotations.skew(torch.eye(3, dtype=DOUBLE)).permute(1, 2, 0)  # dR/dw_k = skew(e_k)
    torch.testing.assert_close(jacobian, expected)


@pytest.mark.parametrize("scale", [1e-5, 0.7, 2.5])
def test_matrix_to_axis_angle_gradcheck(scale):
    matrix = rotations.axis_angle_to_matrix(scale * torch.tensor([0.6, 0.0, -0.8], dtype=DOUBLE))

    def from_6d(six):
        return rotations.matrix_to_axis_angle(rotations.rotation_6d_to_matrix(six))

    six = rotations.matrix_to_rotation_6d(matrix).clone().requires_grad_()
    assert torch.autograd.gradcheck(from_6d, (six,))


# --- LBS -------------------------------------------------------------------------------------

TOY_JOINTS = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0]], dtype=DOUBLE)
TOY_PARENTS = torch.tensor([-1, 0, 1])


def quarter_turns_about_z(*turns: float) -> torch.Tensor:
    """[1, J, 3, 3] rotations of turns[j] * 90° about z."""
    axis_angle = torch.zeros(1, len(turns), 3, dtype=DOUBLE)
    axis_angle[0, :, 2] = torch.tensor(turns, dtype=DOUBLE) * math.pi / 2
    return rotations.axis_angle_to_matrix(axis_angle)


def apply(transform: torch.Tensor, point) -> torch.Tensor:
    point = torch.as_tensor(point, dtype=DOUBLE)
    return transform[:3, :3] @ point + transform[:3, 3]


def test_forward_kinematics_identity_is_rest():
    posed, transforms = lbs.forward_kinematics(quarter_turns_about_z(0, 0, 0), TOY_JOINTS, TOY_PARENTS)
    torch.testing.assert_close(posed[0], TOY_JOINTS)
    torch.testing.assert_close(transforms, torch.eye(4, dtype=DOUBLE).expand(1, 3, 4, 4))


def test_forward_kinematics_elbow_quarter_turn():
    posed, transforms = lbs.forward_kinematics(quarter_turns_about_z(0, 1, 0), TOY_JOINTS, TOY_PARENTS)
    # Joint 1 turns its subtree by 90° about z around (1, 0, 0).
    torch.testing.assert_close(posed[0], torch.tensor([[0.0, 0, 0], [1, 0, 0], [1, 1, 0]], dtype=DOUBLE))
    torch.testing.assert_close(apply(transforms[0, 2], [3.0, 0, 0]), torch.tensor([1.0, 2, 0], dtype=DOUBLE))
    torch.testing.assert_close(apply(transforms[0, 0], [0.5, 0.2, 0]), torch.tensor([0.5, 0.2, 0], dtype=DOUBLE))


def test_forward_kinematics_rotations_compose_down_the_chain():
    joints = TOY_JOINTS + torch.tensor([0.5, -1.0, 2.0], dtype=DOUBLE)  # root away from the origin
    posed, transforms = lbs.forward_kinematics(quarter_turns_about_z(1, 1, 0), joints, TOY_PARENTS)
    root = joints[0]
    expected = root + torch.tensor([[0.0, 0, 0], [0, 1, 0], [-1, 1, 0]], dtype=DOUBLE)
    torch.testing.assert_close(posed[0], expected)
    # Every transform sends its own rest joint to its posed joint.
    for j in range(3):
        torch.testing.assert_close(apply(transforms[0, j], joints[j]), posed[0, j])


def test_forward_kinematics_rejects_bad_parents():
    with pytest.raises(RecmvError, match="parents"):
        lbs.forward_kinematics(quarter_turns_about_z(0, 0, 0), TOY_JOINTS, torch.tensor([-1, 2, 0]))


def naive_skin(points, weights, transforms):
    """One point at a time, one joint at a time."""
    out = torch.zeros_like(points)
    for b in range(points.shape[0]):
        for n in range(points.shape[1]):
            for j in range(transforms.shape[1]):
                out[b, n] += weights[min(b, weights.shape[0] - 1), n, j] * apply(transforms[b, j], points[b, n])
    return out


def random_pose_transforms(batch: int, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    axis_angle = torch.randn(batch, 3, 3, generator=generator, dtype=DOUBLE)
    return lbs.forward_kinematics(rotations.axis_angle_to_matrix(axis_angle), TOY_JOINTS, TOY_PARENTS)[1]


@pytest.mark.parametrize(("weight_batch", "count"), [(1, 7), (2, 7), (2, 1)])
def test_skin_points_matches_naive_loop(weight_batch, count):
    # count 1: one point per frame, as when every ray point carries its own frame's transforms.
    generator = torch.Generator().manual_seed(3)
    transforms = random_pose_transforms(2)
    points = torch.randn(2, count, 3, generator=generator, dtype=DOUBLE)
    weights = torch.rand(weight_batch, count, 3, generator=generator, dtype=DOUBLE)
    weights = weights / weights.sum(-1, keepdim=True)
    torch.testing.assert_close(lbs.skin_points(points, weights, transforms), naive_skin(points, weights, transforms))


def test_relative_transforms_maps_source_pose_to_target_pose():
    source, target = random_pose_transforms(1, seed=4)[0], random_pose_transforms(2, seed=5)
    relative = lbs.relative_transforms(target, source)
    torch.testing.assert_close(relative @ source, target)
    torch.testing.assert_close(lbs.relative_transforms(source[None], source)[0], torch.eye(4, dtype=DOUBLE).expand(3, 4, 4))


def test_translate_transforms_moves_skinned_points():
    transforms = random_pose_transforms(2, seed=6)
    points = torch.randn(1, 5, 3, dtype=DOUBLE)
    weights = torch.softmax(torch.randn(1, 5, 3, dtype=DOUBLE), dim=-1)
    shift = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.0, 0.5]], dtype=DOUBLE)
    moved = lbs.skin_points(points, weights, lbs.translate_transforms(transforms, shift))
    torch.testing.assert_close(moved, lbs.skin_points(points, weights, transforms) + shift[:, None])


def test_blend_shapes_and_joint_regression():
    directions = torch.randn(4, 3, 2, dtype=DOUBLE)
    coefficients = torch.tensor([[2.0, -1.0]], dtype=DOUBLE)
    torch.testing.assert_close(
        lbs.blend_shapes(coefficients, directions)[0], 2 * directions[..., 0] - directions[..., 1]
    )
    vertices = torch.randn(2, 4, 3, dtype=DOUBLE)
    regressor = torch.tensor([[0.5, 0.5, 0, 0], [0, 0, 0, 1.0]], dtype=DOUBLE)
    joints = lbs.vertices_to_joints(regressor, vertices)
    torch.testing.assert_close(joints[:, 0], vertices[:, :2].mean(1))
    torch.testing.assert_close(joints[:, 1], vertices[:, 3])


def test_skinning_gradients_flow_to_pose_and_points():
    axis_angle = torch.randn(1, 3, 3, dtype=DOUBLE, requires_grad=True)
    points = torch.randn(1, 4, 3, dtype=DOUBLE, requires_grad=True)
    weights = torch.softmax(torch.randn(1, 4, 3, dtype=DOUBLE), dim=-1)

    def posed(axis_angle, points):
        transforms = lbs.forward_kinematics(rotations.axis_angle_to_matrix(axis_angle), TOY_JOINTS, TOY_PARENTS)[1]
        return lbs.skin_points(points, weights, transforms)

    assert torch.autograd.gradcheck(posed, (axis_angle, points))
