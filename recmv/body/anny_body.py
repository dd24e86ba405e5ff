"""Anny (PyPI `anny`, Apache-2.0 code, CC0 data) behind the BodyModel interface.

Anny supplies the shaped rest body (vertices and bone heads for 6 phenotypes); posing is done here
with `recmv.body.lbs`, so that every other module can skin arbitrary canonical points with the
returned transforms and get exactly what the body model does.

Frames: Anny is z-up, facing -y, its left at +x. Canonical space is Anny's rest pose (already an
A-pose) mapped by (x, y, z)_ours = (x_a, z_a, -y_a): y up, facing +z, left at +x. A pose is one
axis-angle rotation per bone, in these canonical axes, about the bone's rest head, relative to
the rest pose (joint 0, `root`, is the global orientation about the root head). Zero pose is
the rest pose. Note that Anny's own default `local-ref` parameterisation is relative to its
*reference* pose instead, which differs from the rest pose by up to a few degrees per bone and
puts the root head at the origin; this module does not use it.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import torch

from recmv import fileio
from recmv.body import lbs
from recmv.body.base import BodyModel, BodyOutput, RestBody
from recmv.errors import RecmvError
from recmv.geometry.rotations import axis_angle_to_matrix

RIG = "anny-notoes-nohands"
TOPOLOGIES = ("notoes", "notoes_collapse5pc")
PHENOTYPES = ("gender", "age", "muscle", "weight", "height", "proportions")

# ours = ANNY_TO_CANONICAL @ anny: the one place where the two frames are related.
ANNY_TO_CANONICAL = ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.0, -1.0, 0.0))

_LANDMARK_BONES = {
    "pelvis": "root",
    "left_hip": "upperleg01.L",
    "right_hip": "upperleg01.R",
    "left_knee": "lowerleg01.L",
    "right_knee": "lowerleg01.R",
    "left_ankle": "foot.L",
    "right_ankle": "foot.R",
    "spine1": "spine05",
    "spine2": "spine03",
    "spine3": "spine01",
    "neck": "neck01",
    "head": "head",
    "left_collar": "clavicle.L",
    "right_collar": "clavicle.R",
    "left_shoulder": "upperarm01.L",
    "right_shoulder": "upperarm01.R",
    "left_elbow": "lowerarm01.L",
    "right_elbow": "lowerarm01.R",
    "left_wrist": "wrist.L",
    "right_wrist": "wrist.R",
}
# The bone order of RIG, so that the landmark table is a class attribute (checked on construction).
BONE_NAMES = (
    "root", "pelvis.L", "upperleg01.L", "upperleg02.L", "lowerleg01.L", "lowerleg02.L", "foot.L",
    "pelvis.R", "upperleg01.R", "upperleg02.R", "lowerleg01.R", "lowerleg02.R", "foot.R",
    "spine05", "spine04", "spine03", "spine02", "spine01", "clavicle.L", "shoulder01.L",
    "upperarm01.L", "upperarm02.L", "lowerarm01.L", "lowerarm02.L", "wrist.L", "clavicle.R",
    "shoulder01.R", "upperarm01.R", "upperarm02.R", "lowerarm01.R", "lowerarm02.R", "wrist.R",
    "neck01", "neck02", "neck03", "head", "eye.L", "eye.R",
)  # fmt: skip


def anny_axes_matrix(dtype: torch.dtype, device: torch.device | str) -> torch.Tensor:
    """[3, 3] rotation M with x_ours = M @ x_anny."""
    return torch.tensor(ANNY_TO_CANONICAL, dtype=dtype, device=device)


def points_from_anny(points: torch.Tensor) -> torch.Tensor:
    """Anny-frame points to canonical axes. points: [..., 3] -> [..., 3]"""
    return points @ anny_axes_matrix(points.dtype, points.device).T


def rotations_to_anny(rotations: torch.Tensor) -> torch.Tensor:
    """Rotations acting in canonical axes to the same rotations acting in Anny's: M^T R M.

    rotations: [..., 3, 3] -> [..., 3, 3]
    """
    axes = anny_axes_matrix(rotations.dtype, rotations.device)
    return axes.T @ rotations @ axes


def anny_cache_dir() -> Path:
    """Where Anny's built model data is kept: $RECMV_CACHE_DIR/anny, else ~/.cache/recmv/anny."""
    return fileio.cache_root() / "anny"


def keeping_stdout() -> contextlib.AbstractContextManager:
    """Restores the current sys.stdout on exit. Anny's warp helpers, imported while it builds its cache,
    set sys.stdout to sys.__stdout__, which would drop a caller's redirection (pytest's capsys, a
    notebook's cell output, contextlib.redirect_stdout)."""
    return contextlib.redirect_stdout(sys.stdout)


class AnnyBody(BodyModel):
    """Anny with the `anny-notoes-nohands` rig (38 bones) and 6 phenotypes in [0, 1] as shape.

    The first construction for a topology builds Anny's model data into anny_cache_dir()
    (about a minute); later ones read it back.
    """

    landmark_joints: dict[str, int] = {
        name: BONE_NAMES.index(bone) for name, bone in _LANDMARK_BONES.items()
    }
    joint_names = BONE_NAMES

    def __init__(
        self,
        topology: str = "notoes",
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ):
        super().__init__()
        if topology not in TOPOLOGIES:
            raise RecmvError(f"Anny topology must be one of {TOPOLOGIES}, got {topology!r}")
        import anny
        import anny.paths

        anny.paths.set_anny_cache_path(anny_cache_dir())
        # Dense torch skinning inside Anny: it is only used to read the rest body, and this
        # avoids compiling warp kernels.
        with keeping_stdout():
            model = anny.Anny(rig=RIG, topology=topology, skinning_method="lbs")
        if tuple(model.bone_labels) != BONE_NAMES:
            raise RecmvError(f"anny {anny.__version__} rig {RIG} has unexpected bones")
        self.anny = model.to(dtype=dtype, device=device)
        self.topology = topology

        faces = model.faces if model.faces.shape[-1] == 3 else model.get_triangular_faces()
        self.register_buffer("faces", faces.to(device=device, dtype=torch.int64), persistent=False)
        parents = torch.tensor(model.bone_parents, dtype=torch.int64, device=device)
        self.register_buffer("parents", parents, persistent=False)
        # Anny stores up to 9 (bone, weight) pairs per vertex; the interface wants [V, J].
        sparse_weights = self.anny.vertex_bone_weights
        weights = torch.zeros(
            sparse_weights.shape[0], len(BONE_NAMES), dtype=dtype, device=device
        ).scatter_add_(1, self.anny.vertex_bone_indices, sparse_weights)
        self.register_buffer("skinning_weights", weights, persistent=False)
        self._rest_memo: tuple[tuple, RestBody] | None = None

    @property
    def num_shape_params(self) -> int:
        return len(PHENOTYPES)

    def default_shape(self) -> torch.Tensor:
        weights = self.skinning_weights
        return torch.full((len(PHENOTYPES),), 0.5, dtype=weights.dtype, device=weights.device)

    def canonical_pose(self) -> torch.Tensor:
        weights = self.skinning_weights
        return torch.zeros(len(BONE_NAMES), 3, dtype=weights.dtype, device=weights.device)

    def rest(self, shape: torch.Tensor | None = None) -> RestBody:
        if shape is None:
            shape = self.default_shape()
        if shape.shape != (len(PHENOTYPES),):
            raise RecmvError(
                f"Anny shape must be [{len(PHENOTYPES)}] phenotypes {PHENOTYPES}, "
                f"got {tuple(shape.shape)}"
            )
        if shape.requires_grad:
            return self._rest_from_anny(shape)
        # Anny rebuilds the rest body from the phenotypes on every call, which costs more than posing
        # it: a fixed shape (body fits, synth, every pose-only forward) reuses the last one.
        key = (str(self.skinning_weights.device), self.skinning_weights.dtype, tuple(shape.tolist()))
        if self._rest_memo is None or self._rest_memo[0] != key:
            rest = self._rest_from_anny(shape)
            self._rest_memo = (key, RestBody(rest.vertices.detach(), rest.joints.detach()))
        return self._rest_memo[1]

    def _rest_from_anny(self, shape: torch.Tensor) -> RestBody:
        output = self.anny(pose_parameters=None, phenotype_kwargs=shape[None])
        return RestBody(
            vertices=points_from_anny(output["rest_vertices"][0]),
            joints=points_from_anny(output["rest_bone_heads"][0]),
        )

    def forward(
        self,
        pose: torch.Tensor,
        shape: torch.Tensor | None = None,
        transl: torch.Tensor | None = None,
    ) -> BodyOutput:
        if pose.ndim != 3 or pose.shape[1:] != (len(BONE_NAMES), 3):
            raise RecmvError(
                f"Anny pose must be [B, {len(BONE_NAMES)}, 3] axis-angle, got {tuple(pose.shape)}"
            )
        rest = self.rest(shape)
        rotations = axis_angle_to_matrix(pose)
        joints, transforms = lbs.forward_kinematics(rotations, rest.joints, self.parents)
        if transl is not None:
            if transl.shape != (pose.shape[0], 3):
                raise RecmvError(f"transl must be [{pose.shape[0]}, 3], got {tuple(transl.shape)}")
            transforms = lbs.translate_transforms(transforms, transl)
            joints = joints + transl[:, None, :]
        vertices = lbs.skin_points(rest.vertices[None], self.skinning_weights[None], transforms)
        return BodyOutput(vertices=vertices, joints=joints, transforms=transforms)
