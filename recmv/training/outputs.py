"""What `recmv fit` writes beside its checkpoints until `recmv extract` exists: per-frame posed
marching-cubes meshes of every garment, opened where the template has its holes.

The canonical SDFs are closed surfaces (REC-MV fits them to hole-closed templates), so their
marching-cubes meshes carry caps over the neck, cuffs, waist and hems. Each template boundary loop
defines a disc (its centroid, its best-fit plane with the normal N pointing away from the garment, and
its largest radius r). A face is dropped when its centre lies past that plane within 2 r of the axis,
or when it lies within r of the axis, at most `CAP_SLACK` short of the plane, and faces along N: a
garment fitted shorter than its template (a skirt whose hem ends above the template's) has its cap
there. The learned curves of part 2 and registration (`recmv extract`) replace this.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from tqdm import tqdm

from recmv.geometry.mesh_io import write_mesh
from recmv.templates.garments import GarmentTemplate
from recmv.training.explicit import canonical_mesh

if TYPE_CHECKING:
    from recmv.training.trainer import Trainer

CAP_RADIUS_MARGIN = 2.0
"""Discs reach this factor beyond the loop's largest radius (the fitted surface may be looser)."""
CAP_SLACK = 0.05
"""Metres short of a loop's plane where faces turned along its normal still count as its cap."""
CAP_NORMAL_COS = 0.9
"""A face turned within ~25 degrees of a loop's normal (or its opposite) faces along it."""


def cap_faces(
    centres: torch.Tensor, template: GarmentTemplate, offset: float, normals: torch.Tensor | None = None
) -> torch.Tensor:
    """[F] bool: face centres [F, 3] (with unit face normals [F, 3], if given) lying over one of the
    template's holes.

    offset: metres the plane is moved towards the garment, so the cap's rim is dropped too.
    """
    vertices = template.vertices.to(centres)
    middle = vertices.mean(0)
    over = torch.zeros(centres.shape[0], dtype=torch.bool, device=centres.device)
    for loop in template.boundaries.values():
        ring = vertices[loop.to(centres.device)]
        centre = ring.mean(0)
        normal = torch.linalg.svd(ring - centre, full_matrices=False).Vh[-1]
        if torch.dot(normal, centre - middle) < 0:
            normal = -normal
        radius = (ring - centre).norm(dim=-1).max()
        height = (centres - centre) @ normal
        radial = (centres - centre - height[:, None] * normal).norm(dim=-1)
        over |= (height > -offset) & (radial < radius * CAP_RADIUS_MARGIN)
        if normals is not None:
            facing = (normals @ normal).abs() > CAP_NORMAL_COS  # either winding
            over |= facing & (height > -CAP_SLACK) & (radial < radius)
    return over


def open_at_template_caps(
    vertices: torch.Tensor, faces: torch.Tensor, template: GarmentTemplate, offset: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop the faces of a closed canonical mesh that lie over the template's holes.

    vertices: [V, 3]; faces: [F, 3] -> the kept mesh, unreferenced vertices removed.
    """
    corners = vertices[faces]
    normals = torch.nn.functional.normalize(
        torch.linalg.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), dim=-1
    )
    kept = faces[~cap_faces(corners.mean(dim=1), template, offset, normals)]
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
            vertices, faces = open_at_template_caps(vertices, faces, data.templates[g], cell_size)
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
