"""The feature curves inside `recmv fit`: building them from the templates, their initialisation, their
loss terms in each iteration, and the curve files of the run folder.

Coupling (CurveConfig.coupled): REC-MV steps its curves with their own optimiser and throws away what
the projection and SDF-on-curve terms would do to the SDF, the deformation, the codes and the poses.
Decoupled (the default) reproduces that inside the one optimiser of the trainer: those two terms are
replaced by a surrogate whose value is the term and whose gradient reaches the curve parameters only.
`CurveConfig.coupled_curves` couples some curves and not others: both terms are sums over the curves, so
the coupled curves' part keeps its full gradient and the surrogate takes the rest.
The cap always moves the lower garment's SDF alone (the curve enters detached), as in REC-MV.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm

from recmv import fileio
from recmv.curves.config import CurveConfig
from recmv.curves.init import fit_similarity
from recmv.curves.model import FeatureCurves
from recmv.curves.ops import fan_disc_samples, resample_closed
from recmv.curves.visibility import visible_points
from recmv.data import formats
from recmv.data.frames import SubjectFolder
from recmv.errors import RecmvError
from recmv.losses.curves import (
    curve_cap_loss,
    curve_chamfer,
    curve_sdf_loss,
    curve_smoothness_loss,
    weighted_chamfer_mean,
)
from recmv.tables import LOWER_GARMENTS

if TYPE_CHECKING:
    from recmv.training.config import Stage
    from recmv.training.data import FitData
    from recmv.training.trainer import Trainer, _IterationContext

CURVE_TERMS = ("curve_projection", "curve_sdf", "curve_smoothness", "curve_cap")


@dataclass
class CurveTargets:
    """The 2D curves of the fitted frames at the working resolution.

    points: [F, C, P, 2] annotated pixels (padded); mask: [F, C, P] bool real points;
    annotated: [F] bool frames with an annotation file; weights: [C] projection weights.
    """

    points: torch.Tensor
    mask: torch.Tensor
    annotated: torch.Tensor
    weights: torch.Tensor


def curve_owners(data: FitData) -> list[int]:
    """[C] garment index owning each of the subject's curves (subject.json `curve_owner`)."""
    garments = data.garments
    return [garments.index(data.meta.curve_owner[name]) for name in data.meta.curves]


def template_loops(data: FitData, points: int) -> torch.Tensor:
    """[C, K, 3] each curve's loop on its owner's template (else the first template it bounds)."""
    loops = []
    for name, owner in zip(data.meta.curves, curve_owners(data), strict=True):
        holders = [data.templates[owner]] + [t for t in data.templates if name in t.boundaries]
        template = next((t for t in holders if name in t.boundaries), None)
        if template is None:
            raise RecmvError(f"curve {name!r}: no garment template of {data.garments} has that boundary")
        loops.append(resample_closed(template.vertices[template.boundaries[name]].float(), points))
    return torch.stack(loops) if loops else torch.zeros(0, points, 3)


def build_curves(data: FitData, config: CurveConfig) -> FeatureCurves:
    return FeatureCurves(list(data.meta.curves), curve_owners(data), template_loops(data, config.points))


def load_curve_targets(data: FitData, device: torch.device) -> CurveTargets:
    """Read the labelme curves (mask2fl/, else featurelines/) of the fitted keyframes, as they are
    (REC-MV resamples each to 100 points along the polyline, which also spreads points across the
    gaps between visible stretches)."""
    folder = SubjectFolder(data.subject, meta=data.meta)
    names = list(data.meta.curves)
    full_h, full_w = folder.image_size
    sx, sy = data.camera.width / full_w, data.camera.height / full_h
    keyframes = set(data.meta.keyframes)
    per_frame: list[dict[str, np.ndarray]] = []
    for frame in data.frames.tolist():
        path = folder.curve_path(frame)
        per_frame.append(formats.read_labelme(path) if frame in keyframes and path.exists() else {})
    longest = max([len(p) for curves in per_frame for p in curves.values()] + [1])
    points = np.zeros((len(per_frame), len(names), longest, 2), dtype=np.float32)
    mask = np.zeros((len(per_frame), len(names), longest), dtype=bool)
    for f, curves in enumerate(per_frame):
        for c, name in enumerate(names):
            found = curves.get(name)
            if found is not None and len(found):
                points[f, c, : len(found)] = (found + 0.5) * (sx, sy) - 0.5
                mask[f, c, : len(found)] = True
    weights = folder.curve_weights if names and data.meta.keyframes else np.zeros(len(names))
    return CurveTargets(
        points=torch.from_numpy(points).to(device),
        mask=torch.from_numpy(mask).to(device),
        annotated=torch.tensor([bool(c) for c in per_frame], device=device),
        weights=torch.as_tensor(weights, dtype=torch.float32, device=device),
    )


def initialise_curves(trainer: Trainer) -> None:
    """Move each template loop by the similarity that best explains the annotated 2D curves (REC-MV §3.3)."""
    model, data, targets = trainer.model, trainer.data, trainer.curve_targets
    config: CurveConfig = trainer.config.curves
    keyframes = targets.annotated.nonzero()[:, 0]
    if keyframes.numel() == 0 or not model.curves.names:
        return
    with torch.no_grad():
        body = model.pose(keyframes)
        dressed = [model.skin_only(t.vertices.to(trainer.device), body.transforms, g) for g, t in enumerate(data.templates)]
    occluders = [
        [(body.vertices[b], data.body.faces)] + [(d[b], t.faces) for d, t in zip(dressed, data.templates, strict=True)]
        for b in range(keyframes.numel())
    ]

    def visibility(posed: torch.Tensor) -> torch.Tensor:
        return torch.stack(
            [visible_points(p, occluders[b], data.camera, config.visibility_tolerance) for b, p in enumerate(posed)]
        )

    owners = model.curves.owners.tolist()

    def skinned_by_owner(points: torch.Tensor) -> torch.Tensor:
        """The curves' points [C * K, 3], each curve with its garment's grid -> [B, C * K, 3]."""
        per_curve = points.reshape(len(owners), -1, 3)
        return torch.cat([model.skin_only(p, body.transforms, g) for p, g in zip(per_curve, owners, strict=True)], dim=1)

    with torch.no_grad():
        loops = model.curves()
    similarity = fit_similarity(
        loops, model.curves.names, skinned_by_owner, data.camera,
        targets.points[keyframes], targets.mask[keyframes], visibility, config,
    )
    model.curves.reset(similarity.apply(loops))


def posed_curves(trainer: Trainer, curves: torch.Tensor, frames: torch.Tensor, transforms: torch.Tensor, band) -> torch.Tensor:
    """Canonical curves [C, K, 3] warped with their owners' codes into frames [B] -> [B, C, K, 3]."""
    model = trainer.model
    owners = model.curves.owners.tolist()
    posed = curves.new_zeros(frames.shape[0], *curves.shape)
    for g in sorted(set(owners)):
        picked = [c for c, o in enumerate(owners) if o == g]
        warped = model.warp(g, curves[picked].reshape(-1, 3), frames, transforms, band).posed
        posed = posed.index_copy(1, torch.tensor(picked, device=curves.device), warped.reshape(frames.shape[0], len(picked), -1, 3))
    return posed


def _curves_only(value: torch.Tensor, parameters: list[torch.Tensor]) -> torch.Tensor:
    """A term with the value of `value` whose gradient reaches `parameters` only (decoupled curves; none
    when the curves are frozen)."""
    if not value.requires_grad or not parameters:
        return value.detach()
    grads = torch.autograd.grad(value, parameters, retain_graph=True, allow_unused=True)
    surrogate = value.detach()
    for parameter, grad in zip(parameters, grads, strict=True):
        if grad is not None:
            surrogate = surrogate + ((parameter - parameter.detach()) * grad).sum()
    return surrogate


def cap_pairs(trainer: Trainer) -> list[tuple[int, int]]:
    """(garment, curve) pairs whose disc closes the garment's SDF: a lower garment across the waist,
    with `cap_hem` the garment that owns the hem across it, and with `cap_openings` every garment
    across each curve it owns."""
    names, garments, config = trainer.model.curves.names, trainer.data.garments, trainer.config.curves
    owners = trainer.model.curves.owners.tolist()
    pairs = [(g, names.index("upper_bottom")) for g, kind in enumerate(garments) if kind in LOWER_GARMENTS and "upper_bottom" in names]
    if config.cap_hem and "bottom_curve" in names:
        pairs.append((int(owners[names.index("bottom_curve")]), names.index("bottom_curve")))
    if config.cap_openings:
        pairs += [(int(owner), curve) for curve, owner in enumerate(owners)]
    return list(dict.fromkeys(pairs))


def curve_terms(trainer: Trainer, context: _IterationContext, stage: Stage) -> dict[str, torch.Tensor]:
    """The active curve terms of one iteration (REC-MV 5.5-5.8), for the trainer's weighted sum."""
    model, weights, config = trainer.model, stage.weights, trainer.config.curves
    if not model.curves.names or all(getattr(weights, name) <= 0 for name in CURVE_TERMS):
        return {}
    curves = model.curves()
    owners = model.curves.owners.tolist()
    parameters = [p for p in model.curves.parameters() if p.requires_grad]
    coupled = [config.is_coupled(name) for name in model.curves.names]
    share = torch.tensor(coupled, dtype=curves.dtype, device=curves.device)

    def couple(whole: torch.Tensor, coupled_part: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """A term coupled curve by curve: `coupled_part(share)` is the part summed over the coupled curves
        (share [C] is 1 for them, 0 for the others); the rest of `whole` moves only the curves."""
        if all(coupled):
            return whole
        if not any(coupled):
            return _curves_only(whole, parameters)
        shared = coupled_part(share)
        return shared + _curves_only(whole - shared, parameters)

    terms: dict[str, torch.Tensor] = {}
    if weights.curve_projection > 0:
        projection = _projection(trainer, context, curves)
        if projection is not None:
            chamfer, valid = projection
            weights_2d = trainer.curve_targets.weights
            terms["curve_projection"] = couple(
                weighted_chamfer_mean(chamfer, valid, weights_2d),
                lambda part: weighted_chamfer_mean(chamfer, valid, weights_2d * part),
            )
    if weights.curve_sdf > 0:
        garments = sorted(set(owners))
        values = [model.sdfs[g](curves[[c for c, o in enumerate(owners) if o == g]].reshape(-1, 3)).sdf for g in garments]

        def owned_share(part: torch.Tensor) -> torch.Tensor:
            # The same mean as the whole term's, with each curve's points counted by its share.
            per_garment = []
            for g, value in zip(garments, values, strict=True):
                owned = part[[c for c, o in enumerate(owners) if o == g]]
                per_garment.append((value.abs().reshape(owned.shape[0], -1) * owned[:, None]).mean())
            return torch.stack(per_garment).mean()

        terms["curve_sdf"] = couple(torch.stack([curve_sdf_loss(v) for v in values]).mean(), owned_share)
    if weights.curve_smoothness > 0:
        terms["curve_smoothness"] = curve_smoothness_loss(curves)
    pairs = cap_pairs(trainer)
    if weights.curve_cap > 0 and pairs:
        caps = [
            curve_cap_loss(model.sdfs[g](fan_disc_samples(curves[c].detach(), config.cap_samples, context.generator)).sdf)
            for g, c in pairs
        ]
        # Summed, not averaged: each cap keeps the weight of REC-MV's one waist cap however many there are.
        terms["curve_cap"] = torch.stack(caps).sum()
    return terms


def _projection(
    trainer: Trainer, context: _IterationContext, curves: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Chamfer [B', C] (squared px) of the visible projected curves against the 2D curves of the annotated
    frames of the batch, and its valid pairs [B', C]; None when the batch has none."""
    data, targets, config = trainer.data, trainer.curve_targets, trainer.config.curves
    frames = context.frames
    slots = targets.annotated[frames].nonzero()[:, 0]
    if slots.numel() == 0:
        return None
    posed = posed_curves(trainer, curves, frames[slots], context.body.transforms[slots], context.band)
    count, points = curves.shape[:2]
    visible = []
    for row, slot in enumerate(slots.tolist()):
        # Garments, then the body: the scene of the iteration's renders, so their tree is refitted, not rebuilt.
        occluders = []
        if context.warped:
            occluders += [(w.posed[slot].detach(), f) for w, f in zip(context.warped, trainer.meshes.faces, strict=True)]
        occluders.append((context.body.vertices[slot].detach(), data.body.faces))
        visible.append(
            visible_points(posed[row].reshape(-1, 3), occluders, data.camera, config.visibility_tolerance, trainer.ray_tree)
        )
    pixels, _ = context.camera.project(posed)
    chosen = frames[slots]
    return curve_chamfer(pixels, torch.stack(visible).reshape(-1, count, points), targets.points[chosen], targets.mask[chosen])


def write_curves(trainer: Trainer, out_dir: Path, chunk_frames: int = 8, progress: bool = True) -> None:
    """OUT/canonical.json and OUT/<frame>.json ({curve: [[x, y, z], ...]}, as SUBJECT/gt/curves/)."""
    model, data = trainer.model, trainer.data
    names = model.curves.names
    band = model.band_weights(trainer.iteration, trainer.config.annealing_period).to(trainer.device)
    with torch.no_grad():
        curves = model.curves()
    fileio.write_json(out_dir / "canonical.json", {n: curves[c].tolist() for c, n in enumerate(names)})
    indices = torch.arange(data.num_frames, device=trainer.device)
    for chunk in tqdm(indices.split(chunk_frames), desc="curves", unit="chunk", disable=not progress, leave=False):
        with torch.no_grad():
            posed = posed_curves(trainer, curves, chunk, model.pose(chunk).transforms, band)
        for slot, index in enumerate(chunk.tolist()):
            fileio.write_json(
                out_dir / f"{int(data.frames[index]):06d}.json", {n: posed[slot, c].tolist() for c, n in enumerate(names)}
            )
