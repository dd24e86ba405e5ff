"""Elliptic cross-sections of the trunk and legs over height: the shape skirts and tubes hang on."""

from __future__ import annotations

import numpy as np
import scipy.ndimage
import trimesh

from recmv.errors import RecmvError
from recmv.templates.body_geometry import BodyGeometry, arm_cut
from recmv.templates.cutting import component_at, cut_mesh
from recmv.templates.fields import EllipseProfile, superellipse_radius

# The arms come off the body along armhole planes this share of the arm length from the shoulder.
_ARMHOLE_SHARE = 0.05


def trunk_points(body: BodyGeometry, spacing: float) -> np.ndarray:
    """[N, 3] points, at most `spacing` apart, on the body surface without its arms."""
    vertices, faces = body.vertices_np(), body.faces_np()
    for side in ("left", "right"):
        cut = arm_cut(body, side, _ARMHOLE_SHARE, tilt=1.0, name=f"{side}_armhole")
        vertices, faces = cut_mesh(vertices, faces, cut, snap=0.0)
    vertices, faces = component_at(vertices, faces, body.landmark("pelvis"))
    dense, _ = trimesh.remesh.subdivide_to_size(vertices, faces, max_edge=spacing, max_iter=20)
    return np.asarray(dense)


def _bin_ellipses(points: np.ndarray, heights: np.ndarray, half_width: float, centre_x: float) -> tuple:
    """Per height: centre z [H], and semi-axes [H, 2] of the smallest axis-aligned ellipse of fixed
    aspect (the points' x and z half-extents) around (centre_x, centre z) holding the slab's points."""
    centre_z = np.full(len(heights), np.nan)
    semi = np.full((len(heights), 2), np.nan)
    for index, y in enumerate(heights):
        slab = points[np.abs(points[:, 1] - y) <= half_width]
        if len(slab) < 3:
            continue
        centre_z[index] = 0.5 * (slab[:, 2].min() + slab[:, 2].max())
        offsets = np.abs(np.stack([slab[:, 0] - centre_x, slab[:, 2] - centre_z[index]], axis=-1))
        extent = np.maximum(offsets.max(axis=0), 1.0e-3)
        scale = superellipse_radius(offsets[:, 0] / extent[0], offsets[:, 1] / extent[1]).max()
        semi[index] = extent * scale
    filled = ~np.isnan(centre_z)
    if not filled.any():
        raise RecmvError("the body has no trunk points at the garment's heights")
    for column in (centre_z, semi[:, 0], semi[:, 1]):
        column[~filled] = np.interp(heights[~filled], heights[filled], column[filled])
    return centre_z, semi


def trunk_profile(
    points: np.ndarray,
    heights: np.ndarray,
    centre_x: float,
    hip_height: float,
    looseness: float,
    flare: float,
) -> EllipseProfile:
    """Ellipses holding the trunk and legs (points [N, 3]) `looseness` out, at increasing heights [H].

    Below `hip_height` the ellipse keeps its centre, never narrows going down (a skirt hangs from
    the hips, around both legs) and widens by `flare` metres per metre of drop.
    """
    step = float(heights[1] - heights[0])
    centre_z, semi = _bin_ellipses(points, heights, step, centre_x)
    below = heights < hip_height
    if below.any():
        hip_index = int(np.nonzero(~below)[0][0]) if (~below).any() else len(heights) - 1
        centre_z[below] = centre_z[hip_index]
        _, low_semi = _bin_ellipses(points[points[:, 1] < heights[hip_index] + step], heights, step, centre_x)
        # Running maximum from the hips downwards (heights increase, so run it over the reversed rows).
        hanging = np.maximum.accumulate(np.maximum(low_semi, semi[hip_index])[below][::-1], axis=0)[::-1]
        semi[below] = hanging + flare * (hip_height - heights[below])[:, None]
    # A running maximum over neighbouring rows and then a mean over fewer rows: smooth, never tighter.
    semi = scipy.ndimage.maximum_filter1d(semi, size=3, axis=0, mode="nearest")
    semi = scipy.ndimage.uniform_filter1d(semi, size=3, axis=0, mode="nearest")
    centres = np.stack([np.full(len(heights), centre_x), scipy.ndimage.uniform_filter1d(centre_z, 5, mode="nearest")], 1)
    return EllipseProfile(heights=heights, centres=centres, semi_axes=semi + looseness)
