"""Cut a closed triangle mesh along one plane section loop, and find and order boundary loops.

A plane usually meets a body-shaped surface in several loops (a waist plane also crosses both
forearms). A cut here opens the mesh along only the loop that winds around the cut's centre, so
the far side (an arm, the head) comes off as its own component and nothing else is touched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse
import scipy.sparse.csgraph

from recmv.errors import RecmvError
from recmv.geometry import boundary as geometry_boundary

_FACE_EDGES = np.array([[0, 1], [1, 2], [2, 0]])


@dataclass(frozen=True)
class PlaneCut:
    """A named cut: the plane through `point` [3] with unit `normal` [3] pointing to the side cut off."""

    name: str
    point: np.ndarray
    normal: np.ndarray

    def values(self, points: np.ndarray) -> np.ndarray:
        """[N] signed distances of points [N, 3] to the plane, positive on the side cut off."""
        return (points - self.point) @ self.normal


def plane_basis(normal: np.ndarray) -> np.ndarray:
    """[2, 3] two unit vectors spanning the plane with this unit normal."""
    helper = np.array([1.0, 0.0, 0.0]) if abs(normal[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    first = np.cross(normal, helper)
    first /= np.linalg.norm(first)
    return np.stack([first, np.cross(normal, first)])


def _section_components(faces: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The faces the plane crosses [C] and a section-loop label for each [C].

    positive: [V] bool, the vertex lies on the cut-off side. Two crossed faces are in the same loop
    when they share a crossed edge.
    """
    side = positive[faces]
    crossed = np.nonzero(side.any(axis=1) & ~side.all(axis=1))[0]
    edges = np.sort(faces[crossed][:, _FACE_EDGES], axis=2).reshape(-1, 2)
    owner = np.repeat(np.arange(len(crossed)), 3)
    crossing = positive[edges[:, 0]] != positive[edges[:, 1]]
    edges, owner = edges[crossing], owner[crossing]
    _, edge_id = np.unique(edges, axis=0, return_inverse=True)
    order = np.argsort(edge_id, kind="stable")
    edge_id, owner = edge_id.reshape(-1)[order], owner[order]
    pairs = edge_id[1:] == edge_id[:-1]
    n = len(crossed)
    graph = scipy.sparse.coo_matrix((np.ones(int(pairs.sum())), (owner[:-1][pairs], owner[1:][pairs])), shape=(n, n))
    _, labels = scipy.sparse.csgraph.connected_components(graph, directed=False)
    return crossed, labels


def _encircles(points: np.ndarray, cut: PlaneCut) -> bool:
    """Whether section points [N, 3] go all the way round the cut's centre (no angular gap over 90°)."""
    planar = (points - cut.point) @ plane_basis(cut.normal).T
    angles = np.sort(np.arctan2(planar[:, 1], planar[:, 0]))
    gaps = np.diff(np.concatenate([angles, angles[:1] + 2.0 * np.pi]))
    return bool(gaps.max() < 0.5 * np.pi)


def section_loop_faces(vertices: np.ndarray, faces: np.ndarray, cut: PlaneCut) -> np.ndarray:
    """Indices of the faces of the section loop around the cut's centre (the tightest such loop):
    the faces `cut_mesh` opens."""
    values = cut.values(vertices)
    crossed, labels = _section_components(faces, values >= 0.0)
    best, best_radius = None, np.inf
    for label in np.unique(labels):
        loop_faces = crossed[labels == label]
        centres = vertices[faces[loop_faces]].mean(axis=1)
        on_plane = centres - np.outer(cut.values(centres), cut.normal)
        radius = float(np.linalg.norm(on_plane - cut.point, axis=1).mean())
        if radius < best_radius and _encircles(on_plane, cut):
            best, best_radius = loop_faces, radius
    if best is None:
        raise RecmvError(f"cut {cut.name!r}: the plane meets no loop of the surface around {cut.point.round(3)}")
    return best


def cut_mesh(vertices: np.ndarray, faces: np.ndarray, cut: PlaneCut, snap: float) -> tuple[np.ndarray, np.ndarray]:
    """Open a closed mesh (vertices [V, 3], faces [F, 3]) along the plane loop around the cut's centre.

    Vertices of that loop's faces closer than `snap` to the plane are moved onto it first where
    that keeps the cut clean (`_snappable`), so few sliver triangles are made. Vertices on the cut are duplicated, one copy per side, so the two
    sides become separate components. Returns (vertices [V', 3], faces [F', 3]), orientation kept.
    """
    vertices = vertices.copy()
    loop_faces = section_loop_faces(vertices, faces, cut)
    values = cut.values(vertices)
    snapped = _snappable(faces, loop_faces, values, snap)
    vertices[snapped] -= np.outer(values[snapped], cut.normal)
    values[snapped] = 0.0
    # -1 kept side, +1 cut-off side, 0 on the cut (snapped); the same convention as the loop search.
    sign = np.where(values >= 0.0, 1, -1)
    sign[snapped] = 0
    touching = np.isin(faces, snapped).any(axis=1)
    treated = np.zeros(len(faces), dtype=bool)
    treated[loop_faces] = True
    treated |= touching

    new_points: list[np.ndarray] = []
    plus_copy: dict[int, int] = {}
    crossing_ids: dict[tuple[int, int], tuple[int, int]] = {}

    def add_point(point: np.ndarray) -> int:
        new_points.append(point)
        return len(vertices) + len(new_points) - 1

    def vertex_id(v: int, side: int) -> int:
        if sign[v] == 0 and side > 0:
            if v not in plus_copy:
                plus_copy[v] = add_point(vertices[v])
            return plus_copy[v]
        return v

    def crossing_id(a: int, b: int, side: int) -> int:
        key = (min(a, b), max(a, b))
        if key not in crossing_ids:
            t = values[key[0]] / (values[key[0]] - values[key[1]])
            point = vertices[key[0]] + t * (vertices[key[1]] - vertices[key[0]])
            crossing_ids[key] = (add_point(point), add_point(point))
        return crossing_ids[key][0 if side < 0 else 1]

    out_faces = [faces[~treated]]
    split: list[list[int]] = []
    for face in faces[treated]:
        split.extend(_split_face(face, sign, vertices, vertex_id, crossing_id))
    if split:
        out_faces.append(np.asarray(split, dtype=np.int64))
    all_vertices = np.concatenate([vertices, np.asarray(new_points).reshape(-1, 3)])
    return all_vertices, np.concatenate(out_faces)


def _snappable(faces: np.ndarray, loop_faces: np.ndarray, values: np.ndarray, snap: float) -> np.ndarray:
    """Vertices of the loop's faces within `snap` of the plane to move onto it, nearest first.

    A vertex is skipped where snapping it would put a whole triangle in the plane (a flat sliver),
    where one of its triangles is crossed by another section loop of the plane (that loop is left
    uncut, so splitting the triangle would tear the mesh), or where the plane would then pass
    through it more than once (a saddle: its two sides would meet at one vertex, a pinched
    boundary). Vertices on an earlier cut's boundary stay where they are.
    """
    in_loop = np.zeros(len(faces), dtype=bool)
    in_loop[loop_faces] = True
    loop_vertices = np.unique(faces[loop_faces])
    candidates = loop_vertices[np.abs(values[loop_vertices]) < snap]
    candidates = np.setdiff1d(candidates, _boundary_vertices(faces))
    candidates = candidates[np.argsort(np.abs(values[candidates]), kind="stable")]
    fan_faces = np.nonzero(np.isin(faces, candidates).any(axis=1))[0]
    order = np.argsort(faces[fan_faces].reshape(-1), kind="stable")
    corner_vertices = faces[fan_faces].reshape(-1)[order]
    corner_faces = np.repeat(fan_faces, 3)[order]
    sign = np.where(values >= 0.0, 1, -1)
    chosen = []
    for vertex in candidates.tolist():
        low, high = np.searchsorted(corner_vertices, [vertex, vertex + 1])
        fan = corner_faces[low:high]
        previous = sign[vertex]
        sign[vertex] = 0
        if _snap_keeps_cut_clean(vertex, faces[fan], sign, in_loop[fan]):
            chosen.append(vertex)
        else:
            sign[vertex] = previous
    return np.asarray(chosen, dtype=np.int64)


def _snap_keeps_cut_clean(vertex: int, fan: np.ndarray, sign: np.ndarray, in_loop: np.ndarray) -> bool:
    """Whether the triangles fan [K, 3] round a vertex (sign [V] with the vertex already at 0;
    in_loop [K]: triangle of the loop being cut) are still cut cleanly: no triangle flat in the
    plane, crossed triangles only of the loop being cut, and one change from the kept to the
    cut-off side each way round the vertex."""
    signs = sign[fan]
    if ((signs == 0).sum(axis=1) >= 3).any():
        return False
    crossed = (signs > 0).any(axis=1) & (signs < 0).any(axis=1)
    if (crossed & ~in_loop).any():
        return False
    # Side changes round the vertex: inside a crossed triangle, or across a neighbour on the plane
    # whose two triangles lie on opposite sides.
    changes = int(crossed.sum())
    for neighbour in np.setdiff1d(fan[signs == 0], [vertex]):
        others = sign[fan[(fan == neighbour).any(axis=1)]]
        changes += int((others > 0).any() and (others < 0).any())
    return changes <= 2


def _boundary_vertices(faces: np.ndarray) -> np.ndarray:
    """Ids of the vertices on a boundary edge (an edge of one triangle only)."""
    edges = np.sort(faces[:, _FACE_EDGES].reshape(-1, 2), axis=1)
    unique, counts = np.unique(edges, axis=0, return_counts=True)
    return np.unique(unique[counts == 1])


def _split_face(face, sign, vertices, vertex_id, crossing_id) -> list[list[int]]:
    """The pieces of one triangle on each side of the plane, each in the triangle's winding."""
    signs = sign[face]
    if not (signs > 0).any():
        return [[vertex_id(v, -1) for v in face]]
    if not (signs < 0).any():
        return [[vertex_id(v, 1) for v in face]]
    if (signs == 0).any():
        roll = int(np.nonzero(signs == 0)[0][0])
        z, p, q = np.roll(face, -roll)
        sp, sq = sign[p], sign[q]
        c_p, c_q = crossing_id(p, q, sp), crossing_id(p, q, sq)
        return [[vertex_id(z, sp), p, c_p], [vertex_id(z, sq), c_q, q]]
    alone_index = int(np.nonzero(signs != np.median(signs))[0][0])
    a, b, c = np.roll(face, -alone_index)
    sa, sb = sign[a], sign[b]
    ab_a, ca_a = crossing_id(a, b, sa), crossing_id(c, a, sa)
    ab_b, ca_b = crossing_id(a, b, sb), crossing_id(c, a, sb)
    pieces = [[a, ab_a, ca_a]]
    # The quad (ab, b, c, ca): split along its shorter diagonal.
    ab_point = vertices[a] + 0.5 * (vertices[b] - vertices[a])
    ca_point = vertices[c] + 0.5 * (vertices[a] - vertices[c])
    if np.linalg.norm(ab_point - vertices[c]) <= np.linalg.norm(vertices[b] - ca_point):
        pieces += [[ab_b, b, c], [ab_b, c, ca_b]]
    else:
        pieces += [[ab_b, b, ca_b], [b, c, ca_b]]
    return pieces


def components(vertices: np.ndarray, faces: np.ndarray) -> list[np.ndarray]:
    """Face ids [F_i] of each edge-connected part of a mesh, largest part first."""
    n = len(vertices)
    edges = faces[:, _FACE_EDGES].reshape(-1, 2)
    graph = scipy.sparse.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    _, labels = scipy.sparse.csgraph.connected_components(graph, directed=False)
    face_labels = labels[faces[:, 0]]
    parts = [np.nonzero(face_labels == label)[0] for label in np.unique(face_labels)]
    return sorted(parts, key=len, reverse=True)


def component_at(vertices: np.ndarray, faces: np.ndarray, anchor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The connected part of a mesh holding the vertex nearest `anchor` [3], unused vertices dropped."""
    used = np.unique(faces)
    nearest = used[np.argmin(np.linalg.norm(vertices[used] - anchor, axis=1))]
    for part in components(vertices, faces):
        if (faces[part] == nearest).any():
            return compact(vertices, faces[part])
    raise AssertionError("unreachable: the nearest vertex belongs to some face")


def compact(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop vertices no face uses, renumbering faces (vertex order otherwise kept)."""
    used = np.unique(faces)
    remap = np.full(len(vertices), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return vertices[used], remap[faces]


def boundary_loops(faces: np.ndarray) -> list[np.ndarray]:
    """Boundary loops of an oriented mesh, each [L] vertex ids in the order its faces wind them.

    Raises RecmvError where a boundary is not a set of simple closed loops.
    """
    return geometry_boundary.boundary_loops(faces, strict=True)
