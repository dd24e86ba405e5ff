"""Garment motion for synthetic subjects: skinning, inertia, fabric ripple, and no body penetration.

The garments follow the body by linear blend skinning with weights from the diffused skinning grid,
smoothed over the garment for hanging garments so a skirt does not split between the legs. On top:
- inertia: each vertex carries a damped spring driven by the acceleration of its skinned path, so
  loose parts lag behind and skirts flare out when the body turns;
- ripple: a travelling wave in canonical space, so the cloth moves even when the body does not;
- collision: vertices that end up inside (or within a margin of) the posed body are pushed out.
How much a vertex may move (its *freedom*, 0 to 1) grows from where the garment is held (shoulders,
waist) to its free hem.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from recmv.body.lbs import skin_points
from recmv.geometry.proximity import push_outside

HANGING_GARMENTS = ("skirt", "dress", "tube")

# Freedom of the freest vertex, per garment type: hanging garments swing, fitted ones barely lag.
MAX_FREEDOM = {
    "skirt": 1.0,
    "dress": 1.0,
    "tube": 0.5,
    "short_sleeve_upper": 0.3,
    "long_sleeve_upper": 0.3,
    "no_sleeve_upper": 0.3,
    "long_pants": 0.25,
    "short_pants": 0.25,
}


@dataclass
class DynamicsParams:
    """Knobs of the garment motion model (per-frame units)."""

    inertia: float = 0.7
    """How strongly a vertex resists the acceleration of its skinned path (0 = glued to skinning)."""
    stiffness: float = 0.2
    """Spring constant pulling a displaced vertex back to its skinned position, per frame²."""
    damping: float = 0.3
    """Share of the spring velocity lost per frame."""
    ripple_amplitude: float = 0.006
    """Amplitude of the fabric ripple at the freest vertex, metres."""
    ripple_period: float = 20.0
    """Period of the ripple, frames."""
    body_margin: float = 0.004
    """Minimum distance between garment and body surface, metres."""
    weight_smoothing_iterations: int = 30
    """Laplacian smoothing passes on the skinning weights of hanging garments."""


def garment_freedom(canonical_vertices: torch.Tensor, kind: str, hip_height: float) -> torch.Tensor:
    """[V] how freely each vertex moves, 0 where the garment is held to 1 at its free hem.

    Args:
        canonical_vertices: [V, 3] garment vertices in canonical space (y up).
        kind: garment type.
        hip_height: canonical y of the hips; a dress hangs free only below it.
    """
    y = canonical_vertices[:, 1]
    top = y.max() if kind != "dress" else torch.as_tensor(hip_height, dtype=y.dtype)
    span = (top - y.min()).clamp(min=1e-6)
    freedom = ((top - y) / span).clamp(0.0, 1.0) ** 1.5
    return MAX_FREEDOM[kind] * freedom


def smooth_weights(weights: torch.Tensor, faces: torch.Tensor, iterations: int) -> torch.Tensor:
    """Uniform Laplacian smoothing of per-vertex weights [V, J] over a mesh (faces [F, 3]); rows stay sums of 1."""
    if iterations <= 0:
        return weights
    v = weights.shape[0]
    edges = torch.cat([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]).long()
    edges = torch.cat([edges, edges.flip(1)])
    degree = torch.zeros(v, dtype=weights.dtype).index_add_(0, edges[:, 0], torch.ones(len(edges), dtype=weights.dtype))
    for _ in range(iterations):
        neighbour_sum = torch.zeros_like(weights).index_add_(0, edges[:, 0], weights[edges[:, 1]])
        weights = 0.5 * weights + 0.5 * neighbour_sum / degree.clamp(min=1)[:, None]
    return weights / weights.sum(dim=1, keepdim=True)


def ripple_offsets(
    canonical_vertices: torch.Tensor, freedom: torch.Tensor, frame: int, params: DynamicsParams
) -> torch.Tensor:
    """[V, 3] canonical-space ripple: a wave running round and down the garment, radial to its axis."""
    centre = canonical_vertices.mean(dim=0)
    radial = canonical_vertices - centre
    radial[:, 1] = 0.0
    radius = radial.norm(dim=1, keepdim=True).clamp(min=1e-6)
    angle = torch.atan2(radial[:, 0], radial[:, 2])
    phase = 2.0 * math.pi * frame / params.ripple_period + 3.0 * angle + 25.0 * canonical_vertices[:, 1]
    amplitude = params.ripple_amplitude * freedom * torch.sin(phase)
    return amplitude[:, None] * radial / radius


def animate_garment(
    canonical_vertices: torch.Tensor,
    weights: torch.Tensor,
    freedom: torch.Tensor,
    transforms: torch.Tensor,
    body_vertices: torch.Tensor,
    body_faces: torch.Tensor,
    params: DynamicsParams,
) -> torch.Tensor:
    """Per-frame garment vertices in the world.

    Args:
        canonical_vertices: [V, 3] the garment in canonical space.
        weights: [V, J] skinning weights of the garment vertices.
        freedom: [V] per-vertex freedom (see `garment_freedom`).
        transforms: [F, J, 4, 4] canonical-to-world joint transforms per frame.
        body_vertices: [F, Vb, 3] posed body per frame.
        body_faces: [Fb, 3] body faces.
    Returns:
        [F, V, 3] garment vertices per frame.
    """
    frames = transforms.shape[0]
    rippled = torch.stack(
        [canonical_vertices + ripple_offsets(canonical_vertices, freedom, t, params) for t in range(frames)]
    )
    skinned = skin_points(rippled, weights[None], transforms)
    displacement = torch.zeros_like(canonical_vertices)
    velocity = torch.zeros_like(canonical_vertices)
    out = []
    for t in range(frames):
        if t >= 2:
            acceleration = skinned[t] - 2.0 * skinned[t - 1] + skinned[t - 2]
            velocity = (1.0 - params.damping) * velocity - params.stiffness * displacement
            velocity = velocity - params.inertia * freedom[:, None] * acceleration
            displacement = displacement + velocity
        posed = skinned[t] + displacement
        out.append(push_outside(body_vertices[t], body_faces, posed, params.body_margin))
    return torch.stack(out)
