"""Procedural motions, defined on the SMPL-like landmarks every body backend names.

A motion is a function of time that returns, per landmark joint, a rotation *relative to the
canonical A-pose* in canonical axes (y up, facing +z, left +x), plus the root yaw and a vertical bob.
`motion_poses` turns it into body poses [F, J, 3] for a given body model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from recmv.errors import RecmvError
from recmv.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle

MOTIONS = ("rotate", "walk", "dance")

# Rotation axes in canonical space. A leg or arm swings forward (towards +z) about -x.
_X = (1.0, 0.0, 0.0)
_Y = (0.0, 1.0, 0.0)
_Z = (0.0, 0.0, 1.0)


@dataclass
class MotionFrame:
    """One frame of a procedural motion.

    joint_rotations: landmark name -> (axis, angle in radians), applied on top of the canonical pose.
    yaw: rotation of the whole body about the vertical axis, radians.
    bob: vertical offset of the body, metres (positive = up).
    """

    joint_rotations: dict[str, tuple[tuple[float, float, float], float]]
    yaw: float
    bob: float


def _rotate(t: float, frames: int) -> MotionFrame:
    """A-pose self-rotation: one full turn over the clip, arms slightly breathing (PeopleSnapshot style)."""
    phase = t / max(frames, 1)
    breathe = math.radians(4.0) * math.sin(2.0 * math.pi * 2.0 * phase)
    return MotionFrame(
        joint_rotations={"left_shoulder": (_Z, breathe), "right_shoulder": (_Z, -breathe)},
        yaw=2.0 * math.pi * phase,
        bob=0.0,
    )


def _walk(t: float, frames: int, period: float = 24.0) -> MotionFrame:
    """Walking in place with arm and leg swing, turning slowly left and right."""
    phi = 2.0 * math.pi * t / period
    s = math.sin(phi)
    knee_l = math.radians(45.0) * max(0.0, -math.sin(phi + 0.6))
    knee_r = math.radians(45.0) * max(0.0, math.sin(phi + 0.6))
    return MotionFrame(
        joint_rotations={
            "left_hip": (_X, -math.radians(28.0) * s),
            "right_hip": (_X, math.radians(28.0) * s),
            "left_knee": (_X, knee_l),
            "right_knee": (_X, knee_r),
            "left_shoulder": (_X, math.radians(25.0) * s),
            "right_shoulder": (_X, -math.radians(25.0) * s),
            "left_elbow": (_X, -math.radians(20.0) - math.radians(10.0) * max(0.0, s)),
            "right_elbow": (_X, -math.radians(20.0) - math.radians(10.0) * max(0.0, -s)),
            "spine2": (_Y, math.radians(6.0) * s),
        },
        yaw=math.radians(35.0) * math.sin(2.0 * math.pi * t / max(frames, 1)),
        bob=0.02 * abs(math.cos(phi)),
    )


def _dance(t: float, frames: int, period: float = 30.0) -> MotionFrame:
    """Arms raised and lowered, hips swaying, a step to each side and a half turn."""
    phi = 2.0 * math.pi * t / period
    raise_arm = math.radians(55.0) * (0.5 - 0.5 * math.cos(phi))
    sway = math.sin(phi)
    return MotionFrame(
        joint_rotations={
            "left_shoulder": (_Z, raise_arm),
            "right_shoulder": (_Z, -raise_arm * 0.8),
            "left_elbow": (_X, -math.radians(35.0) * (0.5 + 0.5 * sway)),
            "right_elbow": (_X, -math.radians(35.0) * (0.5 - 0.5 * sway)),
            "left_hip": (_Z, math.radians(12.0) * max(0.0, sway)),
            "right_hip": (_Z, -math.radians(12.0) * max(0.0, -sway)),
            "left_knee": (_X, math.radians(30.0) * max(0.0, -sway)),
            "right_knee": (_X, math.radians(30.0) * max(0.0, sway)),
            "spine1": (_Z, math.radians(7.0) * sway),
            "spine3": (_Y, math.radians(10.0) * math.sin(phi * 0.5)),
        },
        yaw=math.pi * 0.5 * math.sin(math.pi * t / max(frames, 1)),
        bob=0.03 * (0.5 - 0.5 * math.cos(2.0 * phi)),
    )


_MOTION_FUNCTIONS = {"rotate": _rotate, "walk": _walk, "dance": _dance}


def motion_frames(name: str, frames: int) -> list[MotionFrame]:
    """The frames of a named procedural motion."""
    if name not in _MOTION_FUNCTIONS:
        raise RecmvError(f"--motion: unknown motion {name!r}; expected one of {', '.join(MOTIONS)}")
    function = _MOTION_FUNCTIONS[name]
    return [function(float(t), frames) for t in range(frames)]


def world_from_canonical() -> torch.Tensor:
    """[3, 3] the rotation that stands the y-up canonical body upright in the y-down world, facing the camera."""
    return torch.tensor([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])


def motion_poses(
    motion: list[MotionFrame], canonical_pose: torch.Tensor, landmark_joints: dict[str, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Body poses for a motion.

    Args:
        motion: F motion frames.
        canonical_pose: [J, 3] the body's canonical axis-angle pose.
        landmark_joints: landmark name -> joint index of the body model.
    Returns:
        poses: [F, J, 3] axis-angle poses (joint 0 holds the world orientation incl. the yaw).
        bobs: [F] vertical offsets in metres (up is -y in the world).
    """
    dtype = canonical_pose.dtype
    canonical = axis_angle_to_matrix(canonical_pose)
    poses = []
    for frame in motion:
        rotations = canonical.clone()
        for name, (axis, angle) in frame.joint_rotations.items():
            joint = landmark_joints[name]
            delta = axis_angle_to_matrix(torch.tensor(axis, dtype=dtype) * angle)
            rotations[joint] = delta @ rotations[joint]
        yaw = axis_angle_to_matrix(torch.tensor(_Y, dtype=dtype) * frame.yaw)
        rotations[0] = world_from_canonical().to(dtype) @ yaw @ rotations[0]
        poses.append(matrix_to_axis_angle(rotations))
    bobs = torch.tensor([frame.bob for frame in motion], dtype=dtype)
    return torch.stack(poses), bobs
