"""Garments worn together: the lower garment's waistband stays under the upper garment's hem."""

from __future__ import annotations

import torch

from recmv.geometry.proximity import closest_points, face_normals
from recmv.templates.garments import GarmentTemplate

TUCK_GAP = 0.006
"""How far inside the upper garment the covered part of the lower garment sits, metres."""
TUCK_BAND = 0.04
"""Below the upper garment's hem, the tuck fades out over this height, metres, so no triangle of the
lower garment straddles the upper surface at the hem."""


def tuck_under(
    lower: GarmentTemplate, upper: GarmentTemplate, gap: float = TUCK_GAP, band: float = TUCK_BAND
) -> GarmentTemplate:
    """Move the part of `lower` that the upper garment covers to `gap` inside it.

    Both garments are in canonical space (y up) and the upper garment's faces point away from the
    body. A lower vertex that lies outside (or within `gap` inside) the plane of its closest upper face
    moves along that face's normal; the move is full above the lowest point of the upper hem and fades
    to nothing `band` below it.
    """
    hem = upper.boundaries.get("upper_bottom", upper.boundaries.get("bottom_curve"))
    if hem is None:
        return lower
    hem_bottom = upper.vertices[hem, 1].min()
    closest = closest_points(upper.vertices, upper.faces, lower.vertices)
    normal = face_normals(upper.vertices, upper.faces)[closest.face.clamp(min=0)]
    height = ((lower.vertices[:, 1] - (hem_bottom - band)) / band).clamp(0.0, 1.0)
    outside = ((lower.vertices - closest.points) * normal).sum(dim=1) + gap
    weight = torch.where((outside > 0) & (closest.face >= 0), height, torch.zeros_like(height))
    vertices = lower.vertices - (weight * outside)[:, None] * normal
    return GarmentTemplate(kind=lower.kind, vertices=vertices, faces=lower.faces, boundaries=lower.boundaries)
