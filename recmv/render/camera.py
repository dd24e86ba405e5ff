"""Pinhole camera in the OpenCV convention (x right, y down, z forward; pixel centres at integers).

x_cam = R @ x_world + t;  u = fx * x_cam / z_cam + cx;  v = fy * y_cam / z_cam + cy.
Pixel (u, v) = (column, row); u = 0 is the centre of column 0, as in REC-MV.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class PinholeCamera:
    """A static camera.

    fx, fy, cx, cy: intrinsics in pixels.
    rotation: [3, 3] world-to-camera rotation R.
    translation: [3] world-to-camera translation t.
    width, height: image size in pixels.
    """

    fx: float
    fy: float
    cx: float
    cy: float
    rotation: torch.Tensor
    translation: torch.Tensor
    width: int
    height: int

    @property
    def intrinsics(self) -> torch.Tensor:
        """[3, 3] the matrix K, in the dtype of `rotation`."""
        return torch.tensor(
            [[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]],
            dtype=self.rotation.dtype,
            device=self.rotation.device,
        )

    @property
    def center(self) -> torch.Tensor:
        """[3] the camera centre in world coordinates, -R^T t."""
        return -self.rotation.T @ self.translation

    def to_camera(self, points: torch.Tensor) -> torch.Tensor:
        """[..., 3] world points -> [..., 3] camera-frame points."""
        rotation = self.rotation.to(points)
        return points @ rotation.T + self.translation.to(points)

    def project(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Project world points.

        Args:
            points: [..., 3] world points.
        Returns:
            pixels: [..., 2] (u, v) pixel coordinates.
            depth: [...] camera-frame z.
        """
        cam = self.to_camera(points)
        z = cam[..., 2]
        u = self.fx * cam[..., 0] / z + self.cx
        v = self.fy * cam[..., 1] / z + self.cy
        return torch.stack([u, v], dim=-1), z

    def pixel_rays(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """World-space rays through pixel centres.

        Args:
            pixels: [..., 2] (u, v) pixel coordinates.
        Returns:
            origins: [..., 3] the camera centre, broadcast.
            directions: [..., 3] unit directions in world coordinates.
        """
        x = (pixels[..., 0] - self.cx) / self.fx
        y = (pixels[..., 1] - self.cy) / self.fy
        cam_dirs = torch.stack([x, y, torch.ones_like(x)], dim=-1)
        dirs = cam_dirs @ self.rotation.to(pixels)
        dirs = dirs / dirs.norm(dim=-1, keepdim=True)
        origins = self.center.to(pixels).expand_as(dirs)
        return origins, dirs

    def image_rays(self, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
        """Rays through every pixel centre: origins and directions, each [H, W, 3]."""
        rows, cols = torch.meshgrid(
            torch.arange(self.height, dtype=dtype), torch.arange(self.width, dtype=dtype), indexing="ij"
        )
        return self.pixel_rays(torch.stack([cols, rows], dim=-1))
