"""Mesh files through trimesh: atomic writes of OBJ/PLY/GLB, and reads that keep the vertex order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import trimesh

from recmv import fileio
from recmv.errors import InputFileError


def write_mesh(path: str | Path, vertices: torch.Tensor, faces: torch.Tensor) -> None:
    """Write a triangle mesh (vertices [V, 3], faces [F, 3]); the format follows the file suffix."""
    path = Path(path)
    mesh = trimesh.Trimesh(vertices.detach().cpu().numpy(), faces.detach().cpu().numpy(), process=False)
    with fileio.atomic_path(path) as tmp:
        mesh.export(tmp, file_type=path.suffix.lstrip(".").lower())


def read_mesh(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(vertices [V, 3] float64, faces [F, 3] int64) of an OBJ/PLY file, vertex order kept as in the file."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "missing mesh")
    try:
        mesh = trimesh.load(path, process=False, force="mesh")
    except (OSError, ValueError) as error:
        raise InputFileError(path, f"cannot read mesh: {error}") from error
    faces = np.asarray(mesh.faces, dtype=np.int64).reshape(-1, 3)
    if len(faces) == 0:
        raise InputFileError(path, "mesh has no triangles")
    return np.asarray(mesh.vertices, dtype=np.float64), faces
