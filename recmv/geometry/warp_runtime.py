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


def warp_mesh(vertices, faces, device: str, winding_number: bool = False):
    """A warp BVH mesh of torch vertices [V, 3] and faces [F, 3] on a warp device."""
    import torch

    wp = load_warp()
    return wp.Mesh(
        points=wp.array(vertices.detach().float().contiguous().cpu().numpy(), dtype=wp.vec3, device=device),
        indices=wp.array(
            faces.detach().to(torch.int32).reshape(-1).contiguous().cpu().numpy(), dtype=wp.int32, device=device
        ),
        support_winding_number=winding_number,
    )


def warp_vectors(points, device: str):
    """A warp vec3 array of torch points [N, 3]."""
    wp = load_warp()
    return wp.array(points.detach().float().contiguous().cpu().numpy(), dtype=wp.vec3, device=device)
