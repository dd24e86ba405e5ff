"""Procedural garment templates: clean open meshes, named boundary loops, parameters that act."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
import trimesh

from recmv.errors import RecmvError
from recmv.geometry.proximity import closest_points
from recmv.tables import CURVES_BOUNDING, GARMENT_TYPES
from recmv.templates.cutting import PlaneCut, boundary_loops, components, cut_mesh
from recmv.templates.garments import GarmentParams, GarmentTemplate, build_garment
from tests.templates.fixtures import anny_geometry

RESOLUTION = 0.025


def coarse(kind: str, **changes: float) -> GarmentParams:
    params = GarmentParams.defaults(kind)
    params.resolution = RESOLUTION
    for name, value in changes.items():
        setattr(params, name, value)
    return params


@functools.lru_cache(maxsize=None)
def garment(kind: str) -> GarmentTemplate:
    return build_garment(kind, anny_geometry(), coarse(kind))


def signed_distance_to_body(points: torch.Tensor) -> torch.Tensor:
    body = anny_geometry()
    closest = closest_points(body.vertices.double(), body.faces, points.double())
    return closest.signed_distance(points.double())


@pytest.mark.parametrize("kind", GARMENT_TYPES)
def test_open_edge_manifold_and_consistently_oriented(kind):
    mesh = garment(kind).to_trimesh()
    edges = np.sort(mesh.faces[:, [[0, 1], [1, 2], [2, 0]]].reshape(-1, 2), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert counts.max() == 2
    assert (counts == 1).any(), "the garment must be open"
    assert mesh.is_winding_consistent
    assert len(components(mesh.vertices, mesh.faces)) == 1


@pytest.mark.parametrize("kind", GARMENT_TYPES)
def test_boundary_loops_are_exactly_the_named_curves(kind):
    template = garment(kind)
    assert tuple(template.boundaries) == CURVES_BOUNDING[kind]
    mesh = template.to_trimesh()
    outline = mesh.outline()
    trimesh_loops = sorted(sorted(set(entity.points.tolist())) for entity in outline.entities)
    named_loops = sorted(sorted(loop.tolist()) for loop in template.boundaries.values())
    assert trimesh_loops == named_loops
    for loop in template.boundaries.values():
        assert len(set(loop.tolist())) == len(loop), "a loop visits each vertex once"
        steps = mesh.vertices[loop.numpy()] - mesh.vertices[np.roll(loop.numpy(), 1)]
        assert np.linalg.norm(steps, axis=1).max() < 3.0 * RESOLUTION, "consecutive loop vertices are neighbours"


@pytest.mark.parametrize("kind", GARMENT_TYPES)
def test_outside_the_body_facing_away_from_it(kind):
    template = garment(kind)
    looseness = GarmentParams.defaults(kind).looseness
    distance = signed_distance_to_body(template.vertices)
    assert distance.min() > 0.5 * looseness
    mesh = template.to_trimesh()
    centres = torch.tensor(mesh.triangles_center)
    body = anny_geometry()
    outward = centres - closest_points(body.vertices.double(), body.faces, centres).points
    facing = (torch.tensor(mesh.face_normals) * outward).sum(dim=1)
    assert (facing > 0).double().mean() > 0.97


@pytest.mark.parametrize("kind", GARMENT_TYPES)
def test_even_triangles(kind):
    mesh = garment(kind).to_trimesh()
    lengths = mesh.edges_unique_length
    assert 0.7 * RESOLUTION < lengths.mean() < 1.3 * RESOLUTION
    assert lengths.max() < 2.5 * RESOLUTION
    assert np.degrees(mesh.face_angles.min()) > 10.0


def _loop_centroid(template: GarmentTemplate, name: str) -> np.ndarray:
    return template.vertices[template.boundaries[name]].double().mean(dim=0).numpy()


def test_longer_sleeves_put_the_cuff_further_from_the_shoulder():
    body = anny_geometry()
    shoulder = body.landmark("left_shoulder")
    reach = [
        np.linalg.norm(_loop_centroid(build_garment("short_sleeve_upper", body, coarse("short_sleeve_upper", sleeve_length=share)), "left_cuff") - shoulder)
        for share in (0.25, 0.45)
    ]
    assert reach[1] > reach[0] + 0.05


def test_more_flare_widens_the_hem():
    body = anny_geometry()
    radii = []
    for flare in (0.1, 0.4):
        template = build_garment("skirt", body, coarse("skirt", flare=flare))
        hem = template.vertices[template.boundaries["bottom_curve"]].double().numpy()
        radii.append(np.linalg.norm(hem[:, [0, 2]] - _loop_centroid(template, "bottom_curve")[[0, 2]], axis=1).mean())
    # The hem is about 0.3 m below the hips: 0.3 more flare is about 9 cm more radius.
    assert radii[1] > radii[0] + 0.05


def test_more_looseness_moves_the_garment_away_from_the_body():
    body = anny_geometry()
    mean_distance = [
        float(signed_distance_to_body(build_garment("long_pants", body, coarse("long_pants", looseness=value)).vertices).mean())
        for value in (0.015, 0.04)
    ]
    assert mean_distance[1] > mean_distance[0] + 0.015


def test_save_and_load_round_trip(tmp_path):
    template = garment("dress")
    obj_path = template.save(tmp_path / "dress")
    assert obj_path == tmp_path / "dress" / "canonical.obj"
    loaded = GarmentTemplate.load(tmp_path / "dress")
    assert loaded.kind == "dress"
    assert torch.equal(loaded.vertices, template.vertices)
    assert torch.equal(loaded.faces, template.faces)
    assert loaded.boundaries.keys() == template.boundaries.keys()
    for name, loop in template.boundaries.items():
        assert torch.equal(loaded.boundaries[name], loop)
    elsewhere = template.save(tmp_path / "any" / "mesh.obj")
    assert torch.equal(GarmentTemplate.load(elsewhere, kind="dress").vertices, template.vertices)


def test_load_rejects_loops_of_another_garment(tmp_path):
    garment("tube").save(tmp_path / "skirt")
    with pytest.raises(RecmvError, match="boundaries.json"):
        GarmentTemplate.load(tmp_path / "skirt")


def test_deterministic():
    first = build_garment("short_pants", anny_geometry(), coarse("short_pants"))
    second = build_garment("short_pants", anny_geometry(), coarse("short_pants"))
    assert torch.equal(first.vertices, second.vertices)
    assert torch.equal(first.faces, second.faces)
    for name in first.boundaries:
        assert torch.equal(first.boundaries[name], second.boundaries[name])


def test_unknown_garment_type_is_refused():
    with pytest.raises(RecmvError, match="unknown garment type"):
        GarmentParams.defaults("poncho")
    with pytest.raises(RecmvError, match="unknown garment type"):
        build_garment("poncho", anny_geometry())


def test_cut_opens_only_the_loop_around_its_centre():
    # Two unit spheres 3 m apart; a plane x = 0.5 crosses only the first, x = 3.5 only the second.
    sphere = trimesh.creation.icosphere(subdivisions=3)
    vertices = np.concatenate([sphere.vertices, sphere.vertices + [3.0, 0.0, 0.0]])
    faces = np.concatenate([sphere.faces, sphere.faces + len(sphere.vertices)])
    cut = PlaneCut("cap", np.array([0.5, 0.0, 0.0]), np.array([1.0, 0.0, 0.0]))
    cut_vertices, cut_faces = cut_mesh(vertices, faces, cut, snap=0.02)
    loops = boundary_loops(cut_faces)
    assert len(loops) == 2 and len(components(cut_vertices, cut_faces)) == 3
    for loop in loops:
        points = cut_vertices[loop]
        np.testing.assert_allclose(points[:, 0], 0.5, atol=1e-12)
        # A plane 0.5 from the centre meets the unit sphere in a circle of radius sqrt(0.75).
        np.testing.assert_allclose(np.linalg.norm(points[:, 1:], axis=1), np.sqrt(0.75), atol=0.02)
    # The second sphere is untouched.
    assert (cut_vertices[:, 0] > 1.5).sum() == len(sphere.vertices)


def test_cut_refuses_a_plane_that_misses_the_surface():
    sphere = trimesh.creation.icosphere(subdivisions=2)
    cut = PlaneCut("far", np.array([5.0, 0.0, 0.0]), np.array([1.0, 0.0, 0.0]))
    with pytest.raises(RecmvError, match="far"):
        cut_mesh(sphere.vertices, sphere.faces, cut, snap=0.0)
