"""`recmv eval`: compare a prediction folder with a synthetic subject's gt/ (design.md §6).

Reads PRED/<garment>/<frame>.obj|.ply (optionally PRED/<garment>/boundaries.json) and/or
PRED/curves/<frame>.json, and SUBJECT/{subject.json, camera.npz, parsing_SCH_ATR/, gt/}.
All distances are reported in centimetres.

Conventions beyond metrics.py:
- Mask IoU renders all predicted garments together, with the GT body as an occluder when
  gt/body/<frame>.obj exists (the parsing was rendered with it, so a perfect prediction scores 1).
  Garments sharing an ATR label are scored on the union of their pixels, and get the same IoU.
- Acceleration uses every run of at least three consecutive selected frames; it is skipped for the
  prediction when its vertex count changes between frames.
- Predicted boundary loops come from PRED/<garment>/boundaries.json when present, else from the
  mesh's open boundary, named by Hungarian matching of loop centroids to the GT loops.
- A boundary a garment shares with the garment that owns its curve (subject.json `curve_owner`: the
  waist `upper_bottom` of a skirt or trousers under an upper garment) is measured against the GT curve
  (gt/curves/<frame>.json), the line a camera sees. The lower garment's own edge lies hidden under the
  upper garment, and REC-MV, like any method fitted to images, ends the lower garment at that curve.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from recmv import fileio, tables
from recmv.errors import InputFileError, RecmvError
from recmv.evaluation import metrics
from recmv.geometry.mesh_io import read_mesh
from recmv.render.camera import PinholeCamera
from recmv.render.raycast import render_meshes

log = logging.getLogger(__name__)

CM = 100.0
FSCORE_THRESHOLD = 0.01  # metres: F@1cm
PENETRATION_DEPTH = 0.002  # metres: a vertex counts as inside the body beyond 2 mm
SCALAR_METRICS = ("chamfer_cm", "p2s_cm", "s2p_cm", "normal_consistency", "fscore_1cm", "mask_iou", "interpenetration")


@dataclass
class EvaluationOptions:
    """samples: points per surface per frame; frames: frame indices (None = all GT frames); seed: sampling."""

    samples: int = 100_000
    frames: list[int] | None = None
    seed: int = 0


@dataclass
class FrameMetrics:
    """One garment in one frame; None where a metric could not be computed."""

    frame: int
    chamfer_cm: float | None = None
    p2s_cm: float | None = None
    s2p_cm: float | None = None
    normal_consistency: float | None = None
    fscore_1cm: float | None = None
    mask_iou: float | None = None
    interpenetration: float | None = None
    boundary_cm: dict[str, float | None] = field(default_factory=dict)
    boundary_count_pred: int | None = None
    boundary_count_gt: int | None = None


@dataclass
class Acceleration:
    """Mean per-vertex acceleration (cm/frame²) of the prediction and the GT, and pred / GT."""

    pred: float | None
    gt: float | None
    ratio: float | None


@dataclass
class GarmentResult:
    name: str
    frames: list[FrameMetrics]
    acceleration: Acceleration

    def mean(self) -> dict:
        """Means over frames: scalar metrics, boundary error per loop and over loops, loop counts."""
        out: dict = {key: _nanmean([getattr(f, key) for f in self.frames]) for key in SCALAR_METRICS}
        names = sorted({name for f in self.frames for name in f.boundary_cm})
        per_loop = {name: _nanmean([f.boundary_cm.get(name) for f in self.frames]) for name in names}
        out["boundary_cm"] = per_loop
        out["boundary_cm_mean"] = _nanmean(list(per_loop.values()))
        out["boundary_count_pred"] = _nanmean([f.boundary_count_pred for f in self.frames])
        out["boundary_count_gt"] = _nanmean([f.boundary_count_gt for f in self.frames])
        return out


@dataclass
class CurveResult:
    """Boundary error (cm) of PRED/curves against gt/curves: per frame, per curve name."""

    frames: dict[int, dict[str, float | None]]

    def mean(self) -> dict[str, float | None]:
        names = sorted({name for errors in self.frames.values() for name in errors})
        return {name: _nanmean([errors.get(name) for errors in self.frames.values()]) for name in names}


@dataclass
class EvaluationResult:
    subject: str
    prediction: str
    options: EvaluationOptions
    frames: list[int]
    garments: dict[str, GarmentResult]
    curves: CurveResult | None

    def overall(self) -> dict[str, float | None]:
        """Means over garments of the garment means (and of the curve errors)."""
        means = [g.mean() for g in self.garments.values()]
        keys = (*SCALAR_METRICS, "boundary_cm_mean")
        out = {key: _nanmean([m[key] for m in means]) for key in keys}
        out["acceleration_ratio"] = _nanmean([g.acceleration.ratio for g in self.garments.values()])
        if self.curves is not None:
            out["curve_boundary_cm_mean"] = _nanmean(list(self.curves.mean().values()))
        return out

    def to_json(self) -> dict:
        garments = {
            name: {
                "mean": g.mean(),
                "acceleration_cm_per_frame2": asdict(g.acceleration),
                "frames": [asdict(f) for f in g.frames],
            }
            for name, g in self.garments.items()
        }
        curves = None
        if self.curves is not None:
            curves = {
                "mean": self.curves.mean(),
                "frames": [{"frame": f, "boundary_cm": e} for f, e in self.curves.frames.items()],
            }
        data = {
            "subject": self.subject,
            "prediction": self.prediction,
            "samples": self.options.samples,
            "seed": self.options.seed,
            "frames": self.frames,
            "overall": self.overall(),
            "garments": garments,
            "curves": curves,
        }
        return _finite_or_none(data)


def evaluate(prediction: str | Path, subject: str | Path, options: EvaluationOptions | None = None) -> EvaluationResult:
    """Run every metric of design.md §6 on a prediction folder against a subject folder's gt/."""
    options = options or EvaluationOptions()
    prediction, subject = Path(prediction), Path(subject)
    info = _read_json(subject / "subject.json")
    garment_names = list(info.get("garments", []))
    gt_dir = subject / "gt"
    if not gt_dir.is_dir():
        raise InputFileError(gt_dir, "missing: `recmv eval` needs a synthetic subject with a gt/ folder")
    pred_garments = [g for g in garment_names if (prediction / g).is_dir()]
    has_curves = (prediction / "curves").is_dir()
    if not pred_garments and not has_curves:
        raise InputFileError(prediction, f"expected a folder per garment ({', '.join(garment_names)}) or curves/")
    missing = [g for g in garment_names if g not in pred_garments]
    if pred_garments and missing:
        raise InputFileError(prediction, f"no folder for garment(s) {', '.join(missing)}")
    frames = _select_frames(_gt_frames(gt_dir, garment_names), options.frames)
    camera = _read_camera(subject / "camera.npz", info) if (subject / "camera.npz").exists() else None
    if camera is None and pred_garments:
        log.warning("%s: no camera.npz, so no mask IoU", subject)

    garment_frames: dict[str, list[FrameMetrics]] = {g: [] for g in pred_garments}
    trajectories: dict[str, dict[str, list[np.ndarray]]] = {g: {"pred": [], "gt": []} for g in pred_garments}
    gt_boundaries = {g: gt_dir / "garments" / g / "boundaries.json" for g in pred_garments}
    pred_boundaries = {g: prediction / g / "boundaries.json" for g in pred_garments}
    curve_frames: dict[int, dict[str, float | None]] = {}
    owners = info.get("curve_owner", {})
    for frame in frames:
        name = f"{frame:06d}"
        gt_curves_path = gt_dir / "curves" / f"{name}.json"
        # Read once for the curve errors (where it must exist) and the shared boundaries (where it may).
        gt_curves = _read_json(gt_curves_path) if has_curves or (owners and gt_curves_path.exists()) else {}
        body_path = gt_dir / "body" / f"{name}.obj"
        body = read_mesh(body_path) if body_path.exists() else None
        pred_meshes = {g: read_mesh(_pred_mesh_path(prediction / g, name)) for g in pred_garments}
        for index, garment in enumerate(pred_garments):
            started = time.perf_counter()
            gt_mesh = read_mesh(gt_dir / "garments" / garment / f"{name}.obj")
            shared = {
                n: _points(loop, gt_curves_path) for n, loop in gt_curves.items() if owners.get(n, garment) != garment
            }
            result = _garment_frame_metrics(
                frame, pred_meshes[garment], gt_mesh, body, gt_boundaries[garment], pred_boundaries[garment],
                options, rng_key=(options.seed, frame, index), shared_curves=shared,
            )
            garment_frames[garment].append(result)
            trajectories[garment]["pred"].append(pred_meshes[garment][0])
            trajectories[garment]["gt"].append(gt_mesh[0])
            log.debug("%s frame %d: %.2f s", garment, frame, time.perf_counter() - started)
        parsing_path = subject / "parsing_SCH_ATR" / f"{name}.npy"
        if pred_garments and camera is not None and parsing_path.exists():
            ious = _mask_ious(pred_garments, pred_meshes, body, np.load(parsing_path), camera, parsing_path)
            for garment in pred_garments:
                garment_frames[garment][-1].mask_iou = ious[garment]
        if has_curves:
            curve_frames[frame] = _curve_errors(prediction / "curves" / f"{name}.json", gt_curves, gt_curves_path)

    garments = {
        g: GarmentResult(g, garment_frames[g], _acceleration(frames, trajectories[g], g)) for g in pred_garments
    }
    return EvaluationResult(
        subject=str(subject),
        prediction=str(prediction),
        options=options,
        frames=frames,
        garments=garments,
        curves=CurveResult(curve_frames) if has_curves else None,
    )


def write_result(result: EvaluationResult, path: str | Path) -> None:
    fileio.write_json(path, result.to_json())


def _garment_frame_metrics(
    frame: int,
    pred: tuple[np.ndarray, np.ndarray],
    gt: tuple[np.ndarray, np.ndarray],
    body: tuple[np.ndarray, np.ndarray] | None,
    gt_boundaries: Path,
    pred_boundaries: Path,
    options: EvaluationOptions,
    rng_key: tuple[int, ...],
    shared_curves: dict[str, np.ndarray] | None = None,
) -> FrameMetrics:
    """shared_curves: GT curves [K, 3] owned by another garment; they replace this garment's GT loops
    of the same name (see the module docstring)."""
    # Independent sample streams per side, so identical meshes are not sampled identically.
    pred_samples = metrics.sample_surface(*pred, options.samples, np.random.default_rng([*rng_key, 0]))
    gt_samples = metrics.sample_surface(*gt, options.samples, np.random.default_rng([*rng_key, 1]))
    comparison = metrics.compare_surfaces(pred_samples, gt_samples, FSCORE_THRESHOLD)
    p2s = metrics.point_to_mesh_distance(pred_samples.points, *gt)
    s2p = metrics.point_to_mesh_distance(gt_samples.points, *pred)
    pred_loops = metrics.boundary_loops(pred[1])
    out = FrameMetrics(
        frame=frame,
        chamfer_cm=comparison.chamfer * CM,
        p2s_cm=float(p2s.mean()) * CM,
        s2p_cm=float(s2p.mean()) * CM,
        normal_consistency=comparison.normal_consistency,
        fscore_1cm=comparison.fscore,
        boundary_count_pred=len(pred_loops),
        boundary_count_gt=len(metrics.boundary_loops(gt[1])),
    )
    if body is not None:
        out.interpenetration = metrics.interpenetration_share(pred[0], *body, depth=PENETRATION_DEPTH)
    gt_coords = _named_loops(gt_boundaries, gt[0])
    if gt_coords:
        gt_coords.update({n: loop for n, loop in (shared_curves or {}).items() if n in gt_coords})
        pred_coords = _named_loops(pred_boundaries, pred[0])
        if pred_coords is None:
            loops = [pred[0][loop] for loop in pred_loops]
            pred_coords = {n: loops[i] for n, i in metrics.match_loops(loops, gt_coords).items()}
        out.boundary_cm = {
            n: metrics.loop_distance(pred_coords[n], gt_coords[n]) * CM if n in pred_coords else None
            for n in gt_coords
        }
    return out


def _mask_ious(
    garments: list[str],
    meshes: dict[str, tuple[np.ndarray, np.ndarray]],
    body: tuple[np.ndarray, np.ndarray] | None,
    parsing: np.ndarray,
    camera: PinholeCamera,
    parsing_path: Path,
) -> dict[str, float]:
    if parsing.shape != (camera.height, camera.width):
        raise InputFileError(parsing_path, f"shape {parsing.shape}, expected {(camera.height, camera.width)}")
    scene = [meshes[g] for g in garments] + ([body] if body is not None else [])
    render = render_meshes([(torch.from_numpy(v), torch.from_numpy(f)) for v, f in scene], camera)
    mesh_id = render.mesh_id.numpy()
    ious = {}
    for garment in garments:
        label = tables.GARMENT_ATR_LABEL[garment]
        sharing = [i for i, g in enumerate(garments) if tables.GARMENT_ATR_LABEL[g] == label]
        ious[garment] = metrics.mask_iou(np.isin(mesh_id, sharing), parsing == label)
    return ious


def _curve_errors(pred_path: Path, gt: dict, gt_path: Path) -> dict[str, float | None]:
    """Per GT curve (gt, read from gt_path), the loop distance to the predicted curve in pred_path."""
    if not pred_path.exists():
        raise InputFileError(pred_path, "missing: PRED/curves/ must hold a file for every evaluated frame")
    pred = _read_json(pred_path)
    return {
        name: metrics.loop_distance(_points(pred[name], pred_path), _points(loop, gt_path)) * CM if name in pred else None
        for name, loop in gt.items()
    }


def _acceleration(frames: list[int], trajectory: dict[str, list[np.ndarray]], garment: str) -> Acceleration:
    runs = _consecutive_runs(frames)

    def mean_norm(positions: list[np.ndarray]) -> float | None:
        if len({p.shape for p in positions}) > 1:
            return None
        norms = [metrics.acceleration_norms(np.stack(positions[a:b])) for a, b in runs]
        return float(np.concatenate([n.ravel() for n in norms]).mean()) * CM if norms else None

    pred, gt = mean_norm(trajectory["pred"]), mean_norm(trajectory["gt"])
    if pred is None and runs:
        log.warning("%s: predicted vertex count changes between frames; no acceleration", garment)
    # A (near-)static GT makes the ratio meaningless rather than huge.
    ratio = pred / gt if pred is not None and gt is not None and gt > 1e-6 else None
    return Acceleration(pred=pred, gt=gt, ratio=ratio)


def _consecutive_runs(frames: list[int]) -> list[tuple[int, int]]:
    """[start, stop) positions of runs of at least three consecutive frame numbers."""
    runs, start = [], 0
    for i in range(1, len(frames) + 1):
        if i == len(frames) or frames[i] != frames[i - 1] + 1:
            if i - start >= 3:
                runs.append((start, i))
            start = i
    return runs


def _gt_frames(gt_dir: Path, garments: list[str]) -> list[int]:
    source = gt_dir / "garments" / garments[0] if garments else gt_dir / "curves"
    found = sorted(int(p.stem) for p in source.glob("[0-9][0-9][0-9][0-9][0-9][0-9].*"))
    if not found:
        raise InputFileError(source, "no per-frame files (000000.obj, ...)")
    return found


def _select_frames(available: list[int], requested: list[int] | None) -> list[int]:
    if requested is None:
        return available
    unknown = sorted(set(requested) - set(available))
    if unknown:
        raise RecmvError(f"--frames: frame(s) {unknown} not in gt/ (which has {available[0]}..{available[-1]})")
    return sorted(set(requested))


def _read_camera(path: Path, info: dict) -> PinholeCamera:
    with np.load(path) as data:
        try:
            fx, fy, cx, cy = (float(data[k]) for k in ("fx", "fy", "cx", "cy"))
            t = np.asarray(data["T"], dtype=np.float64).reshape(3)
        except (KeyError, ValueError, TypeError) as error:
            raise InputFileError(path, f"expected scalars fx, fy, cx, cy and T (3,): {error}") from error
        quat = np.asarray(data["quat"], dtype=np.float64).reshape(-1) if "quat" in data else None
    if quat is not None and not np.allclose(np.abs(quat), [0.0, 0.0, 0.0, 1.0], atol=1e-4):
        raise InputFileError(path, f"quat {quat.tolist()}: only REC-MV's (0, 0, 0, 1) camera is supported")
    if "image_size" not in info:
        raise InputFileError("subject.json", "missing image_size [H, W], needed for mask IoU")
    height, width = (int(x) for x in info["image_size"])
    # REC-MV's camera (pytorch3d, R = diag(-1, -1, 1)) is the OpenCV frame shifted by (-Tx, -Ty, Tz).
    return PinholeCamera(
        fx=fx, fy=fy, cx=cx, cy=cy,
        rotation=torch.eye(3, dtype=torch.float64),
        translation=torch.tensor([-t[0], -t[1], t[2]], dtype=torch.float64),
        width=width, height=height,
    )


def _pred_mesh_path(folder: Path, name: str) -> Path:
    for suffix in (".obj", ".ply"):
        if (folder / f"{name}{suffix}").exists():
            return folder / f"{name}{suffix}"
    raise InputFileError(folder / f"{name}.obj", "missing predicted mesh (.obj or .ply)")


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as error:
        raise InputFileError(path, "missing") from error
    except json.JSONDecodeError as error:
        raise InputFileError(path, f"not valid JSON: {error}") from error


def _named_loops(path: Path, vertices: np.ndarray) -> dict[str, np.ndarray] | None:
    """Loop name -> [K, 3] positions from a boundaries.json over `vertices`; None without the file."""
    if not path.exists():
        return None
    data = _read_json(path)
    if not isinstance(data, dict) or not all(isinstance(v, list) and len(v) >= 2 for v in data.values()):
        raise InputFileError(path, 'expected {"curve_name": [vertex indices of the loop, ...], ...}')
    loops = {}
    for name, indices in data.items():
        index = np.asarray(indices, dtype=np.int64)
        if index.min() < 0 or index.max() >= len(vertices):
            raise InputFileError(path, f"loop {name!r}: vertex index out of range for a {len(vertices)}-vertex mesh")
        loops[name] = vertices[index]
    return loops


def _points(value, path: Path) -> np.ndarray:
    points = np.asarray(value, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3 or len(points) < 2:
        raise InputFileError(path, "expected each curve as a list of [x, y, z] points")
    return points


def _nanmean(values: list) -> float | None:
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return sum(finite) / len(finite) if finite else None


def _finite_or_none(value):
    """JSON has no NaN: replace non-finite floats by None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    return value
