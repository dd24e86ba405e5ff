"""Remeshing that keeps named boundary loops: midpoint subdivision and tangential relaxation.

REC-MV remeshes with pymeshlab's isotropic remesher and then re-labels boundary vertices by the
nearest old ones. Here the loops are carried exactly: subdivision inserts each boundary edge's
midpoint into its loop, and relaxation evens the triangles by moving interior vertices within their
tangent plane only, so boundary vertices, loop order and topology never change.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

from recmv.registration.laplacian import mesh_edges
from recmv.registration.nicp import vertex_normals


def subdivide(
    vertices: np.ndarray, faces: np.ndarray, loops: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """1-to-4 midpoint subdivision. vertices [V, 3], faces [F, 3], loops: name -> [L] ids in order.

    Returns (vertices [V + E, 3], faces [4F, 3], loops with every edge's midpoint inserted: [2L]).
    The winding of every face is kept.
    """
    edges = mesh_edges(faces)
    count = len(vertices)
    sorted_keys = edges[:, 0] * (count + 1) + edges[:, 1]

    def mid(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Ids of the midpoints of edges (a, b), found in the sorted unique edge list."""
        keys = np.minimum(a, b) * (count + 1) + np.maximum(a, b)
        return count + np.searchsorted(sorted_keys, keys)

    a, b, c = faces[:, 0], faces[:, 1], faces[:, 2]
    ab, bc, ca = mid(a, b), mid(b, c), mid(c, a)
    new_faces = np.concatenate(
        [np.stack(t, axis=1) for t in ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca))]
    )
    new_vertices = np.concatenate([vertices, 0.5 * (vertices[edges[:, 0]] + vertices[edges[:, 1]])])
    new_loops = {}
    for name, loop in loops.items():
        new_loops[name] = np.stack([loop, mid(loop, np.roll(loop, -1))], axis=1).ravel()
    return new_vertices, new_faces, new_loops


def mean_edge_length(vertices: np.ndarray, faces: np.ndarray) -> float:
    edges = mesh_edges(faces)
    return float(np.linalg.norm(vertices[edges[:, 0]] - vertices[edges[:, 1]], axis=1).mean())


def subdivide_to_edge(
    vertices: np.ndarray, faces: np.ndarray, loops: dict[str, np.ndarray], edge_length: float, max_rounds: int = 3
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Subdivide until the mean edge is at most 1.5 x edge_length (at most max_rounds times)."""
    for _ in range(max_rounds):
        if mean_edge_length(vertices, faces) <= 1.5 * edge_length:
            break
        vertices, faces, loops = subdivide(vertices, faces, loops)
    return vertices, faces, loops


def relax_tangentially(
    vertices: np.ndarray, faces: np.ndarray, fixed: np.ndarray, iterations: int = 5, rate: float = 0.5
) -> np.ndarray:
    """Even out triangles: each free vertex moves `rate` of the way to its neighbours' mean, within its
    tangent plane (the normal part of the move is dropped, so the surface stays where it is).

    vertices: [V, 3]; faces: [F, 3]; fixed: [K] ids that do not move (boundary vertices). -> [V, 3].
    """
    vertices = np.asarray(vertices, dtype=np.float64).copy()
    edges = mesh_edges(faces)
    count = len(vertices)
    rows = np.concatenate([edges[:, 0], edges[:, 1]])
    cols = np.concatenate([edges[:, 1], edges[:, 0]])
    adjacency = scipy.sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(count, count))
    degree = np.maximum(np.asarray(adjacency.sum(axis=1)).ravel(), 1.0)
    movable = np.ones(count, dtype=bool)
    movable[np.asarray(fixed, dtype=np.int64)] = False
    for _ in range(iterations):
        step = adjacency @ vertices / degree[:, None] - vertices
        normals = vertex_normals(vertices, faces)
        step -= (step * normals).sum(axis=1, keepdims=True) * normals
        vertices[movable] += rate * step[movable]
    return vertices
