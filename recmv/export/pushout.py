"""Push garment vertices that ended up inside the posed body back out (REC-MV leaves them inside).

A vertex inside the body (by the generalised winding number, robust to the body mesh's small holes)
or closer to its surface than the clearance moves to its closest body point plus the clearance along
that face's normal. Vertices well outside never move.
"""

from __future__ import annotations

import torch

from recmv.geometry.proximity import closest_points, face_normals


def push_out_of_body(
    points: torch.Tensor, body_vertices: torch.Tensor, body_faces: torch.Tensor, clearance: float = 0.001
) -> tuple[torch.Tensor, torch.Tensor]:
    """points: [N, 3]; body_vertices: [V, 3]; body_faces: [F, 3] oriented outwards.

    Returns the moved points [N, 3] and a [N] bool mask of the points that were inside the body.
    """
    closest = closest_points(body_vertices, body_faces, points, max_distance=1.0e3, sign="winding")
    signed = closest.signed_distance(points)
    inside = closest.inside
    needs = signed < clearance
    if not bool(needs.any()):
        return points, inside
    normal = face_normals(body_vertices.to(points), body_faces)[closest.face.clamp(min=0)]
    moved = torch.where(needs[:, None], closest.points + clearance * normal, points)
    return moved, inside
