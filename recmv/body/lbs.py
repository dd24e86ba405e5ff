"""Linear blend skinning maths as pure functions of tensors (no model state).

Notation: B batch, V vertices, N points, J joints, K blend shapes. A transform is a rigid 4x4
matrix acting on column vectors [x; 1]. Joints are listed so that every parent comes before its
children (parents[0] == -1 is the root).
"""

from __future__ import annotations

import torch

from recmv.errors import RecmvError


def blend_shapes(coefficients: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Linear blend-shape offsets.

    coefficients: [B, K]; directions: [V, 3, K] -> offsets [B, V, 3]
    """
    return torch.einsum("bk,vck->bvc", coefficients, directions)


def vertices_to_joints(regressor: torch.Tensor, vertices: torch.Tensor) -> torch.Tensor:
    """Joint locations as fixed linear combinations of vertices.

    regressor: [J, V]; vertices: [B, V, 3] -> joints [B, J, 3]
    """
    return torch.einsum("jv,bvc->bjc", regressor, vertices)


def rigid_transform(rotation: torch.Tensor, translation: torch.Tensor) -> torch.Tensor:
    """Homogeneous matrices [[R, t], [0, 1]].

    rotation: [..., 3, 3]; translation: [..., 3] -> [..., 4, 4]
    """
    top = torch.cat([rotation, translation[..., :, None]], dim=-1)
    bottom = torch.zeros_like(top[..., :1, :])
    bottom[..., 0, 3] = 1.0
    return torch.cat([top, bottom], dim=-2)


def rigid_inverse(transforms: torch.Tensor) -> torch.Tensor:
    """Inverse of rigid transforms, [R, t]^-1 = [R^T, -R^T t] (exact, no general inversion).

    transforms: [..., 4, 4] -> [..., 4, 4]
    """
    rotation_t = transforms[..., :3, :3].transpose(-1, -2)
    translation = -(rotation_t @ transforms[..., :3, 3:])[..., 0]
    return rigid_transform(rotation_t, translation)


def relative_transforms(target: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """target @ source^-1: maps points posed by `source` to where `target` poses them.

    With source = transforms of the canonical pose θ_A and target = transforms of θ, this is the
    canonical-to-posed map G(θ) G(θ_A)^-1 used by REC-MV.

    target: [B, J, 4, 4]; source: [J, 4, 4] or [B, J, 4, 4] (rigid) -> [B, J, 4, 4]
    """
    return target @ rigid_inverse(source)


def translate_transforms(transforms: torch.Tensor, translation: torch.Tensor) -> torch.Tensor:
    """Transforms followed by a per-batch translation.

    transforms: [B, J, 4, 4]; translation: [B, 3] -> [B, J, 4, 4]
    """
    offset = torch.zeros_like(transforms)
    offset[..., :3, 3] = translation[:, None, :]
    return transforms + offset


def forward_kinematics(
    rotations: torch.Tensor, joints: torch.Tensor, parents: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pose a skeleton by per-joint rotations about the rest joints.

    Joint j rotates its subtree by rotations[j] about its rest position, expressed in the frame
    of its parent once posed (rest axes for the root): the global transform is
    G_j = G_parent @ [R_j, J_j - J_parent], G_root = [R_0, J_0], and the returned skinning
    transform is A_j = G_j @ [I, -J_j], which maps rest-space points to posed space.

    Args:
        rotations: [B, J, 3, 3] local rotations.
        joints: [B, J, 3] or [J, 3] rest joint positions.
        parents: [J] int parent index per joint, -1 for the root, parents[j] < j.

    Returns:
        posed_joints: [B, J, 3]; transforms: [B, J, 4, 4].
    """
    batch, num_joints = rotations.shape[:2]
    if parents.shape != (num_joints,) or joints.shape[-2:] != (num_joints, 3):
        raise RecmvError(
            f"forward_kinematics: rotations {tuple(rotations.shape)}, joints "
            f"{tuple(joints.shape)} and parents {tuple(parents.shape)} disagree on J"
        )
    joints = joints.expand(batch, num_joints, 3)
    parent_list = [int(p) for p in parents]
    if parent_list[0] != -1 or any(not 0 <= p < j for j, p in enumerate(parent_list) if j > 0):
        raise RecmvError(
            f"forward_kinematics: parents must be -1 then earlier joints, got {parent_list}"
        )

    offsets = joints.clone()
    offsets[:, 1:] = joints[:, 1:] - joints[:, parent_list[1:]]
    local = rigid_transform(rotations, offsets)  # [B, J, 4, 4]
    chain = [local[:, 0]]
    for j in range(1, num_joints):
        chain.append(chain[parent_list[j]] @ local[:, j])
    world = torch.stack(chain, dim=1)  # [B, J, 4, 4]

    posed_joints = world[..., :3, 3]
    rest_offset = (world[..., :3, :3] @ joints[..., None])[..., 0]
    transforms = rigid_transform(world[..., :3, :3], posed_joints - rest_offset)
    return posed_joints, transforms


def skin_points(
    points: torch.Tensor, weights: torch.Tensor, transforms: torch.Tensor
) -> torch.Tensor:
    """Linear blend skinning: x' = sum_j w_j (A_j @ [x; 1]).

    Args:
        points: [B, N, 3] (or [1, N, 3], shared by the batch) rest-space points.
        weights: [B, N, J] or [1, N, J] skinning weights (rows normally sum to 1).
        transforms: [B, J, 4, 4] rest-to-posed rigid transforms.

    Returns:
        [B, N, 3] posed points.
    """
    weights = weights.expand(transforms.shape[0], -1, -1)
    rows = transforms[:, :, :3, :]
    if weights.shape[1] == 1:
        # One point per transform set (each point in its own frame): as a batched product this is B
        # tiny [1, J] x [J, 12] matrix products, which CPU bmm runs one by one.
        blended = (weights[:, 0, :, None, None] * rows).sum(1)[:, None]  # [B, 1, 3, 4]
    else:
        blended = torch.einsum("bnj,bjrc->bnrc", weights, rows)  # [B, N, 3, 4]
    return (blended[..., :3] @ points[..., None])[..., 0] + blended[..., 3]
