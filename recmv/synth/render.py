"""Render one synthetic frame: RGB, mask, normal map (REC-MV's encoding), ATR parsing and depth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from recmv.render.camera import PinholeCamera
from recmv.render.raycast import render_meshes
from recmv.synth.appearance import Light, lambert, stripe_texture


@dataclass
class SceneMesh:
    """One mesh of a synthetic scene, posed.

    vertices: [V, 3] world positions.
    faces: [F, 3] triangles.
    canonical: [V, 3] canonical positions (for the texture to stick to the cloth).
    face_labels: [F] ATR label per face.
    color: RGB albedo in [0, 1].
    textured: whether the stripe texture applies.
    """

    vertices: torch.Tensor
    faces: torch.Tensor
    canonical: torch.Tensor
    face_labels: torch.Tensor
    color: tuple[float, float, float]
    textured: bool


@dataclass
class FrameImages:
    """The images of one frame. rgb [H, W, 3] uint8; mask [H, W] bool; normals [H, W, 3] unit world
    normals facing the camera (0 on the background); parsing [H, W] uint8 ATR labels; depth [H, W]
    float (0 = background); mesh_id [H, W] (-1 = background)."""

    rgb: np.ndarray
    mask: np.ndarray
    normals: np.ndarray
    parsing: np.ndarray
    depth: np.ndarray
    mesh_id: np.ndarray


def vertex_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """[V, 3] area-weighted unit vertex normals."""
    tri = vertices[faces.long()]
    face_normal = torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=-1)
    normals = torch.zeros_like(vertices)
    for corner in range(3):
        normals.index_add_(0, faces[:, corner].long(), face_normal)
    return normals / normals.norm(dim=-1, keepdim=True).clamp(min=1e-12)


def render_frame(
    meshes: list[SceneMesh], camera: PinholeCamera, light: Light, background: float = 0.0
) -> FrameImages:
    """Ray-cast all meshes together and shade the visible points."""
    render = render_meshes([(m.vertices, m.faces) for m in meshes], camera)
    h, w = camera.height, camera.width
    rgb = torch.full((h, w, 3), background)
    normals = torch.zeros(h, w, 3)
    parsing = torch.zeros(h, w, dtype=torch.uint8)
    _, view_dirs = camera.image_rays()
    for index, mesh in enumerate(meshes):
        pixels = render.mesh_id == index
        if not bool(pixels.any()):
            continue
        faces = mesh.faces.long()[render.face[pixels]]
        bary = render.barycentric[pixels][..., None]
        normal = (vertex_normals(mesh.vertices.float(), mesh.faces)[faces] * bary).sum(dim=1)
        normal = normal / normal.norm(dim=-1, keepdim=True).clamp(min=1e-12)
        # Open garments show their inside: shade and encode the side that faces the camera.
        facing = (normal * view_dirs[pixels]).sum(dim=-1, keepdim=True)
        normal = torch.where(facing > 0, -normal, normal)
        albedo = torch.tensor(mesh.color).expand(normal.shape[0], 3)
        if mesh.textured:
            canonical = (mesh.canonical.float()[faces] * bary).sum(dim=1)
            albedo = albedo * stripe_texture(canonical)[:, None]
        rgb[pixels] = albedo * lambert(normal, light)[:, None]
        normals[pixels] = normal
        parsing[pixels] = mesh.face_labels[render.face[pixels]].to(torch.uint8)
    mask = render.foreground.numpy()
    return FrameImages(
        rgb=np.clip(np.round(rgb.numpy() * 255.0), 0, 255).astype(np.uint8),
        mask=mask,
        normals=normals.numpy(),
        parsing=parsing.numpy(),
        depth=render.depth.numpy(),
        mesh_id=render.mesh_id.numpy(),
    )
