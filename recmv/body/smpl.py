"""SMPL behind the BodyModel interface, posed the way REC-MV poses it.

The model file is user-supplied (SMPL's licence forbids shipping it): an `.npz` of plain arrays,
or the official `.pkl`, read here without chumpy.

Canonical space is SMPL(β, θ_A) for one of REC-MV's four A-poses (`skinner_pose_type`), pose blend
shapes included. A frame is posed by skinning the *canonical* vertices with
A(θ) = G(θ) G(θ_A)^-1; REC-MV applies no pose blend shapes at a frame, and neither does this
module, so forward(zeros) is the canonical body skinned back to the T-pose, not SMPL's own
T-pose mesh (they agree where a vertex follows a single joint and the pose blend shapes vanish).
"""

from __future__ import annotations

import math
import pickle
import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse
import torch

from recmv.body import lbs
from recmv.body.base import BodyModel, BodyOutput, RestBody
from recmv.errors import InputFileError, RecmvError
from recmv.geometry.rotations import axis_angle_to_matrix

NUM_JOINTS = 24
NUM_BETAS = 10
NUM_POSE_FEATURES = 9 * (NUM_JOINTS - 1)

JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
)  # fmt: skip

# REC-MV's `skinner_pose_type` -> (hip angle a, shoulder angle b) in degrees; see canonical_pose().
CANONICAL_POSE_ANGLES = {0: (10.0, 45.0), 1: (7.0, 55.0), 2: (15.0, 55.0), 3: (15.0, 0.0)}

_LANDMARK_NAMES = (
    "pelvis", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "spine1", "spine2", "spine3", "neck", "head", "left_collar", "right_collar", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)  # fmt: skip


class _ChumpyStandIn:
    """Takes the place of a pickled chumpy object: keeps its state, whose 'x' is the array."""

    def __new__(cls, *args, **kwargs):  # chumpy's own constructor arguments are not needed
        return super().__new__(cls)

    def __setstate__(self, state):
        self.state = state


class _ModelUnpickler(pickle.Unpickler):
    """Resolves only what an SMPL pickle needs: numpy, scipy.sparse, and chumpy (stood in for)."""

    _builtins = {"object", "set", "frozenset", "slice", "complex", "list", "dict", "tuple"}

    def find_class(self, module, name):
        if module.split(".")[0] == "chumpy":
            return _ChumpyStandIn
        if module.startswith("scipy.sparse"):
            return getattr(scipy.sparse, name)
        if module.split(".")[0] == "numpy" or module in ("copy_reg", "copyreg", "_codecs"):
            return super().find_class(module, name)
        if module in ("__builtin__", "builtins") and name in self._builtins:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in an SMPL pickle")


def _read_model_file(path: Path) -> dict:
    """The raw entries of an SMPL .npz or .pkl file."""
    if not path.is_file():
        raise InputFileError(path, "SMPL model file not found")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                return {key: data[key] for key in data.files}
        if path.suffix == ".pkl":
            with open(path, "rb") as stream:
                # latin1 reads the numpy arrays inside python 2 pickles (the official files).
                entries = _ModelUnpickler(stream, encoding="latin1").load()
            if not isinstance(entries, dict):
                found = type(entries).__name__
                raise InputFileError(path, f"expected a dict of arrays, found a {found}")
            return entries
    except (
        OSError, ValueError, TypeError, KeyError, EOFError, AttributeError, ImportError,
        pickle.UnpicklingError, zipfile.BadZipFile,
    ) as error:  # fmt: skip
        raise InputFileError(path, f"cannot read the SMPL model ({error})") from error
    raise InputFileError(path, "expected an SMPL model as .npz or .pkl")


def _as_array(path: Path, entries: dict, key: str) -> np.ndarray:
    if key not in entries:
        raise InputFileError(path, f"missing key '{key}' (found: {sorted(entries)})")
    value = entries[key]
    if isinstance(value, _ChumpyStandIn):
        if "x" not in value.state:
            raise InputFileError(path, f"'{key}' is a chumpy expression, not a stored array")
        value = value.state["x"]
    if scipy.sparse.issparse(value):
        value = value.toarray()
    return np.asarray(value)


def _checked(path: Path, key: str, array: np.ndarray, expected: tuple, what: str) -> np.ndarray:
    """The array if its shape matches `expected` (None = any size), else InputFileError."""
    fits = array.ndim == len(expected) and all(
        size is None or size == actual for size, actual in zip(expected, array.shape)
    )
    if not fits:
        shown = tuple("*" if size is None else size for size in expected)
        raise InputFileError(path, f"'{key}' has shape {array.shape}, expected {shown} ({what})")
    return array


def load_smpl_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Validated SMPL arrays from an .npz/.pkl file.

    Returns v_template [V, 3], shapedirs [V, 3, 10], posedirs [207, V*3], J_regressor [24, V],
    weights [V, 24], parents [24] int64, faces [F, 3] int64.
    """
    path = Path(path)
    entries = _read_model_file(path)

    def entry(key: str, expected: tuple, what: str) -> np.ndarray:
        return _checked(path, key, _as_array(path, entries, key), expected, what)

    v_template = entry("v_template", (None, 3), "template vertices")
    num_vertices = v_template.shape[0]
    shapedirs = entry("shapedirs", (num_vertices, 3, None), "shape blend shapes")
    if shapedirs.shape[2] < NUM_BETAS:
        raise InputFileError(
            path, f"'shapedirs' has {shapedirs.shape[2]} shape directions, need {NUM_BETAS}"
        )
    posedirs = _as_array(path, entries, "posedirs")
    if posedirs.shape == (num_vertices, 3, NUM_POSE_FEATURES):
        posedirs = posedirs.reshape(num_vertices * 3, NUM_POSE_FEATURES).T
    expected_posedirs = (NUM_POSE_FEATURES, num_vertices * 3)
    _checked(path, "posedirs", posedirs, expected_posedirs, f"or ({num_vertices}, 3, 207)")
    regressor = entry("J_regressor", (NUM_JOINTS, num_vertices), "joint regressor")
    weights = entry("weights", (num_vertices, NUM_JOINTS), "skinning weights")
    kintree = entry("kintree_table", (2, NUM_JOINTS), "parent and joint ids")
    faces = entry("f", (None, 3), "triangles")
    if faces.size and (faces.min() < 0 or faces.max() >= num_vertices):
        raise InputFileError(path, f"'f' indexes vertices outside [0, {num_vertices})")

    parents = kintree[0].astype(np.int64)
    parents[0] = -1  # the official files store the root's parent as an unsigned -1
    if any(not 0 <= p < j for j, p in enumerate(parents[1:], start=1)):
        raise InputFileError(
            path, f"'kintree_table' parents {parents.tolist()} are not in tree order"
        )
    return {
        "v_template": v_template.astype(np.float64),
        "shapedirs": shapedirs[:, :, :NUM_BETAS].astype(np.float64),
        "posedirs": posedirs.astype(np.float64),
        "J_regressor": regressor.astype(np.float64),
        "weights": weights.astype(np.float64),
        "parents": parents,
        "faces": faces.astype(np.int64),
    }


def canonical_pose_for(pose_type: int) -> torch.Tensor:
    """REC-MV's canonical A-pose θ_A for `skinner_pose_type` 0-3, as [24, 3] axis-angle (float64).

    Hips (joints 1, 2) open by ±a and shoulders (16, 17) lower by ∓b, all about z.
    """
    if pose_type not in CANONICAL_POSE_ANGLES:
        raise RecmvError(
            f"canonical_pose_type must be one of {sorted(CANONICAL_POSE_ANGLES)}, got {pose_type!r}"
        )
    hip, shoulder = (math.radians(angle) for angle in CANONICAL_POSE_ANGLES[pose_type])
    pose = torch.zeros(NUM_JOINTS, 3, dtype=torch.float64)
    pose[1, 2], pose[2, 2] = hip, -hip
    pose[16, 2], pose[17, 2] = -shoulder, shoulder
    return pose


class SMPLBody(BodyModel):
    """SMPL (24 joints, 10 betas) with REC-MV's canonical A-pose."""

    landmark_joints: dict[str, int] = {name: JOINT_NAMES.index(name) for name in _LANDMARK_NAMES}
    joint_names = JOINT_NAMES

    def __init__(
        self,
        model_path: str | Path,
        canonical_pose_type: int = 0,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ):
        super().__init__()
        arrays = load_smpl_arrays(model_path)
        self.model_path = Path(model_path)
        self.canonical_pose_type = canonical_pose_type
        as_float = {"dtype": dtype, "device": device}
        # Model data comes from the user's file, so it stays out of checkpoints (persistent=False).
        for name in ("v_template", "shapedirs", "posedirs", "J_regressor"):
            tensor = torch.as_tensor(arrays[name], **as_float)
            self.register_buffer(name, tensor, persistent=False)
        weights = torch.as_tensor(arrays["weights"], **as_float)
        self.register_buffer("skinning_weights", weights, persistent=False)
        for name in ("parents", "faces"):
            tensor = torch.as_tensor(arrays[name], device=device)
            self.register_buffer(name, tensor, persistent=False)
        canonical_pose = canonical_pose_for(canonical_pose_type).to(**as_float)
        self.register_buffer("_canonical_pose", canonical_pose, persistent=False)

    @property
    def num_shape_params(self) -> int:
        return NUM_BETAS

    def default_shape(self) -> torch.Tensor:
        return torch.zeros(NUM_BETAS, dtype=self.v_template.dtype, device=self.v_template.device)

    def canonical_pose(self) -> torch.Tensor:
        return self._canonical_pose.clone()

    def _check_shape(self, shape: torch.Tensor | None) -> torch.Tensor:
        if shape is None:
            return self.default_shape()
        if shape.shape != (NUM_BETAS,):
            raise RecmvError(f"SMPL shape must be [{NUM_BETAS}] betas, got {tuple(shape.shape)}")
        return shape

    def _shaped(self, betas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The shaped T-pose: (vertices [V, 3], joints [J, 3])."""
        shaped = self.v_template + lbs.blend_shapes(betas[None], self.shapedirs)[0]
        return shaped, self.J_regressor @ shaped

    def _canonical(self, betas: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """SMPL(β, θ_A) with pose blend shapes, and its T-pose-to-A-pose skinning transforms.

        Returns vertices [V, 3], joints [J, 3], transforms [J, 4, 4], and the T-pose joints [J, 3].
        """
        shaped, rest_joints = self._shaped(betas)
        rotations = axis_angle_to_matrix(self._canonical_pose)[None]  # [1, J, 3, 3]
        eye = torch.eye(3, dtype=rotations.dtype, device=rotations.device)
        pose_features = (rotations[:, 1:] - eye).flatten(1)  # [1, 207]
        posed_rest = shaped + (pose_features @ self.posedirs).view(1, -1, 3)
        joints, transforms = lbs.forward_kinematics(rotations, rest_joints, self.parents)
        vertices = lbs.skin_points(posed_rest, self.skinning_weights[None], transforms)
        return vertices[0], joints[0], transforms[0], rest_joints

    def rest(self, shape: torch.Tensor | None = None) -> RestBody:
        vertices, joints, _, _ = self._canonical(self._check_shape(shape))
        return RestBody(vertices=vertices, joints=joints)

    def forward(
        self,
        pose: torch.Tensor,
        shape: torch.Tensor | None = None,
        transl: torch.Tensor | None = None,
    ) -> BodyOutput:
        if pose.ndim != 3 or pose.shape[1:] != (NUM_JOINTS, 3):
            raise RecmvError(
                f"SMPL pose must be [B, {NUM_JOINTS}, 3] axis-angle, got {tuple(pose.shape)}"
            )
        canonical_vertices, _, canonical_transforms, rest_joints = self._canonical(
            self._check_shape(shape)
        )
        joints, posed_transforms = lbs.forward_kinematics(
            axis_angle_to_matrix(pose), rest_joints, self.parents
        )
        transforms = lbs.relative_transforms(posed_transforms, canonical_transforms)
        if transl is not None:
            if transl.shape != (pose.shape[0], 3):
                raise RecmvError(f"transl must be [{pose.shape[0]}, 3], got {tuple(transl.shape)}")
            transforms = lbs.translate_transforms(transforms, transl)
            joints = joints + transl[:, None, :]
        weights = self.skinning_weights[None]
        vertices = lbs.skin_points(canonical_vertices[None], weights, transforms)
        return BodyOutput(vertices=vertices, joints=joints, transforms=transforms)
