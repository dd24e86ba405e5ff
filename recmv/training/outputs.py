"""The per-frame posed marching-cubes meshes `recmv fit` writes beside its checkpoints, opened at the
garment's boundaries (`recmv extract` registers the template onto them instead).

The canonical SDFs are closed surfaces (REC-MV fits them to hole-closed templates), so their
marching-cubes meshes carry caps over the neck, cuffs, waist and hems. Each boundary ring has a plane
(best fit through its centroid, normal N pointing away from the garment).

- When the model has a learned curve for every boundary of the garment (`open_at_curves`), a face is
  dropped when it lies past the curve's plane inside the curve's own outline (plus a cell), or within
  two cells short of the plane, inside it, turned along N. The curves sit where the fitted garment
  ends, so a skirt fitted longer than its template keeps its length.
- Otherwise the template's loops are used as discs (`open_at_template_caps`): a face is dropped when it
  lies past the plane within `margin` times the loop's largest radius r of the axis, or within r of the
  axis, up to a wide `slack` short of the plane, turned along N, so a garment fitted shorter than its
  template (a skirt whose hem ends above the template's) still loses its cap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
import trimesh
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
CURVE_SLACK_CELLS = 2.0
"""Marching-cubes cells short of a learned curve's plane where faces turned along it count as its cap."""
CAP_NORMAL_COS = 0.9
"""A face turned within ~25 degrees of a loop's normal (or its opposite) faces along it."""


def ring_plane(ring: torch.Tensor, middle: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The best-fit plane of a closed ring [K, 3]: its centroid [3] and an orthonormal frame [3, 3]
    whose first two rows span the plane and whose last row is the normal, turned away from middle [3]."""
    centre = ring.mean(0)
    frame = torch.linalg.svd(ring - centre, full_matrices=False).Vh
    if torch.dot(frame[2], centre - middle) < 0:
        frame = torch.stack([frame[0], -frame[1], -frame[2]])  # keep the frame right-handed
    return centre, frame


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
        centre, frame = ring_plane(ring, middle.to(centres))
        normal = frame[2]
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
    centres, normals = _face_centres_and_normals(vertices, faces)
    return _without_faces(vertices, faces, cap_faces(centres, rings, middle, offset, slack, margin, normals))


def _face_centres_and_normals(vertices: torch.Tensor, faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Centres [F, 3] and unit normals [F, 3] of the faces [F, 3] over vertices [V, 3]."""
    corners = vertices[faces]
    normals = torch.nn.functional.normalize(
        torch.linalg.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), dim=-1
    )
    return corners.mean(dim=1), normals


def _without_faces(vertices: torch.Tensor, faces: torch.Tensor, dropped: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The mesh without the dropped faces [F] and the vertices only they used."""
    used, remapped = torch.unique(faces[~dropped], return_inverse=True)
    return vertices[used], remapped.reshape(-1, 3)


def open_at_template_caps(
    vertices: torch.Tensor, faces: torch.Tensor, template: GarmentTemplate, offset: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """open_at_rings at the template's boundary loops, with the wide template slack."""
    loops = [template.vertices[loop] for loop in template.boundaries.values()]
    return open_at_rings(
        vertices, faces, loops, template.vertices.mean(0), offset, TEMPLATE_SLACK, TEMPLATE_RADIUS_MARGIN
    )


def outline_radius(curve: torch.Tensor, centre: torch.Tensor, basis: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The radius of a star-shaped closed curve [K, 3] about centre [3], in the plane spanned by the
    rows of basis [2, 3], at the polar angle of each point [N, 3], and the points' own radius -> ([N], [N]).

    The curve's radius is interpolated linearly in angle between its points (periodically)."""
    def polar(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        planar = (x - centre) @ basis.T
        return torch.atan2(planar[:, 1], planar[:, 0]), planar.norm(dim=-1)

    curve_angle, curve_radius = polar(curve)
    order = torch.argsort(curve_angle)
    curve_angle, curve_radius = curve_angle[order], curve_radius[order]
    two_pi = 2 * torch.pi
    angles = torch.cat([curve_angle[-1:] - two_pi, curve_angle, curve_angle[:1] + two_pi])
    radii = torch.cat([curve_radius[-1:], curve_radius, curve_radius[:1]])
    angle, radius = polar(points)
    right = torch.searchsorted(angles.contiguous(), angle.contiguous()).clamp(1, angles.numel() - 1)
    left = right - 1
    share = ((angle - angles[left]) / (angles[right] - angles[left]).clamp_min(1e-12)).clamp(0, 1)
    return torch.lerp(radii[left], radii[right], share), radius


def faces_over_curves(
    centres: torch.Tensor, normals: torch.Tensor, curves: list[torch.Tensor], middle: torch.Tensor, pad: float, slack: float
) -> torch.Tensor:
    """[F] bool: faces (centres, unit normals [F, 3]) over one of the closed learned curves [K, 3].

    A face is over a curve when its centre projects inside the curve's own outline widened by `pad`
    metres and lies past the curve's plane, or lies within `slack` of the plane, `pad` inside the
    outline, turned along the plane's normal (at the outline itself stray marching-cubes slivers turned
    that way belong to the garment's wall, and dropping them would punch one-face holes). Following the outline rather than a disc keeps the shoulders next
    to a tilted neckline, which a disc of the largest radius would cut holes into."""
    over = torch.zeros(centres.shape[0], dtype=torch.bool, device=centres.device)
    for curve in curves:
        curve = curve.to(centres)
        centre, frame = ring_plane(curve, middle.to(centres))
        normal = frame[2]
        limit, radial = outline_radius(curve, centre, frame[:2], centres)
        height = (centres - centre) @ normal
        over |= (height > 0) & (radial < limit + pad)
        over |= ((normals @ normal).abs() > CAP_NORMAL_COS) & (height > -slack) & (radial < limit - pad)
    return over


def open_at_curves(
    vertices: torch.Tensor, faces: torch.Tensor, curves: list[torch.Tensor], cell_size: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop the faces of a closed canonical mesh marching-cubed at cell_size metres that lie over its
    learned curves (`faces_over_curves`, a cell of pad and `CURVE_SLACK_CELLS` of slack); the plane
    stays at the curve, so the garment keeps its length. -> (vertices [V', 3], faces [F', 3])."""
    centres, normals = _face_centres_and_normals(vertices, faces)
    over = faces_over_curves(centres, normals, curves, vertices.mean(0), cell_size, CURVE_SLACK_CELLS * cell_size)
    return _without_faces(vertices, faces, over & ~lone_faces(faces, over))


def lone_faces(faces: torch.Tensor, dropped: torch.Tensor) -> torch.Tensor:
    """[F] bool: dropped faces [F] whose three edge neighbours in faces [F, 3] are all kept.

    Along a jagged cut a single face can poke past the plane while its neighbours do not; dropping it
    alone would leave a one-face hole, a boundary loop of its own."""
    pairs = torch.from_numpy(trimesh.graph.face_adjacency(faces.cpu().numpy())).to(faces.device)
    count = faces.shape[0]
    neighbours = torch.bincount(pairs.flatten(), minlength=count)
    dropped_neighbours = torch.bincount(pairs[dropped[pairs[:, 1]], 0], minlength=count) + torch.bincount(
        pairs[dropped[pairs[:, 0]], 1], minlength=count
    )
    return dropped & (neighbours == 3) & (dropped_neighbours == 0)


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
