"""A binary glTF 2.0 (.glb) that plays per-frame meshes: one node per mesh and frame, shown in turn.

glTF has no per-frame mesh sequence, and trimesh writes no animation, so the file is assembled here.
Each frame of each track (a garment, the body) is its own mesh node; an animation with STEP
interpolation scales every node to 1 during its frame and to 0 otherwise, which Blender, three.js and
other viewers play. The faces of a track are stored once and shared by its frames (one topology).
Only frame 0's nodes have scale 1 in the static scene, so viewers without animation show frame 0.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recmv import fileio
from recmv.errors import RecmvError

_FLOAT, _UINT = 5126, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963


@dataclass
class Track:
    """A mesh with one topology over frames. frames: [T, V, 3] positions; faces: [F, 3]; colour: RGBA in [0, 1]."""

    name: str
    frames: np.ndarray
    faces: np.ndarray
    colour: tuple[float, float, float, float]


class _Buffer:
    """The binary chunk and the bufferViews / accessors that point into it."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def add(self, array: np.ndarray, component: int, kind: str, target: int | None, bounds: bool = False) -> int:
        while len(self.data) % 4:
            self.data.append(0)
        raw = np.ascontiguousarray(array).tobytes()
        view = {"buffer": 0, "byteOffset": len(self.data), "byteLength": len(raw)}
        if target is not None:
            view["target"] = target
        self.views.append(view)
        self.data.extend(raw)
        accessor = {"bufferView": len(self.views) - 1, "componentType": component, "count": int(array.shape[0]), "type": kind}
        if bounds:
            accessor["min"] = np.asarray(array).min(axis=0).reshape(-1).tolist()
            accessor["max"] = np.asarray(array).max(axis=0).reshape(-1).tolist()
        self.accessors.append(accessor)
        return len(self.accessors) - 1


def write_glb(path: str | Path, tracks: list[Track], fps: float = 30.0) -> Path:
    """Write the tracks (all with the same number of frames T) as an animated .glb; returns the path."""
    counts = {track.frames.shape[0] for track in tracks}
    if len(counts) != 1:
        raise RecmvError(f"every track needs the same number of frames, got {sorted(counts)}")
    frame_count = counts.pop()
    buffer = _Buffer()
    meshes, nodes, materials = [], [], []
    node_of: list[list[int]] = []
    for track in tracks:
        materials.append({"name": track.name, "pbrMetallicRoughness": {"baseColorFactor": list(track.colour), "metallicFactor": 0.0, "roughnessFactor": 0.8}, "doubleSided": True})
        indices = buffer.add(track.faces.astype(np.uint32).reshape(-1), _UINT, "SCALAR", _ELEMENT_ARRAY_BUFFER)
        rows = []
        for frame in range(frame_count):
            position = buffer.add(track.frames[frame].astype(np.float32), _FLOAT, "VEC3", _ARRAY_BUFFER, bounds=True)
            meshes.append({"name": f"{track.name}_{frame:06d}", "primitives": [{"attributes": {"POSITION": position}, "indices": indices, "material": len(materials) - 1}]})
            scale = 1.0 if frame == 0 else 0.0
            nodes.append({"name": f"{track.name}_{frame:06d}", "mesh": len(meshes) - 1, "scale": [scale] * 3})
            rows.append(len(nodes) - 1)
        node_of.append(rows)
    animation = _visibility_animation(buffer, node_of, frame_count, fps) if frame_count > 1 else None
    document = {
        "asset": {"version": "2.0", "generator": "recmv extract"},
        "scene": 0,
        "scenes": [{"nodes": list(range(len(nodes)))}],
        "nodes": nodes,
        "meshes": meshes,
        "materials": materials,
        "accessors": buffer.accessors,
        "bufferViews": buffer.views,
        "buffers": [{"byteLength": len(buffer.data)}],
    }
    if animation is not None:
        document["animations"] = [animation]
    path = Path(path)
    with fileio.atomic_path(path) as tmp:
        tmp.write_bytes(_glb_bytes(document, bytes(buffer.data)))
    return path


def _visibility_animation(buffer: _Buffer, node_of: list[list[int]], frame_count: int, fps: float) -> dict:
    """Scale channels (STEP) that show node frame t only during [t / fps, (t + 1) / fps)."""
    times = buffer.add((np.arange(frame_count, dtype=np.float32) / fps), _FLOAT, "SCALAR", None, bounds=True)
    samplers, channels = [], []
    for frame in range(frame_count):
        scales = np.zeros((frame_count, 3), dtype=np.float32)
        scales[frame] = 1.0
        output = buffer.add(scales, _FLOAT, "VEC3", None)
        samplers.append({"input": times, "output": output, "interpolation": "STEP"})
        for rows in node_of:
            channels.append({"sampler": len(samplers) - 1, "target": {"node": rows[frame], "path": "scale"}})
    return {"name": "frames", "samplers": samplers, "channels": channels}


def _glb_bytes(document: dict, binary: bytes) -> bytes:
    """The GLB container: header, JSON chunk (space-padded), BIN chunk (zero-padded)."""
    text = json.dumps(document, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 4)
    binary += b"\x00" * (-len(binary) % 4)
    total = 12 + 8 + len(text) + 8 + len(binary)
    return (
        struct.pack("<4sII", b"glTF", 2, total)
        + struct.pack("<I4s", len(text), b"JSON") + text
        + struct.pack("<I4s", len(binary), b"BIN\x00") + binary
    )
