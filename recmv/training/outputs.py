"""The per-frame posed marching-cubes meshes `recmv fit` writes beside its checkpoints, opened at the
garment's boundaries (`recmv extract` registers the template onto them instead).

The canonical SDFs are closed surfaces (REC-MV fits them to hole-closed templates), so their
marching-cubes meshes carry caps over the neck, cuffs, waist and hems. Each boundary ring defines a
disc (its centroid, its best-fit plane with the normal N pointing away from the garment, and its largest
radius r). A face is dropped when its centre lies past that plane within `margin` r of the axis, or when
it lies within r of the axis, at most `slack` short of the plane, and faces along N.

The rings are the learned canonical curves when the model has one for every boundary of the garment
(the curves sit where the fitted garment ends, so the plane rule keeps a skirt fitted longer than its
template whole), else the template's loops: then the slack is wide, so a garment fitted shorter than
its template (a skirt whose hem ends above the template's) still loses its cap.
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

TEMPLATE_RADIUS_MARGIN = 2.0
"""Template discs reach this factor beyond the loop's largest radius (the fitted surface may be looser)."""
TEMPLATE_SLACK = 0.05
"""Metres short of a template loop's plane where faces turned along its normal still count as its cap."""
CURVE_RADIUS_MARGIN = 1.5
"""Learned curves lie on the fitted surface: their discs need a smaller margin."""
CURVE_SLACK_CELLS = 2.0
"""Marching-cubes cells short of a learned curve's plane where faces turned along it count as its cap."""
CAP_NORMAL_COS = 0.9
"""A face turned within ~25 degrees of a loop's normal (or its opposite) faces along it."""


def cap_faces(
    centres: torch.Tensor,
    rings: list[torch.Tensor],
    middle: torch.Tensor,
    offset: float,
    slack: float,
    margin: float,
    normals: torch.Tensor | None = None,
) -> torch.Tensor:
    """[F] bool: face centres [F, 3] (with unit face normals [F, 3], if given) lying over one of the
    closed rings [K, 3] around the garment centre `middle` [3].

    offset: metres the plane is moved towards the garment, so the cap's rim is dropped too; slack and
    margin: see the module docstring.
    """
    over = torch.zeros(centres.shape[0], dtype=torch.bool, device=centres.device)
    for ring in rings:
        ring = ring.to(centres)
        centre = ring.mean(0)
        normal = torch.linalg.svd(ring - centre, full_matrices=False).Vh[-1]
        if torch.dot(normal, centre - middle.to(centres)) < 0:
            normal = -normal
        radius = (ring - centre).norm(dim=-1).max()
        height = (centres - centre) @ normal
        radial = (centres - centre - height[:, None] * normal).norm(dim=-1)
        over |= (height > -offset) & (radial < radius * margin)
        if normals is not None:
            facing = (normals @ normal).abs() > CAP_NORMAL_COS  # either winding
            over |= facing & (height > -slack) & (radial < radius)
    return over


def open_at_rings(
    vertices: torch.Tensor, faces: torch.Tensor, rings: list[torch.Tensor], middle: torch.Tensor,
    offset: float, slack: float, margin: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop the faces of a closed canonical mesh that lie over the rings (see `cap_faces`).

    vertices: [V, 3]; faces: [F, 3] -> the kept mesh, unreferenced vertices removed.
    """
    corners = vertices[faces]
    normals = torch.nn.functional.normalize(
        torch.linalg.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), dim=-1
    )
    kept = faces[~cap_faces(corners.mean(dim=1), rings, middle, offset, slack, margin, normals)]
    used, remapped = torch.unique(kept, return_inverse=True)
    return vertices[used], remapped.reshape(-1, 3)


def open_at_template_caps(
    vertices: torch.Tensor, faces: torch.Tensor, template: GarmentTemplate, offset: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """open_at_rings at the template's boundary loops, with the wide template slack."""
    loops = [template.vertices[loop] for loop in template.boundaries.values()]
    return open_at_rings(
        vertices, faces, loops, template.vertices.mean(0), offset, TEMPLATE_SLACK, TEMPLATE_RADIUS_MARGIN
    )


def open_at_curves(
    vertices: torch.Tensor, faces: torch.Tensor, curves: list[torch.Tensor], cell_size: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """open_at_rings at learned curves [K, 3] of a mesh marching-cubed at cell_size metres: the plane
    stays at the curve (the garment keeps its length), the slack is a couple of cells."""
    return open_at_rings(
        vertices, faces, curves, vertices.mean(0), 0.0, CURVE_SLACK_CELLS * cell_size, CURVE_RADIUS_MARGIN
    )


def learned_boundaries(trainer: Trainer, garment: int) -> list[torch.Tensor] | None:
    """The learned canonical curves [K, 3] at the boundaries of the garment's template, or None when
    one of its boundaries has no curve (the curves are off, or the subject lacks it)."""
    curves = trainer.model.curves
    names = list(trainer.data.templates[garment].boundaries)
    if not names or any(name not in curves.names for name in names):
        return None
    with torch.no_grad():
        points = curves()
    return [points[curves.index(name)] for name in names]


def write_posed_meshes(trainer: Trainer, out_dir: Path, cell_size: float, chunk_frames: int = 4, progress: bool = True) -> list[str]:
    """Write OUT/<garment>/canonical.obj and OUT/<garment>/<frame>.obj for every fitted frame."""
    model, data = trainer.model, trainer.data
    band = model.band_weights(trainer.iteration, trainer.config.annealing_period).to(trainer.device)
    written = []
    for g, garment in enumerate(data.garments):
        with torch.no_grad():
            vertices, faces = canonical_mesh(model.sdfs[g], trainer.boxes[g], cell_size, garment)
            curves = learned_boundaries(trainer, g)
            if curves is None:
                vertices, faces = open_at_template_caps(vertices, faces, data.templates[g], cell_size)
            else:
                vertices, faces = open_at_curves(vertices, faces, curves, cell_size)
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
