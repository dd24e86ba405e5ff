"""Exact visibility by ray casting against triangle meshes (warp BVH; CPU or CUDA).

Used for synthetic renders (masks, parsing, normals, depth), visibility tests and face-id renders.
Not differentiable: gradients flow through the barycentric interpolation done in PyTorch afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from recmv.geometry.warp_runtime import load_warp, warp_device, warp_mesh, warp_vectors
from recmv.render.camera import PinholeCamera


@dataclass
class RayHits:
    """Closest hits of N rays.

    face: [N] int64 hit face index, -1 for a miss.
    t: [N] distance along the (unit) ray, 0 for a miss.
    barycentric: [N, 3] weights of the face's three vertices, 0 for a miss.
    """

    face: torch.Tensor
    t: torch.Tensor
    barycentric: torch.Tensor

    @property
    def hit(self) -> torch.Tensor:
        return self.face >= 0


class TriangleTree:
    """A warp BVH kept between ray casts against the same triangles while their vertices move.

    The fitting loop casts rays at the posed garments and body of every frame it sees, with faces
    that change only when the meshes are re-extracted: refitting the tree's boxes to new vertices
    takes a few milliseconds where building it anew takes ~60 ms for 70k faces on a CPU. Other
    faces, or another device, build a new tree.
    """

    def __init__(self) -> None:
        self._mesh = None
        self._device = ""
        self._faces: torch.Tensor | None = None
        self._vertices: torch.Tensor | None = None

    def mesh(self, vertices: torch.Tensor, faces: torch.Tensor, device: str):
        """The warp mesh of vertices [V, 3] and faces [F, 3], refitted or built as needed."""
        vertices = vertices.detach().float()
        same_topology = (
            self._mesh is not None and device == self._device and self._vertices.shape == vertices.shape
            and self._faces.shape == faces.shape and torch.equal(self._faces, faces)
        )  # fmt: skip
        if not same_topology:
            self._mesh = warp_mesh(vertices, faces, device)
            self._device, self._faces = device, faces.clone()
        elif not torch.equal(self._vertices, vertices):
            self._mesh.points.assign(vertices.contiguous().cpu().numpy())
            self._mesh.refit()
        self._vertices = vertices.clone()
        return self._mesh


def cast_rays(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    origins: torch.Tensor,
    directions: torch.Tensor,
    tree: TriangleTree | None = None,
) -> RayHits:
    """Closest intersection of each ray with a triangle mesh.

    Args:
        vertices: [V, 3] mesh vertices.
        faces: [F, 3] triangle indices.
        origins: [N, 3] ray origins.
        directions: [N, 3] unit ray directions.
        tree: a tree to refit and keep for the next cast (None: build one for this cast only).
    Returns:
        RayHits for the N rays, on the device of `origins`.
    """
    from recmv.render.raycast_kernels import cast_rays_kernel

    wp = load_warp()
    device = warp_device(origins)
    n = origins.shape[0]
    if faces.shape[0] == 0 or n == 0:
        empty = torch.zeros(n, dtype=torch.float32, device=origins.device)
        return RayHits(
            torch.full((n,), -1, dtype=torch.int64, device=origins.device),
            empty,
            torch.zeros(n, 3, dtype=torch.float32, device=origins.device),
        )
    mesh = warp_mesh(vertices, faces, device) if tree is None else tree.mesh(vertices, faces, device)
    wp_origins = warp_vectors(origins, device)
    wp_dirs = warp_vectors(directions, device)
    out_face = wp.empty(n, dtype=wp.int32, device=device)
    out_t = wp.empty(n, dtype=wp.float32, device=device)
    out_bary = wp.empty(n, dtype=wp.vec3, device=device)
    wp.launch(
        cast_rays_kernel,
        dim=n,
        inputs=[mesh.id, wp_origins, wp_dirs, 1.0e6],
        outputs=[out_face, out_t, out_bary],
        device=device,
    )
    return RayHits(
        face=torch.from_numpy(out_face.numpy().astype(np.int64)).to(origins.device),
        t=torch.from_numpy(out_t.numpy()).to(origins.device),
        barycentric=torch.from_numpy(out_bary.numpy()).to(origins.device),
    )


@dataclass
class MeshRender:
    """A face-id render of several meshes seen together (mutual occlusion included).

    mesh_id: [H, W] int64 index of the visible mesh, -1 for background.
    face: [H, W] int64 face index within that mesh, -1 for background.
    barycentric: [H, W, 3] barycentric weights of the visible point.
    depth: [H, W] camera-frame z of the visible point, 0 for background.
    points: [H, W, 3] world position of the visible point, 0 for background.
    """

    mesh_id: torch.Tensor
    face: torch.Tensor
    barycentric: torch.Tensor
    depth: torch.Tensor
    points: torch.Tensor

    @property
    def foreground(self) -> torch.Tensor:
        return self.mesh_id >= 0


def render_meshes(
    meshes: list[tuple[torch.Tensor, torch.Tensor]], camera: PinholeCamera, tree: TriangleTree | None = None
) -> MeshRender:
    """Render the face ids of several meshes through every pixel centre of `camera`.

    Args:
        meshes: list of (vertices [V_m, 3] world, faces [F_m, 3]).
        camera: the camera; the render is camera.height x camera.width.
        tree: see `cast_rays`.
    """
    verts, faces, face_offsets = [], [], [0]
    vert_offset = 0
    for v, f in meshes:
        verts.append(v.detach().float())
        faces.append(f.long() + vert_offset)
        vert_offset += v.shape[0]
        face_offsets.append(face_offsets[-1] + f.shape[0])
    device = meshes[0][0].device
    all_verts = torch.cat(verts)
    all_faces = torch.cat(faces)
    origins, dirs = camera.image_rays(dtype=torch.float32)
    h, w = camera.height, camera.width
    hits = cast_rays(all_verts, all_faces, origins.reshape(-1, 3).to(device), dirs.reshape(-1, 3).to(device), tree)
    offsets = torch.tensor(face_offsets, device=device)
    mesh_id = torch.bucketize(hits.face, offsets[1:], right=True)
    mesh_id = torch.where(hits.hit, mesh_id, torch.full_like(mesh_id, -1))
    local_face = torch.where(hits.hit, hits.face - offsets[mesh_id.clamp(min=0)], hits.face)
    points = origins.reshape(-1, 3).to(device) + hits.t[:, None] * dirs.reshape(-1, 3).to(device)
    points = torch.where(hits.hit[:, None], points, torch.zeros_like(points))
    depth = torch.where(hits.hit, camera.to_camera(points)[:, 2], torch.zeros_like(hits.t))
    return MeshRender(
        mesh_id=mesh_id.reshape(h, w),
        face=local_face.reshape(h, w),
        barycentric=hits.barycentric.reshape(h, w, 3),
        depth=depth.reshape(h, w),
        points=points.reshape(h, w, 3),
    )
