"""The canonical Anny body for template tests (low-resolution topology unless asked otherwise)."""

from __future__ import annotations

import functools

from recmv.body.anny_body import AnnyBody
from recmv.templates.body_geometry import BodyGeometry


@functools.lru_cache(maxsize=2)
def anny_geometry(topology: str = "notoes_collapse5pc") -> BodyGeometry:
    """The default-shape Anny body as BodyGeometry (cached: tests must not modify it)."""
    return BodyGeometry.from_body_model(AnnyBody(topology=topology))
