"""`recmv bench`: synthetic subjects through the whole pipeline, with quality, time and memory per preset.

For each subject of a suite: synth, skinning (the subject's grid recomputed, as `recmv prepare` would),
then per preset fit (the rotation segment), large_motion (REC-MV's second phase, on the large-motion
segment, when the subject has one), extract (the frames of both) and eval, plus the "template only, no
fitting" baseline (`template_baseline`) evaluated the same way. Each stage runs in its own process (forked
from a server that has the stage modules loaded), so its wall time and peak resident memory are its own;
a failing stage is recorded with its error and the stages that need its output are skipped, never the
whole bench.

Layout of OUT: bench.json, bench.md, subjects/<name>/, runs/<name>/<preset>/ (fit; large_motion/ inside),
runs/<name>/<preset>_extract/, runs/<name>/template/, logs/<name>_<method>_<stage>.log.
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from recmv import __version__, fileio
from recmv.errors import RecmvError
from recmv.evaluation.bench_stages import (
    StageResult, eval_stage, extract_stage, fit_stage, large_motion_stage, run_stage, skinning_stage, synth_stage,
    template_stage,
)
from recmv.synth.config import SynthConfig
from recmv.training.config import PRESETS, FitConfig, merged_config, preset_config

TEMPLATE_METHOD = "template only, no fitting"


@dataclass(frozen=True)
class BenchSubject:
    """One synthetic subject of a suite: garments, a rotation segment and a large-motion segment."""

    name: str
    garments: tuple[str, ...]
    seed: int
    frames: int = 30
    """Frames of the `rotate` segment."""
    large_motion: str | None = "walk"
    """Motion of the second segment (None: rotation only)."""
    large_motion_frames: int = 20


@dataclass(frozen=True)
class FitScale:
    """How a suite shortens a preset's fit; None keeps the preset's own value."""

    epochs: int | None = None
    """Epochs; stage starts, warm-up and learning-rate milestones scale with them."""
    working_size: int | None = None
    """Longer image side the fit works at, pixels."""
    sdf_init_iterations: int | None = None
    """Steps of the SDF initial fit to the templates."""


@dataclass(frozen=True)
class BenchSuite:
    """Subjects and the sizes they are rendered and fitted at."""

    name: str
    subjects: tuple[BenchSubject, ...]
    size: int = 256
    """Image side of the synthetic subjects, pixels (the fit issues' checks are at 256²; `--size 512` for more)."""
    topology: str = "notoes"
    """Anny topology of the body."""
    grid_resolution: int = 96
    """Skinning grid cells per side."""
    garment_resolution: float = 0.015
    """Target edge length of the procedural garments, metres."""
    fit: FitScale = field(default_factory=FitScale)
    eval_samples: int = 100_000
    """Surface samples per mesh and frame in eval."""
    extract_media: bool = True
    """Extract writes the GLB and the videos too (the eval needs only the meshes)."""


DEFAULT_SUBJECTS = (
    BenchSubject("short_sleeve_upper+skirt", ("short_sleeve_upper", "skirt"), seed=0),
    BenchSubject("long_sleeve_upper+long_pants", ("long_sleeve_upper", "long_pants"), seed=1),
    BenchSubject("dress", ("dress",), seed=2),
)
SUITES = {
    "default": BenchSuite("default", DEFAULT_SUBJECTS),
    # CPU-sized: the same subjects, 8 + 4 frames at 128², about a third of the fast preset's epochs, and
    # the extracted meshes without their GLB and videos.
    "quick": BenchSuite(
        "quick",
        tuple(dataclasses.replace(s, frames=8, large_motion_frames=4) for s in DEFAULT_SUBJECTS),
        size=128,
        grid_resolution=64,
        fit=FitScale(epochs=10, working_size=128, sdf_init_iterations=150),
        eval_samples=20_000,
        extract_media=False,
    ),
}


def shortened_config(preset: str, scale: FitScale) -> FitConfig:
    """The preset with fewer epochs, a smaller working size and a shorter SDF initial fit.

    Stage start epochs, learning-rate milestones and the warm-up scale with the epochs, so the schedule
    keeps its shape; stage starts stay strictly increasing.
    """
    config = preset_config(preset)
    changes: dict = {}
    if scale.epochs is not None:
        ratio = scale.epochs / config.epochs
        starts, stages = -1, []
        for stage in config.stages:
            starts = 0 if stage.start_epoch == 0 else max(starts + 1, round(stage.start_epoch * ratio))
            stages.append(dataclasses.replace(stage, start_epoch=starts))
        milestones = tuple(sorted({max(1, round(m * ratio)) for m in config.optim.milestones}))
        warmup = round(config.optim.warmup_iterations * min(1.0, ratio * 2))
        changes.update(
            epochs=scale.epochs, stages=tuple(stages),
            optim=dataclasses.replace(config.optim, milestones=milestones, warmup_iterations=warmup),
        )
    if scale.working_size is not None:
        changes["working_size"] = scale.working_size
    if scale.sdf_init_iterations is not None:
        iterations = scale.sdf_init_iterations
        lr_step = max(1, round(config.sdf_init.lr_step * iterations / config.sdf_init.iterations))
        changes["sdf_init"] = dataclasses.replace(config.sdf_init, iterations=iterations, lr_step=lr_step)
    config = config.replace(**changes)
    config.validate()
    return config


def fit_overrides(config: FitConfig) -> dict:
    """`fit_subject(..., overrides=...)` that turn a preset into `config`."""
    return {item.name: getattr(config, item.name) for item in dataclasses.fields(config) if item.name != "preset"}


@dataclass
class MethodRecord:
    """One subject under one method (a preset, or the template baseline)."""

    subject: str
    method: str
    stages: dict[str, StageResult]
    metrics: dict | None = None

    def to_json(self) -> dict:
        return {
            "subject": self.subject,
            "method": self.method,
            "stages": {name: _stage_json(s) for name, s in self.stages.items()},
            "metrics": self.metrics,
        }


def _stage_json(stage: StageResult) -> dict:
    data = dataclasses.asdict(stage)
    if stage.stage == "eval":
        data.pop("value")  # kept, reduced, as the record's metrics
    return data


def synth_config(suite: BenchSuite, subject: BenchSubject) -> SynthConfig:
    return SynthConfig(
        garments=subject.garments, motion="rotate", frames=subject.frames, large_motion=subject.large_motion,
        large_motion_frames=subject.large_motion_frames if subject.large_motion else 0, size=suite.size,
        seed=subject.seed, body_topology=suite.topology, grid_resolution=suite.grid_resolution,
        garment_resolution=suite.garment_resolution,
    )


def bench_plan(suite: BenchSuite, presets: tuple[str, ...]) -> int:
    """Number of stages the bench runs (for its progress bar)."""
    per_preset = [3 + (s.large_motion is not None) for s in suite.subjects]
    return sum(2 + 2 + n * len(presets) for n in per_preset)


@dataclass
class StageRunner:
    """Runs the stages of a bench: skips those whose inputs failed, logs each, ticks the progress bar."""

    out: Path
    bar: tqdm
    isolated: bool

    def __call__(self, subject: str, method: str, name: str, target, blocked_by=(), /, **kwargs) -> StageResult:
        """Run stage `name` of (subject, method) as target(**kwargs) unless a stage in blocked_by did not succeed."""
        self.bar.set_description(f"bench {subject} {method} {name}")
        failed = [s.stage for s in blocked_by if s.status != "ok"]
        if failed:
            result = StageResult(name, "skipped", error=f"needs {', '.join(failed)}")
        else:
            log = self.out / "logs" / f"{subject}_{method.split(',')[0].replace(' ', '_')}_{name}.log"
            result = run_stage(name, target, kwargs, log, self.isolated)
        self.bar.update(1)
        return result


def bench_subject(
    run: StageRunner, suite: BenchSuite, subject: BenchSubject, presets: tuple[str, ...], overrides: dict[str, dict]
) -> list[MethodRecord]:
    """One subject: synth and skinning once, then fit, extract and eval per preset, and the template baseline."""
    out, name = run.out, subject.name
    folder = str(run.out / "subjects" / name)
    segments = {"rotation": [0, subject.frames - 1]}
    if subject.large_motion:
        segments["large_motion"] = [subject.frames, subject.frames + subject.large_motion_frames - 1]
    shared = {"synth": run(name, "subject", "synth", synth_stage, config=synth_config(suite, subject), subject=folder)}
    shared["skinning"] = run(
        name, "subject", "skinning", skinning_stage, [shared["synth"]], subject=folder, resolution=suite.grid_resolution
    )
    records = []
    for method in (*presets, TEMPLATE_METHOD):
        stages = dict(shared)
        if method == TEMPLATE_METHOD:
            prediction = out / "runs" / name / "template"
            stages["template"] = run(name, method, "template", template_stage, [shared["skinning"]], subject=folder, out=str(prediction))
            produced = stages["template"]
        else:
            fit_dir = out / "runs" / name / method
            stages["fit"] = run(
                name, method, "fit", fit_stage, [shared["skinning"]], subject=folder, run=str(fit_dir), preset=method,
                overrides=overrides[method], segment="rotation",
            )
            fitted = [stages["fit"]]
            if subject.large_motion:
                stages["large_motion"] = run(
                    name, method, "large_motion", large_motion_stage, fitted, subject=folder, run=str(fit_dir)
                )
                fitted.append(stages["large_motion"])
            prediction = out / "runs" / name / f"{method}_extract"
            stages["extract"] = run(
                name, method, "extract", extract_stage, fitted, run=str(fit_dir), out=str(prediction), media=suite.extract_media,
            )
            produced = stages["extract"]
        stages["eval"] = run(
            name, method, "eval", eval_stage, [produced], prediction=str(prediction), subject=folder, samples=suite.eval_samples
        )
        metrics = reduce_metrics(stages["eval"].value, segments) if stages["eval"].status == "ok" else None
        records.append(MethodRecord(name, method, stages, metrics))
    return records


def run_bench(
    suite: BenchSuite,
    presets: tuple[str, ...],
    out: str | Path,
    progress: bool = True,
    isolated: bool = True,
    fit_configs: dict[str, FitConfig] | None = None,
    config_changes: dict | None = None,
    config_source: str = "--config",
) -> dict:
    """Run the suite; write OUT/bench.json and OUT/bench.md and return the bench.json content.

    isolated: each stage in its own process (see `run_stage`); fit_configs: preset -> the config to fit
    with instead of the preset shortened by `suite.fit`; config_changes: a partial fit config (as `recmv
    fit --config`, named config_source in errors) laid over every preset's config, so a setting can be
    benched before it becomes a default.
    """
    unknown = [p for p in presets if p not in PRESETS]
    if unknown or not presets:
        raise RecmvError(f"--presets: expected a comma-separated subset of {', '.join(PRESETS)}, got {','.join(presets)!r}")
    if not suite.subjects:
        raise RecmvError(f"bench suite {suite.name!r} has no subjects")
    out = Path(out)
    if (out / "bench.json").exists():
        raise RecmvError(f"--out {out} already holds a bench (bench.json): choose another folder")
    configs = {p: (fit_configs or {}).get(p) or shortened_config(p, suite.fit) for p in presets}
    if config_changes:
        configs = {p: merged_config(c, config_changes, config_source) for p, c in configs.items()}
    overrides = {p: fit_overrides(c) for p, c in configs.items()}
    started = time.perf_counter()
    records: list[MethodRecord] = []
    with tqdm(total=bench_plan(suite, presets), desc="bench", unit="stage", disable=not progress) as bar:
        runner = StageRunner(out, bar, isolated)
        for subject in suite.subjects:
            records += bench_subject(runner, suite, subject, presets, overrides)
            # Written after every subject, so a long bench that is stopped keeps what it measured.
            bench = bench_document(suite, presets, configs, records, time.perf_counter() - started, config_changes)
            bench["complete"] = len(records) == len(suite.subjects) * (len(presets) + 1)
            write_bench(bench, out)
    return bench


def bench_document(
    suite: BenchSuite, presets: tuple[str, ...], configs: dict[str, FitConfig], records: list[MethodRecord], wall: float,
    config_changes: dict | None = None,
) -> dict:
    """The content of bench.json."""
    return {
        "suite": dataclasses.asdict(suite),
        "presets": list(presets),
        "fit_configs": {p: {"epochs": c.epochs, "working_size": c.working_size} for p, c in configs.items()},
        "config_changes": config_changes or None,
        "machine": {
            "platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "load_average": [round(x, 1) for x in os.getloadavg()], "recmv": __version__, "torch": _torch_version(),
        },
        "total_wall_s": round(wall, 1),
        "records": [r.to_json() for r in records],
        "ratios": preset_ratios(records, presets) if len(presets) > 1 else None,
    }


def write_bench(bench: dict, out: Path) -> None:
    from recmv.report.bench_tables import bench_markdown

    fileio.write_json(out / "bench.json", bench)
    with fileio.atomic_path(out / "bench.md") as tmp:
        tmp.write_text(bench_markdown(bench), encoding="utf-8")


def reduce_metrics(result: dict, segments: dict[str, list[int]]) -> dict:
    """The eval JSON without its per-frame rows: overall and per-garment means, acceleration, and the
    scalar metrics averaged over each segment's frames."""
    garments = {}
    for name, garment in result["garments"].items():
        by_segment = {}
        for segment, (first, last) in segments.items():
            rows = [f for f in garment["frames"] if first <= f["frame"] <= last]
            by_segment[segment] = segment_metrics(rows)
        garments[name] = {
            "mean": garment["mean"], "acceleration": garment["acceleration_cm_per_frame2"], "segments": by_segment,
        }
    return {"overall": result["overall"], "garments": garments, "frames": len(result["frames"])}


def segment_metrics(rows: list[dict]) -> dict:
    """Means over a segment's per-frame eval rows of SEGMENT_METRICS, the worst frame's mask IoU and that
    frame's index ("mask_iou_worst_frame", so that a bench says which frame to look at), the boundary
    error (each frame's mean over its loops, then the mean over frames), and each loop's own boundary
    error averaged over the frames that measured it ("boundary_cm": {loop name: cm})."""
    out = {key: _mean([row.get(key) for row in rows]) for key in SEGMENT_METRICS}
    scored = [row for row in rows if _is_finite(row.get("mask_iou"))]
    worst = min(scored, key=lambda row: row["mask_iou"], default=None)
    out["mask_iou_min"] = None if worst is None else worst["mask_iou"]
    out["mask_iou_worst_frame"] = None if worst is None else worst.get("frame")
    per_frame = [row.get("boundary_cm") or {} for row in rows]
    out["boundary_cm_mean"] = _mean([_mean(list(loops.values())) for loops in per_frame])
    names = dict.fromkeys(name for loops in per_frame for name in loops)
    out["boundary_cm"] = {name: _mean([loops.get(name) for loops in per_frame]) for name in names}
    return out


def preset_ratios(records: list[MethodRecord], presets: tuple[str, ...]) -> dict:
    """Second preset / first preset, per subject and as a geometric mean: fit and total time, quality."""
    base, other = presets[0], presets[1]
    by_key = {(r.subject, r.method): r for r in records}
    subjects = sorted({r.subject for r in records}, key=[r.subject for r in records].index)
    rows = {}
    for subject in subjects:
        a, b = by_key.get((subject, base)), by_key.get((subject, other))
        if a is None or b is None:
            continue
        row = {
            "fit_time": _ratio(_wall(b, FIT_STAGES), _wall(a, FIT_STAGES)),
            "total_time": _ratio(_wall(b, tuple(b.stages)), _wall(a, tuple(a.stages))),
        }
        for key in RATIO_METRICS:
            row[key] = _ratio(*((r.metrics or {}).get("overall", {}).get(key) for r in (b, a)))
        rows[subject] = row
    keys = ("fit_time", "total_time", *RATIO_METRICS)
    mean = {k: _geometric_mean([row[k] for row in rows.values()]) for k in keys}
    return {"numerator": other, "denominator": base, "subjects": rows, "geometric_mean": mean}


FIT_STAGES = ("fit", "large_motion")
SEGMENT_METRICS = ("chamfer_cm", "s2p_cm", "normal_consistency", "fscore_1cm", "mask_iou")
RATIO_METRICS = ("chamfer_cm", "s2p_cm", "normal_consistency", "fscore_1cm", "mask_iou", "boundary_cm_mean")


def _wall(record: MethodRecord, stages: tuple[str, ...]) -> float | None:
    walls = [record.stages[s].wall_s for s in stages if s in record.stages]
    return None if not walls or any(w is None for w in walls) else sum(walls)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _is_finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _finite(values: list) -> list[float]:
    """The values that are finite numbers (None, NaN and inf dropped)."""
    return [v for v in values if _is_finite(v)]


def _mean(values: list) -> float | None:
    finite = _finite(values)
    return sum(finite) / len(finite) if finite else None


def _geometric_mean(values: list) -> float | None:
    positive = [v for v in values if isinstance(v, (int, float)) and v > 0]
    return math.exp(sum(math.log(v) for v in positive) / len(positive)) if positive else None


def _torch_version() -> str:
    import torch

    return torch.__version__
