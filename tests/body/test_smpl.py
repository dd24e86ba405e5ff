"""SMPLBody on a small synthetic model in SMPL's file formats (.npz, and a chumpy .pkl)."""

import math
import pickle
import subprocess
import sys
import types

import numpy as np
import pytest
import scipy.sparse
import torch
from scipy.spatial.transform import Rotation

from recmv.body import lbs
from recmv.body.smpl import JOINT_NAMES, SMPLBody, canonical_pose_for
from recmv.errors import InputFileError, RecmvError

DOUBLE = torch.float64
SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
# A rough T-pose (metres, y up, left at +x) for the 24 SMPL joints.
T_POSE_JOINTS = np.array([
    [0.0, 0.9, 0.0], [0.09, 0.82, 0.0], [-0.09, 0.82, 0.0], [0.0, 1.0, 0.0], [0.1, 0.45, 0.0],
    [-0.1, 0.45, 0.0], [0.0, 1.12, 0.0], [0.1, 0.08, 0.0], [-0.1, 0.08, 0.0], [0.0, 1.18, 0.0],
    [0.1, 0.02, 0.1], [-0.1, 0.02, 0.1], [0.0, 1.4, 0.0], [0.08, 1.33, 0.0], [-0.08, 1.33, 0.0],
    [0.0, 1.5, 0.03], [0.18, 1.36, 0.0], [-0.18, 1.36, 0.0], [0.45, 1.36, 0.0], [-0.45, 1.36, 0.0],
    [0.7, 1.36, 0.0], [-0.7, 1.36, 0.0], [0.78, 1.36, 0.0], [-0.78, 1.36, 0.0],
])  # fmt: skip


def make_model(seed: int = 0, one_hot_weights: bool = False, pose_blend: float = 1e-3) -> dict:
    """SMPL-format arrays: 2 vertices around each joint, the regressor averaging them."""
    rng = np.random.default_rng(seed)
    vertex_joint = np.repeat(np.arange(24), 2)
    v_template = T_POSE_JOINTS[vertex_joint] + rng.normal(scale=0.02, size=(48, 3))
    regressor = np.zeros((24, 48))
    regressor[vertex_joint, np.arange(48)] = 0.5
    if one_hot_weights:
        weights = np.eye(24)[vertex_joint]
    else:
        weights = rng.random((48, 24)) ** 4 + 2 * np.eye(24)[vertex_joint]
        weights /= weights.sum(1, keepdims=True)
    return {
        "v_template": v_template,
        "shapedirs": rng.normal(scale=0.01, size=(48, 3, 10)),
        "posedirs": rng.normal(scale=pose_blend, size=(48, 3, 207)),
        "J_regressor": regressor,
        "weights": weights,
        "kintree_table": np.array([[2**32 - 1] + SMPL_PARENTS[1:], list(range(24))], dtype=np.int64),
        "f": rng.integers(0, 48, size=(30, 3)),
    }


def save_npz(path, arrays):
    np.savez(path, **arrays)
    return path


def save_chumpy_pkl(path, arrays):
    """An SMPL-like pickle whose shapedirs is a chumpy object and J_regressor a sparse matrix."""
    chumpy, chumpy_ch = types.ModuleType("chumpy"), types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x = x
            self._dirty_vars = set()

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    chumpy_ch.Ch = Ch
    sys.modules.update({"chumpy": chumpy, "chumpy.ch": chumpy_ch})
    try:
        entries = dict(arrays, shapedirs=Ch(arrays["shapedirs"]))
        entries["J_regressor"] = scipy.sparse.csc_matrix(arrays["J_regressor"])
        entries["kintree_table"] = arrays["kintree_table"].astype(np.uint32)
        with open(path, "wb") as stream:
            pickle.dump(entries, stream, protocol=2)
    finally:
        del sys.modules["chumpy"], sys.modules["chumpy.ch"]
    return path


@pytest.fixture(scope="module")
def model_arrays():
    return make_model()


@pytest.fixture(scope="module")
def npz_path(tmp_path_factory, model_arrays):
    return save_npz(tmp_path_factory.mktemp("smpl") / "model.npz", model_arrays)


def random_pose(batch: int, seed: int = 1) -> torch.Tensor:
    return 0.4 * torch.randn(batch, 24, 3, generator=torch.Generator().manual_seed(seed), dtype=DOUBLE)


def test_npz_and_chumpy_pkl_give_the_same_body(tmp_path, npz_path, model_arrays):
    assert "chumpy" not in sys.modules
    pkl_body = SMPLBody(save_chumpy_pkl(tmp_path / "model.pkl", model_arrays), dtype=DOUBLE)
    npz_body = SMPLBody(npz_path, dtype=DOUBLE)
    pose, betas = random_pose(2), torch.linspace(-1, 1, 10, dtype=DOUBLE)
    for name in ("vertices", "joints", "transforms"):
        torch.testing.assert_close(getattr(pkl_body(pose, betas), name), getattr(npz_body(pose, betas), name))
    assert pkl_body.parents.tolist() == SMPL_PARENTS
    assert pkl_body.faces.dtype == torch.int64 and pkl_body.faces.shape == (30, 3)


def test_posedirs_layouts_are_equivalent(tmp_path, npz_path, model_arrays):
    flat = dict(model_arrays, posedirs=model_arrays["posedirs"].reshape(48 * 3, 207).T)
    flat_body = SMPLBody(save_npz(tmp_path / "flat.npz", flat), dtype=DOUBLE)
    torch.testing.assert_close(flat_body.rest().vertices, SMPLBody(npz_path, dtype=DOUBLE).rest().vertices)


def test_canonical_pose_values():
    pose = canonical_pose_for(1)
    expected = torch.zeros(24, 3, dtype=DOUBLE)
    expected[1, 2], expected[2, 2] = math.radians(7), -math.radians(7)
    expected[16, 2], expected[17, 2] = -math.radians(55), math.radians(55)
    torch.testing.assert_close(pose, expected)
    with pytest.raises(RecmvError, match="canonical_pose_type"):
        canonical_pose_for(4)


def test_forward_of_canonical_pose_is_rest(npz_path):
    body = SMPLBody(npz_path, canonical_pose_type=2, dtype=DOUBLE)
    betas = torch.linspace(-2, 2, 10, dtype=DOUBLE)
    rest = body.rest(betas)
    output = body(body.canonical_pose()[None].expand(3, -1, -1), betas)
    torch.testing.assert_close(output.vertices, rest.vertices.expand(3, -1, -1))
    torch.testing.assert_close(output.joints, rest.joints.expand(3, -1, -1))
    torch.testing.assert_close(output.transforms, torch.eye(4, dtype=DOUBLE).expand(3, 24, 4, 4))


def test_canonical_body_is_smpl_in_the_a_pose_with_pose_blend_shapes(npz_path, model_arrays):
    body = SMPLBody(npz_path, canonical_pose_type=0, dtype=DOUBLE)
    rest = body.rest()
    # Oracle: pose features from scipy, then the SMPL formula written out.
    matrices = Rotation.from_rotvec(canonical_pose_for(0).numpy()).as_matrix()
    features = (matrices[1:] - np.eye(3)).reshape(-1)
    posed_rest = model_arrays["v_template"] + model_arrays["posedirs"] @ features
    joints = model_arrays["J_regressor"] @ model_arrays["v_template"]
    rotations = torch.from_numpy(matrices)[None]
    _, transforms = lbs.forward_kinematics(rotations, torch.from_numpy(joints), body.parents)
    expected = lbs.skin_points(torch.from_numpy(posed_rest)[None], body.skinning_weights[None], transforms)
    torch.testing.assert_close(rest.vertices, expected[0])
    # Left hip opens by +10° about z: the left knee moves out (+x) around the hip.
    knee = joints[1] + Rotation.from_euler("z", 10, degrees=True).apply(joints[4] - joints[1])
    np.testing.assert_allclose(rest.joints[4].numpy(), knee, atol=1e-12)
    assert rest.joints[4, 0] > joints[4, 0] and rest.joints[5, 0] < joints[5, 0]
    # Shoulders lower the arms: left wrist below the left shoulder.
    assert rest.joints[20, 1] < rest.joints[16, 1] - 0.2


def test_zero_pose_returns_the_t_pose_for_rigid_weights(tmp_path):
    arrays = make_model(seed=3, one_hot_weights=True, pose_blend=0.0)
    body = SMPLBody(save_npz(tmp_path / "rigid.npz", arrays), dtype=DOUBLE)
    output = body(torch.zeros(1, 24, 3, dtype=DOUBLE))
    np.testing.assert_allclose(output.vertices[0].numpy(), arrays["v_template"], atol=1e-12)
    np.testing.assert_allclose(output.joints[0].numpy(), arrays["J_regressor"] @ arrays["v_template"], atol=1e-12)


def test_transforms_skin_canonical_points_and_translation(npz_path):
    body = SMPLBody(npz_path, dtype=DOUBLE)
    pose, transl = random_pose(2, seed=5), torch.tensor([[0.1, -0.2, 3.0], [0.0, 0.5, 2.0]], dtype=DOUBLE)
    output = body(pose, transl=transl)
    rest = body.rest()
    skinned = lbs.skin_points(rest.vertices[None], body.skinning_weights[None], output.transforms)
    torch.testing.assert_close(output.vertices, skinned)
    untranslated = body(pose)
    torch.testing.assert_close(output.joints, untranslated.joints + transl[:, None])
    # Each joint's transform carries its canonical joint to its posed joint.
    carried = (output.transforms[..., :3, :3] @ rest.joints[..., None])[..., 0] + output.transforms[..., :3, 3]
    torch.testing.assert_close(carried, output.joints)


def test_float32_default_and_gradients(npz_path):
    body = SMPLBody(npz_path)
    pose = torch.zeros(1, 24, 3, requires_grad=True)
    betas = torch.zeros(10, requires_grad=True)
    output = body(pose, betas)
    assert output.vertices.dtype == torch.float32 and output.vertices.shape == (1, 48, 3)
    output.vertices.square().sum().backward()
    assert torch.isfinite(pose.grad).all() and pose.grad.abs().sum() > 0 and betas.grad.abs().sum() > 0


def test_landmarks_follow_smpl_joint_order():
    assert SMPLBody.landmark_joints["left_knee"] == 4 and SMPLBody.landmark_joints["right_wrist"] == 21
    assert all(JOINT_NAMES[index] == name for name, index in SMPLBody.landmark_joints.items())
    assert len(SMPLBody.landmark_joints) == 20


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda a: a.pop("weights"), "missing key 'weights'"),
        (lambda a: a.update(weights=a["weights"][:, :23]), r"'weights' has shape \(48, 23\)"),
        (lambda a: a.update(shapedirs=a["shapedirs"][..., :5]), "'shapedirs' has 5 shape directions"),
        (lambda a: a.update(posedirs=a["posedirs"][:, :, :200]), "'posedirs' has shape"),
        (lambda a: a.update(J_regressor=a["J_regressor"][:20]), "'J_regressor' has shape"),
        (lambda a: a.update(f=a["f"] + 100), "'f' indexes vertices"),
    ],
)
def test_bad_model_files_name_file_and_key(tmp_path, model_arrays, edit, message):
    arrays = dict(model_arrays)
    edit(arrays)
    path = save_npz(tmp_path / "bad.npz", arrays)
    with pytest.raises(InputFileError, match=message) as error:
        SMPLBody(path)
    assert error.value.path == str(path)


def test_unreadable_and_missing_files(tmp_path):
    garbage = tmp_path / "garbage.pkl"
    garbage.write_bytes(b"not a pickle at all")
    with pytest.raises(InputFileError, match="cannot read"):
        SMPLBody(garbage)
    with pytest.raises(InputFileError, match="not found"):
        SMPLBody(tmp_path / "absent.npz")
    other = tmp_path / "model.obj"
    other.write_text("v 0 0 0\n")
    with pytest.raises(InputFileError, match=r"\.npz or \.pkl"):
        SMPLBody(other)


def test_pickle_with_foreign_code_is_refused(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"v_template": subprocess.call}))
    with pytest.raises(InputFileError, match="unexpected object subprocess.call"):
        SMPLBody(path)


def test_bad_pose_and_shape_arguments(npz_path):
    body = SMPLBody(npz_path)
    with pytest.raises(RecmvError, match="pose"):
        body(torch.zeros(1, 23, 3))
    with pytest.raises(RecmvError, match="betas"):
        body(torch.zeros(1, 24, 3), torch.zeros(6))
