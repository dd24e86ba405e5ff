"""`recmv prepare`: a raw video (or frame folder) -> a subject folder that `recmv validate` accepts.

Steps, each replaced by the user's own result when given (PrepareOptions): frames (decode, subsample,
square crop around the person, resize), person masks and 2D keypoints (mediapipe pose), body fit
(shape once, pose and translation per frame, camera), garment parsing (ATR), 2D feature curves on
keyframes, normal maps (only when given), and the skinning grid of the fitted body.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from recmv import fileio
from recmv.body.base import BodyModel
from recmv.body.factory import build_body_model
from recmv.body.skinning_field import diffuse_skinning_weights
from recmv.data import formats
from recmv.data.subject import SubjectMeta
from recmv.errors import InputFileError, RecmvError
from recmv.preprocess import inputs
from recmv.preprocess.auto_curves import feature_curves
from recmv.preprocess.bodyfit import BodyFitOptions, BodyFitResult, fit_body
from recmv.preprocess.featurelines import featurelines_to_mask2fl
from recmv.preprocess.keypoints import (
    PoseTrack,
    coco_keypoints,
    fill_missing,
    track_pose,
)
from recmv.preprocess.masks import MaskOptions, refine_masks, selfie_probabilities
from recmv.preprocess.parsing import ParsingOptions, parse_garments, render_body_parts
from recmv.preprocess.video import (
    CropBox,
    crop_image,
    person_box,
    read_clip,
    subsample,
    write_crop,
)
from recmv.render.camera import PinholeCamera
from recmv.tables import GARMENT_TYPES

logger = logging.getLogger(__name__)
REPORT_FILE = "prepare.json"


@dataclass
class PrepareOptions:
    """Settings of `recmv prepare`; a path given for a step replaces that step."""

    garments: tuple[str, ...] = ("short_sleeve_upper", "long_pants")
    """Garment types the person wears, upper first."""
    size: int = 1080
    """Side of the square subject frames, pixels (REC-MV: 1080)."""
    fps: float | None = None
    """Keep frames at this rate (None = every frame)."""
    margin: float = 1.1
    """Crop side as a multiple of the person's extent over the whole clip."""
    keyframe_every: int = 5
    """Frames between keyframes with 2D feature curves."""
    focal: float | None = None
    """Focal length in pixels of the input frames (None = estimated by the body fit)."""
    body_model: str | None = None
    """SMPL model file (.npz/.pkl): fit SMPL instead of Anny (needed with `smpl`)."""
    topology: str = "notoes"
    """Anny mesh topology of the fitted body."""
    grid_resolution: int = 96
    """Cells per side of the diffused skinning grid."""
    masks: str | None = None
    """Folder of person masks, one per input frame (replaces the mask step)."""
    parsing: str | None = None
    """Folder of SCHP ATR label maps (.npy), one per input frame (replaces garment parsing)."""
    normals: str | None = None
    """Folder of normal maps in REC-MV's encoding, one per input frame (otherwise none are written)."""
    smpl: str | None = None
    """SMPL sequence from TCMR, VIBE, 4D-Humans or a smpl_rec.npz (replaces the body fit; needs body_model and focal)."""
    curves: str | None = None
    """Folder of dense 2D curves (labelme NNNNNN.json on the subject's frames; replaces automatic curves)."""
    featurelines: str | None = None
    """Folder of curve endpoint pairs (labelme NNNNNN.json on the subject's frames), made dense on the parsing."""
    device: str = "cpu"
    """Torch device of the body fit, parsing render and skinning grid."""
    mask_options: MaskOptions = field(default_factory=MaskOptions)
    body_fit: BodyFitOptions = field(default_factory=BodyFitOptions)
    parsing_options: ParsingOptions = field(default_factory=ParsingOptions)

    def check(self) -> None:
        unknown = [g for g in self.garments if g not in GARMENT_TYPES]
        if not self.garments or unknown:
            raise RecmvError(f"--garments: unknown or missing garment type(s) {unknown}; expected some of {list(GARMENT_TYPES)}")
        if self.size < 32:
            raise RecmvError(f"--size must be at least 32 pixels, got {self.size}")
        if self.fps is not None and self.fps <= 0:
            raise RecmvError(f"--fps must be positive, got {self.fps}")
        if self.keyframe_every < 1:
            raise RecmvError(f"--keyframe-every must be at least 1, got {self.keyframe_every}")
        if self.focal is not None and self.focal <= 0:
            raise RecmvError(f"--focal must be a positive focal length in pixels, got {self.focal}")
        if self.smpl and not self.body_model:
            raise RecmvError("--smpl needs --body-model: the SMPL model file the sequence was estimated with")
        if self.smpl and self.focal is None:
            raise RecmvError("--smpl needs --focal: the focal length (input-frame pixels) the sequence was estimated with")
        if self.curves and self.featurelines:
            raise RecmvError("give --curves (dense) or --featurelines (endpoint pairs), not both")


class _Timer:
    """Seconds per step, for the report."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, step: str, start: float) -> None:
        self.seconds[step] = self.seconds.get(step, 0.0) + time.perf_counter() - start


def prepare_subject(input_path: str | Path, out_dir: str | Path, options: PrepareOptions, progress: bool = True) -> Path:
    """Run every step and write the subject folder; returns its path."""
    options.check()
    out = Path(out_dir)
    timer = _Timer()
    options.body_fit.progress = progress

    start = time.perf_counter()
    clip = read_clip(input_path)
    kept = subsample(len(clip.frames), clip.fps, options.fps)
    source = clip.frames[kept]
    source_size = source.shape[1:3]
    decoded = len(clip.frames)
    timer("frames", start)

    start = time.perf_counter()
    need_pose = options.masks is None or options.smpl is None
    track = track_pose(source, progress=progress) if need_pose else None
    if options.masks is not None:
        given = inputs.read_masks(options.masks, decoded, kept, source_size)
        probability = given.astype(np.float32)
    else:
        probability = track.segmentation
        if options.mask_options.selfie:
            probability = 0.5 * (probability + selfie_probabilities(source, progress))
    if not (probability > options.mask_options.threshold).any():
        raise InputFileError(input_path, "no person found in any frame (the person masks are empty)")
    box = person_box(probability > options.mask_options.threshold, options.size, options.margin)
    frames = np.stack([crop_image(f, box) for f in source])
    if options.masks is not None:
        masks = np.stack([crop_image(m.astype(np.uint8), box, nearest=True) for m in given]) > 0
    else:
        cropped = np.stack([crop_image(p, box) for p in probability])
        masks = refine_masks(cropped, frames, options.mask_options)
    empty = np.flatnonzero(~masks.reshape(len(masks), -1).any(axis=1))
    if empty.size:
        raise InputFileError(input_path, f"no person found in frame(s) {kept[empty][:5].tolist()} (empty masks)")
    keypoints = world = None
    if track is not None:
        if not track.found.any():
            raise InputFileError(input_path, "no person found in any frame (mediapipe pose found no body)")
        keypoints = _crop_keypoints(track, box)
        world = coco_keypoints(track.world)
    timer("masks_keypoints", start)

    start = time.perf_counter()
    body, description, fit = _body(options, keypoints, world, masks, box, source_size)
    timer("body_fit", start)

    start = time.perf_counter()
    body_parts = render_body_parts(fit, body, masks.shape[1:])
    if options.parsing is not None:
        labels = inputs.read_parsing_maps(options.parsing, decoded, kept, source_size)
        labels = np.stack([crop_image(m, box, nearest=True) for m in labels])
        labels = np.where(masks, labels, 0).astype(np.uint8)
    else:
        labels = parse_garments(frames, masks, body_parts, list(options.garments), options.parsing_options)
    timer("parsing", start)

    meta = SubjectMeta.for_garments(
        out.name, list(options.garments), description,
        segments={"rotation": [0, len(frames) - 1], "large_motion": None},
        keyframes=list(range(0, len(frames), options.keyframe_every)), image_size=[options.size, options.size],
    )
    _write_frames(out, frames, masks, labels, progress)
    start = time.perf_counter()
    meta.keyframes = _write_curves(out, options, meta, labels, body_parts)
    timer("curves", start)
    if options.normals is not None:
        normals = inputs.read_normal_maps(options.normals, decoded, kept, source_size)
        for index, image in enumerate(normals):
            formats.write_image(out / "normals" / f"{index:06d}.png", crop_image(image, box, nearest=True))

    start = time.perf_counter()
    rest = body.rest(torch.as_tensor(fit.params.shape).to(body.skinning_weights))
    grid = diffuse_skinning_weights(rest.vertices, body.faces, body.skinning_weights, resolution=options.grid_resolution)
    grid.save(out / "diffused_skinning_weights.npy")
    meta.skinning_grid = {"center": grid.center.tolist(), "extent": float(grid.extent)}
    timer("skinning_grid", start)

    formats.write_camera(out / "camera.npz", fit.camera)
    formats.write_body_params(out / "smpl_rec.npz", fit.params)
    if keypoints is not None:
        fileio.write_npy(out / "keypoints_coco17.npy", keypoints.astype(np.float32))
    write_crop(out, box, clip, kept)
    meta.save(out)
    fileio.write_json(
        out / REPORT_FILE,
        {"frames": len(frames), "seconds": timer.seconds, "options": _plain(asdict(options))},
    )
    return out


def _crop_keypoints(track: PoseTrack, box: CropBox) -> np.ndarray:
    """[F, 17, 3] COCO-17 keypoints in the subject's pixels."""
    keypoints = fill_missing(coco_keypoints(track.landmarks), track.found)
    keypoints[..., :2] = box.from_source(keypoints[..., :2])
    return keypoints


def crop_camera(focal: float, source_size: tuple[int, int], box: CropBox) -> PinholeCamera:
    """The subject's camera: the input frames' camera (principal point at their centre) seen through the crop."""
    centre = box.from_source(np.array([(source_size[1] - 1) / 2.0, (source_size[0] - 1) / 2.0]))
    f = focal * box.scale
    return PinholeCamera(f, f, float(centre[0]), float(centre[1]), torch.eye(3), torch.zeros(3), box.size, box.size)


def _body(
    options: PrepareOptions, keypoints: np.ndarray | None, world: np.ndarray | None, masks: np.ndarray, box: CropBox,
    source_size: tuple[int, int],
) -> tuple[BodyModel, dict, BodyFitResult]:
    """The body model, its subject.json description, and the fitted (or given) sequence and camera;
    world: the pose estimator's COCO-17 world keypoints [F, 17, 4] for the fit's direction term, or None."""
    device = torch.device(options.device)
    if options.body_model:
        description = {"model": "smpl", "model_path": str(options.body_model), "canonical_pose_type": 0}
    else:
        description = {"model": "anny", "topology": options.topology}
    body = build_body_model(description, device=device)
    if options.smpl is not None:
        sequence = inputs.read_smpl_sequence(options.smpl, len(masks))
        params = formats.BodyParams(sequence.poses, sequence.betas, sequence.translations(options.focal, source_size))
        frames = len(masks)
        fit = BodyFitResult(params, crop_camera(options.focal, source_size, box), np.zeros(frames), np.ones(frames))
    else:
        focal = None if options.focal is None else options.focal * box.scale
        fit = fit_body(keypoints, masks, body, focal, options.body_fit, world)
    description["shape"] = [float(v) for v in fit.params.shape]
    return body, description, fit


def _write_frames(out: Path, frames: np.ndarray, masks: np.ndarray, labels: np.ndarray, progress: bool) -> None:
    for index in tqdm(range(len(frames)), desc="prepare: write", unit="frame", disable=not progress):
        stem = f"{index:06d}"
        formats.write_image(out / "imgs" / f"{stem}.png", frames[index])
        formats.write_mask(out / "masks" / f"{stem}.png", masks[index])
        formats.write_parsing(out / "parsing_SCH_ATR" / f"{stem}.npy", labels[index])
        formats.write_mask_parsing(
            out / "parsing_SCH_ATR" / f"mask_parsing_{stem}.npy", formats.fill_parsing(labels[index], masks[index])
        )


def _write_curves(
    out: Path, options: PrepareOptions, meta: SubjectMeta, labels: np.ndarray, body_parts: np.ndarray
) -> list[int]:
    """Write mask2fl/ (and featurelines/ when given); returns the keyframes that have curves."""
    size = (options.size, options.size)
    if options.featurelines is not None:
        shutil.copytree(options.featurelines, out / "featurelines", dirs_exist_ok=True)
        return featurelines_to_mask2fl(out / "featurelines", out / "parsing_SCH_ATR", out / "mask2fl", meta.curve_owner)
    if options.curves is not None:
        return _copy_curves(Path(options.curves), out / "mask2fl", len(labels), meta)
    curves = feature_curves(labels, list(options.garments), meta.keyframes, body_parts)
    written = []
    for frame, frame_curves in curves.items():
        if frame_curves:
            stem = f"{frame:06d}"
            formats.write_labelme(out / "mask2fl" / f"{stem}.json", frame_curves, size, image_path=f"../imgs/{stem}.png")
            written.append(frame)
    if not written:
        raise RecmvError("no feature curve was found on any keyframe; check --garments, or give --curves / --featurelines")
    return written


def _copy_curves(folder: Path, out: Path, frames: int, meta: SubjectMeta) -> list[int]:
    files = sorted(folder.glob("[0-9][0-9][0-9][0-9][0-9][0-9].json")) if folder.is_dir() else []
    if not files:
        raise InputFileError(folder, "expected a folder of NNNNNN.json dense curves (labelme)")
    written = []
    for path in files:
        curves = formats.read_labelme(path)
        unknown = sorted(set(curves) - set(meta.curves))
        if unknown:
            raise InputFileError(path, f"curve label(s) {unknown} are not among the subject's curves {meta.curves}")
        if int(path.stem) >= frames:
            raise InputFileError(path, f"frame {int(path.stem)} is past the prepared clip's {frames} frames")
        formats.write_labelme(out / path.name, curves, (meta.image_size[0], meta.image_size[1]), f"../imgs/{path.stem}.png")
        written.append(int(path.stem))
    return written


def _plain(value):
    """The options as JSON values (tuples to lists)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
