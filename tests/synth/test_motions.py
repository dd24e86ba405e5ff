import math

import pytest
import torch

from recmv.errors import RecmvError
from recmv.geometry.rotations import axis_angle_to_matrix
from recmv.synth.motions import motion_frames, motion_poses, world_from_canonical

# A minimal landmark table over a 21-joint skeleton: only indices matter to motion_poses.
LANDMARKS = {
    name: i
    for i, name in enumerate(
        [
            "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
            "right_ankle", "spine3", "neck", "left_collar", "right_collar", "head", "left_shoulder",
            "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
        ]
    )
}


def test_rotate_turns_once_about_the_vertical():
    frames = 8
    poses, bobs = motion_poses(motion_frames("rotate", frames), torch.zeros(20, 3), LANDMARKS)
    assert poses.shape == (frames, 20, 3) and torch.all(bobs == 0)
    root = axis_angle_to_matrix(poses[:, 0])
    # Frame 0 stands the body upright facing the camera; frame 2 has turned a quarter turn.
    assert torch.allclose(root[0], world_from_canonical(), atol=1e-6)
    forward = root[2] @ torch.tensor([0.0, 0.0, 1.0])
    assert torch.allclose(forward, torch.tensor([1.0, 0.0, 0.0]), atol=1e-6)


@pytest.mark.parametrize("name", ["walk", "dance"])
def test_large_motions_move_the_limbs(name):
    poses, _ = motion_poses(motion_frames(name, 30), torch.zeros(20, 3), LANDMARKS)
    swing = poses[:, LANDMARKS["left_shoulder"]].norm(dim=-1)
    assert swing.max() > math.radians(15)
    assert poses[:, LANDMARKS["left_knee"]].norm(dim=-1).max() > math.radians(15)


def test_unknown_motion_is_a_clear_error():
    with pytest.raises(RecmvError, match="--motion"):
        motion_frames("moonwalk", 10)
