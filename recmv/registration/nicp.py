"""Non-rigid ICP (optimal-step NICP, Amberg et al. 2007) with a stiffness schedule and held vertices.

Every vertex i carries an affine map X_i [4, 3] (x' = [x, 1] X_i). For a stiffness a, one step solves
    min  a^2 sum_edges ||G (X_i - X_j)||^2 + sum_i w_i ||[x_i, 1] X_i - u_i||^2 + b^2 sum_l ||[x_l, 1] X_l - t_l||^2
with u_i the closest target point, w_i = 0 where the match is too far, faces the other way, or i is a
held vertex, and t_l the targets of the held vertices (REC-MV keeps boundary vertices on the learned
curves this way). G = diag(1, 1, 1, gamma). Steps repeat at each stiffness, from stiff to soft.
REC-MV runs AdamW on the same energy for 200 epochs; the sparse least-squares step reaches each
stiffness's minimum directly. Coordinates are normalised (centred, unit RMS radius) so the schedule
does not depend on the garment's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
import torch

from recmv.geometry.proximity import closest_points
from recmv.registration.laplacian import mesh_edges


@dataclass
class NICPConfig:
    """Schedule and thresholds of non-rigid ICP."""

    stiffness: tuple[float, ...] = (50.0, 20.0, 5.0, 2.0, 0.8)
    """Stiffness a of each stage, stiff to soft (REC-MV: 50, 20, 5, 2, 0.8, 0.5, ...)."""
    iterations: int = 3
    """Closest-point rounds per stage (a stage also ends once X moves less than `tolerance`)."""
    gamma: float = 1.0
    """Weight of the translation column in the stiffness term (Amberg's gamma)."""
    held_weight: float = 10.0
    """Weight b of the held vertices' targets."""
    normal_threshold: float = 0.3
    """A match counts only where the mesh normal and the target face normal have a cosine above this."""
    max_distance: float = 0.05
    """A match counts only within this distance, metres."""
    tolerance: float = 1e-4
    """Stage ends when the mean change of the deformed vertices is below this, metres."""


@dataclass
class NICPResult:
    """vertices: [V, 3] registered positions; matched: [V] bool, vertices with a valid last match;
    distance: [V] distance to the closest target point at the end (metres)."""

    vertices: np.ndarray
    matched: np.ndarray
    distance: np.ndarray
    history: list[dict] = field(default_factory=list)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """[V, 3] area-weighted unit vertex normals (right-handed winding)."""
    tri = vertices[faces]
    face_normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals = np.zeros_like(vertices)
    for corner in range(3):
        np.add.at(normals, faces[:, corner], face_normal)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.divide(normals, length, out=np.zeros_like(normals), where=length > 0)


def _stiffness_matrix(faces: np.ndarray, count: int, gamma: float) -> scipy.sparse.csr_matrix:
    """[4E, 4V] kron(M, G), M the [E, V] edge incidence matrix (+1 at one end, -1 at the other)."""
    edges = mesh_edges(faces)
    rows = np.repeat(np.arange(len(edges)), 2)
    cols = edges.ravel()
    values = np.tile([1.0, -1.0], len(edges))
    incidence = scipy.sparse.csr_matrix((values, (rows, cols)), shape=(len(edges), count))
    return scipy.sparse.kron(incidence, scipy.sparse.diags([1.0, 1.0, 1.0, gamma])).tocsr()


def _point_matrix(points: np.ndarray, rows: np.ndarray) -> scipy.sparse.csr_matrix:
    """[R, 4V] sparse D: row r holds [x, y, z, 1] of vertex rows[r] at columns 4 rows[r] .. +3."""
    count = len(points)
    homogeneous = np.concatenate([points[rows], np.ones((len(rows), 1))], axis=1)
    cols = 4 * rows[:, None] + np.arange(4)[None]
    return scipy.sparse.csr_matrix(
        (homogeneous.ravel(), (np.repeat(np.arange(len(rows)), 4), cols.ravel())), shape=(len(rows), 4 * count)
    )


def closest_on_target(
    points: np.ndarray, target_vertices: np.ndarray, target_faces: np.ndarray, max_distance: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closest target points [N, 3], their face normals [N, 3] and whether one was in reach [N]."""
    closest = closest_points(
        torch.from_numpy(target_vertices.astype(np.float32)),
        torch.from_numpy(target_faces.astype(np.int64)),
        torch.from_numpy(points.astype(np.float32)),
        max_distance=max_distance,
    )
    face = closest.face.numpy()
    tri = target_vertices[target_faces[np.clip(face, 0, None)]]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-20)
    return closest.points.numpy().astype(np.float64), normal, face >= 0


def nicp(
    vertices: np.ndarray,
    faces: np.ndarray,
    target_vertices: np.ndarray,
    target_faces: np.ndarray,
    config: NICPConfig | None = None,
    held: np.ndarray | None = None,
    held_targets: np.ndarray | None = None,
) -> NICPResult:
    """Register a mesh (vertices [V, 3], faces [F, 3]) onto a target mesh non-rigidly.

    held: [H] vertex ids kept on held_targets [H, 3] (and left out of the data term).
    Normals of both meshes must point the same way (outwards). config: default NICPConfig().
    """
    config = config or NICPConfig()
    vertices = np.asarray(vertices, dtype=np.float64)
    target_vertices = np.asarray(target_vertices, dtype=np.float64)
    held = np.zeros(0, dtype=np.int64) if held is None else np.asarray(held, dtype=np.int64)
    held_targets = np.zeros((0, 3)) if held_targets is None else np.asarray(held_targets, dtype=np.float64)
    centre = vertices.mean(axis=0)
    scale = float(np.sqrt(((vertices - centre) ** 2).sum(axis=1).mean())) or 1.0
    source = (vertices - centre) / scale
    target = (target_vertices - centre) / scale
    goals = (held_targets - centre) / scale
    count = len(source)
    stiffness = _stiffness_matrix(faces, count, config.gamma)
    stiffness_normal = (stiffness.T @ stiffness).tocsc()
    everything = np.arange(count)
    data_matrix = _point_matrix(source, everything)
    held_matrix = _point_matrix(source, held)
    held_normal = config.held_weight**2 * (held_matrix.T @ held_matrix)
    held_right = config.held_weight**2 * (held_matrix.T @ goals)
    free = np.ones(count, dtype=bool)
    free[held] = False
    transforms = np.tile(np.concatenate([np.eye(3), np.zeros((1, 3))]), (count, 1))
    deformed = source.copy()
    history = []
    matched = np.zeros(count, dtype=bool)
    for alpha in config.stiffness:
        for _ in range(config.iterations):
            closest, target_normal, found = closest_on_target(deformed, target, target_faces, config.max_distance / scale)
            normals = vertex_normals(deformed, faces)
            cosine = (normals * target_normal).sum(axis=1)
            matched = found & free & (cosine > config.normal_threshold)
            weights = scipy.sparse.diags(matched.astype(np.float64))
            weighted = weights @ data_matrix
            system = alpha**2 * stiffness_normal + (weighted.T @ weighted) + held_normal
            right = weighted.T @ (matched[:, None] * closest) + held_right
            # A tiny ridge towards the identity keeps vertices with no match and no neighbour solvable.
            ridge = 1e-8 * scipy.sparse.identity(4 * count, format="csc")
            solve = scipy.sparse.linalg.factorized((system + ridge).tocsc())
            identity = np.tile(np.concatenate([np.eye(3), np.zeros((1, 3))]), (count, 1))
            transforms = np.stack([solve(right[:, k] + 1e-8 * identity[:, k]) for k in range(3)], axis=1)
            moved = np.asarray(data_matrix @ transforms)
            change = float(np.linalg.norm(moved - deformed, axis=1).mean()) * scale
            deformed = moved
            history.append({"stiffness": alpha, "matched": int(matched.sum()), "change_m": change})
            if change < config.tolerance:
                break
    closest, _, found = closest_on_target(deformed, target, target_faces, config.max_distance / scale)
    distance = np.where(found, np.linalg.norm(closest - deformed, axis=1) * scale, np.inf)
    return NICPResult(vertices=deformed * scale + centre, matched=matched, distance=distance, history=history)
