"""The canonical body as plain geometry: surface, joints and named landmarks (what garments are built on)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from recmv.body.base import BodyModel
from recmv.errors import RecmvError
from recmv.templates.cutting import PlaneCut

# An armhole plane leans inwards at the top by this slope (so it clears the flanks below the armpit).
ARMHOLE_LEAN = 0.3

LANDMARK_NAMES = (
    "pelvis",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "spine1",
    "spine2",
    "spine3",
    "neck",
    "head",
    "left_collar",
    "right_collar",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
)


@dataclass
class BodyGeometry:
    """A canonical body (y up, facing +z, its left at +x, metres).

    vertices: [V, 3] surface vertices (a closed, outward-oriented triangle mesh with `faces`).
    faces: [F, 3] int64 triangles.
    joints: [J, 3] joint positions.
    landmarks: landmark name (LANDMARK_NAMES) -> [3] position.
    """

    vertices: torch.Tensor
    faces: torch.Tensor
    joints: torch.Tensor
    landmarks: dict[str, torch.Tensor]

    def __post_init__(self) -> None:
        missing = [name for name in LANDMARK_NAMES if name not in self.landmarks]
        if missing:
            raise RecmvError(f"body geometry lacks the landmarks {missing}")

    @classmethod
    def from_body_model(cls, body: BodyModel, shape: torch.Tensor | None = None) -> BodyGeometry:
        """The rest body of `body` for `shape` (the model's default shape when None)."""
        rest = body.rest(shape)
        landmark_joints = getattr(body, "landmark_joints", None)
        if not landmark_joints:
            raise RecmvError(f"{type(body).__name__} has no landmark_joints table")
        joints = rest.joints.detach()
        return cls(
            vertices=rest.vertices.detach(),
            faces=body.faces.detach().long(),
            joints=joints,
            landmarks={name: joints[index] for name, index in landmark_joints.items()},
        )

    def landmark(self, name: str) -> np.ndarray:
        """[3] float64 position of a landmark."""
        return self.landmarks[name].detach().cpu().double().numpy()

    def vertices_np(self) -> np.ndarray:
        """[V, 3] float64 vertices."""
        return self.vertices.detach().cpu().double().numpy()

    def faces_np(self) -> np.ndarray:
        """[F, 3] int64 faces."""
        return self.faces.detach().cpu().long().numpy()

    def chain(self, names: tuple[str, ...]) -> np.ndarray:
        """[K, 3] landmark positions along a limb, e.g. shoulder -> elbow -> wrist."""
        return np.stack([self.landmark(name) for name in names])

    def arm(self, side: str) -> np.ndarray:
        """[3, 3] shoulder, elbow, wrist of one side ("left" or "right")."""
        return self.chain((f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist"))

    def leg(self, side: str) -> np.ndarray:
        """[3, 3] hip, knee, ankle of one side ("left" or "right")."""
        return self.chain((f"{side}_hip", f"{side}_knee", f"{side}_ankle"))

    @property
    def torso_length(self) -> float:
        """Height of the neck above the pelvis, metres: the unit of garment heights."""
        return float(self.landmark("neck")[1] - self.landmark("pelvis")[1])


def point_along(chain: np.ndarray, distance: float) -> tuple[np.ndarray, np.ndarray]:
    """The point `distance` along a polyline chain [K, 3] from its start, and the unit tangent there.

    Distances past the end extrapolate along the last segment.
    """
    segments = np.diff(chain, axis=0)
    lengths = np.linalg.norm(segments, axis=1)
    last = len(segments) - 1
    for index in range(len(segments)):
        if distance <= lengths[index] or index == last:
            tangent = segments[index] / lengths[index]
            return chain[index] + distance * tangent, tangent
        distance -= lengths[index]
    raise RecmvError("a limb chain needs at least two points")


def chain_length(chain: np.ndarray) -> float:
    """Total length of a polyline chain [K, 3]."""
    return float(np.linalg.norm(np.diff(chain, axis=0), axis=1).sum())


def arm_cut(body: BodyGeometry, side: str, share: float, tilt: float, name: str) -> PlaneCut:
    """The plane across one arm at `share` of the shoulder-to-wrist length (at most 0.97).

    tilt 0 gives the plane square to the arm; tilt 1 the upright armhole plane, facing sideways
    and leaning inwards at the top; values between blend the two normals.
    """
    arm = body.arm(side)
    point, tangent = point_along(arm, min(share, 0.97) * chain_length(arm))
    sideways = np.array([1.0 if side == "left" else -1.0, ARMHOLE_LEAN, 0.0]) / np.hypot(1.0, ARMHOLE_LEAN)
    normal = (1.0 - tilt) * tangent + tilt * sideways
    return PlaneCut(name, point, normal / np.linalg.norm(normal))
