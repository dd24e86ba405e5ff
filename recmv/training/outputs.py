"""What `recmv fit` writes beside its checkpoints until `recmv extract` exists: per-frame posed
marching-cubes meshes of every garment, opened where the closed template had its caps.

The canonical SDFs are closed surfaces (REC-MV fits them to hole-closed templates), so their
marching-cubes meshes carry caps over the neck, cuffs, waist and hems. A face is dropped when its
centre is nearest to a cap face of the closed template; this opens the mesh at the template's
boundaries (the learned curves of part 2 replace this).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from tqdm import tqdm

from recmv.fields.sdf_init import closed_template
from recmv.training.explicit import canonical_mesh
from recmv.geometry.mesh_io import write_mesh
from recmv.geometry.proximity import closest_points
from recmv.templates.garments import GarmentTemplate

if TYPE_CHECKING:
    from recmv.training.trainer import Trainer


def open_at_template_caps(
    vertices: torch.Tensor, faces: torch.Tensor, template: GarmentTemplate
) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop the faces of a closed canonical mesh that lie over the template's holes.

    vertices: [V, 3]; faces: [F, 3] -> the kept mesh, unreferenced vertices removed.
    """
    closed_vertices, closed_faces = closed_template(template)
    cap = torch.zeros(closed_faces.shape[0], dtype=torch.bool)
    cap |= (closed_faces >= template.vertices.shape[0]).any(dim=1)
    centres = vertices[faces].mean(dim=1)
    nearest = closest_points(closed_vertices.to(centres), closed_faces.to(centres.device), centres).face
    keep = ~cap.to(nearest.device)[nearest.clamp_min(0)]
    kept = faces[keep]
    used, remapped = torch.unique(kept, return_inverse=True)
    return vertices[used], remapped.reshape(-1, 3)


def write_posed_meshes(trainer: Trainer, out_dir: Path, cell_size: float, chunk_frames: int = 4, progress: bool = True) -> list[str]:
    """Write OUT/<garment>/canonical.obj and OUT/<garment>/<frame>.obj for every fitted frame."""
    model, data = trainer.model, trainer.data
    band = model.band_weights(trainer.iteration, trainer.config.annealing_period).to(trainer.device)
    written = []
    for g, garment in enumerate(data.garments):
        with torch.no_grad():
            vertices, faces = canonical_mesh(model.sdfs[g], trainer.boxes[g], cell_size, garment)
            vertices, faces = open_at_template_caps(vertices, faces, data.templates[g])
        folder = out_dir / garment
        write_mesh(folder / "canonical.obj", vertices, faces)
        indices = torch.arange(data.num_frames, device=trainer.device)
        bar = tqdm(total=data.num_frames, desc=f"meshes {garment}", unit="frame", disable=not progress, leave=False)
        for chunk in indices.split(chunk_frames):
            with torch.no_grad():
                transforms = model.pose(chunk).transforms
                posed = model.warp(g, vertices, chunk, transforms, band).posed
            for slot, index in enumerate(chunk.tolist()):
                write_mesh(folder / f"{int(data.frames[index]):06d}.obj", posed[slot], faces)
                bar.update(1)
        bar.close()
        written.append(garment)
    return written
