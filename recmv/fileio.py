"""Atomic file writes (a temporary file beside the target, then rename), and checked JSON reads.

A crash mid-write leaves either the old file or the new one, never a torn file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from recmv.errors import InputFileError


def cache_root() -> Path:
    """recmv's cache folder (Anny's model data, garment templates): $RECMV_CACHE_DIR, else ~/.cache/recmv."""
    root = os.environ.get("RECMV_CACHE_DIR")
    return Path(root) if root else Path.home() / ".cache" / "recmv"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto `path` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_json(path: str | os.PathLike, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def write_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array)


def write_npz(path: str | os.PathLike, **arrays: Any) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)


def read_json_object(path: str | os.PathLike, missing: str = "missing") -> dict:
    """The JSON object in path; InputFileError (with `missing` as the message when absent) otherwise."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, missing)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputFileError(path, f"not valid JSON ({error})") from error
    if not isinstance(data, dict):
        raise InputFileError(path, "expected a JSON object")
    return data
