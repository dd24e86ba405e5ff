"""The body-model interface the rest of recmv depends on (never on SMPL or Anny directly).

Frames (see docs/conventions.md):
- *canonical space*: the model's canonical A-pose, y up, the body facing +z, its left at +x, metres.
- *world*: the OpenCV camera frame of a subject (x right, y down, z forward, metres).

A pose is one axis-angle rotation per joint, [B, J, 3], joint 0 being the global orientation, in the
model's own parameterisation (SMPL: relative to the T-pose; Anny: relative to its rest A-pose).
`canonical_pose()` is the pose whose posed body is the canonical body.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import torch


@dataclass
class RestBody:
    """The canonical (A-posed) body for one shape.

    vertices: [V, 3] canonical vertices.
    joints: [J, 3] canonical joint positions (heads of the bones).
    """

    vertices: torch.Tensor
    joints: torch.Tensor


@dataclass
class BodyOutput:
    """A posed body batch.

    vertices: [B, V, 3] posed vertices, translation included.
    joints: [B, J, 3] posed joint positions, translation included.
    transforms: [B, J, 4, 4] per-joint rigid maps from canonical space to the posed space,
        translation included: x_posed = sum_j w_j(x) * transforms[j] @ [x; 1].
    """

    vertices: torch.Tensor
    joints: torch.Tensor
    transforms: torch.Tensor


class BodyModel(torch.nn.Module, abc.ABC):
    """A skinned body: canonical geometry, skeleton, skinning weights, and posing.

    Buffers every backend holds:
        faces: [F, 3] int64 triangle indices.
        parents: [J] int64 parent index per joint (-1 for the root).
        skinning_weights: [V, J] per-vertex weights, >= 0, rows sum to 1.
    """

    joint_names: tuple[str, ...]
    faces: torch.Tensor
    parents: torch.Tensor
    skinning_weights: torch.Tensor

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    @abc.abstractmethod
    def num_shape_params(self) -> int:
        """Length S of a shape vector (SMPL: 10 betas; Anny: 6 phenotypes in [0, 1])."""

    @abc.abstractmethod
    def default_shape(self) -> torch.Tensor:
        """[S] the model's mean shape."""

    @abc.abstractmethod
    def canonical_pose(self) -> torch.Tensor:
        """[J, 3] axis-angle pose of the canonical A-pose."""

    @abc.abstractmethod
    def rest(self, shape: torch.Tensor | None = None) -> RestBody:
        """The canonical body for `shape` [S] (default shape when None)."""

    @abc.abstractmethod
    def forward(
        self,
        pose: torch.Tensor,
        shape: torch.Tensor | None = None,
        transl: torch.Tensor | None = None,
    ) -> BodyOutput:
        """Pose the body.

        Args:
            pose: [B, J, 3] axis-angle per joint.
            shape: [S] shape shared by the batch (default shape when None).
            transl: [B, 3] translation added after posing (zeros when None).
        """
