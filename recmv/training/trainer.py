"""The fitting loop (REC-MV §5-6): explicit silhouette step, then the implicit step on everything.

Per iteration, for a batch of frames:
1. explicit step: warp each garment's marching-cubes vertices, splat them (with the posed body as an
   exact occluder), and take the silhouette and deformation-consistency terms; SGD moves the vertices,
   and the same gradients accumulate on the deformer, codes, poses and camera (SelfRecon). With
   vertex_optimizer "none" the vertices are instead projected onto the SDF's current level set, and
   the silhouette gradient reaches the SDF directly (MeshSDF);
2. implicit step: pc-SDF (the SDF follows the moved vertices), eikonal, rigidity, normal and colour at
   ray / surface points, DCT smoothness; Adam steps every network and per-frame parameter.
Every `refresh_every` iterations the meshes are re-extracted from the SDFs.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from recmv import fileio
from recmv.tables import LEG_SPANNING_GARMENTS
from recmv.errors import RecmvError
from recmv.fields.sdf_init import closed_template, fit_sdf_to_mesh
from recmv.losses.deformation import deformation_consistency_loss, mean_offset_loss, rigidity_loss
from recmv.body.body_sdf import BodySDFGrid
from recmv.body.skinning_field import SkinningGrid, joint_subtrees
from recmv.losses.sdf import body_penetration_loss, eikonal_loss, eikonal_samples, surface_loss
from recmv.losses.silhouette import dilate_masks, silhouette_loss
from recmv.geometry.temporal import smooth_axis_angles, smooth_points
from recmv.losses.smoothness import dct_smoothness_loss, dct_windows, pose_prior_loss
from recmv.fields.deformation import deformation_jacobian
from recmv.model.frame_params import FrameParameters
from recmv.model.garment_model import GarmentModel, Subject
from recmv.body.base import BodyOutput
from recmv.deform.warp import WarpResult
from recmv.render.camera import PinholeCamera
from recmv.render.raycast import MeshRender, TriangleTree, render_meshes
from recmv.render.splatting import splat_silhouettes
from recmv.training.checkpoint import load_checkpoint, save_checkpoint
from recmv.training.config import FitConfig, LossWeights, Stage
from recmv.training.curves import build_curves, curve_terms, load_curve_targets
from recmv.training.data import FitData
from recmv.training.explicit import (
    ExplicitMeshes, GarmentBox, canonical_mesh, garment_box, level_set_vertices, vertex_gradients,
)
from recmv.training.shading import sample_rays, shading_terms

log = logging.getLogger(__name__)

OCCLUSION_TOLERANCE = 0.001
"""Metres a garment point may lie behind the body surface and still be drawn (tight garments)."""


def short_name(term: str) -> str:
    """A loss term's name for the progress bar: 4 letters per word, so curve_sdf and curve_smoothness differ."""
    return "_".join(word[:4] for word in term.split("_"))


def iterations_per_epoch(num_frames: int, stage: Stage) -> int:
    return math.ceil(num_frames / stage.batch_size)


def total_iterations(config: FitConfig, num_frames: int) -> int:
    return sum(iterations_per_epoch(num_frames, config.stage_at(epoch)) for epoch in range(config.epochs))


def learning_rate_factor(config: FitConfig, epoch: int, iteration: int) -> float:
    """Linear warm-up, then MultiStepLR, as a pure function of the position (resuming needs no scheduler state)."""
    optim = config.optim
    warmup = min(1.0, (iteration + 1) / optim.warmup_iterations) if optim.warmup_iterations > 0 else 1.0
    return warmup * optim.gamma ** sum(epoch >= milestone for milestone in optim.milestones)


@dataclass
class _IterationContext:
    """What the terms of one iteration share: the batch, its posed body, renders, camera and seeds."""

    frames: torch.Tensor
    body: BodyOutput
    camera: PinholeCamera
    band: torch.Tensor
    generator: torch.Generator
    zero: torch.Tensor
    canonical: list[torch.Tensor] = field(default_factory=list)
    """Per garment: the canonical explicit vertices [V_g, 3] that were warped (detached)."""
    warped: list[WarpResult] = field(default_factory=list)
    renders: list[MeshRender] = field(default_factory=list)
    """Per batch slot: exact render of [garment meshes..., body] (the body is the last mesh)."""


def _weighted_sum(terms: dict[str, torch.Tensor], weights: LossWeights, zero: torch.Tensor) -> torch.Tensor:
    total = zero
    for name, value in terms.items():
        total = total + getattr(weights, name) * value
    return total


def garment_skinning_grids(data: FitData, hanging: bool) -> list[SkinningGrid]:
    """The grid that skins each garment: the body's, or under FitConfig.hanging_skinning, for a skirt or
    a dress, the body's with both legs' weights moved onto the pelvis, so that the cloth hangs from the
    hips instead of following each thigh (a lifted knee would otherwise carry the front of the skirt
    with it). Garments that share a grid share one object."""
    if not hanging or not any(g in LEG_SPANNING_GARMENTS for g in data.garments):
        return [data.grid] * len(data.garments)
    joints = data.body.landmark_joints
    legs = joint_subtrees(data.body.parents, [joints["left_hip"], joints["right_hip"]])
    hanging_grid = data.grid.with_joints_merged(legs, joints["pelvis"])
    return [hanging_grid if g in LEG_SPANNING_GARMENTS else data.grid for g in data.garments]


class Trainer:
    """Owns the model, optimisers and explicit meshes of one run folder."""

    def __init__(self, config: FitConfig, data: FitData, run_dir: str | Path, device: str | torch.device = "cpu"):
        config.validate()
        self.config = config
        self.data = data
        self.run_dir = Path(run_dir)
        self.device = torch.device(device)
        self.boxes = [garment_box(t, config.box_margin) for t in data.templates]
        self.model = self._build_model().to(self.device)
        self.model.curves = build_curves(data, config.curves).to(self.device)
        rest = data.body.rest(data.shape)
        self.body_sdf = BodySDFGrid.from_mesh(rest.vertices, data.body.faces, data.grid.center, data.grid.extent)
        self.optimizer = self._build_optimizer()
        self.meshes: ExplicitMeshes | None = None
        self.mesh_stage = ""
        self.last_refresh = 0
        self.iteration = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.timings: dict[str, float] = {}
        self.ray_tree = TriangleTree()
        """Ray-casting tree of the posed scene, refitted from frame to frame."""
        self._to_device()
        self.prior_poses = smooth_axis_angles(data.poses, config.pose_prior_sigma)
        self.prior_trans = smooth_points(data.trans, config.pose_prior_sigma)
        self.curve_targets = load_curve_targets(data, self.device)

    # --- construction ---------------------------------------------------------------------------

    def _build_model(self) -> GarmentModel:
        config, data = self.config, self.data
        sdf_configs = []
        for template in data.templates:
            vertices = template.vertices.detach()
            centre = (vertices.min(0).values + vertices.max(0).values) / 2
            radius = float((vertices.max(0).values - vertices.min(0).values).max()) / 2
            sdf_configs.append(dataclasses.replace(config.sdf, center=tuple(centre.tolist()), init_radius=radius))
        generator = torch.Generator().manual_seed(config.seed)
        frames = FrameParameters(
            data.poses, data.trans, len(data.garments), config.deformer.latent_dim, config.deformer.code_std, generator
        )
        grids = garment_skinning_grids(data, config.hanging_skinning)
        subject = Subject(body=data.body, shape=data.shape, garment_grids=grids)
        torch.manual_seed(config.seed)
        return GarmentModel(data.garments, sdf_configs, config.deformer, config.appearance, frames, subject)

    def _build_optimizer(self) -> torch.optim.Adam:
        config, model = self.config, self.model
        optim = config.optim
        groups = [
            ("sdf", list(model.sdfs.parameters()), optim.sdf_lr),
            ("deformer", list(model.deformer.parameters()), optim.deformer_lr),
            ("appearance", list(model.appearance.parameters()), optim.appearance_lr),
            *[
                (f"codes.{name}", [codes], optim.codes_lr * config.tuning(name).codes_lr)
                for name, codes in zip(self.data.garments, model.frames.garment_codes, strict=True)
            ],
            ("body", model.frames.body_parameters(), optim.body_lr),
            ("camera", model.frames.camera_parameters(), optim.camera_lr),
            ("curves", list(model.curves.parameters()), config.curves.lr),
        ]
        param_groups = []
        for name, params, lr in groups:
            for param in params:
                param.requires_grad_(lr > 0)
            if lr > 0:
                param_groups.append({"name": name, "params": params, "lr": lr, "initial_lr": lr})
        return torch.optim.Adam(param_groups)

    def _to_device(self) -> None:
        data, device = self.data, self.device
        data.images, data.normals, data.masks = data.images.to(device), data.normals.to(device), data.masks.to(device)
        data.poses, data.trans = data.poses.to(device), data.trans.to(device)
        data.body.to(device)
        data.shape = data.shape.to(device)
        grids = self.model.subject.garment_grids
        for grid in {id(g): g for g in [data.grid, *grids]}.values():
            grid.weights, grid.center = grid.weights.to(device), grid.center.to(device)
        self.body_sdf.values, self.body_sdf.center = self.body_sdf.values.to(device), self.body_sdf.center.to(device)
        self.model.subject = Subject(body=data.body, shape=data.shape, garment_grids=grids)
        self.boxes = [GarmentBox(b.low.to(device), b.high.to(device)) for b in self.boxes]

    # --- initialisation ---------------------------------------------------------------------------

    def initialise_sdfs(self, progress: bool = True) -> None:
        """Fit each garment SDF to its hole-closed template (REC-MV §3.5)."""
        started = time.perf_counter()
        for index, template in enumerate(self.data.templates):
            vertices, faces = closed_template(template)
            generator = torch.Generator().manual_seed(self.config.seed + 7919 * (index + 1))
            bar = tqdm(
                total=self.config.sdf_init.iterations, desc=f"init SDF {template.kind}", unit="it",
                disable=not progress, leave=False,
            )

            def report(step: int, loss: float, bar: tqdm = bar) -> None:
                bar.update(1)
                if step % 20 == 0:
                    bar.set_postfix(loss=f"{loss:.4f}")

            result = fit_sdf_to_mesh(
                self.model.sdfs[index], vertices.to(self.device), faces.to(self.device), self.config.sdf_init,
                generator=generator, progress=report,
            )
            bar.close()
            log.info("SDF %s: mean |f| %.2f mm after %d iterations", template.kind, result.mean_abs_sdf * 1e3, result.iterations)
        self.timings["init"] = time.perf_counter() - started

    # --- explicit meshes -----------------------------------------------------------------------------

    def refresh_meshes(self, stage: Stage) -> None:
        meshes = [
            canonical_mesh(sdf, box, stage.cell_size, name)
            for sdf, box, name in zip(self.model.sdfs, self.boxes, self.data.garments, strict=True)
        ]
        self.meshes = ExplicitMeshes.create(meshes, self.config.optim, self._vertex_gradients([v for v, _ in meshes]))
        self.mesh_stage = stage.name
        self.last_refresh = self.iteration

    def _vertex_gradients(self, vertices: list[torch.Tensor]) -> list[torch.Tensor] | None:
        """Per garment, the SDF gradient at its explicit vertices (MeshSDF mode only)."""
        if self.config.optim.vertex_optimizer != "none":
            return None
        return [vertex_gradients(sdf, v) for sdf, v in zip(self.model.sdfs, vertices, strict=True)]

    # --- one iteration -------------------------------------------------------------------------------

    def step(self, frames: torch.Tensor, stage: Stage) -> dict[str, float]:
        """One iteration on the frame indices [B]; returns the unweighted loss terms."""
        context = self._context(frames)
        explicit = self._explicit_terms(context, stage)
        weighted = _weighted_sum(explicit, stage.weights, context.zero)
        if weighted.requires_grad:
            # The implicit terms reuse the posed body, camera and warped meshes of this graph.
            weighted.backward(retain_graph=True)
        if self.meshes.optimizer is not None:
            self.meshes.optimizer.step()
            self.meshes.optimizer.zero_grad(set_to_none=True)
        implicit = self._implicit_terms(context, stage)
        implicit.update(curve_terms(self, context, stage))
        weighted = _weighted_sum(implicit, stage.weights, context.zero)
        if weighted.requires_grad:
            weighted.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return {name: float(value.detach()) for name, value in {**explicit, **implicit}.items()}

    def evaluate(self, frames: torch.Tensor, stage: Stage) -> dict[str, float]:
        """The loss terms at the current state for frames [B], without stepping anything."""
        context = self._context(frames)
        terms = {**self._explicit_terms(context, stage), **self._implicit_terms(context, stage)}
        terms.update(curve_terms(self, context, stage))
        self.model.zero_grad(set_to_none=True)
        return {name: float(value.detach()) for name, value in terms.items()}

    def _context(self, frames: torch.Tensor) -> _IterationContext:
        model = self.model
        return _IterationContext(
            frames=frames,
            body=model.pose(frames),
            camera=model.frames.camera(self.data.camera),
            band=model.band_weights(self.iteration, self.config.annealing_period).to(self.device),
            generator=torch.Generator().manual_seed(self.config.seed * 1_000_003 + self.iteration),
            zero=torch.zeros((), device=self.device),
        )

    def _explicit_terms(self, context: _IterationContext, stage: Stage) -> dict[str, torch.Tensor]:
        """Silhouette and deformation consistency of the warped marching-cubes vertices (REC-MV 5.1, 5.2)."""
        data, model, camera = self.data, self.model, context.camera
        weights = stage.weights
        garment_count = len(data.garments)
        surfaces = self.meshes.vertices
        if self.meshes.optimizer is None:
            surfaces = [
                level_set_vertices(sdf, v, g) for sdf, v, g in zip(model.sdfs, surfaces, self.meshes.gradients, strict=True)
            ]
        context.canonical = [v.detach() for v in surfaces]
        context.warped = [
            model.warp(g, surfaces[g], context.frames, context.body.transforms, context.band)
            for g in range(garment_count)
        ]
        for slot in range(context.frames.shape[0]):
            scene = [(w.posed[slot].detach(), f) for w, f in zip(context.warped, self.meshes.faces, strict=True)]
            scene.append((context.body.vertices[slot].detach(), data.body.faces))
            context.renders.append(render_meshes(scene, data.camera, self.ray_tree))
        terms: dict[str, torch.Tensor] = {}
        if weights.silhouette > 0:
            radius_px = stage.splat_radius * min(camera.height, camera.width) / 2
            dilation = self.config.mask_dilation * round(radius_px / 1.2)
            observed = data.masks[context.frames] > 0.5
            targets = torch.stack(
                [
                    dilate_masks(observed[:, g], dilation * self.config.tuning(name).mask_dilation)
                    for g, name in enumerate(data.garments)
                ],
                dim=1,
            )
            predicted = []
            for slot, render in enumerate(context.renders):
                # Where the body is the front-most surface it hides the garments behind it, except
                # where the image shows the garment: there the garment must come out in front, and
                # hiding it would also hide the gradient that brings it there.
                body = render.mesh_id == garment_count
                occluder = torch.where(
                    body[None] & ~observed[slot], render.depth[None] + OCCLUSION_TOLERANCE, math.inf
                )
                points = torch.cat([w.posed[slot] for w in context.warped])
                groups = torch.cat(
                    [torch.full((w.posed.shape[1],), g, dtype=torch.long, device=self.device) for g, w in enumerate(context.warped)]
                )
                predicted.append(
                    splat_silhouettes(points, groups, garment_count, camera, radius_px, occluder_depth=occluder.to(points))
                )
            terms["silhouette"] = silhouette_loss(torch.stack(predicted), targets, targets.flatten(2).sum(-1) > 0)
        if weights.body_penetration > 0:
            inside = [
                body_penetration_loss(self.body_sdf.query(w.deformed.reshape(-1, 3)), self.config.penetration_margin)
                for w in context.warped
            ]
            terms["body_penetration"] = torch.stack(inside).mean()
        if weights.deformation_consistency > 0:
            consistency = []
            for g, (w, v) in enumerate(zip(context.warped, surfaces, strict=True)):
                tuning = self.config.tuning(data.garments[g])
                skinned = model.skin_only(v, context.body.transforms, g).reshape(-1, 3)
                consistency.append(
                    tuning.deformation_consistency
                    * deformation_consistency_loss(w.posed.reshape(-1, 3), skinned, margin=tuning.consistency_margin)
                )
            terms["deformation_consistency"] = torch.stack(consistency).mean()
        return terms

    def _implicit_terms(self, context: _IterationContext, stage: Stage) -> dict[str, torch.Tensor]:
        """pc-SDF, eikonal, rigidity, normal, colour and DCT terms (REC-MV 5.4, 5.10-5.15), pose prior and mean offset."""
        model, weights = self.model, stage.weights
        terms: dict[str, torch.Tensor] = {}
        if weights.pc_sdf > 0:
            terms["pc_sdf"] = torch.stack(
                [surface_loss(model.sdfs[g](v.detach()).sdf) for g, v in enumerate(self.meshes.vertices)]
            ).mean()
        if weights.eikonal > 0 or weights.rigidity > 0:
            eikonal, rigidity = self._regularisers(context, weights.rigidity > 0)
            if weights.eikonal > 0:
                terms["eikonal"] = eikonal
            if weights.rigidity > 0:
                terms["rigidity"] = rigidity
        if weights.normal > 0 or weights.colour > 0:
            normal, colour = self._shading(context, stage)
            if weights.normal > 0 and self.data.has_normals:
                terms["normal"] = normal
            if weights.colour > 0:
                terms["colour"] = colour
        if weights.dct > 0 and model.frames.poses.requires_grad:
            terms["dct"] = self._dct(context.frames)
        if weights.pose_prior > 0 and model.frames.poses.requires_grad:
            terms["pose_prior"] = self._pose_prior(context)
        if weights.mean_offset > 0:
            terms["mean_offset"] = self._mean_offset(context)
        return terms

    def _regulariser_sample(self, vertices: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """A garment's share of `regulariser_points` of its marching-cubes vertices [V, 3], detached -> [N, 3]."""
        count = max(1, self.config.regulariser_points // len(self.meshes.vertices))
        pick = torch.randperm(vertices.shape[0], generator=generator)[:count].to(self.device)
        return vertices.detach()[pick]

    def _regularisers(self, context: _IterationContext, with_rigidity: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Eikonal and rigidity terms at marching-cubes vertices and their jitters (REC-MV 5.10, 5.12)."""
        model, generator = self.model, context.generator
        eikonal, rigidity = [], []
        for g, vertices in enumerate(self.meshes.vertices):
            anchors = self._regulariser_sample(vertices, generator)
            box = self.boxes[g]
            samples = eikonal_samples(anchors, 0.01, (box.low, box.high), generator=generator)
            _, gradient = model.sdfs[g].sdf_and_gradient(samples, create_graph=True)
            eikonal.append(eikonal_loss(gradient))
            if with_rigidity:
                jitter = anchors + 0.01 * torch.randn(anchors.shape, generator=generator).to(anchors)
                slot = int(torch.randint(context.frames.shape[0], (1,), generator=generator))
                code = model.frames.garment_codes[g][context.frames[slot]]
                jacobian = deformation_jacobian(model.deformer, torch.cat([anchors, jitter]), code, context.band)
                rigidity.append(self.config.tuning(self.data.garments[g]).rigidity * rigidity_loss(jacobian))
        return torch.stack(eikonal).mean(), (torch.stack(rigidity).mean() if rigidity else context.zero)

    def _shading(self, context: _IterationContext, stage: Stage) -> tuple[torch.Tensor, torch.Tensor]:
        """Normal and colour terms of rays sampled where each garment is the front-most surface."""
        data, model, frames = self.data, self.model, context.frames
        renders = context.renders
        per_garment = max(1, stage.rays_per_image // len(data.garments))
        normals, colours = [], []
        for g in range(len(data.garments)):
            rays = sample_rays(
                renders, g, context.canonical[g], self.meshes.faces[g], data.masks[frames, g], per_garment,
                context.generator,
            )
            result = shading_terms(
                model, g, rays, frames, context.body.transforms, context.camera, data.camera, data.images[frames],
                data.normals[frames], context.band, self.config.surface, data.has_normals,
            )
            normals.append(result.normal)
            colours.append(result.colour)
        return torch.stack(normals).mean(), torch.stack(colours).mean()

    def _dct(self, frames: torch.Tensor) -> torch.Tensor:
        """DCT smoothness of posed joint trajectories, translation included, in windows around the batch."""
        windows = dct_windows(frames, self.data.num_frames, self.config.dct_window)
        needed, inverse = torch.unique(windows, return_inverse=True)
        joints = self.model.pose(needed).joints
        config = self.config
        return torch.stack(
            [dct_smoothness_loss(joints[row], config.dct_window, detrend=config.dct_detrend) for row in inverse]
        ).mean()

    def _mean_offset(self, context: _IterationContext) -> torch.Tensor:
        """Offsets under each garment's mean code over all frames, at a sample of its marching-cubes vertices."""
        model = self.model
        losses = []
        for g, vertices in enumerate(self.meshes.vertices):
            anchors = self._regulariser_sample(vertices, context.generator)
            offsets = model.deformer(anchors, model.frames.garment_codes[g].mean(0), context.band)
            losses.append(self.config.tuning(self.data.garments[g]).mean_offset * mean_offset_loss(offsets))
        return torch.stack(losses).mean()

    def _pose_prior(self, context: _IterationContext) -> torch.Tensor:
        """Distance of the batch's refined bodies from the bodies of its (smoothed) input poses and translations."""
        data, frames = self.data, context.frames
        with torch.no_grad():
            given = data.body(self.prior_poses[frames], data.shape, self.prior_trans[frames]).vertices
        return pose_prior_loss(context.body.vertices, given)

    # --- the loop ----------------------------------------------------------------------------------

    def epoch_batches(self, epoch: int, stage: Stage) -> list[torch.Tensor]:
        """The frame batches of an epoch: a seeded permutation split into stage-sized batches."""
        generator = torch.Generator().manual_seed(self.config.seed * 7_919 + epoch)
        order = torch.randperm(self.data.num_frames, generator=generator)
        return [order[i : i + stage.batch_size].to(self.device) for i in range(0, order.numel(), stage.batch_size)]

    def run(self, stop_after: int | None = None, progress: bool = True) -> None:
        """Train to the configured number of epochs (or stop after `stop_after` more iterations)."""
        config = self.config
        bar = tqdm(
            total=total_iterations(config, self.data.num_frames), initial=self.iteration, desc="fit", unit="it",
            disable=not progress, dynamic_ncols=True,
        )
        started = time.perf_counter()
        done = 0
        while self.epoch < config.epochs:
            stage = config.stage_at(self.epoch)
            batches = self.epoch_batches(self.epoch, stage)
            while self.batch_in_epoch < len(batches):
                if stop_after is not None and done >= stop_after:
                    bar.close()
                    self._add_time("train", started)
                    return
                if self.meshes is None or self.mesh_stage != stage.name or self.iteration - self.last_refresh >= stage.refresh_every:
                    self.refresh_meshes(stage)
                factor = learning_rate_factor(config, self.epoch, self.iteration)
                for group in self.optimizer.param_groups:
                    group["lr"] = group["initial_lr"] * factor
                tick = time.perf_counter()
                terms = self.step(batches[self.batch_in_epoch], stage)
                self._log(stage, terms, time.perf_counter() - tick)
                bar.set_postfix_str(f"{stage.name} e{self.epoch} " + " ".join(f"{short_name(k)}={v:.3g}" for k, v in terms.items()))
                bar.update(1)
                self.iteration += 1
                self.batch_in_epoch += 1
                done += 1
                if self.iteration % config.checkpoint_every == 0:
                    self.save()
            self.epoch += 1
            self.batch_in_epoch = 0
            if self.epoch < config.epochs and config.stage_at(self.epoch).name != stage.name:
                self.save(self.run_dir / "checkpoints" / f"{stage.name}.pt")
        bar.close()
        self._add_time("train", started)
        self.save()

    def _add_time(self, name: str, started: float) -> None:
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - started

    def _log(self, stage: Stage, terms: dict[str, float], seconds: float) -> None:
        record = {"iteration": self.iteration, "epoch": self.epoch, "stage": stage.name, "seconds": round(seconds, 4), **terms}
        with open(self.run_dir / "log.jsonl", "a", encoding="utf-8") as stream:
            stream.write(json.dumps(record) + "\n")

    # --- checkpoints ---------------------------------------------------------------------------------

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / "checkpoints" / "latest.pt"

    def _identity(self) -> dict:
        return {
            "garments": list(self.data.garments),
            "frames": self.data.frames.tolist(),
            "networks": json.dumps(
                {k: self.config.to_json()[k] for k in ("preset", "seed", "sdf", "deformer", "appearance")}, sort_keys=True
            ),
        }

    def save(self, path: Path | None = None) -> None:
        path = self.checkpoint_path if path is None else path
        payload = {
            **self._identity(),
            "iteration": self.iteration,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "meshes": self.meshes.state() if self.meshes is not None else None,
            "mesh_stage": self.mesh_stage,
            "last_refresh": self.last_refresh,
            "timings": dict(self.timings),
        }
        save_checkpoint(path, payload)

    def load(self, path: Path | None = None) -> None:
        path = self.checkpoint_path if path is None else path
        record = load_checkpoint(path, self._identity())
        try:
            self.model.load_state_dict(record["model"])
            self.optimizer.load_state_dict(record["optimizer"])
        except (RuntimeError, ValueError, KeyError) as error:
            raise RecmvError(f"{path}: checkpoint does not fit this model ({error})") from error
        if record["meshes"] is not None:
            state = {k: ([t.to(self.device) for t in v] if isinstance(v, list) else v) for k, v in record["meshes"].items()}
            self.meshes = ExplicitMeshes.from_state(state, self.config.optim)
            if self.meshes.gradients is None:  # a checkpoint from before they were kept
                self.meshes.gradients = self._vertex_gradients(self.meshes.vertices)
        self.mesh_stage = record["mesh_stage"]
        self.last_refresh = record["last_refresh"]
        self.iteration = record["iteration"]
        self.epoch = record["epoch"]
        self.batch_in_epoch = record["batch_in_epoch"]
        self.timings = dict(record["timings"])
        self._truncate_log()

    def _truncate_log(self) -> None:
        """Drop log lines written after the checkpoint (by the run that was killed)."""
        path = self.run_dir / "log.jsonl"
        if not path.exists():
            return
        kept = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                if json.loads(line)["iteration"] < self.iteration:
                    kept.append(line)
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a line cut short by the kill
        with fileio.atomic_path(path) as tmp:
            tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
