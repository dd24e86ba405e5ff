"""Marching cubes of an SDF given as a callable, evaluated coarse-to-fine near the surface only.

REC-MV (§4.4, `Seg3dLossless`) evaluates a coarse grid and then, level by level, only the cells near
the zero level set. Here the levels are nested lattices: a level with n samples per axis has a child
with 2n - 1, so every coarse sample is also a fine one. At each finer level the values are first
trilinearly upsampled from the coarser level; samples whose upsampled |f - level| is within `band`
coarse cell diagonals are then evaluated exactly. Far from the surface the upsampled values keep the
right sign, which is all marching cubes needs there, so the surface equals the one of a dense grid of
the final resolution whenever the band is wide enough for the field's Lipschitz constant.

Per-axis final sample counts are (base - 1) * 2^L + 1, with base chosen so that the longest axis
gets at least `resolution` samples and cells stay cubic; the grid spans exactly [bbox_min, bbox_max]
with corner samples at the box corners.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from skimage import measure

from recmv.errors import RecmvError


@dataclass
class IsoSurface:
    """vertices: [V, 3]; faces: [F, 3] int64 oriented towards increasing SDF; evaluation counts."""

    vertices: torch.Tensor
    faces: torch.Tensor
    evaluated_points: int
    grid_points: int


def level_shapes(extent: torch.Tensor, resolution: int, coarse_resolution: int) -> list[tuple[int, int, int]]:
    """Per-level sample counts (x, y, z), coarsest first; each level has 2n - 1 samples of the last."""
    longest = float(extent.max())
    levels = max(0, math.ceil(math.log2(max(1.0, (resolution - 1) / max(coarse_resolution - 1, 1)))))
    final_cells = (resolution - 1) / 1.0
    cell = longest / final_cells
    base = [max(1, math.ceil(float(e) / cell / 2**levels)) for e in extent]
    shapes = []
    for level in range(levels + 1):
        shapes.append(tuple(b * 2**level + 1 for b in base))
    return shapes


def _lattice(low: torch.Tensor, high: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    """[X, Y, Z, 3] sample positions of a lattice spanning the box, corner samples included."""
    axes = [torch.linspace(float(low[i]), float(low[i]) + float(high[i] - low[i]), shape[i], dtype=low.dtype, device=low.device) for i in range(3)]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)


def _evaluate(sdf_fn: Callable[[torch.Tensor], torch.Tensor], points: torch.Tensor, chunk_size: int) -> torch.Tensor:
    values = []
    with torch.no_grad():
        for chunk in points.split(chunk_size):
            out = sdf_fn(chunk)
            if out.shape != chunk.shape[:1]:
                raise RecmvError(f"sdf_fn: expected values of shape [{chunk.shape[0]}], got {tuple(out.shape)}")
            values.append(out.to(points.dtype))
    return torch.cat(values) if values else points.new_zeros(0)


def extract_isosurface(
    sdf_fn: Callable[[torch.Tensor], torch.Tensor],
    bbox_min: torch.Tensor,
    bbox_max: torch.Tensor,
    resolution: int,
    level: float = 0.0,
    coarse_resolution: int = 16,
    band: float = 2.0,
    chunk_size: int = 65536,
) -> IsoSurface:
    """The level set of sdf_fn ([N, 3] -> [N]) in the box, at about `resolution` samples on its longest side."""
    bbox_min, bbox_max = torch.as_tensor(bbox_min), torch.as_tensor(bbox_max).to(bbox_min)
    if bbox_min.shape != (3,) or bbox_max.shape != (3,) or bool((bbox_max <= bbox_min).any()):
        raise RecmvError(f"bbox_min, bbox_max: expected [3] with min < max on every axis, got {bbox_min.tolist()}, {bbox_max.tolist()}")
    if resolution < 2 or coarse_resolution < 2:
        raise RecmvError(f"resolution, coarse_resolution: expected >= 2, got {resolution}, {coarse_resolution}")
    shapes = level_shapes(bbox_max - bbox_min, resolution, coarse_resolution)
    # The lattice spans whole cells from bbox_min; the last sample may sit slightly past bbox_max.
    final = shapes[-1]
    cell = float((bbox_max - bbox_min).max()) / (resolution - 1)
    high = bbox_min + cell * (torch.tensor(final, dtype=bbox_min.dtype, device=bbox_min.device) - 1)
    values = _evaluate(sdf_fn, _lattice(bbox_min, high, shapes[0]).reshape(-1, 3), chunk_size).reshape(shapes[0])
    evaluated = values.numel()
    for index in range(1, len(shapes)):
        coarse_cell = cell * 2 ** (len(shapes) - index)
        upsampled = F.interpolate(values[None, None], size=shapes[index], mode="trilinear", align_corners=True)[0, 0]
        near = (upsampled - level).abs() < band * coarse_cell * math.sqrt(3.0)
        points = _lattice(bbox_min, high, shapes[index])[near]
        upsampled[near] = _evaluate(sdf_fn, points, chunk_size)
        evaluated += points.shape[0]
        values = upsampled
    grid_points = math.prod(final)
    array = values.detach().cpu().numpy()
    if not (array.min() < level < array.max()):
        empty = bbox_min.new_zeros(0, 3)
        return IsoSurface(empty, torch.zeros(0, 3, dtype=torch.long, device=bbox_min.device), evaluated, grid_points)
    vertices, faces, _, _ = measure.marching_cubes(array, level=level, spacing=(cell, cell, cell), gradient_direction="ascent")
    vertices = torch.from_numpy(np.ascontiguousarray(vertices)).to(bbox_min) + bbox_min
    # skimage's "ascent" winding makes normals point towards increasing values when axes are (x, y, z).
    faces = torch.from_numpy(np.ascontiguousarray(faces[:, ::-1])).long().to(bbox_min.device)
    return IsoSurface(vertices, faces, evaluated, grid_points)
