"""The registration target: the part of a closed marching-cubes mesh a camera could see, opened at
the garment's curves.

REC-MV renders the mesh from 12 directions around the vertical axis and keeps the faces seen in any
view (`surface_finder`), which drops interior pieces and hidden noise. Here orthographic rays are
cast from several azimuths and elevations (seeing shoulders and hems from above and below too), and a
face is kept when a ray hits it or one of its neighbours (rays can slip between tiny faces). Faces
past a curve (the caps that close the SDF over the neck, cuffs, waist and hems) are dropped as well,
so no template vertex is pulled onto a cap.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse
import torch

from recmv.render.raycast import cast_rays

CAP_RADIUS_MARGIN = 1.5
"""A curve's disc reaches this factor beyond the curve's largest radius (the surface may be looser)."""


def view_directions(azimuths: int = 12, elevations: tuple[float, ...] = (-30.0, 0.0, 30.0)) -> np.ndarray:
    """[A * E, 3] unit directions the views look along: azimuths around +y, elevations in degrees."""
    directions = []
    for elevation in np.radians(elevations):
        for azimuth in np.arange(azimuths) * 2 * math.pi / azimuths:
            directions.append([math.cos(elevation) * math.sin(azimuth), math.sin(elevation), math.cos(elevation) * math.cos(azimuth)])
    return -np.asarray(directions)


def visible_faces(vertices: np.ndarray, faces: np.ndarray, spacing: float, directions: np.ndarray | None = None) -> np.ndarray:
    """[F] bool: faces hit by an orthographic ray grid of `spacing` metres from any direction, or next
    to such a face (sharing a vertex). vertices: [V, 3]; faces: [F, 3]; directions: [D, 3] unit."""
    directions = view_directions() if directions is None else directions
    centre = 0.5 * (vertices.min(axis=0) + vertices.max(axis=0))
    radius = float(np.linalg.norm(vertices - centre, axis=1).max()) + spacing
    side = np.arange(-radius, radius + spacing, spacing)
    grid_u, grid_v = np.meshgrid(side, side, indexing="ij")
    hit = np.zeros(len(faces), dtype=bool)
    torch_vertices = torch.from_numpy(vertices.astype(np.float32))
    torch_faces = torch.from_numpy(faces.astype(np.int64))
    for direction in directions:
        helper = np.array([0.0, 1.0, 0.0]) if abs(direction[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
        u = np.cross(direction, helper)
        u /= np.linalg.norm(u)
        v = np.cross(direction, u)
        origins = centre - 2.0 * radius * direction + grid_u.reshape(-1, 1) * u + grid_v.reshape(-1, 1) * v
        rays = np.broadcast_to(direction, origins.shape)
        hits = cast_rays(
            torch_vertices, torch_faces, torch.from_numpy(origins.astype(np.float32)), torch.from_numpy(rays.astype(np.float32))
        )
        face = hits.face.numpy()
        hit[face[face >= 0]] = True
    # One ring of faces around the hit ones.
    incidence = scipy.sparse.csr_matrix(
        (np.ones(faces.size), (np.repeat(np.arange(len(faces)), 3), faces.ravel())), shape=(len(faces), len(vertices))
    )
    seen_vertex = np.asarray(incidence[hit].sum(axis=0)).ravel() > 0
    return hit | seen_vertex[faces].any(axis=1)


def faces_past_curves(vertices: np.ndarray, faces: np.ndarray, curves: list[np.ndarray], middle: np.ndarray) -> np.ndarray:
    """[F] bool: faces whose centre lies past one of the closed curves [K, 3].

    Each curve spans a disc: its centroid, best-fit plane with the normal pointing away from `middle`
    [3] (the garment's centre), and CAP_RADIUS_MARGIN times its largest radius. A face is past the
    curve when its centre is on the far side of the plane within that radius of the axis.
    """
    centres = vertices[faces].mean(axis=1)
    past = np.zeros(len(faces), dtype=bool)
    for curve in curves:
        centroid = curve.mean(axis=0)
        normal = np.linalg.svd(curve - centroid, full_matrices=False)[2][-1]
        if np.dot(normal, centroid - middle) < 0:
            normal = -normal
        radius = CAP_RADIUS_MARGIN * float(np.linalg.norm(curve - centroid, axis=1).max())
        height = (centres - centroid) @ normal
        radial = np.linalg.norm(centres - centroid - height[:, None] * normal, axis=1)
        past |= (height > 0) & (radial < radius)
    return past


def submesh(vertices: np.ndarray, faces: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The faces where keep [F] is set, unused vertices dropped -> (vertices [V', 3], faces [F', 3])."""
    kept = faces[keep]
    used, remapped = np.unique(kept, return_inverse=True)
    return vertices[used], remapped.reshape(-1, 3)
