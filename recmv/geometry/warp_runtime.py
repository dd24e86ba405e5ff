"""One place that imports and initialises warp, quietly (its banner would mix into command output)."""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1)
def load_warp():
    """The initialised `warp` module."""
    import warp as wp

    # Warp >= 1.10 replaced `config.quiet` by `config.log_level`; both silence the module-load chatter.
    if hasattr(wp, "LOG_WARNING"):
        wp.config.log_level = wp.LOG_WARNING
    else:
        wp.config.quiet = True
    wp.init()
    return wp


def warp_device(tensor) -> str:
    """The warp device name matching a torch tensor's device."""
    return "cuda" if tensor.is_cuda else "cpu"
