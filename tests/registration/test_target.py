"""The visibility filter drops hidden surfaces; caps past a curve are found."""

from __future__ import annotations

import numpy as np
import trimesh

from recmv.registration.target import faces_past_curves, submesh, visible_faces


def test_a_sphere_inside_another_is_not_visible():
    outer = trimesh.creation.icosphere(subdivisions=3, radius=0.3)
    inner = trimesh.creation.icosphere(subdivisions=2, radius=0.1)
    vertices = np.concatenate([outer.vertices, inner.vertices])
    faces = np.concatenate([outer.faces, inner.faces + len(outer.vertices)])
    keep = visible_faces(vertices, faces, spacing=0.01)
    assert keep[: len(outer.faces)].all()
    assert not keep[len(outer.faces) :].any()
    kept_vertices, kept_faces = submesh(vertices, faces, keep)
    assert len(kept_faces) == len(outer.faces) and len(kept_vertices) == len(outer.vertices)


def test_faces_past_a_curve_are_the_cap_beyond_it():
    cylinder = trimesh.creation.cylinder(radius=0.1, height=0.6, sections=48)
    vertices, faces = np.asarray(cylinder.vertices), np.asarray(cylinder.faces)
    angle = np.linspace(0, 2 * np.pi, 60, endpoint=False)
    rim = np.stack([0.1 * np.cos(angle), 0.1 * np.sin(angle), np.full(60, 0.2)], axis=1)
    past = faces_past_curves(vertices, faces, [rim], middle=np.zeros(3))
    centres = vertices[faces].mean(axis=1)
    np.testing.assert_array_equal(past, centres[:, 2] > 0.2)
