"""Everything that varies per frame, as learnable parameters: poses, translations, latent codes, camera.

REC-MV optimises the body poses and translations it was given (from TCMR), one 128-d deformation code
per garment and frame (initialised smooth in time), and the static camera's focal length, principal
point and translation. The camera is refined as corrections to the subject's camera so that zero
corrections reproduce the input exactly.
"""

from __future__ import annotations

import torch
from torch import nn

from recmv.errors import RecmvError
from recmv.fields.latent import smooth_latent_codes
from recmv.render.camera import PinholeCamera


class FrameParameters(nn.Module):
    """poses: [F, J, 3] axis-angle; trans: [F, 3]; garment_codes: G tensors [F, L]; camera corrections.

    Each garment's codes are a parameter of their own so that they can have their own learning rate
    (FitConfig.garment_tuning).

    focal_scale: [2] relative change of (fx, fy); principal_shift: [2] pixels; camera_shift: [3]
    metres added to the camera translation t.
    """

    def __init__(
        self,
        poses: torch.Tensor,
        trans: torch.Tensor,
        num_garments: int,
        latent_dim: int,
        code_std: float,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if poses.ndim != 3 or poses.shape[-1] != 3:
            raise RecmvError(f"poses: expected [F, J, 3], got {tuple(poses.shape)}")
        if trans.shape != (poses.shape[0], 3):
            raise RecmvError(f"trans: expected [{poses.shape[0]}, 3], got {tuple(trans.shape)}")
        frames = poses.shape[0]
        self.poses = nn.Parameter(poses.clone())
        self.trans = nn.Parameter(trans.clone())
        codes = smooth_latent_codes(frames, num_garments * latent_dim, std=code_std, generator=generator, dtype=poses.dtype)
        codes = codes.reshape(frames, num_garments, latent_dim)
        self.garment_codes = nn.ParameterList([nn.Parameter(codes[:, g].clone()) for g in range(num_garments)])
        self.focal_scale = nn.Parameter(poses.new_zeros(2))
        self.principal_shift = nn.Parameter(poses.new_zeros(2))
        self.camera_shift = nn.Parameter(poses.new_zeros(3))

    @property
    def num_frames(self) -> int:
        return self.poses.shape[0]

    def camera(self, base: PinholeCamera) -> PinholeCamera:
        """The refined camera; its intrinsics are 0-d tensors so projections carry gradients."""
        return PinholeCamera(
            fx=base.fx * (1.0 + self.focal_scale[0]),
            fy=base.fy * (1.0 + self.focal_scale[1]),
            cx=base.cx + self.principal_shift[0],
            cy=base.cy + self.principal_shift[1],
            rotation=base.rotation.to(self.camera_shift),
            translation=base.translation.to(self.camera_shift) + self.camera_shift,
            width=base.width,
            height=base.height,
        )

    def body_parameters(self) -> list[nn.Parameter]:
        return [self.poses, self.trans]

    def camera_parameters(self) -> list[nn.Parameter]:
        return [self.focal_scale, self.principal_shift, self.camera_shift]
