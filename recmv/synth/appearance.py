"""What a synthetic subject looks like: body-part parsing labels, colours, textures and shading."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from recmv.tables import ATR_LABELS

# Distinct, saturated garment colours (RGB in [0, 1]), one per garment slot.
GARMENT_PALETTE = (
    (0.80, 0.22, 0.20),
    (0.18, 0.35, 0.75),
    (0.20, 0.62, 0.30),
    (0.85, 0.65, 0.15),
)
SKIN_TONES = ((0.92, 0.76, 0.65), (0.78, 0.58, 0.45), (0.55, 0.38, 0.28), (0.96, 0.84, 0.74))

# Body regions by landmark: the landmark whose subtree (in the skeleton) a joint belongs to.
_REGION_ROOTS = (
    ("left_ankle", "left_shoe"),
    ("right_ankle", "right_shoe"),
    ("left_hip", "left_leg"),
    ("right_hip", "right_leg"),
    ("left_collar", "left_arm"),
    ("right_collar", "right_arm"),
    ("neck", "face"),
)


def joint_regions(parents: list[int], landmark_joints: dict[str, int]) -> list[str]:
    """The ATR region name of every joint: the first region root found walking up to the skeleton root.

    Torso joints get "torso"; `body_vertex_labels` splits torso skin into left/right arm labels.
    """
    roots = {landmark_joints[name]: region for name, region in _REGION_ROOTS}
    regions = []
    for joint in range(len(parents)):
        node, region = joint, "torso"
        while node >= 0:
            if node in roots:
                region = roots[node]
                break
            node = parents[node]
        regions.append(region)
    return regions


def body_vertex_labels(
    skinning_weights: torch.Tensor,
    canonical_vertices: torch.Tensor,
    parents: list[int],
    landmark_joints: dict[str, int],
) -> torch.Tensor:
    """[V] ATR label of every body vertex, from its dominant joint.

    ATR has no label for bare torso skin; it is given the arm label of its side, as human parsers tend to.
    """
    regions = joint_regions(parents, landmark_joints)
    dominant = skinning_weights.argmax(dim=1).tolist()
    side_left = (canonical_vertices[:, 0] > 0).tolist()
    labels = []
    for joint, is_left in zip(dominant, side_left):
        region = regions[joint]
        if region == "torso":
            region = "left_arm" if is_left else "right_arm"
        labels.append(ATR_LABELS[region])
    return torch.tensor(labels, dtype=torch.int64)


def face_labels(vertex_labels: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """[F] label of each face: the most common label of its three vertices (the first on a three-way tie)."""
    tri = vertex_labels[faces.long()]
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    return torch.where(b == c, b, a)


def stripe_texture(canonical_points: torch.Tensor, period: float = 0.05) -> torch.Tensor:
    """[N] brightness factor in [0.8, 1.0]: soft stripes and a faint check in canonical coordinates."""
    stripes = 0.5 + 0.5 * torch.sin(2.0 * np.pi * canonical_points[:, 1] / period)
    check = 0.5 + 0.5 * torch.sin(2.0 * np.pi * canonical_points[:, 0] / (2 * period))
    return 0.8 + 0.14 * stripes + 0.06 * check


@dataclass
class Light:
    """A directional light plus ambient term; `direction` points from the light into the scene (world)."""

    direction: tuple[float, float, float] = (0.3, 0.5, 1.0)
    ambient: float = 0.35


def lambert(normals: torch.Tensor, light: Light) -> torch.Tensor:
    """[N] shading factor for unit normals [N, 3] facing the camera."""
    direction = torch.tensor(light.direction, dtype=normals.dtype)
    direction = direction / direction.norm()
    diffuse = (-(normals @ direction)).clamp(min=0.0)
    return light.ambient + (1.0 - light.ambient) * diffuse
