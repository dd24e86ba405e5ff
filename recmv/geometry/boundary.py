"""Open boundary loops of a triangle mesh: the chains of edges that only one face uses."""

from __future__ import annotations

import numpy as np

from recmv.errors import RecmvError

_FACE_EDGES = np.array([[0, 1], [1, 2], [2, 0]])


def boundary_loops(faces: np.ndarray, strict: bool = False) -> list[np.ndarray]:
    """Boundary loops of a mesh, each [L] vertex ids in walking order, the loop holding the smallest
    unused boundary vertex first.

    faces: [F, 3] int. Loops follow the winding of their faces where the mesh is consistently oriented.
    strict: raise RecmvError unless the boundary is a set of simple closed loops of an oriented
    manifold mesh (no edge of more than two faces, no pinched vertex, no chain that fails to close).
    Otherwise whatever is there is walked: a pinched vertex ends up in each loop through it, an edge
    against the winding is followed anyway, and an open chain is kept as walked.
    """
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    directed = faces[:, _FACE_EDGES].reshape(-1, 2)
    _, inverse, counts = np.unique(np.sort(directed, axis=1), axis=0, return_inverse=True, return_counts=True)
    if strict and counts.max(initial=0) > 2:
        raise RecmvError("mesh has edges shared by more than two faces")
    boundary = directed[counts[inverse.reshape(-1)] == 1]
    boundary = boundary[np.lexsort((boundary[:, 1], boundary[:, 0]))]
    outgoing: dict[int, list[int]] = {}
    incoming: dict[int, list[int]] = {}
    for edge, (start, end) in enumerate(boundary.tolist()):
        outgoing.setdefault(start, []).append(edge)
        incoming.setdefault(end, []).append(edge)
    if strict:
        pinched = [vertex for vertex, edges in outgoing.items() if len(edges) > 1]
        if pinched:
            raise RecmvError(f"boundary vertex {pinched[0]} starts two boundary edges (pinched boundary)")
    used = np.zeros(len(boundary), dtype=bool)
    loops = []
    for first in range(len(boundary)):
        if used[first]:
            continue
        used[first] = True
        start, current = boundary[first].tolist()
        loop = [start]
        while current != start:
            loop.append(current)
            edge = next((e for e in outgoing.get(current, []) if not used[e]), None)
            if edge is not None:
                following = int(boundary[edge, 1])
            elif strict:
                raise RecmvError(f"boundary through vertex {current} does not close into a simple loop")
            else:
                edge = next((e for e in incoming.get(current, []) if not used[e]), None)
                if edge is None:
                    break
                following = int(boundary[edge, 0])
            used[edge] = True
            current = following
        loops.append(np.asarray(loop, dtype=np.int64))
    return loops
