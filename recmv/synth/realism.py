"""Make clean synthetic renders look filmed: backgrounds, lighting drift, camera shake, blur and noise.

These disturb only what a camera would: the RGB frames (and, for camera shake, where everything lands
in the image). Masks, parsing and normal maps stay exact, shifted with the frame, so they remain the
ground truth that `recmv prepare` is measured against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage

from recmv import fileio
from recmv.synth.appearance import Light
from recmv.synth.config import RealismParams

BACKGROUNDS = ("plain", "texture", "noise")
# Frames over which lighting and shake drift (the correlation length of their smooth random walks).
_DRIFT_FRAMES = 8.0


@dataclass
class FrameLook:
    """How one frame is filmed: its light, exposure gain, image shift [2] (dx, dy) pixels and blur."""

    light: Light
    exposure: float
    shift: tuple[int, int]
    blur_length: float
    blur_angle: float


def smooth_walk(frames: int, channels: int, rng: np.random.Generator) -> np.ndarray:
    """[frames, channels] smooth random signals with zero mean and unit standard deviation per channel."""
    raw = rng.normal(size=(frames + 4 * int(_DRIFT_FRAMES), channels))
    smooth = ndimage.gaussian_filter1d(raw, _DRIFT_FRAMES, axis=0, mode="wrap")[: frames]
    smooth = smooth - smooth.mean(axis=0)
    return smooth / smooth.std(axis=0).clip(min=1e-12) if frames > 1 else smooth


def frame_looks(frames: int, params: RealismParams, base: Light, rng: np.random.Generator) -> list[FrameLook]:
    """Per-frame light, exposure, shake and blur, drawn once for the whole clip."""
    walk = smooth_walk(frames, 6, rng)
    looks = []
    for frame in range(frames):
        yaw, pitch, ambient, exposure, shake_x, shake_y = walk[frame]
        direction = _turned(np.asarray(base.direction, dtype=float), params.light_jitter * yaw, params.light_jitter * pitch)
        jitter = params.light_jitter / math.pi
        light = Light(direction=tuple(direction), ambient=float(np.clip(base.ambient * (1 + jitter * ambient), 0.05, 0.9)))
        shift = (round(params.camera_shake_px * shake_x), round(params.camera_shake_px * shake_y))
        looks.append(
            FrameLook(
                light=light,
                exposure=float(1.0 + 0.5 * jitter * exposure),
                shift=shift,
                blur_length=float(params.motion_blur_px * rng.uniform(0.5, 1.0)),
                blur_angle=float(rng.uniform(0.0, math.pi)),
            )
        )
    return looks


def _turned(direction: np.ndarray, yaw: float, pitch: float) -> np.ndarray:
    """A direction [3] turned about the world y axis by yaw and about x by pitch (radians)."""
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    about_y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    about_x = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    return about_x @ about_y @ direction


def background_image(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """[size, size, 3] float RGB in [0, 1] behind the person (one per clip, the camera is static)."""
    if kind == "plain":
        return np.zeros((size, size, 3))
    if kind == "noise":
        return _pink_noise(size, rng)
    if kind == "texture":
        return _room_texture(size, rng)
    raise ValueError(f"background must be one of {BACKGROUNDS}, got {kind!r}")


def _pink_noise(size: int, rng: np.random.Generator) -> np.ndarray:
    """1/f noise per channel (the power spectrum of natural photographs), mixed to muted colours."""
    freq = np.hypot(*np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size), indexing="ij"))
    amplitude = 1.0 / np.maximum(freq, 1.0 / size)
    channels = []
    for _ in range(3):
        phase = np.exp(2j * np.pi * rng.uniform(size=(size, size)))
        field = np.real(np.fft.ifft2(amplitude * phase))
        channels.append((field - field.mean()) / field.std())
    mix = rng.uniform(0.3, 1.0, size=(3, 3)) + np.eye(3)
    image = np.stack(channels, axis=-1) @ (mix / mix.sum(axis=1, keepdims=True)).T
    return np.clip(0.45 + 0.16 * image, 0.0, 1.0)


def _room_texture(size: int, rng: np.random.Generator) -> np.ndarray:
    """A wall with wood-grain panels and posters above a checkered floor, with soft vignetting."""
    rows, cols = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size), indexing="ij")
    wall = rng.uniform(0.35, 0.75, size=3)
    grain = 0.5 + 0.5 * np.sin(2 * np.pi * (cols * rng.uniform(8, 20) + 0.15 * np.sin(rows * 30)))
    image = wall * (0.85 + 0.15 * grain[..., None])
    for _ in range(int(rng.integers(3, 7))):
        top, left = rng.uniform(0, 0.55, size=2)
        h, w = rng.uniform(0.08, 0.3, size=2)
        inside = (rows >= top) & (rows < top + h) & (cols >= left) & (cols < left + w)
        image[inside] = rng.uniform(0.05, 0.95, size=3)
    horizon = rng.uniform(0.6, 0.75)
    floor = rows > horizon
    depth = (rows - horizon).clip(min=1e-3)
    check = (np.floor((cols - 0.5) / depth * 0.15) + np.floor(1.0 / depth * 0.15)) % 2
    floor_colour = rng.uniform(0.2, 0.6, size=3)
    image[floor] = (floor_colour * (0.75 + 0.25 * check[..., None]))[floor]
    vignette = 1.0 - 0.35 * ((rows - 0.5) ** 2 + (cols - 0.5) ** 2)
    return np.clip(image * vignette[..., None], 0.0, 1.0)


def shift_image(image: np.ndarray, shift: tuple[int, int], nearest: bool, fill: float = 0.0) -> np.ndarray:
    """The image [H, W] or [H, W, C] moved by shift = (dx, dy) whole pixels.

    nearest=True: a label or data image, uncovered pixels take `fill`; False: a photograph, borders reflect.
    """
    if shift == (0, 0):
        return image
    matrix = np.array([[1.0, 0.0, shift[0]], [0.0, 1.0, shift[1]]])
    h, w = image.shape[:2]
    border = cv2.BORDER_CONSTANT if nearest else cv2.BORDER_REFLECT
    moved = cv2.warpAffine(
        image.astype(np.float32), matrix, (w, h), flags=cv2.INTER_NEAREST, borderMode=border, borderValue=fill
    )
    return moved.astype(image.dtype)


def motion_blur(image: np.ndarray, length: float, angle: float) -> np.ndarray:
    """[H, W, 3] float image blurred along a line of `length` pixels at `angle` radians."""
    if length < 1.0:
        return image
    size = math.ceil(length) | 1
    kernel = np.zeros((size, size), dtype=np.float32)
    centre = size // 2
    for t in np.linspace(-length / 2, length / 2, 4 * size):
        kernel[round(centre + t * math.sin(angle)), round(centre + t * math.cos(angle))] = 1.0
    return cv2.filter2D(image.astype(np.float32), -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)


def film_frame(
    rgb: np.ndarray, mask: np.ndarray, background: np.ndarray, look: FrameLook, noise: float, rng: np.random.Generator
) -> np.ndarray:
    """The filmed frame [H, W, 3] uint8 from a clean render rgb [H, W, 3] uint8 and its mask [H, W].

    The render is already shifted by the frame's shake; the static background moves with it. Then
    exposure, blur and sensor noise, in the order a camera applies them.
    """
    background = shift_image(background, look.shift, nearest=False)
    image = np.where(mask[..., None], rgb.astype(np.float64) / 255.0 * look.exposure, background)
    image = motion_blur(image, look.blur_length, look.blur_angle)
    if noise > 0:
        image = image + rng.normal(0.0, noise / 255.0, size=image.shape)
    return np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)


class VideoWriter:
    """Frames appended one by one into an H.264 MP4 (imageio-ffmpeg's bundled ffmpeg), written atomically."""

    def __init__(self, path: str | Path, size: tuple[int, int], fps: float):
        import imageio_ffmpeg

        self._atomic = fileio.atomic_path(path)
        tmp = self._atomic.__enter__()
        self._writer = imageio_ffmpeg.write_frames(
            str(tmp), (size[1], size[0]), fps=fps, codec="libx264", quality=8, macro_block_size=2,
            ffmpeg_log_level="error",
        )
        self._writer.send(None)

    def append(self, rgb: np.ndarray) -> None:
        """Add one [H, W, 3] uint8 frame."""
        self._writer.send(np.ascontiguousarray(rgb))

    def close(self) -> None:
        """Finish the file and move it into place."""
        self._writer.close()
        self._atomic.__exit__(None, None, None)
