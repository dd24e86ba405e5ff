"""Mesh files: atomic writes of OBJ/PLY/GLB through trimesh."""

from __future__ import annotations

from pathlib import Path

import torch
import trimesh

from recmv import fileio


def write_mesh(path: str | Path, vertices: torch.Tensor, faces: torch.Tensor) -> None:
    """Write a triangle mesh (vertices [V, 3], faces [F, 3]); the format follows the file suffix."""
    path = Path(path)
    mesh = trimesh.Trimesh(vertices.detach().cpu().numpy(), faces.detach().cpu().numpy(), process=False)
    with fileio.atomic_path(path) as tmp:
        mesh.export(tmp, file_type=path.suffix.lstrip(".").lower())
