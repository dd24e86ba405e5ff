"""Even out a surface triangulation without leaving the surface (tangential Laplacian relaxation).

Marching cubes leaves slivers where the surface passes close to grid nodes; moving each vertex
towards the centroid of its neighbours within its tangent plane, then back onto the field's zero
set, spreads them out.
"""

from __future__ import annotations

import numpy as np

from recmv.templates.fields import FieldSampler

_FACE_EDGES = np.array([[0, 1], [1, 2], [2, 0]])


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """[V, 3] area-weighted unit vertex normals of a mesh (vertices [V, 3], faces [F, 3])."""
    triangles = vertices[faces]
    face_normals = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    normals = np.zeros_like(vertices)
    for corner in range(3):
        np.add.at(normals, faces[:, corner], face_normals)
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1.0e-12)


def neighbour_centroids(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """[V, 3] mean position of each vertex's edge neighbours."""
    edges = np.unique(np.sort(faces[:, _FACE_EDGES].reshape(-1, 2), axis=1), axis=0)
    sums = np.zeros_like(vertices)
    counts = np.zeros(len(vertices))
    for a, b in ((0, 1), (1, 0)):
        np.add.at(sums, edges[:, a], vertices[edges[:, b]])
        np.add.at(counts, edges[:, a], 1.0)
    return sums / np.maximum(counts, 1.0)[:, None]


def relax_surface(
    vertices: np.ndarray,
    faces: np.ndarray,
    field: FieldSampler,
    iterations: int,
    loops: list[np.ndarray] | None = None,
    step: float = 0.5,
) -> np.ndarray:
    """[V, 3] vertices after `iterations` rounds of tangential relaxation and projection onto `field`.

    loops: boundary loops ([L] vertex ids in order, each in its cut plane). Their vertices slide
    along their loop only, towards the middle of their two loop neighbours: that evens out the
    short loop edges a cut leaves where it passes close to a vertex, and keeps each loop in its plane.
    """
    vertices = vertices.copy()
    loops = loops or []
    moving = np.ones(len(vertices), dtype=bool)
    for loop in loops:
        moving[loop] = False
    for _ in range(iterations):
        normals = vertex_normals(vertices, faces)[moving]
        move = neighbour_centroids(vertices, faces)[moving] - vertices[moving]
        move -= np.einsum("ij,ij->i", move, normals)[:, None] * normals
        vertices[moving] = field.project(vertices[moving] + step * move)
        for loop in loops:
            vertices[loop] = slide_along_loop(vertices[loop], step)
    return vertices


def slide_along_loop(points: np.ndarray, step: float) -> np.ndarray:
    """[L, 3] points of a closed polyline [L, 3] each moved `step` of the way towards the middle of
    its two neighbours, along the chord between them only (so a planar loop stays in its plane and
    hardly shrinks)."""
    before, after = np.roll(points, 1, axis=0), np.roll(points, -1, axis=0)
    chord = after - before
    chord /= np.maximum(np.linalg.norm(chord, axis=1, keepdims=True), 1.0e-12)
    move = 0.5 * (before + after) - points
    return points + step * np.einsum("ij,ij->i", move, chord)[:, None] * chord
