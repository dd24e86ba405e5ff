"""Metrics of design.md §6 as pure functions on NumPy arrays (metres in, metres out).

Choices fixed here so that numbers compare across the project:
- Surface samples are uniform by area; a sample's normal is the normal of the face it lies on.
- Chamfer distance, normal consistency and F-score pair each sample with its nearest sample on the
  other surface (point-to-point, cKDTree). With N samples on an area A this adds a small bias of
  about 0.5 * sqrt(A / N) (≈ 0.16 cm for 1 m² at 100 k samples) even for identical surfaces.
- P2S is the exact point-to-triangle distance from the predicted samples to the GT mesh (warp BVH).
- Interpenetration signs the exact distance to the body by its generalised winding number (warp's
  fast winding number), which tolerates the holes of a body mesh (eyes, mouth) that break parity tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from recmv.geometry import boundary as geometry_boundary
from recmv.geometry.proximity import closest_points


@dataclass
class SurfaceSamples:
    """Points sampled on a surface.

    points: [N, 3] positions.
    normals: [N, 3] unit normals of the faces the points lie on.
    """

    points: np.ndarray
    normals: np.ndarray


@dataclass
class SurfaceComparison:
    """Sample-based comparison of a predicted and a GT surface (distances in metres).

    chamfer: mean of the two directions' mean nearest-sample distance.
    normal_consistency: mean |cos| between the normals of nearest pairs, averaged over both directions.
    precision: share of predicted samples within the threshold of a GT sample.
    recall: share of GT samples within the threshold of a predicted sample.
    fscore: harmonic mean of precision and recall (0 when both are 0).
    """

    chamfer: float
    normal_consistency: float
    precision: float
    recall: float
    fscore: float


def face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """[F, 3] unit face normals (counter-clockwise winding), zero for degenerate faces.

    vertices: [V, 3]; faces: [F, 3] int.
    """
    tri = vertices[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    length = np.linalg.norm(normal, axis=1, keepdims=True)
    return np.divide(normal, length, out=np.zeros_like(normal), where=length > 0)


def sample_surface(vertices: np.ndarray, faces: np.ndarray, count: int, rng: np.random.Generator) -> SurfaceSamples:
    """`count` points uniform by area on a triangle mesh (vertices [V, 3], faces [F, 3])."""
    tri = vertices[faces]
    doubled_area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    cumulative = np.cumsum(doubled_area)
    chosen = np.searchsorted(cumulative, rng.random(count) * cumulative[-1], side="right")
    chosen = np.minimum(chosen, len(faces) - 1)
    # sqrt of the first uniform folds the unit square onto the triangle uniformly.
    root = np.sqrt(rng.random(count))
    second = rng.random(count)
    weights = np.stack([1.0 - root, root * (1.0 - second), root * second], axis=1)
    points = np.einsum("nk,nkd->nd", weights, tri[chosen])
    return SurfaceSamples(points=points, normals=face_normals(vertices, faces)[chosen])


def nearest_neighbours(queries: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest of `points` [M, 3] to each of `queries` [N, 3]: distances [N] and indices [N]."""
    distance, index = cKDTree(points).query(queries, k=1, workers=-1)
    return distance, index


def compare_surfaces(pred: SurfaceSamples, gt: SurfaceSamples, threshold: float = 0.01) -> SurfaceComparison:
    """Chamfer, normal consistency and F-score at `threshold` between two sample sets."""
    pred_to_gt, pred_match = nearest_neighbours(pred.points, gt.points)
    gt_to_pred, gt_match = nearest_neighbours(gt.points, pred.points)
    cos_pred = np.abs(np.sum(pred.normals * gt.normals[pred_match], axis=1))
    cos_gt = np.abs(np.sum(gt.normals * pred.normals[gt_match], axis=1))
    precision = float(np.mean(pred_to_gt <= threshold))
    recall = float(np.mean(gt_to_pred <= threshold))
    fscore = 2.0 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return SurfaceComparison(
        chamfer=0.5 * float(pred_to_gt.mean() + gt_to_pred.mean()),
        normal_consistency=0.5 * float(cos_pred.mean() + cos_gt.mean()),
        precision=precision,
        recall=recall,
        fscore=fscore,
    )


def _closest_point_query(
    points: np.ndarray, vertices: np.ndarray, faces: np.ndarray, winding: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Exact distances [N] from points to the mesh and their side (-1 inside, by winding number, when asked)."""
    queries = torch.from_numpy(np.ascontiguousarray(points, dtype=np.float32))
    closest = closest_points(
        torch.from_numpy(np.ascontiguousarray(vertices, dtype=np.float32)),
        torch.from_numpy(np.ascontiguousarray(faces, dtype=np.int64)),
        queries,
        max_distance=1.0e6,
        sign="winding" if winding else "normal",
    )
    distance = (closest.points - queries).norm(dim=-1).numpy().astype(np.float64)
    return distance, np.where(closest.inside.numpy(), -1.0, 1.0)


def point_to_mesh_distance(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """[N] exact distance from points [N, 3] to the triangle mesh (vertices [V, 3], faces [F, 3])."""
    distance, _ = _closest_point_query(points, vertices, faces, winding=False)
    return distance


def signed_distance(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """[N] distance from points [N, 3] to a closed-ish mesh, negative inside (by winding number)."""
    distance, sign = _closest_point_query(points, vertices, faces, winding=True)
    return np.where(sign < 0, -distance, distance)


def interpenetration_share(
    points: np.ndarray, body_vertices: np.ndarray, body_faces: np.ndarray, depth: float = 0.002
) -> float:
    """Share of points [N, 3] more than `depth` metres inside the body mesh."""
    if len(points) == 0:
        return float("nan")
    return float(np.mean(signed_distance(points, body_vertices, body_faces) < -depth))


def boundary_loops(faces: np.ndarray) -> list[np.ndarray]:
    """Open boundary loops of a triangle mesh: chains of edges used by one face only.

    faces: [F, 3] int. Returns one [K] array of vertex indices per loop, in walking order.
    A boundary vertex shared by several loops (a pinch) ends up in each of them.
    """
    return geometry_boundary.boundary_loops(faces, strict=False)


def resample_closed_polyline(points: np.ndarray, count: int) -> np.ndarray:
    """[count, 3] points evenly spaced by arc length along the closed polyline points [M, 3]."""
    closed = np.concatenate([points, points[:1]])
    segment = np.linalg.norm(np.diff(closed, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(segment)])
    if arc[-1] == 0:
        return np.repeat(points[:1], count, axis=0)
    targets = np.arange(count) * (arc[-1] / count)
    index = np.clip(np.searchsorted(arc, targets, side="right") - 1, 0, len(segment) - 1)
    fraction = (targets - arc[index]) / np.where(segment[index] > 0, segment[index], 1.0)
    return closed[index] + fraction[:, None] * (closed[index + 1] - closed[index])


def point_to_polyline_distance(points: np.ndarray, polyline: np.ndarray, chunk: int = 512) -> np.ndarray:
    """[N] exact distance from points [N, 3] to the closed polyline [M, 3] (segments included)."""
    start = polyline
    step = np.roll(polyline, -1, axis=0) - polyline
    length2 = np.maximum(np.sum(step * step, axis=1), 1e-30)
    out = np.empty(len(points))
    for s in range(0, len(points), chunk):
        offset = points[s : s + chunk, None, :] - start[None]  # [C, M, 3]
        t = np.clip(np.sum(offset * step[None], axis=2) / length2[None], 0.0, 1.0)
        out[s : s + chunk] = np.linalg.norm(offset - t[..., None] * step[None], axis=2).min(axis=1)
    return out


def loop_distance(pred: np.ndarray, gt: np.ndarray, samples: int = 1000) -> float:
    """Two-sided mean distance between closed loops pred [M, 3] and gt [K, 3].

    Each loop is resampled to `samples` evenly spaced points whose exact distance to the other
    polyline is averaged; the result is the mean of the two directions.
    """
    pred_to_gt = point_to_polyline_distance(resample_closed_polyline(pred, samples), gt)
    gt_to_pred = point_to_polyline_distance(resample_closed_polyline(gt, samples), pred)
    return 0.5 * float(pred_to_gt.mean() + gt_to_pred.mean())


def match_loops(pred_loops: list[np.ndarray], gt_loops: dict[str, np.ndarray]) -> dict[str, int]:
    """Name predicted loops (each [K, 3]) after GT loops by Hungarian matching of their centroids.

    Returns GT name -> index into pred_loops; GT loops left without a partner are absent.
    """
    if not pred_loops or not gt_loops:
        return {}
    names = list(gt_loops)
    gt_centroids = np.stack([gt_loops[n].mean(axis=0) for n in names])
    pred_centroids = np.stack([loop.mean(axis=0) for loop in pred_loops])
    cost = np.linalg.norm(gt_centroids[:, None] - pred_centroids[None], axis=2)
    rows, cols = linear_sum_assignment(cost)
    return {names[r]: int(c) for r, c in zip(rows, cols)}


def mask_iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """Intersection over union of boolean masks pred, gt [H, W]; NaN when both are empty."""
    union = np.logical_or(pred, gt).sum()
    if union == 0:
        return float("nan")
    return float(np.logical_and(pred, gt).sum() / union)


def acceleration_norms(trajectory: np.ndarray) -> np.ndarray:
    """[T-2, V] ‖x(t+1) − 2x(t) + x(t−1)‖ for a trajectory [T, V, 3] of consecutive frames."""
    return np.linalg.norm(trajectory[2:] - 2.0 * trajectory[1:-1] + trajectory[:-2], axis=2)
