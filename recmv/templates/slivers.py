"""Remove the thin triangles a cut leaves along its loop where it passes close to a vertex.

Where a plane meets the surface at a shallow angle, a vertex just inside the cut can end up almost
on the line between two loop vertices: its triangle with that loop edge is a sliver with one angle
near 180°. Dropping the triangle and moving the vertex onto the plane makes it a loop vertex
instead, with two ordinary triangles on each side of it.
"""

from __future__ import annotations

import numpy as np

from recmv.templates.cutting import PlaneCut

# A loop-edge triangle whose inner vertex has a wider angle than this is a sliver.
MAX_INNER_ANGLE = np.radians(120.0)


def trim_loop_slivers(
    vertices: np.ndarray, faces: np.ndarray, loops: dict[str, np.ndarray], cuts: dict[str, PlaneCut]
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Drop the slivers on loop edges, each inner vertex moved onto its loop's plane and into its loop.

    vertices: [V, 3]; faces: [F, 3]; loops: curve name -> [L] vertex ids in winding order;
    cuts: curve name -> the cut whose plane that loop lies in. Returns (vertices, faces, loops).
    """
    vertices = vertices.copy()
    on_loop = np.zeros(len(vertices), dtype=bool)
    for loop in loops.values():
        on_loop[loop] = True
    loops = {name: loop.tolist() for name, loop in loops.items()}
    drop = np.zeros(len(faces), dtype=bool)
    for name, loop in loops.items():
        # Loop edges (a, b) in winding order are edges (a, b) of the triangle beside them.
        next_vertex = dict(zip(loop, loop[1:] + loop[:1]))
        inserted: dict[int, int] = {}
        for face_id in _loop_edge_faces(faces, next_vertex):
            face = faces[face_id]
            corner = int(np.nonzero([next_vertex.get(int(face[i])) == int(face[(i + 1) % 3]) for i in range(3)])[0][0])
            a, b, inner = int(face[corner]), int(face[(corner + 1) % 3]), int(face[(corner + 2) % 3])
            if on_loop[inner] or _angle(vertices, inner, a, b) <= MAX_INNER_ANGLE:
                continue
            on_loop[inner] = True
            drop[face_id] = True
            vertices[inner] -= cuts[name].values(vertices[inner][None])[0] * cuts[name].normal
            inserted[a] = inner
        if inserted:
            loops[name] = [v for a in loop for v in ((a, inserted[a]) if a in inserted else (a,))]
    return vertices, faces[~drop], {name: np.asarray(loop, dtype=np.int64) for name, loop in loops.items()}


def _loop_edge_faces(faces: np.ndarray, next_vertex: dict[int, int]) -> list[int]:
    """Ids of the faces holding a directed loop edge (a, next_vertex[a]), in face order."""
    found = []
    for corner in range(3):
        starts, ends = faces[:, corner], faces[:, (corner + 1) % 3]
        for face_id in np.nonzero(np.isin(starts, list(next_vertex)))[0].tolist():
            if next_vertex[int(starts[face_id])] == int(ends[face_id]):
                found.append(face_id)
    return sorted(found)


def _angle(vertices: np.ndarray, apex: int, a: int, b: int) -> float:
    """The angle at `apex` of the triangle (apex, a, b), radians."""
    u, v = vertices[a] - vertices[apex], vertices[b] - vertices[apex]
    return float(np.arccos(np.clip(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)), -1.0, 1.0)))


def flip_thin_triangles(vertices: np.ndarray, faces: np.ndarray, rounds: int = 4) -> np.ndarray:
    """[F, 3] faces after flipping interior edges that are not locally Delaunay where that widens
    the smallest angle of their two triangles (a vertex, usually a loop vertex, lying almost on the
    edge opposite it). Flips are only made where the two triangles are nearly coplanar, so the
    surface keeps its shape; winding is kept.
    """
    faces = faces.copy()
    for _ in range(rounds):
        pairs = _non_delaunay_pairs(vertices, faces)
        if not len(pairs):
            break
        edges = set(map(tuple, np.sort(faces[:, [[0, 1], [1, 2], [2, 0]]].reshape(-1, 2), axis=1).tolist()))
        touched = np.zeros(len(faces), dtype=bool)
        for first, second in pairs.tolist():
            if touched[first] or touched[second]:
                continue
            flipped = _flip(vertices, faces[first], faces[second], edges)
            if flipped is not None:
                faces[first], faces[second] = flipped
                touched[[first, second]] = True
        if not touched.any():
            break
    return faces


def _non_delaunay_pairs(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """[P, 2] ids of face pairs sharing an edge whose opposite angles add up to more than 180°,
    most obtuse first."""
    triangles = vertices[faces]
    angles = np.stack([_corner_angles(triangles, corner) for corner in range(3)], axis=1)
    # Edge k of a face runs from corner k to corner k + 1; the corner opposite it is k + 2.
    edges = np.sort(faces[:, [[0, 1], [1, 2], [2, 0]]], axis=2).reshape(-1, 2)
    opposite = angles[:, [2, 0, 1]].reshape(-1)
    owner = np.repeat(np.arange(len(faces)), 3)
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    edges, opposite, owner = edges[order], opposite[order], owner[order]
    shared = np.nonzero((edges[1:] == edges[:-1]).all(axis=1))[0]
    total = opposite[shared] + opposite[shared + 1]
    keep = total > np.pi + 1.0e-6
    shared, total = shared[keep], total[keep]
    shared = shared[np.argsort(-total, kind="stable")]
    return np.stack([owner[shared], owner[shared + 1]], axis=1)


def _corner_angles(triangles: np.ndarray, corner: int) -> np.ndarray:
    """[F] angle at one corner of triangles [F, 3, 3], radians."""
    u = triangles[:, (corner + 1) % 3] - triangles[:, corner]
    v = triangles[:, (corner + 2) % 3] - triangles[:, corner]
    cosine = np.einsum("ij,ij->i", u, v) / np.maximum(np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1), 1e-300)
    return np.arccos(np.clip(cosine, -1.0, 1.0))


# Flip only where the two new triangles' normals are within this angle of each other.
_MAX_FLIP_FOLD = np.radians(25.0)


def _flip(vertices: np.ndarray, first: np.ndarray, second: np.ndarray, edges: set) -> tuple | None:
    """The two faces after flipping the edge the faces first, second [3] share, or None where the
    flip would duplicate an edge, fold the surface or not widen the smallest angle. Updates edges."""
    shared = set(first.tolist()) & set(second.tolist())
    c = int(next(v for v in first.tolist() if v not in shared))
    d = int(next(v for v in second.tolist() if v not in shared))
    if (min(c, d), max(c, d)) in edges:
        return None
    # first = (a, b, c) in winding order, so second holds the edge as (b, a).
    roll = first.tolist().index(c)
    a, b = int(first[(roll + 1) % 3]), int(first[(roll + 2) % 3])
    new = np.array([[a, d, c], [d, b, c]])
    old_triangles, new_triangles = vertices[np.stack([first, second])], vertices[new]
    if not (_nearly_coplanar(old_triangles) and _nearly_coplanar(new_triangles)):
        return None
    if _smallest_angle(new_triangles) <= _smallest_angle(old_triangles):
        return None
    edges.discard((min(a, b), max(a, b)))
    edges.add((min(c, d), max(c, d)))
    return new[0], new[1]


def _nearly_coplanar(pair: np.ndarray) -> bool:
    """Whether two triangles [2, 3, 3] face within _MAX_FLIP_FOLD of the same way."""
    normals = np.cross(pair[:, 1] - pair[:, 0], pair[:, 2] - pair[:, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-300)
    return bool(normals[0] @ normals[1] >= np.cos(_MAX_FLIP_FOLD))


def _smallest_angle(triangles: np.ndarray) -> float:
    """The smallest corner angle of triangles [F, 3, 3], radians."""
    return min(float(_corner_angles(triangles, corner).min()) for corner in range(3))
