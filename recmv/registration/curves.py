"""Closed 3D curves as polylines: arc-length resampling and loop-to-curve correspondence.

REC-MV pairs band vertices with curve points by a Hungarian assignment. A boundary loop and its curve
are both ordered closed polylines, so here loop vertex i goes to the curve point at the same share of
arc length, with the start and direction of the curve that fit best: no vertex pair crosses
another and the loop's spacing carries over.
"""

from __future__ import annotations

import numpy as np

from recmv.errors import RecmvError


def arc_shares(points: np.ndarray) -> np.ndarray:
    """[K] share of the closed polyline's length before each of its points [K, 3] (0 for the first)."""
    segment = np.linalg.norm(np.roll(points, -1, axis=0) - points, axis=1)
    total = segment.sum()
    if total <= 0:
        return np.arange(len(points)) / max(len(points), 1)
    return np.concatenate([[0.0], np.cumsum(segment)[:-1]]) / total


def resample_closed(points: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Points [N, 3] at the given shares [N] (in [0, 1), wrapping) of the closed polyline points [K, 3]."""
    closed = np.concatenate([points, points[:1]])
    segment = np.linalg.norm(np.diff(closed, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(segment)])
    if arc[-1] <= 0:
        return np.repeat(points[:1], len(shares), axis=0)
    target = np.mod(shares, 1.0) * arc[-1]
    index = np.clip(np.searchsorted(arc, target, side="right") - 1, 0, len(segment) - 1)
    fraction = (target - arc[index]) / np.where(segment[index] > 0, segment[index], 1.0)
    return closed[index] + fraction[:, None] * (closed[index + 1] - closed[index])


def corresponding_points(loop: np.ndarray, curve: np.ndarray, candidates: int = 360) -> np.ndarray:
    """For each point of a closed loop [L, 3], its partner [L, 3] on the closed curve [K, 3].

    Partners keep the loop's arc-length shares; of `candidates` start offsets in both directions along
    the curve, the one with the least summed squared distance is taken.
    """
    if len(loop) < 3 or len(curve) < 3:
        raise RecmvError(f"loops and curves need at least 3 points, got {len(loop)} and {len(curve)}")
    shares = arc_shares(loop)
    offsets = np.arange(candidates) / candidates
    best, best_cost = None, np.inf
    for direction in (curve, curve[::-1]):
        # [candidates, L, 3]: the partners for every start offset at once.
        partners = resample_closed(direction, (shares[None, :] + offsets[:, None]).ravel()).reshape(candidates, len(loop), 3)
        cost = ((partners - loop[None]) ** 2).sum(axis=(1, 2))
        pick = int(np.argmin(cost))
        if cost[pick] < best_cost:
            best, best_cost = partners[pick], float(cost[pick])
    return best
