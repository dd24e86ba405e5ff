"""A tiny, valid subject folder written without a body model (fast), for data-layer tests."""

from pathlib import Path

import numpy as np
import torch

from recmv.data import formats
from recmv.data.subject import SubjectMeta
from recmv.render.camera import PinholeCamera
from recmv.tables import ATR_LABELS

SIZE = 32


def disc(size: int, centre: tuple[float, float], radius: float) -> np.ndarray:
    rows, cols = np.mgrid[:size, :size]
    return (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2


def make_tiny_subject(root: Path, frames: int = 3, size: int = SIZE) -> Path:
    """Write a complete small subject (Anny body, short_sleeve_upper + skirt) and return its folder."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for frame in range(frames):
        stem = f"{frame:06d}"
        mask = disc(size, (size / 2, size / 2 + frame), size / 3)
        parsing = np.where(mask, ATR_LABELS["upper_clothes"], 0).astype(np.uint8)
        parsing[size // 2 :][mask[size // 2 :]] = ATR_LABELS["skirt"]
        rgb = (rng.uniform(0, 255, size=(size, size, 3)) * mask[..., None]).astype(np.uint8)
        normals = np.zeros((size, size, 3))
        normals[..., 2] = -1.0
        formats.write_image(root / "imgs" / f"{stem}.png", rgb)
        formats.write_mask(root / "masks" / f"{stem}.png", mask)
        formats.write_normal_map(root / "normals" / f"{stem}.png", normals, mask)
        formats.write_parsing(root / "parsing_SCH_ATR" / f"{stem}.npy", parsing)
        formats.write_parsing(root / "parsing_SCH_ATR" / f"mask_parsing_{stem}.npy", formats.fill_parsing(parsing, mask))
    curves = {"neck": np.array([[10.0, 8.0], [16.0, 6.0], [22.0, 8.0]]), "bottom_curve": np.array([[8.0, 26.0], [24.0, 26.0]])}
    for folder in ("mask2fl", "featurelines"):
        formats.write_labelme(root / folder / "000000.json", curves, image_size=(size, size))
    focal = float(size)
    formats.write_camera(
        root / "camera.npz",
        PinholeCamera(focal, focal, (size - 1) / 2, (size - 1) / 2, torch.eye(3), torch.zeros(3), size, size),
    )
    formats.write_body_params(
        root / "smpl_rec.npz",
        formats.BodyParams(
            poses=rng.normal(0, 0.1, size=(frames, 38, 3)).astype(np.float32),
            shape=np.full(6, 0.5, dtype=np.float32),
            trans=np.tile(np.array([0.0, 0.0, 3.0], dtype=np.float32), (frames, 1)),
        ),
    )
    grid = rng.uniform(size=(38, 8, 8, 8)).astype(np.float32)
    np.save(root / "diffused_skinning_weights.npy", grid / grid.sum(axis=0, keepdims=True))
    meta = SubjectMeta.for_garments(
        root.name,
        ["short_sleeve_upper", "skirt"],
        {"model": "anny", "topology": "notoes", "shape": [0.5] * 6},
        segments={"rotation": [0, frames - 1], "large_motion": None},
        keyframes=[0],
        image_size=[size, size],
    )
    meta.save(root)
    return root
