"""The guarantees every garment template keeps, as one checking function (shared by the tests and the
offline sweep), and synth-style random garment parameters."""

from __future__ import annotations

import numpy as np

from recmv.geometry.proximity import closest_points
from recmv.tables import CURVES_BOUNDING
from recmv.templates.body_geometry import BodyGeometry
from recmv.templates.cutting import components
from recmv.templates.garments import GarmentParams, GarmentTemplate

UPPER = ("short_sleeve_upper", "long_sleeve_upper", "no_sleeve_upper")
# What recmv synth adds to an upper garment's looseness over the lower one's when both are worn.
LAYER_GAP = 0.012


def synth_params(kind: str, rng: np.random.Generator, resolution: float, layered: bool) -> GarmentParams:
    """Defaults varied like `recmv synth` does: each float field but resolution times U(0.85, 1.15);
    `layered` upper garments get the looseness of one worn over a randomised lower garment."""
    params = GarmentParams.defaults(kind)
    for name, value in vars(params).items():
        if isinstance(value, float) and name != "resolution":
            setattr(params, name, float(value * rng.uniform(0.85, 1.15)))
    params.resolution = resolution
    if layered and kind in UPPER:
        lower = GarmentParams.defaults("long_pants").looseness * rng.uniform(0.85, 1.15)
        params.looseness = max(params.looseness, lower + LAYER_GAP)
    return params


def smallest_angle_degrees(template: GarmentTemplate) -> float:
    return float(np.degrees(template.to_trimesh().face_angles.min()))


def check_template(template: GarmentTemplate, body: BodyGeometry, params: GarmentParams) -> None:
    """Assert every guarantee of a garment template (AssertionError naming the one broken)."""
    mesh = template.to_trimesh()
    edges = np.sort(mesh.faces[:, [[0, 1], [1, 2], [2, 0]]].reshape(-1, 2), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert counts.max() == 2, "edge-manifold"
    assert (counts == 1).any(), "the garment must be open"
    assert mesh.is_winding_consistent, "consistently oriented"
    assert len(components(mesh.vertices, mesh.faces)) == 1, "one piece"
    assert tuple(template.boundaries) == CURVES_BOUNDING[template.kind]
    trimesh_loops = sorted(sorted(set(entity.points.tolist())) for entity in mesh.outline().entities)
    named_loops = sorted(sorted(loop.tolist()) for loop in template.boundaries.values())
    assert trimesh_loops == named_loops, "the named loops are the boundary loops"
    resolution = params.resolution
    for loop in template.boundaries.values():
        assert len(set(loop.tolist())) == len(loop), "a loop visits each vertex once"
        steps = mesh.vertices[loop.numpy()] - mesh.vertices[np.roll(loop.numpy(), 1)]
        assert np.linalg.norm(steps, axis=1).max() < 3.0 * resolution, "consecutive loop vertices are neighbours"
    points = template.vertices.double()
    closest = closest_points(body.vertices.double(), body.faces, points)
    distance = closest.signed_distance(points)
    assert float(distance.min()) > 0.5 * params.looseness, f"outside the body: {float(distance.min()):.4f}"
    lengths = mesh.edges_unique_length
    assert 0.7 * resolution < lengths.mean() < 1.3 * resolution, f"mean edge {lengths.mean():.4f}"
    assert lengths.max() < 2.5 * resolution, f"longest edge {lengths.max():.4f}"
    angle = smallest_angle_degrees(template)
    assert angle > 10.0, f"smallest angle {angle:.2f}°"
