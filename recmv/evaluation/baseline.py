"""The "template only, no fitting" baseline: default garment templates skinned with the subject's body.

It is what recmv would output if fitting learnt nothing: the procedural template of each garment type
on the subject's canonical body, posed every frame by the subject's body parameters and skinning grid.
Benchmarks report it beside the fitted results so the gain of fitting is visible.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from tqdm import tqdm

from recmv import fileio
from recmv.body.factory import build_body_model, shape_tensor
from recmv.body.lbs import skin_points
from recmv.body.skinning_field import SkinningGrid, cube_of
from recmv.data import formats
from recmv.data.subject import SubjectMeta
from recmv.geometry.mesh_io import write_mesh
from recmv.templates.body_geometry import BodyGeometry
from recmv.templates.cache import garment_template
from recmv.templates.garments import GarmentParams

logger = logging.getLogger(__name__)


def load_skinning_grid(subject: Path, meta: SubjectMeta, canonical_vertices: torch.Tensor) -> SkinningGrid:
    """The subject's skinning grid, on the cube subject.json records or else the canonical body's cube."""
    if meta.skinning_grid:
        center = torch.tensor(meta.skinning_grid["center"], dtype=torch.float32)
        extent = float(meta.skinning_grid["extent"])
    else:
        center, extent = cube_of(canonical_vertices)
    return SkinningGrid.load(subject / "diffused_skinning_weights.npy", center, extent)


def template_baseline(subject: str | Path, out: str | Path, resolution: float = 0.02) -> Path:
    """Write per-frame template garments for a subject: OUT/<garment>/<frame>.obj and boundaries.json."""
    subject, out = Path(subject), Path(out)
    meta = SubjectMeta.load(subject)
    body = build_body_model(meta.body)
    shape = shape_tensor(meta.body)
    params = formats.read_body_params(subject / "smpl_rec.npz")
    poses = torch.as_tensor(params.poses, dtype=torch.float32)
    trans = torch.as_tensor(params.trans, dtype=torch.float32)
    rest = body.rest(shape)
    grid = load_skinning_grid(subject, meta, rest.vertices)
    geometry = BodyGeometry.from_body_model(body, shape)
    transforms = body.forward(poses, shape, trans).transforms
    for kind in meta.garments:
        garment_params = GarmentParams.defaults(kind)
        garment_params.resolution = resolution
        template = garment_template(kind, geometry, garment_params)
        posed = skin_points(template.vertices[None], grid.query(template.vertices)[None], transforms)
        folder = out / kind
        write_mesh(folder / "canonical.obj", template.vertices, template.faces)
        fileio.write_json(folder / "boundaries.json", {k: v.tolist() for k, v in template.boundaries.items()})
        for frame in tqdm(range(posed.shape[0]), desc=f"baseline: {kind}", unit="frame"):
            write_mesh(folder / f"{frame:06d}.obj", posed[frame], template.faces)
    return out
