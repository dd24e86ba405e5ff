"""Register a labelled garment template onto an extracted surface, its boundary loops on 3D curves
(REC-MV §7 step 3, `OptimGarmentNetwork.registration`).

1. subdivide the template to the target edge length (loops carried along);
2. Laplacian editing moves every labelled loop onto its curve (partners by arc length);
3. non-rigid ICP onto the target surface with a stiffness schedule, loop vertices held on the curves;
4. tangential relaxation evens the triangles; a short soft NICP puts the surface back on the target.
The result keeps the template's topology and its named loops.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recmv.errors import RecmvError
from recmv.registration.curves import corresponding_points
from recmv.registration.laplacian import laplacian_edit
from recmv.registration.nicp import NICPConfig, closest_on_target, nicp
from recmv.registration.remesh import (
    mean_edge_length,
    relax_tangentially,
    subdivide_to_edge,
)


@dataclass
class RegistrationConfig:
    """Settings of template registration."""

    edge_length: float = 0.012
    """Mean edge length to subdivide the template down to, metres."""
    laplacian_weight: float = 10.0
    """Weight of the loop-on-curve constraints in Laplacian editing."""
    nicp: NICPConfig = field(default_factory=NICPConfig)
    """The main NICP schedule."""
    relax_iterations: int = 5
    """Tangential relaxation rounds after NICP (0: none)."""
    refine: NICPConfig = field(
        default_factory=lambda: NICPConfig(stiffness=(2.0, 0.8), iterations=2, normal_threshold=0.5)
    )
    """The soft NICP after relaxation (REC-MV's refinement NICP)."""


@dataclass
class RegisteredGarment:
    """vertices: [V, 3] float64; faces: [F, 3] int64; boundaries: curve name -> [L] vertex ids in order.

    stats: target distances (mean, 95th percentile) and loop-to-curve distances, metres.
    """

    vertices: np.ndarray
    faces: np.ndarray
    boundaries: dict[str, np.ndarray]
    stats: dict = field(default_factory=dict)


def register_template(
    vertices: np.ndarray,
    faces: np.ndarray,
    loops: dict[str, np.ndarray],
    target_vertices: np.ndarray,
    target_faces: np.ndarray,
    curves: dict[str, np.ndarray],
    config: RegistrationConfig | None = None,
) -> RegisteredGarment:
    """Register the template (vertices [V, 3], faces [F, 3], loops: name -> [L] ids) onto the target
    mesh so that each loop lies on curves[name] ([K, 3] closed polyline). config: default RegistrationConfig()."""
    config = config or RegistrationConfig()
    missing = [name for name in loops if name not in curves]
    if missing:
        raise RecmvError(f"no 3D curve for the template loop(s) {', '.join(missing)}")
    if len(target_faces) == 0:
        raise RecmvError("the registration target has no faces")
    vertices, faces, loops = subdivide_to_edge(np.asarray(vertices, np.float64), np.asarray(faces, np.int64), loops, config.edge_length)
    held = np.concatenate(list(loops.values()))
    goals = np.concatenate([corresponding_points(vertices[loop], curves[name]) for name, loop in loops.items()])
    vertices = laplacian_edit(vertices, faces, held, goals, config.laplacian_weight)
    first = nicp(vertices, faces, target_vertices, target_faces, config.nicp, held, goals)
    vertices = first.vertices
    if config.relax_iterations > 0:
        vertices = relax_tangentially(vertices, faces, held, config.relax_iterations)
        vertices = nicp(vertices, faces, target_vertices, target_faces, config.refine, held, goals).vertices
    vertices[held] = goals
    closest, _, found = closest_on_target(vertices, target_vertices, target_faces, 1.0)
    distance = np.linalg.norm(closest - vertices, axis=1)[found]
    stats = {
        "vertices": len(vertices),
        "faces": len(faces),
        "mean_edge_m": mean_edge_length(vertices, faces),
        "target_distance_mean_m": float(distance.mean()) if len(distance) else None,
        "target_distance_p95_m": float(np.percentile(distance, 95)) if len(distance) else None,
        "nicp_rounds": len(first.history),
    }
    return RegisteredGarment(vertices=vertices, faces=faces, boundaries=loops, stats=stats)

