"""Input frames beside the fitted garments rendered through the subject's camera, as PNG data URIs."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from recmv.data import formats
from recmv.render.camera import PinholeCamera
from recmv.render.raycast import render_meshes
from recmv.report.meshes import GarmentSequence

AMBIENT = 0.3
"""Share of a garment's colour that unlit (grazing) surfaces keep."""


@dataclass
class FramePanel:
    """One frame of the report's gallery: the input image, the render and their blend (data URIs)."""

    frame: int
    input_image: str | None
    render: str
    overlay: str | None


def scaled_camera(camera: PinholeCamera, longest_side: int) -> PinholeCamera:
    """The same camera with its image shrunk so the longer side is at most `longest_side` pixels.

    Pixel centres sit at integers, so a pixel edge at -0.5 stays at -0.5: c' = s (c + 0.5) - 0.5.
    """
    scale = min(1.0, longest_side / max(camera.width, camera.height))
    width, height = max(1, round(camera.width * scale)), max(1, round(camera.height * scale))
    sx, sy = width / camera.width, height / camera.height
    return PinholeCamera(
        camera.fx * sx, camera.fy * sy, sx * (camera.cx + 0.5) - 0.5, sy * (camera.cy + 0.5) - 0.5,
        camera.rotation, camera.translation, width, height,
    )


def shade_render(
    meshes: list[tuple[np.ndarray, np.ndarray]], colours: np.ndarray, camera: PinholeCamera, background: np.ndarray
) -> np.ndarray:
    """[H, W, 3] uint8 flat-shaded render of meshes (vertices [V, 3], faces [F, 3]) in colours [G, 3] ∈ [0, 1].

    Each pixel takes its garment's colour times AMBIENT + (1 - AMBIENT) |n · d|, with n the face normal
    and d the viewing ray: two-sided, since open garments show their inside.
    """
    tensors = [(torch.as_tensor(v, dtype=torch.float32), torch.as_tensor(f, dtype=torch.int64)) for v, f in meshes]
    render = render_meshes(tensors, camera)
    image = np.tile(background.astype(np.float64), (camera.height, camera.width, 1))
    mesh_id, face = render.mesh_id.numpy(), render.face.numpy()
    _, directions = camera.image_rays(dtype=torch.float32)
    directions = directions.reshape(camera.height, camera.width, 3).numpy()
    for index, (vertices, faces) in enumerate(meshes):
        hit = mesh_id == index
        if not hit.any():
            continue
        corners = vertices[faces[face[hit]]]
        normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        normals /= np.maximum(np.linalg.norm(normals, axis=-1, keepdims=True), 1e-12)
        light = np.abs(np.einsum("nc,nc->n", normals, directions[hit]))
        image[hit] = colours[index] * (AMBIENT + (1.0 - AMBIENT) * light)[:, None]
    return np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)


def png_data_uri(rgb: np.ndarray) -> str:
    """[H, W, 3] uint8 RGB -> 'data:image/png;base64,...'."""
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("OpenCV could not encode a PNG")
    return "data:image/png;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


def frame_panels(
    sequences: list[GarmentSequence],
    colours: np.ndarray,
    frames: list[int],
    camera: PinholeCamera,
    subject: Path | None,
    background: np.ndarray,
) -> list[FramePanel]:
    """A panel per frame: the subject's input image (when `subject` has it), the render, their blend."""
    panels = []
    for frame in frames:
        present = [(i, s.frames.index(frame)) for i, s in enumerate(sequences) if frame in s.frames]
        meshes = [(sequences[i].vertices[slot], sequences[i].faces[slot]) for i, slot in present]
        render = shade_render(meshes, colours[[i for i, _ in present]], camera, background) if meshes else None
        if render is None:
            continue
        image_path = subject / "imgs" / f"{frame:06d}.png" if subject is not None else None
        input_image = overlay = None
        if image_path is not None and image_path.exists():
            picture = cv2.resize(formats.read_image(image_path), (camera.width, camera.height), interpolation=cv2.INTER_AREA)
            garment = np.any(render != np.rint(background * 255).astype(np.uint8), axis=-1)
            blend = picture.copy()
            blend[garment] = (0.5 * picture[garment] + 0.5 * render[garment]).astype(np.uint8)
            input_image, overlay = png_data_uri(picture), png_data_uri(blend)
        panels.append(FramePanel(frame, input_image, png_data_uri(render), overlay))
    return panels
