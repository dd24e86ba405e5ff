"""Explicit marching-cubes meshes of the canonical SDFs (REC-MV §4.1 SelfRecon scheme).

Every few iterations each garment SDF is marching-cubed on its own box. Either the vertices become
leaf tensors moved by SGD under the silhouette loss and the SDF is pulled onto the moved vertices
(pc-SDF), or (MeshSDF) they stay put and are projected onto the current zero level set every
iteration, which routes the silhouette gradient straight into the SDF (`level_set_vertices`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from recmv.errors import RecmvError
from recmv.fields.sdf import GarmentSDF
from recmv.geometry.isosurface import extract_isosurface
from recmv.templates.garments import GarmentTemplate
from recmv.training.config import OptimConfig


@dataclass
class GarmentBox:
    """Axis-aligned canonical box [3] min and max in which a garment's SDF is marching-cubed."""

    low: torch.Tensor
    high: torch.Tensor

    def resolution(self, cell_size: float) -> int:
        """Samples on the longest side for cells of about `cell_size` metres."""
        return max(2, math.ceil(float((self.high - self.low).max()) / cell_size) + 1)


def garment_box(template: GarmentTemplate, margin: float) -> GarmentBox:
    vertices = template.vertices.detach()
    return GarmentBox(low=vertices.min(0).values - margin, high=vertices.max(0).values + margin)


def canonical_mesh(
    sdf: GarmentSDF, box: GarmentBox, cell_size: float, name: str, chunk_size: int = 65536
) -> tuple[torch.Tensor, torch.Tensor]:
    """Marching cubes of one SDF, coarse-to-fine near the surface -> vertices [V, 3], faces [F, 3]."""
    param = next(sdf.parameters())
    low, high = box.low.to(param), box.high.to(param)

    def sdf_fn(points: torch.Tensor) -> torch.Tensor:
        return sdf(points).sdf

    surface = extract_isosurface(sdf_fn, low, high, box.resolution(cell_size), chunk_size=chunk_size)
    if surface.faces.shape[0] == 0:
        raise RecmvError(
            f"garment {name!r}: its SDF has no zero level set in its box any more (the fit diverged; "
            "lower the learning rates or the silhouette weight)"
        )
    return surface.vertices.detach(), surface.faces.long()


def level_set_vertices(sdf: GarmentSDF, vertices: torch.Tensor, gradients: torch.Tensor | None = None) -> torch.Tensor:
    """Vertices [V, 3] moved by one Newton step onto the SDF's current zero level set -> [V, 3].

    v - f(v) g / |g|^2 with g held fixed: on the surface it is v itself, and its derivative in the
    SDF's parameters is -g / |g|^2 df/dtheta, the level set's own motion (MeshSDF), so a loss on the
    result moves the SDF directly. Between marching-cubes refreshes it also keeps a stale mesh on
    the moving surface to first order.

    gradients: [V, 3] the g to step along; by default grad f at the vertices now. The fit passes the
    gradient of the SDF when the mesh was extracted: the surface normal barely turns between two
    refreshes, and it saves a backward pass through the SDF at every vertex in every iteration.
    """
    if gradients is None:
        # One forward serves both: the gradient in the points is taken off the graph that later
        # carries the loss into the SDF's parameters.
        value, gradients = sdf.sdf_and_gradient(vertices.detach(), retain_graph=True)
        gradients = gradients.detach()
    else:
        value = sdf(vertices.detach()).sdf
    step = gradients / gradients.square().sum(-1, keepdim=True).clamp_min(1e-12)
    return vertices - value[:, None] * step


def vertex_gradients(sdf: GarmentSDF, vertices: torch.Tensor) -> torch.Tensor:
    """grad f at vertices [V, 3] -> [V, 3], detached (the g of `level_set_vertices`)."""
    with torch.no_grad():
        return sdf.sdf_and_gradient(vertices.detach())[1]


@dataclass
class ExplicitMeshes:
    """Per garment: vertices [V_g, 3], faces [F_g, 3]; with `optimizer` (SGD or Adam) the vertices are
    leaf tensors it moves, without one (MeshSDF) they are fixed between refreshes and `gradients`
    [V_g, 3] holds the SDF gradient at them from the refresh (see `level_set_vertices`)."""

    vertices: list[torch.Tensor]
    faces: list[torch.Tensor]
    optimizer: torch.optim.Optimizer | None
    gradients: list[torch.Tensor] | None = None

    @classmethod
    def create(
        cls,
        meshes: list[tuple[torch.Tensor, torch.Tensor]],
        optim: OptimConfig,
        gradients: list[torch.Tensor] | None = None,
    ) -> ExplicitMeshes:
        trainable = optim.vertex_optimizer != "none"
        vertices = [v.detach().clone().requires_grad_(trainable) for v, _ in meshes]
        faces = [f for _, f in meshes]
        if not trainable:
            optimizer = None
        elif optim.vertex_optimizer == "sgd":
            optimizer = torch.optim.SGD(vertices, lr=optim.vertex_lr, momentum=optim.vertex_momentum)
        elif optim.vertex_optimizer == "adam":
            optimizer = torch.optim.Adam(vertices, lr=optim.vertex_lr)
        else:
            raise RecmvError(f"vertex_optimizer: expected 'sgd', 'adam' or 'none', got {optim.vertex_optimizer!r}")
        return cls(vertices, faces, optimizer, gradients)

    def state(self) -> dict:
        return {
            "vertices": [v.detach().clone() for v in self.vertices],
            "faces": [f.clone() for f in self.faces],
            "optimizer": self.optimizer.state_dict() if self.optimizer is not None else None,
            "gradients": [g.clone() for g in self.gradients] if self.gradients is not None else None,
        }

    @classmethod
    def from_state(cls, state: dict, optim: OptimConfig) -> ExplicitMeshes:
        """Meshes from `state()`; a state written before `gradients` existed leaves them None."""
        meshes = cls.create(
            list(zip(state["vertices"], state["faces"], strict=True)), optim, state.get("gradients")
        )
        if (meshes.optimizer is None) != (state["optimizer"] is None):
            raise RecmvError("checkpoint: its explicit meshes were saved with another vertex_optimizer")
        if meshes.optimizer is not None:
            meshes.optimizer.load_state_dict(state["optimizer"])
        return meshes
