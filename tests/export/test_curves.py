"""Loops moved onto a garment's surface land on its wall, short of the cap that closes the SDF."""

from __future__ import annotations

import numpy as np
import trimesh

from recmv.export.extract import read_curves, curves_on_surface


def test_a_loop_past_a_shorter_surface_lands_on_its_rim_not_its_cap(tmp_path):
    # A closed cylinder (radius 0.1, z in [-0.2, 0.2]) stands for a fitted garment shorter than its
    # template, whose hem loop (radius 0.12) lies at z = -0.25, past the bottom cap.
    cylinder = trimesh.creation.cylinder(radius=0.1, height=0.4, sections=64)
    vertices, faces = np.asarray(cylinder.vertices), np.asarray(cylinder.faces)
    angle = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    hem = np.stack([0.12 * np.cos(angle), 0.12 * np.sin(angle), np.full(40, -0.25)], axis=1)
    top = hem * [1.0, 1.0, -1.0]
    curves = curves_on_surface({"hem": hem, "top": top}, vertices, faces)
    for curve in curves.values():
        np.testing.assert_allclose(np.linalg.norm(curve[:, :2], axis=1), 0.1, atol=2e-3)
        np.testing.assert_allclose(np.abs(curve[:, 2]), 0.2, atol=1e-3)
    path = tmp_path / "canonical.json"
    path.write_text('{"hem": ' + str(curves["hem"].tolist()) + "}")
    np.testing.assert_allclose(read_curves(path)["hem"], curves["hem"])


def test_only_the_named_loops_move_and_a_loop_off_the_wall_keeps_its_height():
    # A hem 2 cm outside a closed cylinder's wall (radius 0.1), above its bottom cap: a canonical surface
    # that sits inside its held curve. The top loop, also off the wall, is not named and stays.
    cylinder = trimesh.creation.cylinder(radius=0.1, height=0.4, sections=64)
    vertices, faces = np.asarray(cylinder.vertices), np.asarray(cylinder.faces)
    angle = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    hem = np.stack([0.12 * np.cos(angle), 0.12 * np.sin(angle), np.full(40, -0.15)], axis=1)
    top = hem * [1.0, 1.0, -1.0]
    curves = curves_on_surface({"hem": hem, "top": top}, vertices, faces, moved={"hem"})
    np.testing.assert_array_equal(curves["top"], top)
    np.testing.assert_allclose(np.linalg.norm(curves["hem"][:, :2], axis=1), 0.1, atol=2e-3)
    np.testing.assert_allclose(curves["hem"][:, 2], -0.15, atol=1e-6)
    # Straight in: within the half-angle of the cylinder's flat facets.
    np.testing.assert_allclose(np.arctan2(curves["hem"][:, 1], curves["hem"][:, 0]), angle - 2 * np.pi * (angle > np.pi), atol=np.pi / 64)
