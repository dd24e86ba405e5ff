"""Versioned, atomic checkpoints of a fit, and the checks that refuse a foreign one.

A checkpoint holds everything the loop needs to continue exactly: network and frame parameters,
optimiser and scheduler states, the explicit marching-cubes meshes with their SGD state, and the
iteration. Random draws are seeded from (seed, iteration), so no generator state is needed.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import torch

from recmv.errors import InputFileError
from recmv.fileio import atomic_path

CHECKPOINT_VERSION = 2
"""2: one code table per garment (`frames.garment_codes.G`) instead of one `frames.codes` table."""
FORMAT_NAME = "recmv-fit-checkpoint"


def save_checkpoint(path: str | Path, payload: dict) -> None:
    """Write payload (tensors, state dicts, plain data) with a format header, atomically."""
    record = {"format": FORMAT_NAME, "version": CHECKPOINT_VERSION, **payload}
    buffer = io.BytesIO()
    torch.save(record, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def load_checkpoint(path: str | Path, expected: dict) -> dict:
    """Read a checkpoint and check it belongs to this run.

    expected: header fields that must match exactly (for example garments, frame count, network
    configs); each mismatch is named in the error.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no checkpoint here (nothing to resume)")
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, ValueError, OSError, pickle.UnpicklingError, zipfile.BadZipFile) as error:
        raise InputFileError(path, f"not a readable checkpoint, it may be truncated or corrupt ({error})") from error
    if not isinstance(record, dict) or record.get("format") != FORMAT_NAME:
        raise InputFileError(path, "not a recmv fit checkpoint")
    if record.get("version") != CHECKPOINT_VERSION:
        raise InputFileError(
            path, f"checkpoint format version {record.get('version')}, this recmv reads version {CHECKPOINT_VERSION}"
        )
    mismatched = [key for key, value in expected.items() if record.get(key) != value]
    if mismatched:
        details = "; ".join(f"{key}: checkpoint {record.get(key)!r}, run {expected[key]!r}" for key in mismatched)
        raise InputFileError(path, f"checkpoint is from a different run ({details})")
    return record
