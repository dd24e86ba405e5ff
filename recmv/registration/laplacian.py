"""Laplacian mesh editing with positional constraints (REC-MV §3.9, solved sparsely).

x* = argmin ||L x - L x0||^2 + w^2 ||x_S - t||^2, with L the uniform graph Laplacian
(L x)_i = x_i - mean of x over the neighbours of i. The three coordinates are independent; one sparse
factorisation of (L^T L + w^2 S^T S) serves all of them. REC-MV inverts the dense normal matrix
instead and follows with a smoothing pass; the sparse solve needs neither.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from recmv.errors import RecmvError


def mesh_edges(faces: np.ndarray) -> np.ndarray:
    """[E, 2] unique undirected edges (smaller id first) of triangles faces [F, 3]."""
    edges = np.sort(np.asarray(faces, dtype=np.int64)[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    return np.unique(edges, axis=0)


def uniform_laplacian(faces: np.ndarray, count: int) -> scipy.sparse.csr_matrix:
    """[V, V] sparse L = I - D^-1 A of a mesh with `count` vertices (isolated vertices get a zero row)."""
    edges = mesh_edges(faces)
    rows = np.concatenate([edges[:, 0], edges[:, 1]])
    cols = np.concatenate([edges[:, 1], edges[:, 0]])
    adjacency = scipy.sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(count, count))
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    inverse = np.divide(1.0, degree, out=np.zeros_like(degree), where=degree > 0)
    identity = scipy.sparse.diags((degree > 0).astype(np.float64))
    return (identity - scipy.sparse.diags(inverse) @ adjacency).tocsr()


def laplacian_edit(
    vertices: np.ndarray, faces: np.ndarray, handles: np.ndarray, targets: np.ndarray, weight: float = 10.0
) -> np.ndarray:
    """Move handle vertices towards targets while keeping the mesh's Laplacian coordinates.

    vertices: [V, 3]; faces: [F, 3]; handles: [H] vertex ids; targets: [H, 3]; weight: of the
    constraints against the shape term (large: the handles land on their targets).
    Returns the edited vertices [V, 3] (float64).
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    handles = np.asarray(handles, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.float64)
    if handles.ndim != 1 or targets.shape != (len(handles), 3):
        raise RecmvError(f"handles [H] and targets [H, 3] expected, got {handles.shape} and {targets.shape}")
    if len(handles) == 0:
        return vertices.copy()
    count = len(vertices)
    laplacian = uniform_laplacian(faces, count)
    select = scipy.sparse.csr_matrix((np.ones(len(handles)), (np.arange(len(handles)), handles)), shape=(len(handles), count))
    normal = (laplacian.T @ laplacian + weight**2 * (select.T @ select)).tocsc()
    right = laplacian.T @ (laplacian @ vertices) + weight**2 * (select.T @ targets)
    # A tiny ridge keeps components without a handle (or isolated vertices) where they are.
    ridge = 1e-9 * scipy.sparse.identity(count, format="csc")
    solve = scipy.sparse.linalg.factorized((normal + ridge).tocsc())
    return np.stack([solve(right[:, axis] + 1e-9 * vertices[:, axis]) for axis in range(3)], axis=1)
