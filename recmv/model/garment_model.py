"""The garment model: one canonical SDF per garment, a shared deformer, an appearance field and the
per-frame parameters, with the warp that carries canonical points into any frame.

The body model and the skinning grid are fixed inputs (from the subject), held beside the learnable
modules rather than inside their state dict.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from recmv.body.base import BodyModel, BodyOutput
from recmv.body.skinning_field import SkinningGrid
from recmv.deform.warp import WarpResult, skin_canonical, warp_jacobian, warp_points
from recmv.fields.appearance import AppearanceConfig, AppearanceField
from recmv.fields.deformation import DeformationConfig, DeformationField
from recmv.fields.encoding import annealing_weights, deformer_annealing_ratio
from recmv.fields.sdf import GarmentSDF, SDFConfig
from recmv.model.frame_params import FrameParameters


@dataclass
class Subject:
    """The fixed parts: body model, its shape, and the skinning grid of each garment (the body's diffused
    grid, or one derived from it: see `garment_skinning_grids` and FitConfig.hanging_skinning)."""

    body: BodyModel
    shape: torch.Tensor
    garment_grids: list[SkinningGrid]


class GarmentModel(nn.Module):
    """sdfs[g]: canonical SDF of garment g; deformer; appearance; frames: FrameParameters."""

    def __init__(
        self,
        garments: list[str],
        sdf_configs: list[SDFConfig],
        deformer_config: DeformationConfig,
        appearance_config: AppearanceConfig,
        frames: FrameParameters,
        subject: Subject,
    ) -> None:
        super().__init__()
        self.garments = list(garments)
        self.sdfs = nn.ModuleList(GarmentSDF(config) for config in sdf_configs)
        self.deformer = DeformationField(deformer_config)
        self.appearance = AppearanceField(appearance_config)
        self.frames = frames
        self.subject = subject

    def band_weights(self, iteration: int, period: float) -> torch.Tensor:
        ratio = deformer_annealing_ratio(iteration, period)
        return annealing_weights(ratio, self.deformer.config.num_bands, dtype=self.frames.poses.dtype)

    def pose(self, frame_indices: torch.Tensor) -> BodyOutput:
        """The body of some frames: transforms [B, J, 4, 4], vertices [B, V, 3], joints [B, J, 3]."""
        return self.subject.body(
            self.frames.poses[frame_indices], self.subject.shape, self.frames.trans[frame_indices]
        )

    def warp(
        self, garment: int, points: torch.Tensor, frame_indices: torch.Tensor, transforms: torch.Tensor,
        band_weights: torch.Tensor | None,
    ) -> WarpResult:
        """Canonical points [N, 3] of a garment into frames [B] -> [B, N, 3] (deformed and posed)."""
        codes = self.frames.garment_codes[garment][frame_indices]
        return warp_points(self.deformer, self.subject.garment_grids[garment], points, codes, transforms, band_weights)

    def skin_only(self, points: torch.Tensor, transforms: torch.Tensor, garment: int) -> torch.Tensor:
        """Canonical points [N, 3] of a garment skinned with its grid, without the offset -> [B, N, 3]."""
        return skin_canonical(self.subject.garment_grids[garment], points[None], transforms)

    def warp_each(
        self, garment: int, points: torch.Tensor, point_frames: torch.Tensor, point_transforms: torch.Tensor,
        band_weights: torch.Tensor | None,
    ) -> torch.Tensor:
        """Each point in its own frame: points [N, 3], point_frames [N], point_transforms [N, J, 4, 4] -> [N, 3]."""
        codes = self.frames.garment_codes[garment][point_frames]
        return warp_points(
            self.deformer, self.subject.garment_grids[garment], points[:, None], codes, point_transforms, band_weights
        ).posed[:, 0]

    def warp_with_jacobian(
        self, garment: int, points: torch.Tensor, point_frames: torch.Tensor, point_transforms: torch.Tensor,
        band_weights: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Each point in its own frame.

        points: [N, 3]; point_frames: [N] frame indices; point_transforms: [N, J, 4, 4].
        Returns posed [N, 3] and the warp Jacobian [N, 3, 3] (differentiable, for normals and losses).
        """
        codes = self.frames.garment_codes[garment][point_frames]
        return warp_jacobian(
            self.deformer, self.subject.garment_grids[garment], points, codes, point_transforms, band_weights
        )
