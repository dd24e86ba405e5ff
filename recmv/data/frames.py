"""A subject folder as per-frame arrays, loaded on demand (REC-MV's SceneDataset without the training logic).

Conventions: images are RGB float32 in [0, 1] (REC-MV keeps BGR in [-1, 1]; only consistency matters);
normals are world (OpenCV) normals; 2D points are (x = column, y = row) pixels.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from recmv.data import formats
from recmv.data.subject import SubjectMeta, frame_stems
from recmv.errors import InputFileError
from recmv.render.camera import PinholeCamera
from recmv.tables import ATR_CLOTHING_GROUPS, ATR_TRAINING_GROUPS, GARMENT_ATR_LABEL

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
CURVE_POINTS = 100  # REC-MV resamples every 2D curve to 100 points (obtain_fl_pts).


@dataclass
class Curves2D:
    """The 2D curves of one annotated frame, in the subject's curve order.

    names: C curve names.
    points: [C, P, 2] float32 (x, y) pixels, each curve resampled to P points; zeros where not visible.
    visible: [C] bool, whether the frame annotates the curve.
    """

    names: tuple[str, ...]
    points: np.ndarray
    visible: np.ndarray


def open_at_largest_gap(points: np.ndarray) -> np.ndarray:
    """Rotate a polyline that is really a loop so that it starts just after its largest gap.

    REC-MV's test (obtain_fl_pts): the polyline is a loop when the closing gap (last -> first) is
    shorter than its largest gap between consecutive points; the loop's opening is that largest gap.

    Args:
        points: [K, 2] polyline.
    Returns:
        [K, 2] the same points, rotated when the polyline is a loop.
    """
    if len(points) < 3:
        return points
    gaps = (np.diff(points, axis=0) ** 2).sum(axis=1)
    closing = ((points[0] - points[-1]) ** 2).sum()
    if closing >= gaps.max():
        return points
    start = int(gaps.argmax()) + 1
    return np.concatenate([points[start:], points[:start]])


def resample_polyline(points: np.ndarray, count: int = CURVE_POINTS) -> np.ndarray:
    """Points evenly spaced in arc length along an open polyline, both ends included.

    (REC-MV's uniformsample spreads points per edge by rounded edge length, close to this.)

    Args:
        points: [K, 2] polyline, K >= 1.
    Returns:
        [count, 2] resampled polyline.
    """
    lengths = np.sqrt((np.diff(points, axis=0) ** 2).sum(axis=1))
    arc = np.concatenate([[0.0], np.cumsum(lengths)])
    if arc[-1] <= 0.0:
        return np.repeat(points[:1], count, axis=0).astype(np.float64)
    targets = np.linspace(0.0, arc[-1], count)
    return np.stack([np.interp(targets, arc, points[:, axis]) for axis in range(points.shape[1])], axis=1)


def curve_extent(points: np.ndarray) -> float:
    """max(bbox width, bbox height) of a 2D curve [K, 2] (REC-MV's area_size_statistic size)."""
    return float((points.max(axis=0) - points.min(axis=0)).max())


def projection_weights(extents: np.ndarray) -> np.ndarray:
    """Per-curve weights of the 2D projection loss: (largest mean extent / this curve's mean extent)².

    Args:
        extents: [N, C] curve extents per annotated frame, NaN where a curve is not visible.
    Returns:
        [C] weights; 0 for a curve never visible (it has nothing to project onto).
    """
    seen = ~np.isnan(extents)
    counts = seen.sum(axis=0)
    means = np.where(seen, extents, 0.0).sum(axis=0) / np.maximum(counts, 1)
    usable = (counts > 0) & (means > 0)
    if not usable.any():
        return np.zeros(extents.shape[1])
    return np.where(usable, (means[usable].max() / np.where(usable, means, 1.0)) ** 2, 0.0)


class SubjectFolder:
    """Paths and lazily loaded per-frame data of a subject folder."""

    def __init__(self, root: str | Path, meta: SubjectMeta | None = None, body_model_path: str | Path | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputFileError(self.root, "not a subject folder")
        self._meta = meta
        self._body_model_path = body_model_path

    @cached_property
    def meta(self) -> SubjectMeta:
        return self._meta if self._meta is not None else SubjectMeta.load(self.root, self._body_model_path)

    @cached_property
    def _image_paths(self) -> dict[int, Path]:
        folder = self.root / "imgs"
        stems = set(frame_stems(folder, IMAGE_SUFFIXES))
        return {
            int(p.stem): p for p in sorted(folder.iterdir()) if p.stem in stems and p.suffix.lower() in IMAGE_SUFFIXES
        }

    @property
    def num_frames(self) -> int:
        return len(self._image_paths)

    @cached_property
    def image_size(self) -> tuple[int, int]:
        """(H, W)."""
        if self.meta.image_size is not None:
            return tuple(self.meta.image_size)
        return formats.image_size(self.image_path(0))

    # --- paths --------------------------------------------------------------------------------

    def image_path(self, frame: int) -> Path:
        if frame not in self._image_paths:
            raise InputFileError(self.root / "imgs", f"no image for frame {frame} (it has {self.num_frames} frames)")
        return self._image_paths[frame]

    def mask_path(self, frame: int) -> Path:
        return self.root / "masks" / f"{frame:06d}.png"

    def normal_path(self, frame: int) -> Path:
        return self.root / "normals" / f"{frame:06d}.png"

    def parsing_path(self, frame: int) -> Path:
        return self.root / "parsing_SCH_ATR" / f"{frame:06d}.npy"

    def mask_parsing_path(self, frame: int) -> Path:
        return self.root / "parsing_SCH_ATR" / f"mask_parsing_{frame:06d}.npy"

    def curve_path(self, keyframe: int) -> Path:
        """mask2fl/ when the frame has one (dense curves, as REC-MV prefers), else featurelines/."""
        dense = self.root / "mask2fl" / f"{keyframe:06d}.json"
        return dense if dense.exists() else self.root / "featurelines" / f"{keyframe:06d}.json"

    @property
    def camera_path(self) -> Path:
        return self.root / "camera.npz"

    @property
    def body_params_path(self) -> Path:
        return self.root / "smpl_rec.npz"

    @property
    def skinning_grid_path(self) -> Path:
        return self.root / "diffused_skinning_weights.npy"

    # --- per-frame data -----------------------------------------------------------------------

    def image(self, frame: int) -> np.ndarray:
        """[H, W, 3] float32 RGB in [0, 1]."""
        return formats.read_image(self.image_path(frame)).astype(np.float32) / 255.0

    def mask(self, frame: int) -> np.ndarray:
        """[H, W] bool foreground."""
        return formats.read_mask(self.mask_path(frame))

    def normals(self, frame: int) -> np.ndarray:
        """[H, W, 3] float32 world normals (not renormalised; meaningless off the foreground)."""
        return formats.read_normal_map(self.normal_path(frame))

    def parsing(self, frame: int) -> np.ndarray:
        """[H, W] uint8 ATR labels covering exactly the mask (mask_parsing file, else derived from the raw parsing)."""
        if self.mask_parsing_path(frame).exists():
            return formats.read_parsing(self.mask_parsing_path(frame)).astype(np.uint8)
        return formats.fill_parsing(formats.read_parsing(self.parsing_path(frame)), self.mask(frame))

    def group_masks(self, frame: int) -> dict[str, np.ndarray]:
        """REC-MV's training masks [H, W] bool: "upper", "bottom", "upper_bottom" and "body" (the rest)."""
        labels = self.parsing(frame)
        groups = {name: np.isin(labels, ids) for name, ids in ATR_TRAINING_GROUPS.items()}
        groups["body"] = (labels > 0) & ~groups["upper_bottom"]
        return groups

    def garment_masks(self, frame: int) -> dict[str, np.ndarray]:
        """Garment -> [H, W] bool pixels of its own ATR label (clothing only)."""
        labels = self.parsing(frame)
        return {garment: labels == GARMENT_ATR_LABEL[garment] for garment in self.meta.garments}

    def training_masks(self, frame: int) -> dict[str, np.ndarray]:
        """Garment -> [H, W] bool mask its SDF is fitted to: REC-MV's group for that garment."""
        groups = self.group_masks(frame)
        return {garment: groups[self._training_group(garment)] for garment in self.meta.garments}

    def clothing_masks(self, frame: int) -> dict[str, np.ndarray]:
        """Garment -> [H, W] bool mask of clothing labels only (no head, hair or arms; recmv's fit target).

        REC-MV fits its upper SDF to the upper clothes *plus* head and arms and cuts them away at
        registration; recmv hides them behind the posed body instead, so the SDF is the garment alone.
        """
        labels = self.parsing(frame)
        return {
            garment: np.isin(labels, ATR_CLOTHING_GROUPS[self._training_group(garment)]) for garment in self.meta.garments
        }

    def _training_group(self, garment: str) -> str:
        lone_one_piece = len(self.meta.garments) == 1 and garment == "tube"
        if garment == "dress" or lone_one_piece:
            return "upper_bottom"
        return "bottom" if garment in ("skirt", "long_pants", "short_pants") else "upper"

    # --- sequence data ------------------------------------------------------------------------

    @cached_property
    def camera(self) -> PinholeCamera:
        return formats.read_camera(self.camera_path, self.image_size)

    @cached_property
    def body_params(self) -> formats.BodyParams:
        return formats.read_body_params(self.body_params_path, self.meta.num_joints)

    def keyframe_for(self, frame: int) -> int | None:
        """The latest keyframe at or before `frame` (whose curves REC-MV uses), None before the first."""
        keyframes = sorted(self.meta.keyframes)
        index = bisect.bisect_right(keyframes, frame) - 1
        return keyframes[index] if index >= 0 else None

    def curves_2d(self, keyframe: int, count: int = CURVE_POINTS) -> Curves2D:
        """The subject's curves annotated in one frame, each opened at its largest gap and resampled."""
        annotated = formats.read_labelme(self.curve_path(keyframe))
        names = tuple(self.meta.curves)
        points = np.zeros((len(names), count, 2), dtype=np.float32)
        visible = np.zeros(len(names), dtype=bool)
        for index, name in enumerate(names):
            if name in annotated and len(annotated[name]):
                points[index] = resample_polyline(open_at_largest_gap(annotated[name]), count)
                visible[index] = True
        return Curves2D(names, points, visible)

    @cached_property
    def curve_weights(self) -> np.ndarray:
        """[C] projection-loss weight per curve, from the curves' sizes over the keyframes."""
        names = self.meta.curves
        extents = np.full((len(self.meta.keyframes), len(names)), np.nan)
        for row, keyframe in enumerate(self.meta.keyframes):
            annotated = formats.read_labelme(self.curve_path(keyframe))
            for column, name in enumerate(names):
                if name in annotated and len(annotated[name]):
                    extents[row, column] = curve_extent(annotated[name])
        return projection_weights(extents)
