"""Rotation conversions as pure batched functions (axis-angle, 3x3 matrix, 6D).

Every function accepts any number of leading batch dimensions `...`, keeps the input's dtype and
device, and is differentiable everywhere including at the zero rotation.

The 6D representation (Zhou et al., CVPR 2019) is the first two *columns* of the rotation matrix,
concatenated: [r00, r10, r20, r01, r11, r21].
"""

from __future__ import annotations

import torch

# Below this squared angle (rad^2) the Rodrigues coefficients use their Taylor series: the closed
# forms divide by the angle, which is 0/0 at the identity and loses precision near it.
_SMALL_ANGLE_SQ = 1e-6


def skew(vectors: torch.Tensor) -> torch.Tensor:
    """Cross-product matrices: skew(v) @ u == cross(v, u).

    vectors: [..., 3] -> [..., 3, 3]
    """
    x, y, z = vectors.unbind(-1)
    zero = torch.zeros_like(x)
    rows = (
        torch.stack([zero, -z, y], dim=-1),
        torch.stack([z, zero, -x], dim=-1),
        torch.stack([-y, x, zero], dim=-1),
    )
    return torch.stack(rows, dim=-2)


def axis_angle_to_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula R = I + a(θ) K + b(θ) K², K = skew(axis_angle), θ = |axis_angle|.

    a = sin θ / θ and b = (1 - cos θ) / θ² switch to their Taylor series near θ = 0, so values
    and gradients stay exact there.

    axis_angle: [..., 3] rotation vectors (axis times angle in radians) -> [..., 3, 3]
    """
    angle_sq = (axis_angle * axis_angle).sum(-1)
    small = angle_sq < _SMALL_ANGLE_SQ
    # The square root is taken of a value that is never 0, so its gradient is finite; the
    # branch it feeds is discarded where `small`.
    angle = torch.sqrt(torch.where(small, torch.ones_like(angle_sq), angle_sq))
    a = torch.where(small, 1.0 - angle_sq / 6.0 + angle_sq**2 / 120.0, torch.sin(angle) / angle)
    b = torch.where(
        small,
        0.5 - angle_sq / 24.0 + angle_sq**2 / 720.0,
        (1.0 - torch.cos(angle)) / (angle * angle),
    )
    k = skew(axis_angle)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def matrix_to_quaternion(matrix: torch.Tensor) -> torch.Tensor:
    """Unit quaternions (w, x, y, z) with w >= 0 from rotation matrices.

    Each of the four textbook formulas divides by one quaternion component; the one with the
    largest component is used, which keeps the division well conditioned for every rotation.

    matrix: [..., 3, 3] -> [..., 4]
    """
    m = matrix
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    # 4 * component^2 for w, x, y, z.
    four_sq = torch.stack(
        [
            1.0 + m00 + m11 + m22,
            1.0 + m00 - m11 - m22,
            1.0 - m00 + m11 - m22,
            1.0 - m00 - m11 + m22,
        ],
        dim=-1,
    )
    # Clamped away from 0 so that unused candidates stay finite (and their gradients too).
    two_abs = torch.sqrt(four_sq.clamp(min=1e-12))  # [..., 4] = 2|q_i|
    candidates = torch.stack(
        [
            torch.stack([four_sq[..., 0], m21 - m12, m02 - m20, m10 - m01], dim=-1),
            torch.stack([m21 - m12, four_sq[..., 1], m10 + m01, m02 + m20], dim=-1),
            torch.stack([m02 - m20, m10 + m01, four_sq[..., 2], m21 + m12], dim=-1),
            torch.stack([m10 - m01, m20 + m02, m21 + m12, four_sq[..., 3]], dim=-1),
        ],
        dim=-2,
    ) / (2.0 * two_abs[..., :, None])  # [..., 4 candidates, 4]
    best = four_sq.argmax(dim=-1)
    index = best[..., None, None].expand(*best.shape, 1, 4)
    quaternion = candidates.gather(-2, index).squeeze(-2)
    return torch.where(quaternion[..., :1] < 0, -quaternion, quaternion)


def quaternion_to_axis_angle(quaternion: torch.Tensor) -> torch.Tensor:
    """Rotation vectors with angle in [0, π] from unit quaternions (w, x, y, z).

    quaternion: [..., 4] -> [..., 3]
    """
    quaternion = torch.where(quaternion[..., :1] < 0, -quaternion, quaternion)
    w, vector = quaternion[..., 0], quaternion[..., 1:]
    sin_half_sq = (vector * vector).sum(-1)
    small = sin_half_sq < _SMALL_ANGLE_SQ
    sin_half = torch.sqrt(torch.where(small, torch.ones_like(sin_half_sq), sin_half_sq))
    # angle / sin(angle / 2) = 2 atan2(s, w) / s, with its series 2/w (1 - s²/(3w²)) near s = 0
    # (w is then close to 1).
    scale = torch.where(
        small,
        2.0 / w * (1.0 - sin_half_sq / (3.0 * w * w)),
        2.0 * torch.atan2(sin_half, w) / sin_half,
    )
    return vector * scale[..., None]


def matrix_to_axis_angle(matrix: torch.Tensor) -> torch.Tensor:
    """Rotation vectors with angle in [0, π] from rotation matrices.

    matrix: [..., 3, 3] -> [..., 3]
    """
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))


def rotation_6d_to_matrix(rotation_6d: torch.Tensor) -> torch.Tensor:
    """Gram-Schmidt of the two 6D columns; the third column is their cross product.

    rotation_6d: [..., 6] -> [..., 3, 3]
    """
    first = torch.nn.functional.normalize(rotation_6d[..., :3], dim=-1)
    second = rotation_6d[..., 3:]
    second = second - (first * second).sum(-1, keepdim=True) * first
    second = torch.nn.functional.normalize(second, dim=-1)
    third = torch.linalg.cross(first, second, dim=-1)
    return torch.stack([first, second, third], dim=-1)


def matrix_to_rotation_6d(matrix: torch.Tensor) -> torch.Tensor:
    """The first two columns of each rotation matrix.

    matrix: [..., 3, 3] -> [..., 6]
    """
    return torch.cat([matrix[..., :, 0], matrix[..., :, 1]], dim=-1)
