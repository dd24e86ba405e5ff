"""Quality, time and memory of `recmv fit` (fast preset) on synthetic subjects, and the time per
iteration of the fast and reference presets side by side on the same subject.

For each garment pair and image size: synthesise the subject (30 frames, `rotate`, seed 0; cached in
--work), run `recmv fit` in a fresh process (wall time, peak memory), then `recmv eval` its per-frame
meshes against gt/: per-garment mask IoU (worst and mean frame), one-sided GT -> fit distance (S2P),
normal consistency and Chamfer. Then, in this process on the first subject, time the parts of both
presets' fits side by side (an SDF initial-fit step, a marching-cubes refresh, an iteration after a
warm-up) and project each preset's whole fit from them.

Usage: python benchmarks/fit_subjects.py [--sizes 256,512] [--pairs short_sleeve_upper+skirt,long_sleeve_upper+long_pants]
       [--work /tmp/recmv_bench_fit] [--iterations 3] [--init-steps 20] [--out bench_fit.json] [--timing-only]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import resource
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch

from recmv.evaluation.evaluate import EvaluationOptions, evaluate
from recmv.synth.config import SynthConfig
from recmv.synth.writer import synthesize
from recmv.training.config import preset_config
from recmv.training.data import load_fit_data
from recmv.training.trainer import Trainer, iterations_per_epoch, total_iterations


def subject_for(work: Path, garments: tuple[str, ...], size: int, frames: int) -> Path:
    folder = work / f"{'+'.join(garments)}_{size}"
    if not (folder / "subject.json").exists():
        synthesize(SynthConfig(garments=garments, frames=frames, size=size, seed=0), folder)
    return folder


def fit_in_process(subject: Path, run: Path) -> tuple[float, float]:
    """Wall seconds and peak resident memory (GiB) of `recmv fit` in a fresh process."""
    command = [sys.executable, "-m", "recmv.cli.main", "fit", str(subject), "--out", str(run)]
    if (run / "checkpoints").exists():
        command.append("--resume")
    start = time.perf_counter()
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise SystemExit(f"recmv fit failed:\n{result.stderr[-4000:]}")
    return time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20


def quality(run: Path, subject: Path) -> dict[str, dict[str, float]]:
    result = evaluate(run / "meshes", subject, EvaluationOptions(samples=30_000))
    rows = {}
    for garment, outcome in result.garments.items():
        ious = [f.mask_iou for f in outcome.frames]
        mean = outcome.mean()
        rows[garment] = {
            "iou_min": min(ious),
            "iou_mean": sum(ious) / len(ious),
            "s2p_cm": mean["s2p_cm"],
            "nc": mean["normal_consistency"],
            "cd_cm": mean["chamfer_cm"],
        }
    return rows


@dataclass
class PresetTiming:
    """Costs of one preset's parts on one subject, seconds, and the whole fit they add up to."""

    sdf_init_step: float
    """One step of the SDF initial fit, per garment."""
    refresh: float
    """One marching-cubes refresh of every garment's explicit mesh (first stage's cell size)."""
    iteration: float
    """One training iteration of the first stage, after a warm-up, without its refresh."""
    projected_fit: float
    """The preset's whole rotation fit at these costs: its init steps, refreshes and iterations (a lower
    bound: later stages cast more rays and mesh finer)."""


def preset_timing(subject: Path, preset: str, iterations: int, init_steps: int) -> PresetTiming:
    """Time the parts of a fit, each preset from `init_steps` steps of its SDF initial fit (its
    geometric init already has the level set the marching cubes need; a full initial fit of REC-MV's
    8 x 512 SDFs alone takes longer than this benchmark should)."""
    config = preset_config(preset)
    full_init = config.sdf_init.iterations
    config = config.replace(sdf_init=dataclasses.replace(config.sdf_init, iterations=init_steps))
    data = load_fit_data(subject, config.working_size)
    trainer = Trainer(config, data, Path("/tmp") / f"recmv_bench_{preset}")
    trainer.run_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    trainer.initialise_sdfs(progress=False)
    init_step = (time.perf_counter() - start) / max(1, init_steps * len(data.garments))
    stage = config.stage_at(0)
    start = time.perf_counter()
    trainer.refresh_meshes(stage)
    refresh = time.perf_counter() - start
    batches = trainer.epoch_batches(0, stage)
    trainer.step(batches[0], stage)
    start = time.perf_counter()
    for index in range(iterations):
        trainer.step(batches[(index + 1) % len(batches)], stage)
    iteration = (time.perf_counter() - start) / iterations
    per_stage = Counter()
    for epoch in range(config.epochs):
        per_stage[config.stage_at(epoch)] += iterations_per_epoch(data.num_frames, config.stage_at(epoch))
    refreshes = sum(math.ceil(count / stage.refresh_every) for stage, count in per_stage.items())
    iterations_total = total_iterations(config, data.num_frames)
    projected = full_init * len(data.garments) * init_step + refreshes * refresh + iterations_total * iteration
    return PresetTiming(init_step, refresh, iteration, projected)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="256,512")
    parser.add_argument("--pairs", default="short_sleeve_upper+skirt,long_sleeve_upper+long_pants")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--work", default="/tmp/recmv_bench_fit")
    parser.add_argument("--iterations", type=int, default=3, help="timed iterations per preset")
    parser.add_argument("--init-steps", type=int, default=20, help="SDF initial-fit steps before timing each preset")
    parser.add_argument("--out", default="bench_fit.json")
    parser.add_argument("--timing-only", action="store_true", help="only the fast / reference costs side by side")
    args = parser.parse_args()
    work = Path(args.work)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    records = []
    pairs = [] if args.timing_only else args.pairs.split(",")
    if pairs:
        print("| subject | size | garment | fit wall (s) | peak RSS (GiB) | IoU min | IoU mean | S2P (cm) | NC | CD (cm) |")
        print("|---|---|---|---|---|---|---|---|---|---|")
    for pair in pairs:
        garments = tuple(pair.split("+"))
        for size in (int(s) for s in args.sizes.split(",")):
            subject = subject_for(work, garments, size, args.frames)
            run = work / f"run_{pair}_{size}"
            wall, peak = fit_in_process(subject, run)
            for garment, row in quality(run, subject).items():
                records.append({"subject": pair, "size": size, "garment": garment, "wall_s": wall, "peak_gib": peak, **row})
                print(
                    f"| {pair} | {size} | {garment} | {wall:.0f} | {peak:.2f} | {row['iou_min']:.3f} | {row['iou_mean']:.3f} "
                    f"| {row['s2p_cm']:.2f} | {row['nc']:.3f} | {row['cd_cm']:.2f} |",
                    flush=True,
                )
    first = subject_for(work, tuple(args.pairs.split(",")[0].split("+")), int(args.sizes.split(",")[0]), args.frames)
    print(f"\ncosts on {first.name}, seconds (first stage; each preset after {args.init_steps} SDF init steps):")
    print("| preset | SDF init step | refresh | iteration | projected fit |")
    print("|---|---|---|---|---|")
    timing = {}
    for preset in ("fast", "reference"):
        timing[preset] = preset_timing(first, preset, args.iterations, args.init_steps)
        t = timing[preset]
        print(f"| {preset} | {t.sdf_init_step:.2f} | {t.refresh:.1f} | {t.iteration:.2f} | {t.projected_fit:.0f} |", flush=True)
    ratio = timing["reference"].iteration / timing["fast"].iteration
    print(f"reference / fast per iteration: {ratio:.1f}x")
    timing_json = {preset: dataclasses.asdict(t) for preset, t in timing.items()}
    Path(args.out).write_text(json.dumps({"fits": records, "timing": timing_json}, indent=2) + "\n")


if __name__ == "__main__":
    main()
