"""MP4 renders of extracted garments: shaded over the input frames, and a canonical turntable.

Shading is flat Lambert with a head light, from exact face-id renders (`render_meshes`, warp BVH).
Videos are H.264 (yuv420p) through imageio-ffmpeg's bundled ffmpeg.
"""

from __future__ import annotations

import math
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import torch

from recmv import fileio
from recmv.geometry.proximity import face_normals
from recmv.render.camera import PinholeCamera
from recmv.render.raycast import render_meshes

GARMENT_COLOURS = ((0.85, 0.35, 0.3), (0.3, 0.5, 0.85), (0.35, 0.75, 0.4), (0.85, 0.7, 0.3))
"""RGB per garment, in subject order (REC-MV's RENDER_COLORS idea)."""


def shade(
    meshes: list[tuple[torch.Tensor, torch.Tensor]], colours: list[tuple[float, float, float]], camera: PinholeCamera,
    background: np.ndarray, opacity: float = 0.85, drawn: int | None = None,
) -> np.ndarray:
    """Draw meshes (world vertices [V, 3], faces [F, 3]) over background [H, W, 3] (floats in [0, 1]).

    Only the first `drawn` meshes are painted (default all); later ones only hide what is behind them
    (the body). Returns [H, W, 3] floats in [0, 1].
    """
    drawn = len(meshes) if drawn is None else drawn
    render = render_meshes(meshes, camera)
    image = background.copy()
    mesh_id, face = render.mesh_id.cpu().numpy(), render.face.cpu().numpy()
    eye = camera.center.to(torch.float32)
    for index in range(drawn):
        where = mesh_id == index
        if not where.any():
            continue
        vertices, faces = meshes[index]
        normals = face_normals(vertices.float(), faces)[torch.from_numpy(face[where]).to(faces.device)]
        points = render.points[torch.from_numpy(where).to(render.points.device)]
        view = eye.to(points) - points
        view = view / view.norm(dim=-1, keepdim=True).clamp(min=1e-9)
        # Both sides of an open garment are seen: light them alike.
        light = (normals.to(points) * view).sum(-1).abs().cpu().numpy()
        colour = np.asarray(colours[index]) * (0.25 + 0.75 * light[:, None])
        image[where] = (1 - opacity) * image[where] + opacity * colour
    return np.clip(image, 0.0, 1.0)


def orbit_camera(centre: np.ndarray, distance: float, size: int, fov_degrees: float = 40.0) -> PinholeCamera:
    """A camera on +z of centre [3] (canonical frame: y up, body facing +z) looking back at it."""
    rotation = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64))
    eye = torch.as_tensor(centre, dtype=torch.float64) + torch.tensor([0.0, 0.0, distance], dtype=torch.float64)
    focal = 0.5 * size / math.tan(math.radians(fov_degrees) / 2)
    return PinholeCamera(
        fx=focal, fy=focal, cx=(size - 1) / 2, cy=(size - 1) / 2,
        rotation=rotation, translation=-rotation @ eye, width=size, height=size,
    )


def turntable_frames(
    meshes: list[tuple[np.ndarray, np.ndarray]], colours: list[tuple[float, float, float]], count: int, size: int
) -> list[np.ndarray]:
    """`count` views [size, size, 3] of canonical meshes spinning once about the vertical axis."""
    everything = np.concatenate([v for v, _ in meshes])
    centre = 0.5 * (everything.min(axis=0) + everything.max(axis=0))
    reach = float(np.linalg.norm(everything - centre, axis=1).max())
    camera = orbit_camera(centre, 1.2 * reach / math.tan(math.radians(20.0)), size)
    background = np.full((size, size, 3), 0.95)
    frames = []
    for step in range(count):
        angle = 2 * math.pi * step / count
        c, s = math.cos(angle), math.sin(angle)
        spin = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
        turned = [(torch.from_numpy((v - centre) @ spin.T + centre), torch.from_numpy(f)) for v, f in meshes]
        frames.append(shade(turned, colours, camera, background, opacity=1.0))
    return frames


def write_mp4(path: str | Path, frames: list[np.ndarray], fps: float) -> Path:
    """Write frames ([H, W, 3] floats in [0, 1]) as an H.264 MP4, padded to even sizes."""
    path = Path(path)
    with fileio.atomic_path(path) as tmp:
        writer = imageio.get_writer(tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264", pixelformat="yuv420p", macro_block_size=1, ffmpeg_log_level="error")
        try:
            for frame in frames:
                pixels = (np.clip(frame, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
                height, width = pixels.shape[:2]
                writer.append_data(np.pad(pixels, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge"))
        finally:
            writer.close()
    return path
