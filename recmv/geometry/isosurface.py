"""Marching cubes of an SDF given as a callable, evaluated coarse-to-fine near the surface only.

REC-MV (§4.4, `Seg3dLossless`) evaluates a coarse grid and then, level by level, only the samples near
the level set; the others take values interpolated from the coarser level, which keep the right sign
far from the surface. That is all marching cubes needs there.

Level schedule. The final grid is exactly the dense grid of the requested resolution: per axis n_i
samples at bbox_min + i * spacing, spacing = (bbox_max - bbox_min) / (n - 1), corner samples on the box
corners. Each coarser level has ceil((n - 1) / 2) + 1 samples per axis over the same box, halving until
the longest axis would drop below `coarse_resolution`. Values go from one level to the next by
trilinear upsampling onto the exact finer sample positions (`align_corners=True`), so any final
resolution works. Where a finer level has 2n - 1 samples on every axis (odd counts), the coarse samples
are finer samples too and their exact values are reused instead of evaluated again.

At each finer level a sample is evaluated when its upsampled |f - level| is below `band` coarse cell
diagonals. Then every cell whose corners straddle the level but are not all evaluated has its missing
corners evaluated, repeated until none is left: a 2x2x2 dilation (tensor ORs of shifted views) that
walks along the surface, so every triangle marching cubes emits lies between exactly evaluated values.
The band is what finds features the coarser level missed altogether (a sign change it cannot see).
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from skimage import measure

from recmv.errors import RecmvError

logger = logging.getLogger(__name__)

Shape = tuple[int, int, int]


@dataclass
class IsoSurface:
    """A triangle mesh of a level set and what it cost to find it.

    vertices: [V, 3], dtype/device of the grid box; faces: [F, 3] int64, wound so that normals point
    towards increasing SDF (outside). evaluated_points: points the SDF was called on in total;
    grid_points: point count of the dense final grid, for comparison.
    """

    vertices: torch.Tensor
    faces: torch.Tensor
    evaluated_points: int
    grid_points: int


def final_shape(extent: torch.Tensor, resolution: int | tuple[int, int, int]) -> Shape:
    """Samples per axis (x, y, z) of the final grid. extent: [3] box side lengths.

    An int gives the longest axis `resolution` samples and the others as many as keep cells ~cubic.
    """
    if isinstance(resolution, numbers.Integral):
        resolution = int(resolution)
        if resolution < 2:
            raise RecmvError(f"resolution: expected at least 2 samples on the longest axis, got {resolution}")
        ratios = (extent / extent.max()).tolist()
        return tuple(max(2, round(r * (resolution - 1)) + 1) for r in ratios)
    counts = tuple(resolution) if isinstance(resolution, (tuple, list)) else ()
    if len(counts) != 3 or any(not isinstance(n, numbers.Integral) or n < 2 for n in counts):
        raise RecmvError(
            f"resolution: expected an int or three ints (x, y, z), each at least 2, got {resolution!r}"
        )
    return tuple(int(n) for n in counts)


def level_shapes(final: Shape, coarse_resolution: int) -> list[Shape]:
    """Sample counts of every level, coarsest first, ending with `final`.

    Each coarser level has ceil((n - 1) / 2) + 1 samples per axis (n odd: every other finer sample);
    halving stops before the longest axis drops below `coarse_resolution`.
    """
    shapes = [final]
    while True:
        parent = tuple(math.ceil((n - 1) / 2) + 1 for n in shapes[0])
        if max(parent) < coarse_resolution or parent == shapes[0]:
            return shapes
        shapes.insert(0, parent)


def _spacing(low: torch.Tensor, high: torch.Tensor, shape: Shape) -> torch.Tensor:
    """[3] distance between neighbouring samples of a grid spanning the box with `shape` samples."""
    return (high - low) / (torch.tensor(shape, dtype=low.dtype, device=low.device) - 1)


def _sample_points(
    flat_indices: torch.Tensor, shape: Shape, low: torch.Tensor, spacing: torch.Tensor
) -> torch.Tensor:
    """Positions [M, 3] = low + (i, j, k) * spacing of grid samples given by flat indices [M] (int64)."""
    ny, nz = shape[1], shape[2]
    ijk = torch.stack((flat_indices // (ny * nz), (flat_indices // nz) % ny, flat_indices % nz), dim=-1)
    return low + ijk.to(low.dtype) * spacing


def _evaluate_samples(
    sdf_fn: Callable[[torch.Tensor], torch.Tensor],
    flat_indices: torch.Tensor,
    values: torch.Tensor,
    known: torch.Tensor,
    low: torch.Tensor,
    spacing: torch.Tensor,
    chunk_size: int,
) -> int:
    """Evaluate sdf_fn at the grid samples flat_indices [M] (int64), chunk by chunk without autograd,
    writing into values [X, Y, Z] and known [X, Y, Z] (bool) in place. Returns M.

    Positions are made per chunk, so a dense level never holds all its points at once.
    """
    flat_values, flat_known = values.view(-1), known.view(-1)
    with torch.no_grad():
        for chunk in flat_indices.split(chunk_size):
            out = sdf_fn(_sample_points(chunk, tuple(values.shape), low, spacing))
            if not isinstance(out, torch.Tensor) or out.shape != chunk.shape:
                got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                n = chunk.shape[0]
                raise RecmvError(f"sdf_fn: expected a tensor of shape [{n}] for points [{n}, 3], got {got}")
            if not bool(torch.isfinite(out).all()):
                raise RecmvError("sdf_fn: returned NaN or infinite values")
            flat_values[chunk] = out.to(values)
            flat_known[chunk] = True
    return flat_indices.shape[0]


def _flat_nonzero(mask: torch.Tensor) -> torch.Tensor:
    """Flat indices [M] (int64) of the set entries of a bool grid [X, Y, Z]."""
    return mask.view(-1).nonzero().squeeze(1)


def _any_in_cell(samples: torch.Tensor) -> torch.Tensor:
    """Per cell, whether any of its 8 corners is set. samples: [X, Y, Z] bool -> [X-1, Y-1, Z-1] bool.

    A 2x2x2 max-pool done as three separable ORs of shifted views: on bool tensors this is several
    times faster than max_pool3d, which needs a float copy.
    """
    for axis in range(3):
        samples = samples.narrow(axis, 0, samples.shape[axis] - 1) | samples.narrow(
            axis, 1, samples.shape[axis] - 1
        )
    return samples


def _corners_of(cells: torch.Tensor) -> torch.Tensor:
    """The corner samples of the set cells. cells: [X-1, Y-1, Z-1] bool -> [X, Y, Z] bool."""
    for axis in range(3):
        grown = list(cells.shape)
        grown[axis] += 1
        corners = cells.new_zeros(grown)
        corners.narrow(axis, 0, cells.shape[axis]).copy_(cells)
        corners.narrow(axis, 1, cells.shape[axis]).logical_or_(cells)
        cells = corners
    return cells


def _unfinished_cell_corners(values: torch.Tensor, known: torch.Tensor, level: float) -> torch.Tensor:
    """Samples [X, Y, Z] (bool) still to evaluate: corners of cells that straddle the level
    (some corner <= level and some >= level) without all their corners evaluated."""
    unfinished = _any_in_cell(values <= level) & _any_in_cell(values >= level) & _any_in_cell(~known)
    return _corners_of(unfinished) & ~known


def _upsample(values: torch.Tensor, known: torch.Tensor, shape: Shape) -> tuple[torch.Tensor, torch.Tensor]:
    """A coarser level's values [x, y, z] onto the finer grid `shape`, with the reused exact samples.

    Returns (values [X, Y, Z], known [X, Y, Z] bool).
    """
    fine = F.interpolate(values[None, None], size=shape, mode="trilinear", align_corners=True)[0, 0]
    fine_known = torch.zeros(shape, dtype=torch.bool, device=values.device)
    if all(n == 2 * m - 1 for n, m in zip(shape, values.shape)):
        fine[::2, ::2, ::2] = values
        fine_known[::2, ::2, ::2] = known
    return fine, fine_known


def _check_arguments(
    bbox_min: torch.Tensor, bbox_max: torch.Tensor, coarse_resolution: int, band: float, chunk_size: int
) -> None:
    if bbox_min.shape != (3,) or bbox_max.shape != (3,):
        shapes = f"{tuple(bbox_min.shape)} and {tuple(bbox_max.shape)}"
        raise RecmvError(f"bbox_min, bbox_max: expected shape [3] each, got {shapes}")
    finite = bool(torch.isfinite(bbox_min).all() and torch.isfinite(bbox_max).all())
    if not finite or bool((bbox_min >= bbox_max).any()):
        raise RecmvError(
            "bbox_min, bbox_max: expected finite with bbox_min < bbox_max on every axis, "
            f"got {bbox_min.tolist()} and {bbox_max.tolist()}"
        )
    if coarse_resolution < 2:
        raise RecmvError(f"coarse_resolution: expected at least 2, got {coarse_resolution}")
    if not band > 0:
        raise RecmvError(f"band: expected a positive number of coarse cell diagonals, got {band}")
    if chunk_size < 1:
        raise RecmvError(f"chunk_size: expected at least 1, got {chunk_size}")


def extract_isosurface(
    sdf_fn: Callable[[torch.Tensor], torch.Tensor],
    bbox_min: torch.Tensor,
    bbox_max: torch.Tensor,
    resolution: int | tuple[int, int, int],
    level: float = 0.0,
    coarse_resolution: int = 16,
    band: float = 2.0,
    chunk_size: int = 65536,
) -> IsoSurface:
    """The `level` set of sdf_fn in the box, by marching cubes on a coarse-to-fine evaluated grid.

    sdf_fn: points [N, 3] -> values [N], called under torch.no_grad on at most chunk_size points at a
    time. bbox_min, bbox_max: [3]; the grid's corner samples lie on the box corners, and its dtype and
    device are bbox_min's. resolution: final samples per axis (x, y, z), or an int for the longest axis
    with cells kept ~cubic. coarse_resolution: samples on the longest axis at the coarsest level. band:
    a finer sample is evaluated when its upsampled |f - level| < band * coarse cell diagonal.

    Returns an empty IsoSurface (0 vertices, 0 faces) when the values do not cross the level.
    """
    bbox_min = torch.as_tensor(bbox_min)
    if not bbox_min.is_floating_point():
        bbox_min = bbox_min.to(torch.get_default_dtype())
    bbox_max = torch.as_tensor(bbox_max).to(bbox_min)
    _check_arguments(bbox_min, bbox_max, coarse_resolution, band, chunk_size)
    shapes = level_shapes(final_shape(bbox_max - bbox_min, resolution), coarse_resolution)

    values = torch.empty(shapes[0], dtype=bbox_min.dtype, device=bbox_min.device)
    known = torch.zeros(shapes[0], dtype=torch.bool, device=bbox_min.device)
    spacing = _spacing(bbox_min, bbox_max, shapes[0])
    everything = torch.arange(values.numel(), device=values.device)
    evaluated = _evaluate_samples(sdf_fn, everything, values, known, bbox_min, spacing, chunk_size)
    for fine in shapes[1:]:
        coarse_diagonal = float(spacing.norm())
        values, known = _upsample(values, known, fine)
        spacing = _spacing(bbox_min, bbox_max, fine)
        near = ((values - level).abs() < band * coarse_diagonal) & ~known
        evaluated += _evaluate_samples(
            sdf_fn, _flat_nonzero(near), values, known, bbox_min, spacing, chunk_size
        )
        while bool((missing := _unfinished_cell_corners(values, known, level)).any()):
            evaluated += _evaluate_samples(
                sdf_fn, _flat_nonzero(missing), values, known, bbox_min, spacing, chunk_size
            )
    grid_points = math.prod(shapes[-1])
    logger.debug("isosurface: evaluated %d of %d grid points over levels %s", evaluated, grid_points, shapes)
    return _marching_cubes(values, level, bbox_min, spacing, evaluated, grid_points)


def _marching_cubes(
    values: torch.Tensor,
    level: float,
    low: torch.Tensor,
    spacing: torch.Tensor,
    evaluated: int,
    grid_points: int,
) -> IsoSurface:
    """skimage marching cubes of values [X, Y, Z] (x, y, z order) placed at low + index * spacing."""
    if not (float(values.min()) < level < float(values.max())):
        return IsoSurface(
            low.new_zeros(0, 3),
            torch.zeros(0, 3, dtype=torch.int64, device=low.device),
            evaluated,
            grid_points,
        )
    array = values.detach().cpu().numpy()
    # With the array indexed (x, y, z), skimage's default winding ("descent") gives faces whose
    # right-hand normals point towards increasing values, i.e. out of a negative-inside SDF.
    vertices, faces, _, _ = measure.marching_cubes(array, level=level, spacing=tuple(spacing.tolist()))
    vertices = low + torch.from_numpy(np.ascontiguousarray(vertices)).to(low)
    faces = torch.from_numpy(np.ascontiguousarray(faces)).to(dtype=torch.int64, device=low.device)
    return IsoSurface(vertices, faces, evaluated, grid_points)
