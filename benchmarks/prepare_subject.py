"""`recmv prepare` on a synthetic subject given as its MP4 only: quality and time per frame of each step.

Renders a synthetic subject with the realism options (textured background, lighting changes, noise,
motion blur, camera shake, video.mp4), runs `prepare` on video.mp4 alone, and compares with the
subject's ground truth, in the input video's pixels: mask IoU, per-garment parsing IoU, 2D joint
error of the keypoints and of the fitted body (against the GT body's projected COCO joints), and 2D
curve error on keyframes (mean symmetric nearest-point distance).

With --reconstruct it then runs `recmv fit` (fast preset) and `recmv extract` on the prepared subject
and scores the meshes with `recmv eval` against the synthetic GT. A monocular fit fixes neither the
scale nor where the camera stands, so each frame's meshes are first carried into the GT world by
the similarity that takes the prepared subject's fitted body onto the GT body (both are Anny
bodies with one topology; each vertex weighted by its share of the body's surface), as body
reconstructions are scored after Procrustes alignment.

Usage: python benchmarks/prepare_subject.py --size 512 --frames 30 [--motion walk|rotate] [--subject SYNTH_DIR] [--out DIR] [--reconstruct [--config JSON]]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import trimesh
from scipy.spatial import cKDTree

from recmv import fileio
from recmv.body.factory import build_body_model, shape_tensor
from recmv.data import formats
from recmv.data.subject import SubjectMeta
from recmv.evaluation.evaluate import EvaluationOptions, evaluate as evaluate_meshes
from recmv.export.extract import ExtractOptions, extract_run
from recmv.preprocess.bodyfit import body_keypoints, coco_regressor
from recmv.preprocess.masks import mask_iou
from recmv.preprocess.pipeline import PrepareOptions, prepare_subject
from recmv.preprocess.video import CropBox, crop_image
from recmv.synth.config import RealismParams, SynthConfig
from recmv.synth.motions import MOTIONS
from recmv.synth.writer import synthesize
from recmv.tables import GARMENT_ATR_LABEL
from recmv.training.fit import fit_subject


def make_subject(
    out: Path, size: int, frames: int, garments: tuple[str, ...], keyframe_every: int, motion: str
) -> None:
    realism = RealismParams(
        background="texture", light_jitter=0.3, image_noise=3.0, motion_blur_px=2.0, camera_shake_px=1.5, video=True
    )
    config = SynthConfig(
        garments=garments, motion=motion, frames=frames, size=size, seed=3, keyframe_every=keyframe_every,
        grid_resolution=32, realism=realism,
    )  # fmt: skip
    synthesize(config, out)


def posed_body(subject: Path):
    """(body model, its output over every frame of smpl_rec.npz, camera) of a subject folder."""
    meta = SubjectMeta.load(subject)
    body = build_body_model(meta.body)
    params = formats.read_body_params(subject / "smpl_rec.npz")
    camera = formats.read_camera(subject / "camera.npz", tuple(meta.image_size))
    with torch.no_grad():
        out = body(torch.as_tensor(params.poses), shape_tensor(meta.body), torch.as_tensor(params.trans))
    return body, out, camera


def projected_keypoints(subject: Path) -> np.ndarray:
    """[F, 17, 2] COCO-17 keypoints of a subject folder's body (smpl_rec.npz) in its own pixels."""
    body, out, camera = posed_body(subject)
    with torch.no_grad():
        return camera.project(body_keypoints(out.vertices, out.joints, coco_regressor(body)))[0].numpy()


def gt_joints(subject: Path) -> np.ndarray:
    """[F, 17, 2] the GT body's COCO-17 keypoints projected into the (shaken) GT frames."""
    pixels = projected_keypoints(subject)
    shake = subject / "gt" / "camera_shake.json"
    if shake.exists():
        pixels = pixels + np.asarray(json.loads(shake.read_text()), dtype=float)[:, None, :]
    return pixels


def fitted_joints(prepared: Path, box: CropBox) -> np.ndarray:
    """[F, 17, 2] the fitted body's COCO-17 keypoints in the source video's pixels."""
    return box.to_source(projected_keypoints(prepared))


def curve_error(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Mean symmetric nearest-point distance between two polylines [K, 2] (densified to 0.5 px)."""
    a, b = densify(predicted), densify(truth)
    return 0.5 * (cKDTree(b).query(a)[0].mean() + cKDTree(a).query(b)[0].mean())


def densify(points: np.ndarray, step: float = 0.5) -> np.ndarray:
    pieces = [points[:1]]
    for p, q in itertools.pairwise(points):
        count = max(1, int(np.ceil(np.linalg.norm(q - p) / step)))
        pieces.append(p + (q - p) * np.arange(1, count + 1)[:, None] / count)
    return np.concatenate(pieces)


def evaluate(synth: Path, prepared: Path) -> dict:
    crop = json.loads((prepared / "crop.json").read_text())
    box = CropBox(crop["x0"], crop["y0"], crop["side"], crop["size"])
    kept = crop["source_frames"]
    meta = SubjectMeta.load(synth)
    ious, parsing = [], {g: [] for g in meta.garments}
    for index, frame in enumerate(kept):
        # The GT matte resampled as the frames were (area/linear), so resampling is not counted as error.
        truth = crop_image(formats.read_mask(synth / "masks" / f"{frame:06d}.png").astype(np.float32), box) > 0.5
        ious.append(mask_iou(formats.read_mask(prepared / "masks" / f"{index:06d}.png"), truth))
        gt_labels = crop_image(formats.read_parsing(synth / "parsing_SCH_ATR" / f"{frame:06d}.npy"), box, nearest=True)
        labels = formats.read_parsing(prepared / "parsing_SCH_ATR" / f"{index:06d}.npy")
        for garment in meta.garments:
            code = GARMENT_ATR_LABEL[garment]
            parsing[garment].append(mask_iou(labels == code, gt_labels == code))
    truth_joints = gt_joints(synth)[kept]
    keypoints = np.load(prepared / "keypoints_coco17.npy")
    detected = box.to_source(keypoints[..., :2])
    fitted = fitted_joints(prepared, box)
    curves = []
    for path in sorted((prepared / "mask2fl").glob("*.json")):
        frame = kept[int(path.stem)]
        gt_path = synth / "mask2fl" / f"{frame:06d}.json"
        if not gt_path.exists():
            continue
        truth, predicted = formats.read_labelme(gt_path), formats.read_labelme(path)
        for name in set(truth) & set(predicted):
            if len(truth[name]) > 1 and len(predicted[name]) > 1:
                curves.append(curve_error(box.to_source(predicted[name]), truth[name]))
    return {
        "mask_iou": float(np.mean(ious)),
        "parsing_iou": {g: float(np.mean(v)) for g, v in parsing.items()},
        "keypoint_error_px": float(np.linalg.norm(detected - truth_joints, axis=-1).mean()),
        "fitted_joint_error_px": float(np.linalg.norm(fitted - truth_joints, axis=-1).mean()),
        "curve_error_px": float(np.mean(curves)) if curves else None,
        "curves_compared": len(curves),
    }


def vertex_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """[V] a third of the area of the triangles around each vertex (vertices [V, 3], faces [F, 3])."""
    areas = np.zeros(len(vertices))
    np.add.at(areas, faces.ravel(), np.repeat(trimesh.triangles.area(vertices[faces]) / 3, 3))
    return areas


def body_alignments(prepared: Path, synth: Path, kept: list[int]) -> list[np.ndarray]:
    """Per prepared frame, the 4x4 similarity taking its fitted body onto the GT body of its source frame.

    Each vertex counts by its share of the GT body's surface: Anny's head and hands hold 61 % of its
    vertices and 17 % of its surface, and counted per vertex they would decide the alignment."""
    body, posed = posed_body(synth)[:2]
    fitted, truth = posed_body(prepared)[1].vertices.numpy(), posed.vertices.numpy()[kept]
    if fitted.shape[1] != truth.shape[1]:
        raise SystemExit(
            f"{prepared}: its body has {fitted.shape[1]} vertices and the GT body {truth.shape[1]}; the "
            "alignment needs one topology (prepare with the synthetic subject's body model)"
        )
    faces = body.faces.numpy()
    return [
        trimesh.registration.procrustes(
            a, b, weights=vertex_areas(b, faces), reflection=False, translation=True, scale=True, return_cost=False
        )
        for a, b in zip(fitted, truth, strict=True)
    ]


def aligned_prediction(extracted: Path, out: Path, alignments: list[np.ndarray], kept: list[int], garments) -> Path:
    """`recmv extract`'s meshes and curves carried into the GT world, renamed to the source frames."""
    for garment in garments:
        (out / garment).mkdir(parents=True, exist_ok=True)
        shutil.copy(extracted / garment / "boundaries.json", out / garment / "boundaries.json")
        for index, (frame, matrix) in enumerate(zip(kept, alignments, strict=True)):
            mesh = trimesh.load(extracted / garment / f"{index:06d}.obj", process=False)
            mesh.apply_transform(matrix)
            mesh.export(out / garment / f"{frame:06d}.obj")
    curves = extracted / "curves"
    if curves.is_dir():
        (out / "curves").mkdir(exist_ok=True)
        for index, (frame, matrix) in enumerate(zip(kept, alignments, strict=True)):
            path = curves / f"{index:06d}.json"
            if path.exists():
                named = json.loads(path.read_text())
                moved = {n: trimesh.transform_points(np.asarray(p, dtype=float), matrix).tolist() for n, p in named.items()}
                fileio.write_json(out / "curves" / f"{frame:06d}.json", moved)
    return out


def reconstruct(
    synth: Path, prepared: Path, work: Path, kept: list[int], garments, config: str | None = None
) -> dict:
    """fit + extract on the prepared subject, scored against the synthetic GT after body alignment;
    config: a partial fit config file laid over the fast preset (as `recmv fit --config`)."""
    seconds = {}
    start = time.perf_counter()
    changes = None if config is None else fileio.read_json_object(config)
    fit_subject(prepared, work / "fit", preset="fast", config_changes=changes, config_source=f"--config {config}")
    seconds["fit"] = time.perf_counter() - start
    start = time.perf_counter()
    extract_run(work / "fit", work / "extract", ExtractOptions(videos=False, glb=False))
    seconds["extract"] = time.perf_counter() - start
    alignments = body_alignments(prepared, synth, kept)
    aligned = aligned_prediction(work / "extract", work / "aligned", alignments, kept, garments)
    result = evaluate_meshes(aligned, synth, EvaluationOptions(samples=5000, frames=kept))
    scales = [float(np.cbrt(np.linalg.det(m[:3, :3]))) for m in alignments]
    return {
        "seconds": seconds,
        "alignment_scale": [min(scales), max(scales)],
        "garments": {name: g.mean() for name, g in result.garments.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--garments", default="short_sleeve_upper,skirt")
    parser.add_argument("--keyframe-every", type=int, default=5)
    parser.add_argument(
        "--motion", default="walk", choices=sorted(MOTIONS),
        help="motion of the rendered subject: walk (in place, turning slowly left and right), rotate (one full "
        "turn, as REC-MV's clips) or dance",
    )  # fmt: skip
    parser.add_argument("--fit-iterations", type=int, default=200)
    parser.add_argument(
        "--quick-fit", action="store_true",
        help="a short body fit for a loaded CPU: 3 focal candidates × 10 steps, 20 global and 40 full steps",
    )  # fmt: skip
    parser.add_argument("--subject", help="an existing synthetic subject with video.mp4 (default: render one)")
    parser.add_argument("--out", help="where to write the prepared subject (default: a temporary folder)")
    parser.add_argument(
        "--reconstruct", action="store_true",
        help="then fit (fast preset) and extract the prepared subject, and score its meshes against the GT",
    )  # fmt: skip
    parser.add_argument(
        "--config", metavar="JSON",
        help="with --reconstruct: a partial fit config laid over the fast preset, as `recmv fit --config`",
    )  # fmt: skip
    args = parser.parse_args()
    garments = tuple(args.garments.split(","))
    work = Path(tempfile.mkdtemp(prefix="recmv_bench_prepare_"))
    synth = Path(args.subject) if args.subject else work / "synth"
    if not args.subject:
        start = time.perf_counter()
        make_subject(synth, args.size, args.frames, garments, args.keyframe_every, args.motion)
        print(f"synth: {time.perf_counter() - start:.1f} s")
    size = SubjectMeta.load(synth).image_size[0]
    options = PrepareOptions(garments=garments, size=size, keyframe_every=args.keyframe_every)
    options.body_fit = dataclasses.replace(options.body_fit, iterations=args.fit_iterations)
    if args.quick_fit:
        options.body_fit = dataclasses.replace(
            options.body_fit, iterations=40, global_iterations=20, focal_search_iterations=10,
            focal_candidates=(1.1, 1.5, 2.0), batch_frames=max(32, args.frames),
        )  # fmt: skip
    prepared = prepare_subject(synth / "video.mp4", Path(args.out) if args.out else work / "prepared", options)
    report = json.loads((prepared / "prepare.json").read_text())
    frames = report["frames"]
    print(f"\n{frames} frames at {size}², input: video.mp4 only")
    print("| step | s/frame |\n| --- | --- |")
    for step, seconds in report["seconds"].items():
        print(f"| {step} | {seconds / frames:.3f} |")
    metrics = evaluate(synth, prepared)
    print("\n| metric | value | target |\n| --- | --- | --- |")
    print(f"| mask IoU | {metrics['mask_iou']:.3f} | ≥ 0.95 |")
    for garment, value in metrics["parsing_iou"].items():
        print(f"| parsing IoU {garment} | {value:.3f} | ≥ 0.85 |")
    print(f"| 2D keypoint error (px) | {metrics['keypoint_error_px']:.2f} | ≤ 8 |")
    print(f"| fitted-body joint error (px) | {metrics['fitted_joint_error_px']:.2f} | |")
    curve = metrics["curve_error_px"]
    print(f"| 2D curve error (px, {metrics['curves_compared']} curves) | {'n/a' if curve is None else f'{curve:.2f}'} | ≤ 4 |")
    if args.reconstruct:
        kept = json.loads((prepared / "crop.json").read_text())["source_frames"]
        work_dir = prepared.with_name(prepared.name + "_reconstruction")
        scores = reconstruct(synth, prepared, work_dir, kept, garments, args.config)
        low, high = scores["alignment_scale"]
        print(f"\nfit {scores['seconds']['fit']:.0f} s, extract {scores['seconds']['extract']:.0f} s; "
              f"body alignment scale {low:.3f}-{high:.3f}")  # fmt: skip
        print("| garment | CD cm (≤ 2.0) | NC | IoU | boundary cm | loops pred/GT |\n| --- | --- | --- | --- | --- | --- |")
        for garment, mean in scores["garments"].items():
            print(
                f"| {garment} | {mean['chamfer_cm']:.2f} | {mean['normal_consistency']:.3f} | {mean['mask_iou']:.3f} | "
                f"{mean['boundary_cm_mean']:.2f} | {mean['boundary_count_pred']:.0f}/{mean['boundary_count_gt']:.0f} |"
            )


if __name__ == "__main__":
    main()
