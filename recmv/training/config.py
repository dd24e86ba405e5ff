"""Typed configuration of `recmv fit`: loss weights, stages, optimisers and the two presets.

`reference` is REC-MV's own setting (recmv-method.md §5-6, the anran config): 8x512 SDFs, a 4x512
deformer with 128-d codes, full-resolution images, Adam at 1e-4 for 200 epochs, three stages whose
loss weights, splat radii, batch sizes and marching-cubes intervals switch at epochs 6 and 12.

`fast` (the default) keeps the method and changes its costs:
- 4x128 SDFs and a 3x128 deformer with 32-d codes (recmv.fields presets): ~35x fewer FLOPs per point;
- images at most 256 px on a side: silhouettes and normals of a garment need no more, and the splat
  and ray counts scale with pixels;
- marching cubes on each garment's own box at 9-7 mm cells, coarse-to-fine near the surface, instead
  of the whole body box at up to 30 M points;
- higher learning rates and far fewer epochs (Adam at 1e-3 on the SDFs, 5e-4 on the deformer, 1e-3 on
  colour and codes) after a 30-iteration warm-up: Adam's first steps move every weight by about the
  learning rate, which would shift a freshly fitted SDF by centimetres;
- a mean-offset term (REC-MV has none): the offsets under each garment's mean code are pulled to zero, so
  the garment's rest shape is learned by its SDF within the short schedule (hence the SDF's faster rate)
  instead of being added by the offsets in every frame, which left the canonical curves centimetres off;
- MeshSDF instead of SelfRecon's explicit vertex steps (vertex_optimizer "none", pc-SDF off): the
  marching-cubes vertices are projected onto the SDF's current level set every iteration, so the
  silhouette gradient reaches the SDF at once (dv/dtheta = -n df/dtheta / |grad f|). Moved vertices
  that the SDF then chases through pc-SDF leave the fitted surface lagging inside the silhouette,
  and a flared skirt grew its hem too slowly that way;
- a body-penetration term (REC-MV has none): with the garment masks alone, parts of a garment that
  sink into the body are hidden by it and get no silhouette gradient to come back;
- the feature curves are held where their initialisation puts them (the similarity that best explains
  the keyframes' 2D curves, REC-MV §3.3), without REC-MV's curve refinement and SDF caps: within 420
  iterations, fits with them ended with worse normals near the openings and boundaries further from
  the true ones (s1 with / without: NC 0.977 / 0.987 and 0.947 / 0.966, boundary 0.70 / 0.51 and
  1.56 / 1.08 cm; the default bench of session 16 against session 12's: s2 posed waist 1.39 ->
  0.37 cm, cuffs 1.40 / 1.00 -> 0.67 / 0.88, worst-frame IoU of the shirt 0.911 -> 0.949, the
  trousers' large-motion IoU 0.927 -> 0.952; worse: the canonical skirt and dress hems, 2.10 -> 2.71 and
  2.48 -> 3.28 cm, and s2's canonical cuffs, 0.58 / 0.84 -> 1.36 / 1.01).
  `fast_config(refine_curves=True)` keeps both, with every garment's SDF capped at its own curves
  (`cap_openings`), since a template cap pushed out of its plane inside the body survived the cut at
  the curve as a membrane;
- skirts and dresses get a looser per-frame deformation (FAST_GARMENT_TUNING): a quarter of the
  deformation-consistency weight, no mean-offset term and a 10x learning rate on their codes. A flared
  hem swings out by centimetres from where skinning puts it, and the shared weights held the offsets
  to a few millimetres in every frame (s1, 30 rotation frames: skirt worst-frame IoU 0.922 -> 0.957,
  shirt 0.948 -> 0.961, posed hem 1.73 -> 1.54 cm, skirt CD 0.83 -> 0.87 cm; the dress's large-motion
  worst-frame IoU 0.927 -> 0.951, its rotation frames within 0.003). Applied to every garment
  instead, it cost the long-sleeve shirt and trousers subject (shirt CD 0.39 -> 0.44 cm, worst-frame
  IoU 0.949 -> 0.934), so shirts and trousers keep the shared settings. Skirts also get a 2 cm
  consistency margin and no rigidity term: the consistency term's Geman-McClure pull is steepest at about
  1 cm, right where a hem must move 2-3 cm between its unflared first frames and its flared ones, and
  the rigidity term penalises exactly the stretch a flare is (s1, two seeds: skirt worst-frame IoU
  0.936 / 0.956 -> 0.974 / 0.972, CD 0.82 / 0.84 -> 0.70 / 0.70 cm, posed hem 1.59 / 1.46 -> 1.26 /
  1.27 cm). The same on the dress let its surface drift 1.3-1.8 cm from its curves (extracted, seed 1:
  neckline 0.38 -> 2.04 cm, worst-frame IoU 0.958 -> 0.914), and with the mean-offset term back to
  hold it, the skirt lost the gain; so dresses keep the looser settings above without the margin;
- dresses and trousers match their observed masks dilated by 3/4 of REC-MV's pixel (mask_dilation): the
  full pixel left every fitted garment about a pixel too large all round. Default bench, against the
  full pixel: dress CD 0.65 -> 0.56 cm, worst-frame IoU 0.954 -> 0.958 (rotation) and 0.954 -> 0.955
  (large motion), hem 1.46 -> 1.43 cm; trousers CD 0.62 -> 0.58, worst-frame IoU 0.969 -> 0.970 and
  0.928 -> 0.930, the long-sleeve shirt beside them 0.975 -> 0.968 and 0.953 -> 0.949. Shirts keep the
  full pixel (at 3/4, beside a skirt, the skirt's worst rotation frame fell to 0.948), and so do skirts
  (at 3/4 their unflared first frame fell 0.961 -> 0.937);
- fewer rays per image, and only Gauss-Newton steps in the ray/surface search: its start points are
  ray hits of the posed level-set mesh, so three quadratically converging steps bring 99.9 % of the
  rays onto the surface, where REC-MV takes up to 20 linearly converging ones.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field

from recmv.curves.config import CurveConfig
from recmv.errors import RecmvError
from recmv.fields.appearance import AppearanceConfig
from recmv.fields.deformation import DeformationConfig
from recmv.fields.sdf import SDFConfig
from recmv.fields.sdf_init import SDFFitConfig
from recmv.tables import GARMENT_TYPES

PRESETS = ("fast", "reference")


@dataclass(frozen=True)
class LossWeights:
    """Weight of each named loss term (0 turns a term off). Numbers refer to recmv-method.md §5."""

    silhouette: float = 1.0
    """5.1 soft IoU of the splatted marching-cubes vertices against each garment's parsing mask."""
    deformation_consistency: float = 0.6
    """5.2 Geman-McClure of |W(v) - LBS(v)|^2: keeps the non-rigid offset small."""
    pc_sdf: float = 60.0
    """5.4 mean |f(v)| at the explicitly moved marching-cubes vertices."""
    eikonal: float = 1.0
    """5.10 (|grad f| - 1)^2 near the surface and in the garment box."""
    rigidity: float = 0.1
    """5.12 Geman-McClure of the squared log singular values of the deformation Jacobian."""
    normal: float = 0.1
    """5.14 canonical normal at ray/surface points against the observed normal map."""
    colour: float = 0.5
    """5.13 L1 colour of the appearance field at ray/surface points."""
    dct: float = 4.0
    """5.15 high-frequency DCT energy of posed joint trajectories (translation included)."""
    pose_prior: float = 0.0
    """Not in REC-MV: mean pseudo-Huber distance (5 mm scale) of the refined body's vertices from the
    input poses' body (smoothed in time by `FitConfig.pose_prior_sigma`), so that the refinement moves
    the body only where the images ask it to."""
    mean_offset: float = 0.0
    """Not in REC-MV: mean pseudo-Huber length (1 cm scale) of the non-rigid offset under each garment's
    mean code, at marching-cubes vertices: the garment's rest shape goes into its SDF, not the offsets
    (on s2 the offsets otherwise lengthen the trousers by 4 cm in every frame)."""
    body_penetration: float = 0.0
    """Not in REC-MV: mean depth by which deformed garment vertices come within `penetration_margin`
    of the canonical body (or enter it)."""
    curve_projection: float = 0.0
    """5.6 per-curve weighted chamfer (squared px) of the visible projected curves against the 2D curves."""
    curve_sdf: float = 0.0
    """5.7 mean |f| of the owning garment's SDF at its curve points."""
    curve_smoothness: float = 0.0
    """5.8 mean 1 - cos between consecutive edge directions of the curves."""
    curve_cap: float = 0.0
    """5.5 mean |f| of the lower garment's SDF on the disc closing the waist curve, summed over the caps
    (with `cap_hem` and `cap_openings`, also the hem and every garment across its own curves)."""

    def active(self) -> dict[str, float]:
        return {name: value for name, value in dataclasses.asdict(self).items() if value > 0}


@dataclass(frozen=True)
class Stage:
    """One stage of the schedule; it applies from `start_epoch` until the next stage starts."""

    name: str
    start_epoch: int
    batch_size: int
    """Frames per iteration."""
    splat_radius: float
    """Point-splat radius in NDC units (fraction of half the shorter image side), REC-MV's `radius`."""
    refresh_every: int
    """Iterations between marching-cubes refreshes of the explicit meshes (REC-MV `remesh_intersect`)."""
    cell_size: float
    """Marching-cubes cell edge, metres."""
    rays_per_image: int
    """Pixels per image for the normal and colour terms, shared among the garments."""
    weights: LossWeights


@dataclass(frozen=True)
class OptimConfig:
    """Learning rates and schedules of the three optimisers (REC-MV §6.2)."""

    sdf_lr: float = 1e-4
    """Adam on the garment SDFs."""
    deformer_lr: float = 1e-4
    """Adam on the deformation network."""
    appearance_lr: float = 1e-4
    """Adam on the appearance network."""
    codes_lr: float = 1e-4
    """Adam on the per-frame latent codes."""
    body_lr: float = 1e-4
    """Adam on poses and translations (0 freezes them)."""
    camera_lr: float = 1e-4
    """Adam on the camera corrections (0 freezes them)."""
    warmup_iterations: int = 0
    """Iterations over which every learning rate ramps up linearly from 0 (Adam's first steps move
    every weight by about the learning rate, which shifts a freshly fitted SDF by centimetres)."""
    milestones: tuple[int, ...] = (10, 30, 80, 130)
    """Epochs at which every learning rate is multiplied by `gamma`."""
    gamma: float = 0.333
    vertex_optimizer: str = "sgd"
    """Optimiser of the explicit marching-cubes vertices: "sgd" (REC-MV), "adam", or "none" (MeshSDF:
    the vertices are projected onto the current zero level set each iteration, so the silhouette
    gradient reaches the SDF directly and pc-SDF is not needed)."""
    vertex_lr: float = 0.05
    """Its learning rate; for Adam, about the step of a vertex in metres."""
    vertex_momentum: float = 0.9
    """SGD momentum."""


@dataclass(frozen=True)
class SurfaceSearchConfig:
    """Ray / canonical-surface search for the normal and colour terms (REC-MV §4.2)."""

    newton_steps: int = 20
    gauss_newton_steps: int = 0
    sdf_tolerance: float = 5e-5
    angle_pixels: float = 0.5
    """Converged rays pass within this many pixels of the point (REC-MV angThred)."""


@dataclass(frozen=True)
class GarmentTuning:
    """Factors on some garments' own share of the deformation terms, on their codes' learning rate and on
    the dilation of their observed masks."""

    garments: tuple[str, ...] = ()
    """The garment names it applies to (those absent from a subject are ignored)."""
    deformation_consistency: float = 1.0
    """Factor on the stage's deformation_consistency weight."""
    mean_offset: float = 1.0
    """Factor on the stage's mean_offset weight."""
    rigidity: float = 1.0
    """Factor on the stage's rigidity weight."""
    consistency_margin: float = 0.0
    """Offsets up to this length (metres) cost nothing in the deformation-consistency term."""
    codes_lr: float = 1.0
    """Factor on OptimConfig.codes_lr."""
    mask_dilation: float = 1.0
    """Factor on FitConfig.mask_dilation for this garment's observed masks."""

    def validate(self) -> None:
        unknown = [name for name in self.garments if name not in GARMENT_TYPES]
        if unknown:
            raise RecmvError(f"fit config: garment_tuning names unknown garments {unknown} (expected {', '.join(GARMENT_TYPES)})")
        factors = (
            self.deformation_consistency, self.mean_offset, self.rigidity, self.consistency_margin, self.codes_lr,
            self.mask_dilation,
        )
        if min(factors) < 0:
            raise RecmvError(f"fit config: garment_tuning factors and consistency_margin must be >= 0, got {factors}")


@dataclass(frozen=True)
class FitConfig:
    """Everything `recmv fit` needs besides the subject; saved resolved into every run folder."""

    preset: str = "fast"
    seed: int = 0
    epochs: int = 200
    working_size: int | None = None
    """Images are resized so the longer side is at most this many pixels (None: full resolution)."""
    sdf: SDFConfig = field(default_factory=SDFConfig.reference)
    deformer: DeformationConfig = field(default_factory=DeformationConfig.reference)
    appearance: AppearanceConfig = field(default_factory=AppearanceConfig.reference)
    sdf_init: SDFFitConfig = field(default_factory=SDFFitConfig.reference)
    optim: OptimConfig = field(default_factory=OptimConfig)
    surface: SurfaceSearchConfig = field(default_factory=SurfaceSearchConfig)
    curves: CurveConfig = field(default_factory=CurveConfig)
    stages: tuple[Stage, ...] = ()
    annealing_period: float = 2500.0
    """Deformer positional-encoding annealing: ratio = iteration / period + 0.5 (REC-MV)."""
    regulariser_points: int = 4096
    """Marching-cubes vertices per iteration (shared among garments) for the eikonal, rigidity and mean-offset terms."""
    dct_window: int = 30
    dct_detrend: bool = True
    """Subtract each window's end velocities (`end_slope_quadratic`) before the DCT smoothness term, so
    that it does not bend the first and last frames of a motion still under way there, as a turn is at
    both ends of a rotation clip. False: REC-MV's form."""
    pose_prior_sigma: float = 2.0
    """Frames: the input poses and translations are smoothed in time by a Gaussian of this width before
    the pose_prior term pulls towards them, so that it keeps their motion and not their frame-to-frame
    jitter (0: the input as given)."""
    penetration_margin: float = 0.005
    """Metres garment vertices keep from the body surface under the body_penetration term."""
    mask_dilation: float = 1.0
    """Factor on REC-MV's dilation of the observed masks before the silhouette term (the splat radius
    / 1.2, in pixels, rounded: 1 px in the fast preset's stages). A fraction blends the two nearest
    whole-pixel dilations (`dilate_masks`). The splatted silhouette reaches past the surface by about
    the splat radius, which the dilation offsets; how far the fitted garments end up from the true
    outline depends on it within a pixel (README, `recmv fit`)."""
    box_margin: float = 0.12
    """Metres around each garment's template for its marching-cubes box."""
    mesh_cell_size: float = 0.006
    """Marching-cubes cell of the per-frame meshes written at the end, metres."""
    checkpoint_every: int = 50
    """Iterations between checkpoints (one is also written at every stage switch and at the end)."""
    hanging_skinning: bool = False
    """Skin skirts and dresses without the leg bones (their leg weights go to the pelvis), so that they
    hang from the hips rather than follow each thigh. Off by default: on a walking clip it helped the
    prepared subject's skirt a little and hurt the same clip fitted from its ground-truth inputs (README)."""
    garment_tuning: tuple[GarmentTuning, ...] = ()
    """Per-garment factors on the deformation terms and the codes' learning rate; a garment takes the
    first entry that names it."""

    def tuning(self, garment: str) -> GarmentTuning:
        """The factors that apply to a garment (all 1 when no entry names it)."""
        return next((entry for entry in self.garment_tuning if garment in entry.garments), GarmentTuning())

    def stage_at(self, epoch: int) -> Stage:
        current = self.stages[0]
        for stage in self.stages:
            if epoch >= stage.start_epoch:
                current = stage
        return current

    def validate(self) -> None:
        if not self.stages or self.stages[0].start_epoch != 0:
            raise RecmvError("fit config: the first stage must start at epoch 0")
        starts = [stage.start_epoch for stage in self.stages]
        if starts != sorted(set(starts)):
            raise RecmvError(f"fit config: stage start epochs must increase, got {starts}")
        if self.epochs < 1:
            raise RecmvError(f"fit config: epochs must be >= 1, got {self.epochs}")
        if self.mask_dilation < 0:
            raise RecmvError(f"fit config: mask_dilation must be >= 0, got {self.mask_dilation}")
        for stage in self.stages:
            if stage.batch_size < 1 or stage.refresh_every < 1 or stage.cell_size <= 0 or stage.splat_radius <= 0:
                raise RecmvError(f"fit config: stage {stage.name!r} needs positive batch, refresh, cell and radius")
        for entry in self.garment_tuning:
            entry.validate()

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> FitConfig:
        return dataclasses.replace(self, **changes)


def reference_config() -> FitConfig:
    """REC-MV's anran setting (config_anran_garment_10-5-1)."""
    def weights(consistency: float, pc_sdf: float, rigidity: float, colour: float, dct: float) -> LossWeights:
        return LossWeights(
            deformation_consistency=consistency, pc_sdf=pc_sdf, rigidity=rigidity, colour=colour, dct=dct
        )

    stages = (
        Stage("coarse", 0, 3, 0.006, 30, 0.0075, 2048, weights(0.6, 60.0, 0.1, 0.5, 4.0)),
        Stage("medium", 6, 2, 0.00465, 60, 0.006, 2048, weights(0.2, 30.0, 0.1, 1.0, 6.0)),
        Stage("fine", 12, 1, 0.0041, 120, 0.0053, 6144, weights(0.1, 10.0, 0.07, 1.0, 12.0)),
    )
    stages = with_curve_weights(stages, REFERENCE_CURVE_WEIGHTS)
    return FitConfig(preset="reference", epochs=200, stages=stages, curves=CurveConfig.reference())


def fast_config(refine_curves: bool = False) -> FitConfig:
    """The default: REC-MV's method at a cost of minutes on a CPU (see the module docstring).

    refine_curves: also optimise the curves after their initialisation and cap the SDFs across them
    (FAST_CURVE_WEIGHTS, every garment capped at its own curves); measured worse on the default bench.
    """
    def weights(consistency: float, pc_sdf: float, rigidity: float, dct: float) -> LossWeights:
        return LossWeights(
            deformation_consistency=consistency, pc_sdf=pc_sdf, rigidity=rigidity, normal=0.1, colour=0.2, dct=dct,
            body_penetration=20.0, mean_offset=1.0,
        )

    stages = (
        Stage("coarse", 0, 2, 0.012, 20, 0.011, 256, weights(0.6, 0.0, 0.1, 4.0)),
        Stage("medium", 7, 2, 0.010, 30, 0.009, 384, weights(0.2, 0.0, 0.1, 6.0)),
        Stage("fine", 17, 2, 0.009, 40, 0.007, 512, weights(0.1, 0.0, 0.07, 12.0)),
    )
    if refine_curves:
        stages = with_curve_weights(stages, FAST_CURVE_WEIGHTS)
    return FitConfig(
        preset="fast",
        epochs=28,
        working_size=256,
        sdf=SDFConfig.fast(),
        deformer=DeformationConfig.fast(),
        appearance=AppearanceConfig.fast(),
        sdf_init=SDFFitConfig.fast(),
        optim=OptimConfig(
            sdf_lr=1e-3, deformer_lr=5e-4, appearance_lr=1e-3, codes_lr=1e-3, warmup_iterations=30, body_lr=1e-4, camera_lr=1e-5, milestones=(14, 23), gamma=0.333,
            vertex_optimizer="none",
        ),
        surface=SurfaceSearchConfig(newton_steps=0, gauss_newton_steps=3),
        regulariser_points=2048,
        stages=stages,
        curves=CurveConfig(cap_openings=refine_curves, cap_samples=2048),
        garment_tuning=FAST_GARMENT_TUNING,
    )


_DRESS_TUNING = GarmentTuning(
    garments=("dress",), deformation_consistency=0.25, mean_offset=0.0, codes_lr=10.0, mask_dilation=0.75
)
FAST_GARMENT_TUNING = (
    dataclasses.replace(
        _DRESS_TUNING, garments=("skirt",), consistency_margin=0.02, rigidity=0.0, mask_dilation=1.0
    ),
    _DRESS_TUNING,
    GarmentTuning(garments=("long_pants", "short_pants"), mask_dilation=0.75),
)
"""The fast preset's per-garment settings: a looser per-frame deformation for skirts and dresses, and for
skirts also a consistency margin and no rigidity term; three quarters of the mask dilation for dresses and
trousers (see the module docstring)."""


REFERENCE_CURVE_WEIGHTS = {
    "coarse": {"curve_projection": 0.004, "curve_sdf": 100.0, "curve_smoothness": 0.1, "curve_cap": 60.0},
    "medium": {"curve_projection": 0.002, "curve_sdf": 50.0, "curve_smoothness": 0.05, "curve_cap": 30.0},
    "fine": {"curve_projection": 0.002, "curve_sdf": 10.0, "curve_smoothness": 0.02, "curve_cap": 30.0},
}
"""REC-MV's curve weights per stage (anran config; its SDF-on-curve weight carries a hard-coded 10x)."""

FAST_CURVE_WEIGHTS = {
    "coarse": {"curve_projection": 0.07, "curve_sdf": 100.0, "curve_smoothness": 0.1, "curve_cap": 30.0},
    "medium": {"curve_projection": 0.035, "curve_sdf": 50.0, "curve_smoothness": 0.05, "curve_cap": 15.0},
    "fine": {"curve_projection": 0.035, "curve_sdf": 10.0, "curve_smoothness": 0.02, "curve_cap": 15.0},
}
"""Curve refinement at the fast preset's scale, off by default (`fast_config(refine_curves=True)` turns it
on): REC-MV's weights with the projection weight scaled by (1080 / 256)^2 for squared pixels at 256 px,
and the cap at half strength (shorter fits, smaller SDFs)."""


def with_curve_weights(stages: tuple[Stage, ...], weights: dict[str, dict[str, float]]) -> tuple[Stage, ...]:
    """The stages with the curve weights of their stage name set."""
    return tuple(
        dataclasses.replace(stage, weights=dataclasses.replace(stage.weights, **weights.get(stage.name, {})))
        for stage in stages
    )


def preset_config(name: str) -> FitConfig:
    if name == "fast":
        return fast_config()
    if name == "reference":
        return reference_config()
    raise RecmvError(f"--preset: expected one of {', '.join(PRESETS)}, got {name!r}")


def config_from_json(data: dict) -> FitConfig:
    """Rebuild a FitConfig from its `to_json` form (the run folder's config.json)."""
    return _from_json(FitConfig, data)


def _from_json(cls, data):
    hints = typing.get_type_hints(cls)
    values = {}
    for item in dataclasses.fields(cls):
        if item.name not in data:
            continue
        values[item.name] = _value_from_json(hints[item.name], data[item.name])
    return cls(**values)


def _value_from_json(hint, value):
    if dataclasses.is_dataclass(hint):
        return _from_json(hint, value)
    origin = typing.get_origin(hint)
    if origin is tuple:
        args = typing.get_args(hint)
        inner = args[0] if args else None
        return tuple(_value_from_json(inner, v) if inner is not None and inner is not Ellipsis else v for v in value)
    return value


def merged_config(base: FitConfig, changes: dict, source: str) -> FitConfig:
    """base with a full or partial config in `to_json` form laid over it.

    Objects merge key by key at every depth; lists (the stages, tuples) replace the base's whole. An
    unknown key or a value of the wrong kind is a RecmvError naming `source` and the key's path.
    """
    merged = _merge_json(base.to_json(), changes, source, "")
    try:
        config = config_from_json(merged)
    except (TypeError, KeyError, ValueError) as error:
        raise RecmvError(f"{source}: not a fit config ({error})") from error
    except RecmvError as error:  # a nested config's own checks (DeformationConfig, Stage, ...)
        raise RecmvError(f"{source}: {error}") from error
    if config.preset != base.preset:
        raise RecmvError(f"{source}: preset {config.preset!r} differs from the preset it is laid over ({base.preset})")
    try:
        config.validate()
    except RecmvError as error:
        raise RecmvError(f"{source}: {error}") from error
    return config


def _merge_json(base: dict, changes: dict, source: str, prefix: str) -> dict:
    merged = dict(base)
    for key, value in changes.items():
        path = f"{prefix}{key}"
        if key not in base:
            raise RecmvError(f"{source}: unknown fit config key {path!r} (expected one of {', '.join(sorted(base))})")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise RecmvError(f"{source}: {path!r} must be an object, got {type(value).__name__}")
            merged[key] = _merge_json(base[key], value, source, f"{path}.")
        else:
            if base[key] is not None and value is not None and _json_kind(value) != _json_kind(base[key]):
                raise RecmvError(f"{source}: {path!r} must be a {_json_kind(base[key])}, got {value!r}")
            merged[key] = value
    return merged


def _json_kind(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__
