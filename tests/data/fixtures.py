"""A tiny, complete and valid subject folder, written without a body model (fast), for tests.

The person is a disc that drifts one pixel right per frame: the top half is upper clothes with bare
arms at its sides and a face cap, the bottom half is the lower garment. Curves are horizontal arcs,
the neck a loop listed from mid-way round (to exercise loop detection).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from recmv.data import formats
from recmv.data.subject import SubjectMeta
from recmv.render.camera import PinholeCamera
from recmv.tables import ATR_LABELS, BODY_JOINT_COUNTS, GARMENT_ATR_LABEL, subject_curves

GRID_SIZE = 8
# Row of each curve as a share of the disc's diameter from its top.
CURVE_ROWS = {
    "neck": 0.2,
    "left_cuff": 0.35,
    "right_cuff": 0.35,
    "upper_bottom": 0.5,
    "bottom_curve": 0.85,
    "left_pant": 0.9,
    "right_pant": 0.9,
}


def disc(size: int, centre: tuple[float, float], radius: float) -> np.ndarray:
    """[size, size] bool disc; centre = (row, column)."""
    rows, cols = np.mgrid[:size, :size]
    return (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2


def disc_centre(frame: int, size: int) -> tuple[float, float]:
    return size / 2, size / 2 + frame


def disc_parsing(mask: np.ndarray, centre: tuple[float, float], radius: float, garments: tuple[str, ...]) -> np.ndarray:
    """[H, W] uint8 ATR labels over the disc: face cap, arms at the sides, garments; the rim unlabelled."""
    rows, cols = np.mgrid[: mask.shape[0], : mask.shape[1]]
    upper = GARMENT_ATR_LABEL[garments[0]]
    lower = GARMENT_ATR_LABEL[garments[-1]]
    labels = np.where(rows < centre[0], upper, lower)
    labels[rows < centre[0] - 0.7 * radius] = ATR_LABELS["face"]
    arm_rows = (rows > centre[0] - 0.6 * radius) & (rows < centre[0])
    labels[arm_rows & (cols > centre[1] + 0.5 * radius)] = ATR_LABELS["left_arm"]
    labels[arm_rows & (cols < centre[1] - 0.5 * radius)] = ATR_LABELS["right_arm"]
    inner = (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= (radius - 1.5) ** 2
    return np.where(inner & mask, labels, 0).astype(np.uint8)


def disc_normals(size: int, centre: tuple[float, float], radius: float) -> np.ndarray:
    """[H, W, 3] world normals of a hemisphere facing the camera (z towards the camera is -z world)."""
    rows, cols = np.mgrid[:size, :size].astype(np.float64)
    x, y = (cols - centre[1]) / radius, (rows - centre[0]) / radius
    z = -np.sqrt(np.clip(1.0 - x**2 - y**2, 0.0, 1.0))
    normals = np.stack([x, y, z], axis=-1)
    return normals / np.linalg.norm(normals, axis=-1, keepdims=True).clip(min=1e-9)


def curve_polyline(name: str, centre: tuple[float, float], radius: float) -> np.ndarray:
    """[K, 2] dense (x, y) pixel polyline of a curve."""
    top = centre[0] - radius
    row = top + 2 * radius * CURVE_ROWS[name]
    if name == "neck":
        # A closed loop with its back hidden (a 4-step gap), listed from mid-way round.
        angles = np.roll(np.linspace(0.0, 2 * np.pi, 24, endpoint=False)[:-3], 8)
        return np.stack([centre[1] + 0.3 * radius * np.cos(angles), row + 0.1 * radius * np.sin(angles)], axis=1)
    side = {"left_cuff": 0.75, "right_cuff": -0.75, "left_pant": 0.4, "right_pant": -0.4}.get(name, 0.0)
    half = 0.15 * radius if side else 0.7 * radius
    xs = np.linspace(centre[1] + side * radius - half, centre[1] + side * radius + half, 12)
    return np.stack([xs, row + 0.05 * (xs - xs.mean()) ** 2 / radius], axis=1)


def make_tiny_subject(
    root: Path,
    frames: int = 3,
    size: int = 32,
    garments: tuple[str, ...] = ("short_sleeve_upper", "skirt"),
    keyframes: tuple[int, ...] | None = None,
) -> Path:
    """Write a complete small subject (Anny body, J = 38) into folder `root` and return it."""
    root.mkdir(parents=True, exist_ok=True)
    keyframes = tuple(keyframes) if keyframes is not None else (0, frames - 1)
    rng = np.random.default_rng(0)
    radius = size / 3
    for frame in range(frames):
        _write_frame(root, frame, size, radius, garments, rng)
    for frame in keyframes:
        _write_curves(root, frame, size, radius, garments)
    _write_body(root, frames, size, rng)
    meta = SubjectMeta.for_garments(
        root.name,
        list(garments),
        {"model": "anny", "topology": "notoes", "shape": [0.5] * 6},
        segments={"rotation": [0, frames - 1], "large_motion": None},
        keyframes=list(keyframes),
        image_size=[size, size],
    )
    meta.save(root)
    return root


def _write_frame(root: Path, frame: int, size: int, radius: float, garments: tuple[str, ...], rng) -> None:
    stem = f"{frame:06d}"
    centre = disc_centre(frame, size)
    mask = disc(size, centre, radius)
    parsing = disc_parsing(mask, centre, radius, garments)
    rgb = (rng.uniform(0, 255, size=(size, size, 3)) * mask[..., None]).astype(np.uint8)
    formats.write_image(root / "imgs" / f"{stem}.png", rgb)
    formats.write_mask(root / "masks" / f"{stem}.png", mask)
    formats.write_normal_map(root / "normals" / f"{stem}.png", disc_normals(size, centre, radius), mask)
    formats.write_parsing(root / "parsing_SCH_ATR" / f"{stem}.npy", parsing)
    formats.write_parsing(root / "parsing_SCH_ATR" / f"mask_parsing_{stem}.npy", formats.fill_parsing(parsing, mask))


def _write_curves(root: Path, frame: int, size: int, radius: float, garments: tuple[str, ...]) -> None:
    stem = f"{frame:06d}"
    centre = disc_centre(frame, size)
    dense = {name: curve_polyline(name, centre, radius) for name in subject_curves(garments)}
    pairs = {name: points[[0, len(points) // 2, len(points) // 2 + 1, -1]] for name, points in dense.items()}
    formats.write_labelme(root / "mask2fl" / f"{stem}.json", dense, (size, size), f"../imgs/{stem}.png")
    formats.write_labelme(root / "featurelines" / f"{stem}.json", pairs, (size, size), f"../imgs/{stem}.png")


def _write_body(root: Path, frames: int, size: int, rng) -> None:
    joints = BODY_JOINT_COUNTS["anny"]
    centre = (size - 1) / 2
    formats.write_camera(
        root / "camera.npz",
        PinholeCamera(
            float(size), float(size), centre, centre, torch.eye(3), torch.tensor([0.0, 0.1, 0.0]), size, size
        ),
    )
    formats.write_body_params(
        root / "smpl_rec.npz",
        formats.BodyParams(
            poses=rng.normal(0, 0.1, size=(frames, joints, 3)).astype(np.float32),
            shape=np.full(6, 0.5, dtype=np.float32),
            trans=np.tile(np.array([0.0, 0.0, 3.0], dtype=np.float32), (frames, 1)),
        ),
    )
    grid = rng.uniform(size=(joints, GRID_SIZE, GRID_SIZE, GRID_SIZE))
    formats.write_skinning_grid(root / "diffused_skinning_weights.npy", grid / grid.sum(axis=0, keepdims=True))
