"""Frames of the input: decode a video (imageio-ffmpeg) or read a frame folder, subsample, crop, resize.

As REC-MV's `resize_video_imgs`: one square box around the person over the whole clip (the union of
the person masks with a margin), zero-padded where it leaves the frame, resized to the working size.
The box is written to `SUBJECT/crop.json` so results map back: a pixel (x, y) of the subject is
(x_src, y_src) = ((x + 0.5) / scale - 0.5 + x0, (y + 0.5) / scale - 0.5 + y0) in the source frame.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from recmv import fileio
from recmv.data import formats
from recmv.errors import InputFileError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
CROP_FILE = "crop.json"


@dataclass
class Clip:
    """Decoded input frames. frames: [F, H, W, 3] uint8 RGB; fps: frames per second (None for a folder)."""

    frames: np.ndarray
    fps: float | None
    source: str


def read_clip(path: str | Path) -> Clip:
    """All frames of a video file, or of a folder of PNG/JPEG frames (sorted by name)."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "does not exist (expected a video file or a folder of frames)")
    if path.is_dir():
        return Clip(_read_folder(path), None, str(path))
    frames, fps = _decode_video(path)
    return Clip(frames, fps, str(path))


def frame_files(folder: Path) -> list[Path]:
    """The image files of a frame folder, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))


def _read_folder(folder: Path) -> np.ndarray:
    files = frame_files(folder)
    if not files:
        raise InputFileError(folder, "holds no .png or .jpg frames")
    frames = [formats.read_image(p) for p in files]
    for path, frame in zip(files, frames):
        if frame.shape != frames[0].shape:
            raise InputFileError(path, f"frame size {frame.shape[:2]} differs from the first frame's {frames[0].shape[:2]}")
    return np.stack(frames)


def _decode_video(path: Path) -> tuple[np.ndarray, float]:
    import imageio_ffmpeg

    try:
        reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
        meta = next(reader)
        width, height = meta["size"]
        frames = [np.frombuffer(chunk, dtype=np.uint8).reshape(height, width, 3) for chunk in reader]
    except (OSError, RuntimeError, StopIteration, KeyError, ValueError) as error:
        raise InputFileError(path, f"not a readable video ({str(error).splitlines()[0] if str(error) else type(error).__name__})") from error
    if not frames:
        raise InputFileError(path, "the video holds no frames")
    return np.stack(frames), float(meta.get("fps") or 0.0) or None


def subsample(count: int, source_fps: float | None, target_fps: float | None) -> np.ndarray:
    """Indices of the frames kept when a clip of `count` frames at `source_fps` is resampled to `target_fps`.

    A frame folder has no rate: target_fps then counts as a step of round(30 / target_fps) frames.
    """
    if target_fps is None:
        return np.arange(count)
    step = (source_fps or 30.0) / target_fps
    if step <= 1.0:
        return np.arange(count)
    return np.unique(np.floor(np.arange(0, count, step)).astype(np.int64))


@dataclass
class CropBox:
    """A square box in the source frames and the size it is resized to.

    x0, y0: top-left source pixel of the box (may be negative: the frame is zero-padded there).
    side: box side in source pixels; size: output side in pixels.
    """

    x0: int
    y0: int
    side: int
    size: int

    @property
    def scale(self) -> float:
        return self.size / self.side

    def to_source(self, points: np.ndarray) -> np.ndarray:
        """[..., 2] subject pixels (x, y) -> source-frame pixels."""
        return (points + 0.5) / self.scale - 0.5 + np.array([self.x0, self.y0], dtype=float)

    def from_source(self, points: np.ndarray) -> np.ndarray:
        """[..., 2] source-frame pixels (x, y) -> subject pixels."""
        return (points - np.array([self.x0, self.y0], dtype=float) + 0.5) * self.scale - 0.5


def person_box(masks: np.ndarray, size: int, margin: float = 1.1) -> CropBox:
    """The square box around the union of the person masks [F, H, W] over the clip, `margin` × its larger side."""
    union = masks.any(axis=0)
    rows, cols = np.flatnonzero(union.any(axis=1)), np.flatnonzero(union.any(axis=0))
    if rows.size == 0:
        raise ValueError("no person pixel in any frame")
    centre_y, centre_x = 0.5 * (rows[0] + rows[-1]), 0.5 * (cols[0] + cols[-1])
    side = math.ceil(margin * max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1))
    return CropBox(round(centre_x - side / 2), round(centre_y - side / 2), side, int(size))


def crop_image(image: np.ndarray, box: CropBox, nearest: bool = False) -> np.ndarray:
    """[size, size, ...] the box cut from image [H, W, ...] (zeros outside the frame) and resized."""
    h, w = image.shape[:2]
    pad = [max(0, -box.y0), max(0, box.y0 + box.side - h), max(0, -box.x0), max(0, box.x0 + box.side - w)]
    padded = cv2.copyMakeBorder(image, *pad, cv2.BORDER_CONSTANT, value=0) if any(pad) else image
    y0, x0 = box.y0 + pad[0], box.x0 + pad[2]
    window = padded[y0 : y0 + box.side, x0 : x0 + box.side]
    if box.side == box.size:
        return window.copy()
    if nearest:
        interpolation = cv2.INTER_NEAREST
    else:
        interpolation = cv2.INTER_AREA if box.side > box.size else cv2.INTER_LINEAR
    return cv2.resize(window, (box.size, box.size), interpolation=interpolation)


def write_crop(out: Path, box: CropBox, clip: Clip, kept: np.ndarray) -> None:
    """SUBJECT/crop.json: the box, its scale, the source and which source frames were kept."""
    fileio.write_json(
        out / CROP_FILE,
        {
            "source": clip.source,
            "source_size": list(clip.frames.shape[1:3]),
            "source_fps": clip.fps,
            "source_frames": kept.tolist(),
            **asdict(box),
            "scale": box.scale,
            "to_source": "x_src = (x + 0.5) / scale - 0.5 + x0, y_src = (y + 0.5) / scale - 0.5 + y0",
        },
    )
