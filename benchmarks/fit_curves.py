"""Quality of the learned feature curves of `recmv fit`, decoupled (REC-MV) and coupled side by side,
and the mask IoU of the large-motion phase.

For each garment pair: synthesise the subject (rotate, --frames frames, then a walk segment of
--large-frames frames, --size px, seed 0; cached in --work), run `recmv fit` with the fast preset's curve
refinement turned on (`fast_config(refine_curves=True)`; by default the fast preset holds its curves) in
each coupling variant (and, with --large-motion, `--phase large-motion` after the default one), and
measure:
- 3D: per curve, the two-sided mean distance (cm) of RUN/curves/canonical.json to gt/curves/canonical.json
  (recmv.evaluation.curves.canonical_curve_errors), and its mean over curves;
- 2D: on the rotation keyframes, the two-sided mean distance (px, subject resolution) between the
  annotated mask2fl points and the projection of RUN/curves/<frame>.json: annotated points to the
  nearest projected point of the whole curve, and projected points visible against the GT meshes
  (ray casting, 3 cm slack) to the nearest annotated point;
- the initial curves (before any fit iteration) the same way, to show what the fit adds;
- large motion: per-garment mask IoU of the large-motion meshes (recmv eval).

Usage: python benchmarks/fit_curves.py [--pairs short_sleeve_upper+skirt] [--variants decoupled,coupled]
       [--size 256] [--frames 30] [--large-frames 16] [--epochs N] [--large-motion] [--work DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import trimesh

from recmv import fileio
from recmv.curves.visibility import visible_points
from recmv.data import formats
from recmv.data.frames import SubjectFolder
from recmv.evaluation.curves import canonical_curve_errors
from recmv.training.config import fast_config


def projected_errors(subject: Path, curve_dir: Path, frames: list[int]) -> dict[str, float]:
    """Curve name -> mean over the given keyframes of the two-sided 2D distance (px), see the docstring."""
    folder = SubjectFolder(subject)
    camera = folder.camera
    per_curve: dict[str, list[float]] = {}
    for frame in frames:
        annotated = formats.read_labelme(folder.curve_path(frame))
        curves = json.loads((curve_dir / f"{frame:06d}.json").read_text())
        occluders = [_mesh(subject / "gt" / "body" / f"{frame:06d}.obj")]
        occluders += [_mesh(subject / "gt" / "garments" / g / f"{frame:06d}.obj") for g in folder.meta.garments]
        for name, points in annotated.items():
            if name not in curves or not len(points):
                continue
            world = torch.tensor(curves[name], dtype=torch.float32)
            pixels = camera.project(world)[0].numpy()
            seen = visible_points(world, occluders, camera, 0.03).numpy()
            to_curve = np.linalg.norm(points[:, None] - pixels[None], axis=-1).min(1).mean()
            to_points = np.linalg.norm(pixels[seen][:, None] - points[None], axis=-1).min(1).mean() if seen.any() else to_curve
            per_curve.setdefault(name, []).append(0.5 * float(to_curve + to_points))
    return {n: float(np.mean(v)) for n, v in per_curve.items()}


def _mesh(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    mesh = trimesh.load(path, process=False, force="mesh")
    return torch.as_tensor(np.asarray(mesh.vertices), dtype=torch.float32), torch.as_tensor(np.asarray(mesh.faces), dtype=torch.long)


def curve_quality(subject: Path, curve_dir: Path) -> dict:
    meta = SubjectFolder(subject).meta
    rotation_end = (meta.segments or {}).get("rotation", [0, 10**9])[1]
    keyframes = [k for k in meta.keyframes if k <= rotation_end and (curve_dir / f"{k:06d}.json").exists()]
    gt = json.loads((subject / "gt" / "curves" / "canonical.json").read_text())
    learned = json.loads((curve_dir / "canonical.json").read_text())
    errors_3d = canonical_curve_errors(learned, gt)
    errors_2d = projected_errors(subject, curve_dir, keyframes)
    return {
        "boundary_cm": errors_3d, "boundary_cm_mean": float(np.mean(list(errors_3d.values()))),
        "projected_px": errors_2d, "projected_px_mean": float(np.mean(list(errors_2d.values()))),
    }


def subject_for(work: Path, garments: tuple[str, ...], size: int, frames: int, large_frames: int) -> Path:
    from recmv.synth.config import SynthConfig
    from recmv.synth.writer import synthesize

    folder = work / f"{'+'.join(garments)}_{size}_{frames}+{large_frames}"
    if not (folder / "subject.json").exists():
        synthesize(
            SynthConfig(garments=garments, frames=frames, size=size, seed=0, large_motion="walk", large_motion_frames=large_frames),
            folder,
        )
    return folder


def run_fit(subject: Path, run: Path, extra: list[str]) -> float:
    command = [sys.executable, "-m", "recmv.cli.main", "fit", str(subject), "--out", str(run), *extra]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"recmv fit failed:\n{result.stderr[-4000:]}")
    return time.perf_counter() - start


def large_motion_iou(subject: Path, run: Path) -> dict[str, float]:
    from recmv.evaluation.evaluate import EvaluationOptions, evaluate

    result = evaluate(run / "large_motion" / "meshes", subject, EvaluationOptions(samples=20_000))
    return {g: float(np.mean([f.mask_iou for f in o.frames])) for g, o in result.garments.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default="short_sleeve_upper+skirt")
    parser.add_argument("--variants", default="decoupled,coupled")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--large-frames", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--large-motion", action="store_true")
    parser.add_argument(
        "--work", default=str(Path(tempfile.gettempdir()) / "recmv_bench_curves"),
        help="folder for the subjects and runs (reused between invocations)",
    )
    parser.add_argument("--out", default="bench_curves.json")
    args = parser.parse_args()
    work = Path(args.work)
    results = []
    for pair in args.pairs.split(","):
        subject = subject_for(work, tuple(pair.split("+")), args.size, args.frames, args.large_frames)
        # The fast preset holds its curves; the variants differ only where the curves are refined.
        refining = work / "refine_curves.json"
        refined = fast_config(refine_curves=True)
        fileio.write_json(refining, {"stages": refined.to_json()["stages"], "curves": {"cap_openings": refined.curves.cap_openings}})
        for variant in args.variants.split(","):
            run = work / f"run_{pair}_{variant}"
            extra = ["--config", str(refining), "--curves", variant, "--no-meshes"]
            extra += ["--epochs", str(args.epochs)] if args.epochs else []
            seconds = run_fit(subject, run, extra)
            row = {"pair": pair, "variant": variant, "fit_s": round(seconds, 1), **curve_quality(subject, run / "curves")}
            if args.large_motion:
                seconds = run_fit(subject, run, ["--phase", "large-motion"] + (["--epochs", str(args.epochs)] if args.epochs else []))
                row["large_motion_s"] = round(seconds, 1)
                row["large_motion_iou"] = large_motion_iou(subject, run)
            results.append(row)
            print(json.dumps(row))
    Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
