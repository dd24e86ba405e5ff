"""Curve initialisation (REC-MV §3.3, `scale_rigid_optimizer`): a similarity transform per curve.

Each template loop gets a translation T_c, a scale s_c about its centroid mu_c and a rotation R_c
about the moved centroid: p -> mu_c + T_c + s_c R_c (p - mu_c). The loops are posed by skinning alone
into the annotated frames, projected, and compared with the 2D curves by the projection chamfer.
Stages as in REC-MV: translation and scale, then scale alone, then the scales of left/right pairs
(cuffs, trouser hems) set to the larger of the two, then rotation. Unlike REC-MV the last stage
refines the translation and the (pair-tied) scales with the rotation: a tilt changes a loop's
projected centre and size, which the earlier stages had compensated with translation and scale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from recmv.curves.config import CurveConfig
from recmv.geometry.rotations import axis_angle_to_matrix
from recmv.losses.curves import curve_projection_loss
from recmv.render.camera import PinholeCamera

SYMMETRIC_PAIRS = (("left_cuff", "right_cuff"), ("left_pant", "right_pant"))


@dataclass
class Similarity:
    """Per-curve transform: translation [C, 3] metres, log_scale [C], rotation [C, 3] axis-angle."""

    translation: torch.Tensor
    log_scale: torch.Tensor
    rotation: torch.Tensor

    @classmethod
    def identity(cls, count: int, like: torch.Tensor) -> Similarity:
        return cls(like.new_zeros(count, 3), like.new_zeros(count), like.new_zeros(count, 3))

    def apply(self, loops: torch.Tensor) -> torch.Tensor:
        """Loops [C, K, 3] -> transformed loops [C, K, 3]."""
        return similarity_transform(loops, self.translation, self.log_scale, self.rotation)


def similarity_transform(
    loops: torch.Tensor, translation: torch.Tensor, log_scale: torch.Tensor, rotation: torch.Tensor
) -> torch.Tensor:
    """mu + T + exp(log_scale) R (p - mu) for loops [C, K, 3], T [C, 3], log_scale [C], rotation [C, 3]."""
    centre = loops.mean(dim=1, keepdim=True)
    matrices = axis_angle_to_matrix(rotation)
    turned = (loops - centre) @ matrices.transpose(-1, -2)
    return centre + translation[:, None] + log_scale.exp()[:, None, None] * turned


def symmetric_pairs(names: list[str]) -> list[tuple[int, int]]:
    """Index pairs of the left/right curves present among names."""
    return [(names.index(a), names.index(b)) for a, b in SYMMETRIC_PAIRS if a in names and b in names]


def fit_similarity(
    loops: torch.Tensor,
    names: list[str],
    pose: Callable[[torch.Tensor], torch.Tensor],
    camera: PinholeCamera,
    targets: torch.Tensor,
    target_mask: torch.Tensor,
    visibility: Callable[[torch.Tensor], torch.Tensor],
    config: CurveConfig,
) -> Similarity:
    """Fit a similarity per curve to the annotated 2D curves of B frames.

    Args:
        loops: [C, K, 3] canonical template loops.
        pose: canonical points [N, 3] -> world points [B, N, 3] in the annotated frames (skinning only).
        targets: [B, C, P, 2] annotated pixels; target_mask: [B, C, P] bool.
        visibility: world points [B, N, 3] -> [B, N] bool.
    Returns:
        the Similarity whose `apply(loops)` are the initial curves.
    """
    count, points = loops.shape[:2]
    loops = loops.detach()
    translation, rotation = loops.new_zeros(count, 3), loops.new_zeros(count, 3)
    group_scale = loops.new_zeros(count)
    group = torch.arange(count, device=loops.device)
    ones = loops.new_ones(count)
    state = {"visible": None}

    def current() -> Similarity:
        return Similarity(translation, group_scale[group], rotation)

    def loss(step: int) -> torch.Tensor:
        posed = pose(current().apply(loops).reshape(-1, 3))
        if state["visible"] is None or step % config.init_visibility_every == 0:
            state["visible"] = visibility(posed.detach()).reshape(-1, count, points)
        pixels, _ = camera.project(posed)
        return curve_projection_loss(
            pixels.reshape(-1, count, points, 2), state["visible"], targets, target_mask, ones
        )

    def run(parameters: list[torch.Tensor], lr: float) -> None:
        for parameter in parameters:
            parameter.requires_grad_(True)
        optimizer = torch.optim.Adam(parameters, lr=lr)
        for step in range(config.init_steps):
            optimizer.zero_grad(set_to_none=True)
            value = loss(step)
            if value.requires_grad:
                value.backward()
                optimizer.step()
        for parameter in parameters:
            parameter.requires_grad_(False)

    run([translation, group_scale], config.init_lr)
    run([group_scale], config.init_lr)
    with torch.no_grad():
        for a, b in symmetric_pairs(names):
            group_scale[a] = torch.maximum(group_scale[a], group_scale[b])
            group[b] = a
    run([rotation, translation, group_scale], config.init_rotation_lr)
    fit = current()
    return Similarity(fit.translation.detach(), fit.log_scale.detach(), fit.rotation.detach())
