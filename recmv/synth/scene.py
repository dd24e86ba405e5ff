"""Build a synthetic clothed subject in memory: body, garments, motion, camera and per-frame geometry."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import trimesh

from recmv.body.base import BodyModel
from recmv.body.factory import build_body_model
from recmv.body.skinning_field import SkinningGrid, diffuse_skinning_weights
from recmv.errors import InputFileError, RecmvError
from recmv.render.camera import PinholeCamera
from recmv.synth.config import SynthConfig
from recmv.synth.dynamics import (
    HANGING_GARMENTS,
    animate_garment,
    garment_freedom,
    smooth_weights,
)
from recmv.synth.layering import tuck_under
from recmv.synth.motions import motion_frames, motion_poses
from recmv.tables import CURVES_BOUNDING, GARMENT_TYPES, LOWER_GARMENTS, UPPER_GARMENTS
from recmv.templates.body_geometry import BodyGeometry
from recmv.templates.cache import garment_template
from recmv.templates.garments import GarmentParams, GarmentTemplate

logger = logging.getLogger(__name__)

# Share of the image height the body (arms raised included) may fill.
_FILL = 0.8
_MAX_BODY_EXTENT = 1.9
# Gap between an upper garment and the waistband of the lower garment under it, metres.
_LAYER_GAP = 0.012


@dataclass
class SynthGarment:
    """One garment of a synthetic subject.

    template: the canonical open mesh with its labelled boundary loops.
    posed: [F, V, 3] world vertices per frame.
    """

    template: GarmentTemplate
    posed: torch.Tensor


@dataclass
class SynthScene:
    """A synthetic subject before it is written to disk."""

    config: SynthConfig
    body: BodyModel
    body_description: dict
    shape: torch.Tensor
    poses: torch.Tensor
    transl: torch.Tensor
    body_vertices: torch.Tensor
    canonical_body: torch.Tensor
    skinning_grid: SkinningGrid
    garments: list[SynthGarment]
    camera: PinholeCamera

    @property
    def frames(self) -> int:
        return self.poses.shape[0]


def random_body_description(config: SynthConfig, rng: np.random.Generator) -> dict:
    """An Anny body with phenotypes drawn around the middle of their range."""
    shape = rng.uniform(0.3, 0.7, size=6).round(4).tolist()
    return {"model": "anny", "topology": config.body_topology, "shape": shape}


def random_garment_params(kind: str, rng: np.random.Generator, resolution: float) -> GarmentParams:
    """Default parameters of a garment type, each numeric field varied by up to ±15 %."""
    params = GarmentParams.defaults(kind)
    for name, value in vars(params).items():
        if isinstance(value, float) and name != "resolution":
            setattr(params, name, float(value * rng.uniform(0.85, 1.15)))
    params.resolution = resolution
    return params


def load_external_garment(mesh_path: str, labels_path: str) -> GarmentTemplate:
    """A user garment in the body's canonical space, with named boundary loops from a JSON file."""
    try:
        labels = json.loads(Path(labels_path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InputFileError(labels_path, f"cannot read the garment labels JSON ({error})") from error
    kind = labels.get("kind") if isinstance(labels, dict) else None
    if kind not in GARMENT_TYPES:
        raise InputFileError(labels_path, f"'kind' must be one of {', '.join(GARMENT_TYPES)}, got {kind!r}")
    boundaries = labels.get("boundaries", {})
    expected = set(CURVES_BOUNDING[kind])
    if set(boundaries) != expected:
        raise InputFileError(
            labels_path, f"'boundaries' must name exactly {sorted(expected)} for a {kind}, got {sorted(boundaries)}"
        )
    try:
        mesh = trimesh.load(mesh_path, process=False, force="mesh")
    except (OSError, ValueError) as error:
        raise InputFileError(mesh_path, f"cannot read the garment mesh ({error})") from error
    n = len(mesh.vertices)
    for name, loop in boundaries.items():
        if not loop or min(loop) < 0 or max(loop) >= n:
            raise InputFileError(labels_path, f"boundary {name!r} has vertex ids outside 0..{n - 1}")
    return GarmentTemplate(
        kind=kind,
        vertices=torch.tensor(np.asarray(mesh.vertices), dtype=torch.float32),
        faces=torch.tensor(np.asarray(mesh.faces), dtype=torch.int64),
        boundaries={name: torch.tensor(loop, dtype=torch.int64) for name, loop in boundaries.items()},
    )


def make_camera(size: int, distance: float) -> PinholeCamera:
    """A static camera at the world origin looking down +z, framing a body `distance` metres away."""
    focal = _FILL * size * distance / _MAX_BODY_EXTENT
    centre = (size - 1) / 2.0
    return PinholeCamera(focal, focal, centre, centre, torch.eye(3), torch.zeros(3), size, size)


def subject_motion(config: SynthConfig, body: BodyModel) -> tuple[torch.Tensor, torch.Tensor]:
    """Poses [F, J, 3] and vertical bobs [F] of the whole clip: the first segment, then the large-motion one."""
    frames = motion_frames(config.motion, config.frames)
    if config.large_motion:
        frames += motion_frames(config.large_motion, config.large_motion_frames)
    canonical = body.canonical_pose().float()
    return motion_poses(frames, canonical, body.landmark_joints)


def layer_upper_over_lower(params: dict[str, GarmentParams]) -> None:
    """Worn together, an upper garment hangs over the lower one's waistband: give it more room so the
    two surfaces do not cross where they overlap."""
    uppers = [k for k in params if k in UPPER_GARMENTS]
    lowers = [k for k in params if k in LOWER_GARMENTS]
    for upper in uppers:
        for lower in lowers:
            params[upper].looseness = max(params[upper].looseness, params[lower].looseness + _LAYER_GAP)


def build_garments(config: SynthConfig, geometry: BodyGeometry, rng: np.random.Generator) -> list[GarmentTemplate]:
    external = None
    if config.external_garment_mesh or config.external_garment_labels:
        if not (config.external_garment_mesh and config.external_garment_labels):
            raise RecmvError("--garment-mesh and --garment-labels must be given together")
        external = load_external_garment(config.external_garment_mesh, config.external_garment_labels)
    params = {kind: random_garment_params(kind, rng, config.garment_resolution) for kind in config.garments}
    layer_upper_over_lower(params)
    templates = []
    for kind in config.garments:
        if external is not None and external.kind == kind:
            templates.append(external)
            continue
        templates.append(garment_template(kind, geometry, params[kind]))
    if external is not None and external.kind not in config.garments:
        templates.append(external)
    uppers = [t for t in templates if t.kind in UPPER_GARMENTS]
    for upper in uppers:
        templates = [tuck_under(t, upper) if t.kind in LOWER_GARMENTS else t for t in templates]
    return templates


def build_scene(config: SynthConfig) -> SynthScene:
    """Everything of a synthetic subject, deterministic in `config` (seed included)."""
    for kind in config.garments:
        if kind not in GARMENT_TYPES:
            raise RecmvError(f"--garments: unknown garment {kind!r}; expected some of {', '.join(GARMENT_TYPES)}")
    rng = np.random.default_rng(config.seed)
    description = random_body_description(config, rng)
    body = build_body_model(description)
    shape = torch.tensor(description["shape"], dtype=torch.float32)
    rest = body.rest(shape)
    logger.info("building the %d³ skinning grid", config.grid_resolution)
    grid = diffuse_skinning_weights(rest.vertices, body.faces, body.skinning_weights, resolution=config.grid_resolution)
    geometry = BodyGeometry.from_body_model(body, shape)
    templates = build_garments(config, geometry, rng)

    poses, bobs = subject_motion(config, body)
    first = body.forward(poses[:1], shape)
    centre = 0.5 * (first.vertices[0].min(dim=0).values + first.vertices[0].max(dim=0).values)
    transl = torch.tensor([0.0, 0.0, config.camera_distance]) - centre
    transl = transl.expand(poses.shape[0], 3).clone()
    transl[:, 1] -= bobs
    posed_body = body.forward(poses, shape, transl)

    hip_height = float(geometry.landmarks["left_hip"][1])
    garments = []
    for template in templates:
        weights = grid.query(template.vertices)
        if template.kind in HANGING_GARMENTS:
            weights = smooth_weights(weights, template.faces, config.dynamics.weight_smoothing_iterations)
        freedom = garment_freedom(template.vertices, template.kind, hip_height)
        posed = animate_garment(
            template.vertices, weights, freedom, posed_body.transforms, posed_body.vertices, body.faces, config.dynamics
        )
        garments.append(SynthGarment(template, posed))
    return SynthScene(
        config=config,
        body=body,
        body_description=description,
        shape=shape,
        poses=poses,
        transl=transl,
        body_vertices=posed_body.vertices,
        canonical_body=rest.vertices,
        skinning_grid=grid,
        garments=garments,
        camera=make_camera(config.size, config.camera_distance),
    )
