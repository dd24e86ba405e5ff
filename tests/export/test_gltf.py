"""The animated GLB loads back with trimesh, with every frame of every track."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import trimesh

from recmv.errors import RecmvError
from recmv.export.gltf import Track, write_glb


def _tracks(frames: int) -> list[Track]:
    box = trimesh.creation.box()
    sphere = trimesh.creation.icosphere(subdivisions=1)
    shift = np.arange(frames)[:, None, None] * np.array([0.1, 0.0, 0.0])
    return [
        Track("skirt", np.asarray(box.vertices)[None] + shift, np.asarray(box.faces), (1.0, 0.0, 0.0, 1.0)),
        Track("body", np.asarray(sphere.vertices)[None] * (1 + 0.05 * np.arange(frames))[:, None, None], np.asarray(sphere.faces), (0.5, 0.5, 0.5, 1.0)),
    ]


def test_glb_loads_back_with_every_frame(tmp_path):
    tracks = _tracks(frames=5)
    path = write_glb(tmp_path / "subject.glb", tracks, fps=10.0)
    scene = trimesh.load(path, force="scene")
    assert len(scene.geometry) == 10
    for track in tracks:
        for frame in range(5):
            (name,) = [n for n in scene.geometry if n.startswith(f"{track.name}_{frame:06d}")]
            mesh = scene.geometry[name]
            np.testing.assert_allclose(np.asarray(mesh.vertices), track.frames[frame], atol=1e-6)
            np.testing.assert_array_equal(np.asarray(mesh.faces), track.faces)
    # The animation: one STEP scale channel per node, 5 keys at 0.1 s.
    raw = path.read_bytes()
    length = struct.unpack("<I", raw[12:16])[0]
    document = json.loads(raw[20 : 20 + length])
    (animation,) = document["animations"]
    assert len(animation["channels"]) == 10
    assert {c["target"]["path"] for c in animation["channels"]} == {"scale"}
    times = document["accessors"][animation["samplers"][0]["input"]]
    assert times["count"] == 5 and times["max"] == [pytest.approx(0.4)]


def test_tracks_of_different_lengths_are_refused(tmp_path):
    tracks = _tracks(frames=3)
    tracks[1].frames = tracks[1].frames[:2]
    with pytest.raises(RecmvError, match="same number of frames"):
        write_glb(tmp_path / "bad.glb", tracks)
