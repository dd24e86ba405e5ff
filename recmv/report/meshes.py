"""Per-frame garment meshes for the report: find them, read them, and pack them compactly for the page.

A mesh folder is either `recmv extract`'s output (DIR/<garment>/<frame>.obj) or what `recmv fit` writes
into its run folder (RUN/meshes/<garment>/<frame>.obj); both hold one folder per garment.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recmv.errors import InputFileError
from recmv.geometry.mesh_io import read_mesh

FRAME_FILE = re.compile(r"^(\d{6})\.(obj|ply)$")
QUANTISATION_LEVELS = 65535
"""Positions are stored as uint16 steps of the garment's bounding box (about 30 µm on a 2 m box)."""


@dataclass
class GarmentSequence:
    """One garment over frames: vertices[i] [V_i, 3] float and faces[i] [F_i, 3] int for frames[i]."""

    name: str
    frames: list[int]
    vertices: list[np.ndarray]
    faces: list[np.ndarray]

    @property
    def shared_topology(self) -> bool:
        return all(f.shape == self.faces[0].shape and np.array_equal(f, self.faces[0]) for f in self.faces)


def frame_files(folder: Path) -> dict[int, Path]:
    """Frame index -> mesh file of a garment folder (000000.obj ...; .obj preferred over .ply)."""
    found: dict[int, Path] = {}
    for path in sorted(folder.iterdir()):
        match = FRAME_FILE.match(path.name)
        if match and (int(match.group(1)) not in found or path.suffix == ".obj"):
            found[int(match.group(1))] = path
    return found


def garment_folders(folder: Path) -> list[Path]:
    """Sub-folders of a mesh folder that hold per-frame meshes, by name."""
    if not folder.is_dir():
        raise InputFileError(folder, "missing: expected a folder with one sub-folder of per-frame meshes per garment")
    garments = [p for p in sorted(folder.iterdir()) if p.is_dir() and frame_files(p)]
    if not garments:
        raise InputFileError(folder, "no garment folder with per-frame meshes (<garment>/000000.obj ...)")
    return garments


def read_sequences(folder: Path, frames: list[int] | None = None) -> list[GarmentSequence]:
    """Every garment of a mesh folder; `frames` keeps only those frame indices."""
    sequences = []
    for garment in garment_folders(folder):
        files = frame_files(garment)
        chosen = sorted(files) if frames is None else [f for f in frames if f in files]
        meshes = [read_mesh(files[f]) for f in chosen]
        sequences.append(GarmentSequence(garment.name, chosen, [v for v, _ in meshes], [f for _, f in meshes]))
    return sequences


def quantise(vertices: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Positions of all frames as uint16 steps of their common bounding box.

    Returns origin [3], scale [3] (metres per step) and per frame [V_i, 3] uint16 with
    position ≈ origin + q · scale.
    """
    stacked = np.concatenate(vertices)
    origin = stacked.min(axis=0)
    scale = np.maximum(stacked.max(axis=0) - origin, 1e-9) / QUANTISATION_LEVELS
    steps = [np.clip(np.rint((v - origin) / scale), 0, QUANTISATION_LEVELS).astype("<u2") for v in vertices]
    return origin, scale, steps


def pack_sequence(sequence: GarmentSequence, colour: str) -> dict:
    """The JSON the viewer reads for one garment: base64 uint16 positions per frame, uint32 faces."""
    origin, scale, steps = quantise(sequence.vertices)
    faces = sequence.faces[:1] if sequence.shared_topology else sequence.faces
    return {
        "name": sequence.name,
        "colour": colour,
        "frames": sequence.frames,
        "origin": origin.tolist(),
        "scale": scale.tolist(),
        "positions": [_base64(s) for s in steps],
        "faces": [_base64(f.astype("<u4")) for f in faces],
    }


def _base64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")
