"""A disk cache of procedural garment templates, keyed by everything that decides them.

Building a template (signed-distance field of the body, isosurface, cuts, relaxation) takes seconds
per garment, and every `recmv fit`, large-motion phase, `recmv extract` and template baseline of a
subject builds the same ones again. `garment_template` builds a template once and reads it back
afterwards. The key hashes the garment type, its parameters, the canonical body (vertices, faces,
joints, landmarks) and the source code of the packages that build it, so an edited builder or another
body never meets a stale entry.

Location: $RECMV_TEMPLATE_CACHE, else templates/ in recmv's cache folder ($RECMV_CACHE_DIR, else
~/.cache/recmv, shared with Anny's model data); RECMV_TEMPLATE_CACHE="" turns the cache off. Entries
are written atomically; one that cannot be read is rebuilt.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
import zipfile
from pathlib import Path

import numpy as np
import torch

from recmv import fileio
from recmv.templates.body_geometry import BodyGeometry
from recmv.templates.garments import GarmentParams, GarmentTemplate, build_garment

log = logging.getLogger(__name__)

CACHE_ENV = "RECMV_TEMPLATE_CACHE"
_BUILDER_PACKAGES = ("templates", "geometry")
"""recmv sub-packages whose source decides a template."""


def cache_dir() -> Path | None:
    """The template cache folder, or None when RECMV_TEMPLATE_CACHE is set empty."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen is not None:
        return Path(chosen) if chosen else None
    return fileio.cache_root() / "templates"


@functools.lru_cache(maxsize=1)
def builder_digest() -> str:
    """sha256 of the source files of the packages that build templates."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for package in _BUILDER_PACKAGES:
        for path in sorted((root / package).glob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def template_key(kind: str, body: BodyGeometry, params: GarmentParams) -> str:
    """Hex digest of the garment type, its parameters, the body and the builder's source."""
    digest = hashlib.sha256()
    digest.update(builder_digest().encode())
    digest.update(json.dumps([kind, dataclasses.asdict(params)], sort_keys=True, default=str).encode())
    for tensor in (body.vertices, body.faces, body.joints, *(body.landmarks[n] for n in sorted(body.landmarks))):
        digest.update(np.ascontiguousarray(tensor.detach().cpu().numpy()).tobytes())
    return digest.hexdigest()


def garment_template(kind: str, body: BodyGeometry, params: GarmentParams | None = None) -> GarmentTemplate:
    """`build_garment(kind, body, params)`, read from the cache when it was built before."""
    params = params if params is not None else GarmentParams.defaults(kind)
    folder = cache_dir()
    if folder is None:
        return build_garment(kind, body, params)
    path = folder / f"{kind}-{template_key(kind, body, params)[:32]}.npz"
    if path.is_file():
        try:
            return _read_template(path, kind)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
            log.warning("%s: unreadable cached template (%s); building it again", path, error)
    template = build_garment(kind, body, params)
    try:
        _write_template(path, template)
    except OSError as error:  # a read-only or full cache costs time, never the run
        log.warning("%s: cannot write the template cache (%s)", path, error)
    return template


def _write_template(path: Path, template: GarmentTemplate) -> None:
    loops = {f"loop_{name}": loop.numpy() for name, loop in template.boundaries.items()}
    fileio.write_npz(path, vertices=template.vertices.numpy(), faces=template.faces.numpy(), **loops)


def _read_template(path: Path, kind: str) -> GarmentTemplate:
    with np.load(path) as data:
        boundaries = {name[len("loop_"):]: torch.from_numpy(data[name]) for name in data.files if name.startswith("loop_")}
        return GarmentTemplate(
            kind=kind,
            vertices=torch.from_numpy(data["vertices"]),
            faces=torch.from_numpy(data["faces"]),
            boundaries=boundaries,
        )
