"""Signed distance fields on regular grids: the body offset, elliptic skirts, closing, marching cubes.

Every field is negative inside the garment solid, zero on its surface and close to a true
distance near the surface, so that offsets and projections onto the surface behave.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.ndimage
import torch
from skimage.measure import marching_cubes

from recmv.geometry.proximity import closest_points


@dataclass(frozen=True)
class Grid:
    """A regular grid: node (i, j, k) sits at origin + spacing * (i, j, k); shape (nx, ny, nz)."""

    origin: np.ndarray
    spacing: float
    shape: tuple[int, int, int]

    @classmethod
    def around(cls, low: np.ndarray, high: np.ndarray, spacing: float) -> Grid:
        """The grid covering the box [low, high] (each [3])."""
        shape = tuple(int(n) for n in np.ceil((high - low) / spacing).astype(int) + 1)
        return cls(origin=np.asarray(low, dtype=np.float64), spacing=float(spacing), shape=shape)

    def points(self) -> np.ndarray:
        """[nx * ny * nz, 3] node positions, x slowest."""
        axes = [self.origin[d] + self.spacing * np.arange(self.shape[d]) for d in range(3)]
        return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)

    def axis(self, dim: int) -> np.ndarray:
        """[n] node coordinates along one axis."""
        return self.origin[dim] + self.spacing * np.arange(self.shape[dim])


def mesh_signed_distance(vertices: np.ndarray, faces: np.ndarray, points: np.ndarray) -> np.ndarray:
    """[N] signed distance of points [N, 3] to a closed outward-oriented mesh, negative inside."""
    closest = closest_points(
        torch.from_numpy(vertices), torch.from_numpy(faces), torch.from_numpy(points), max_distance=1.0e3, sign="winding"
    )
    return closest.signed_distance(torch.from_numpy(points)).numpy().astype(np.float64)


# Exponent of the superellipse |x/a|^p + |z/b|^p = 1 of the hanging garments' cross-sections: a
# rounded rectangle, which holds the boxy trunk more snugly than an ellipse (p = 2).
SQUARENESS = 4.0


def superellipse_radius(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """[N] the p-norm (p = SQUARENESS) of (u, v) [N] each, 1 on the superellipse."""
    return (np.abs(u) ** SQUARENESS + np.abs(v) ** SQUARENESS) ** (1.0 / SQUARENESS)


@dataclass(frozen=True)
class EllipseProfile:
    """Superelliptic cross-sections around a vertical axis, tabulated over height.

    heights: [H] increasing y; centres: [H, 2] (x, z) of the ellipse centre; semi_axes: [H, 2]
    semi-axes along x and z.
    """

    heights: np.ndarray
    centres: np.ndarray
    semi_axes: np.ndarray

    def at(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Centres [N, 2] and semi-axes [N, 2] at heights y [N] (linear between table rows)."""
        centres = np.stack([np.interp(y, self.heights, self.centres[:, d]) for d in range(2)], axis=-1)
        semi = np.stack([np.interp(y, self.heights, self.semi_axes[:, d]) for d in range(2)], axis=-1)
        return centres, semi


def ellipse_field(points: np.ndarray, profile: EllipseProfile, bottom: float, top: float) -> np.ndarray:
    """[N] approximate signed distance to a solid of superelliptic slices, from height `bottom` up.

    Above `top` the slices shrink by one metre of semi-axis per metre of height (a 45° cone), so the
    solid merges smoothly into whatever it is joined with there. Within a slice the value is
    (q - 1) / |grad q| with q the superelliptic radius: a first-order distance, exact at the surface.
    """
    centres, semi = profile.at(np.minimum(points[:, 1], top))
    semi = np.maximum(semi - np.maximum(points[:, 1] - top, 0.0)[:, None], 1.0e-3)
    u = np.abs(points[:, 0] - centres[:, 0]) / semi[:, 0]
    v = np.abs(points[:, 2] - centres[:, 1]) / semi[:, 1]
    radius = superellipse_radius(u, v)
    # |grad radius| for the p-norm radius: (u^(p-1) / a, v^(p-1) / b) / radius^(p-1).
    p = SQUARENESS
    scale = np.maximum(radius, 1.0e-9) ** (p - 1)
    gradient = np.hypot(u ** (p - 1) / semi[:, 0], v ** (p - 1) / semi[:, 1]) / scale
    sideways = (radius - 1.0) / np.maximum(gradient, 1.0e-9)
    return np.maximum(sideways, bottom - points[:, 1])


def isosurface(grid: Grid, values: np.ndarray, level: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The closed surface {values = level} of a grid field [nx * ny * nz], faces facing increasing values.

    The field is padded with an outside layer so that parts leaving the grid are capped, not open.
    """
    volume = values.reshape(grid.shape)
    outside = max(float(volume.max()), level + grid.spacing)
    padded = np.pad(volume, 1, mode="constant", constant_values=outside)
    vertices, faces, _, _ = marching_cubes(padded, level=level, spacing=(grid.spacing,) * 3, allow_degenerate=False)
    vertices = vertices.astype(np.float64) + grid.origin - grid.spacing
    faces = faces.astype(np.int64)
    if _signed_volume(vertices, faces) < 0.0:
        faces = faces[:, ::-1].copy()
    return vertices, faces


def _signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    triangles = vertices[faces]
    return float(np.einsum("ij,ij->i", triangles[:, 0], np.cross(triangles[:, 1], triangles[:, 2])).sum() / 6.0)


def closing(grid: Grid, values: np.ndarray, radius: float) -> np.ndarray:
    """[N] the field of the solid {values < 0} morphologically closed by a ball of `radius`.

    Dilating by the radius (the level set {values = radius}) and eroding back by it (its inward
    offset) fills creases and gaps narrower than about twice the radius and rounds concave corners,
    and never removes material.
    """
    if radius <= 0.0:
        return values
    dilated_vertices, dilated_faces = isosurface(grid, values, level=radius)
    return mesh_signed_distance(dilated_vertices, dilated_faces, grid.points()) + radius


class FieldSampler:
    """Trilinear samples of a grid field and its gradient."""

    def __init__(self, grid: Grid, values: np.ndarray):
        self.grid = grid
        self.volume = values.reshape(grid.shape)
        self.gradient_volumes = np.gradient(self.volume, grid.spacing)

    def _coordinates(self, points: np.ndarray) -> np.ndarray:
        return ((points - self.grid.origin) / self.grid.spacing).T

    def value(self, points: np.ndarray) -> np.ndarray:
        """[N] field values at points [N, 3]."""
        return scipy.ndimage.map_coordinates(self.volume, self._coordinates(points), order=1, mode="nearest")

    def gradient(self, points: np.ndarray) -> np.ndarray:
        """[N, 3] field gradients at points [N, 3]."""
        coordinates = self._coordinates(points)
        return np.stack(
            [scipy.ndimage.map_coordinates(g, coordinates, order=1, mode="nearest") for g in self.gradient_volumes],
            axis=-1,
        )

    def project(self, points: np.ndarray, iterations: int = 3) -> np.ndarray:
        """Points [N, 3] moved onto the zero level set by Newton steps along the gradient.

        Each step is at most half a grid spacing long: where the gradient is weak (the field's
        ridges, e.g. between the legs) a full Newton step would throw a point onto another part
        of the surface.
        """
        longest = 0.5 * self.grid.spacing
        for _ in range(iterations):
            gradient = self.gradient(points)
            squared = np.maximum(np.einsum("ij,ij->i", gradient, gradient), 1.0e-12)
            step = -(self.value(points) / squared)[:, None] * gradient
            length = np.linalg.norm(step, axis=1, keepdims=True)
            points = points + step * np.minimum(1.0, longest / np.maximum(length, 1.0e-300))
        return points
