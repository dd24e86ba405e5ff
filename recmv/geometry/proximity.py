"""Closest points on a triangle mesh and the side a point lies on (warp BVH; CPU or CUDA)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from recmv.geometry.warp_runtime import load_warp, warp_device, warp_mesh, warp_vectors


@dataclass
class ClosestPoints:
    """Closest surface points of N query points.

    points: [N, 3] closest points on the mesh.
    inside: [N] bool, True where the query lies behind the surface (against the face normals).
    face: [N] int64 closest face, -1 where nothing was within reach.
    """

    points: torch.Tensor
    inside: torch.Tensor
    face: torch.Tensor

    def signed_distance(self, queries: torch.Tensor) -> torch.Tensor:
        """[N] distance to the mesh, negative inside."""
        distance = (queries - self.points).norm(dim=-1)
        return torch.where(self.inside, -distance, distance)


def closest_points(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    queries: torch.Tensor,
    max_distance: float = 1.0e3,
    sign: Literal["normal", "winding"] = "normal",
) -> ClosestPoints:
    """Closest points on a mesh (vertices [V, 3], faces [F, 3]) to queries [N, 3].

    sign: how `inside` is decided. "normal": by the orientation of the closest face, which is local
    and cheap. "winding": by the generalised winding number, which is robust to small holes (eye
    sockets, the open ends of a body mesh) and to points far inside thin parts.
    """
    from recmv.geometry.proximity_kernels import closest_points_kernel

    wp = load_warp()
    device = warp_device(queries)
    n = queries.shape[0]
    if n == 0 or faces.shape[0] == 0:
        return ClosestPoints(
            points=queries.clone(),
            inside=torch.zeros(n, dtype=torch.bool, device=queries.device),
            face=torch.full((n,), -1, dtype=torch.int64, device=queries.device),
        )
    mesh = warp_mesh(vertices, faces, device, winding_number=sign == "winding")
    wp_queries = warp_vectors(queries, device)
    out_points = wp.empty(n, dtype=wp.vec3, device=device)
    out_sign = wp.empty(n, dtype=wp.float32, device=device)
    out_face = wp.empty(n, dtype=wp.int32, device=device)
    wp.launch(
        closest_points_kernel,
        dim=n,
        inputs=[mesh.id, wp_queries, float(max_distance), int(sign == "winding")],
        outputs=[out_points, out_sign, out_face],
        device=device,
    )
    return ClosestPoints(
        points=torch.from_numpy(out_points.numpy()).to(queries),
        inside=torch.from_numpy(out_sign.numpy() < 0).to(queries.device),
        face=torch.from_numpy(out_face.numpy().astype(np.int64)).to(queries.device),
    )


def push_outside(
    vertices: torch.Tensor, faces: torch.Tensor, points: torch.Tensor, margin: float
) -> torch.Tensor:
    """Move points [N, 3] that are inside the mesh, or closer than `margin` outside, to `margin` outside.

    The move goes along the outward direction from the closest surface point (the face normal when
    the point sits on the surface).
    """
    closest = closest_points(vertices, faces, points)
    signed = closest.signed_distance(points)
    needs = signed < margin
    if not bool(needs.any()):
        return points
    normal = face_normals(vertices.to(points), faces)[closest.face.clamp(min=0)]
    offset = closest.points + margin * normal
    return torch.where(needs[:, None], offset, points)


def face_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """[F, 3] unit face normals (right-handed winding)."""
    tri = vertices[faces.long()]
    normal = torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=-1)
    return normal / normal.norm(dim=-1, keepdim=True).clamp(min=1e-12)
