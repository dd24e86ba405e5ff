"""Readers and writers of every file kind in a subject folder (REC-MV's layout, see docs/conventions.md).

Readers check what they read and raise `InputFileError` naming the file and the problem; writers are
atomic (recmv.fileio).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch
from PIL import Image
from scipy import ndimage

from recmv import fileio
from recmv.errors import InputFileError
from recmv.render.camera import PinholeCamera

PathLike = str | os.PathLike

# REC-MV's camera.npz quaternion (w, x, y, z): R = diag(-1, -1, 1) in pytorch3d's row convention,
# which makes the world frame the OpenCV camera frame.
REC_MV_QUAT = np.array([0.0, 0.0, 0.0, 1.0], dtype=np.float32)
CAMERA_KEYS = ("fx", "fy", "cx", "cy", "quat", "T")
# Largest deviation of a voxel's weight sum from 1 that still counts as a normalised skinning grid.
GRID_SUM_TOLERANCE = 1e-3
# Viewing colours of the 18 ATR labels in parsing PNGs (index = label).
ATR_PALETTE = np.array(
    [
        [0, 0, 0],
        [128, 0, 0],
        [254, 0, 0],
        [0, 85, 0],
        [169, 0, 51],
        [254, 85, 0],
        [0, 0, 85],
        [0, 119, 220],
        [85, 85, 0],
        [0, 85, 85],
        [85, 51, 0],
        [52, 86, 128],
        [0, 128, 0],
        [0, 0, 254],
        [51, 169, 220],
        [0, 254, 254],
        [85, 254, 169],
        [169, 254, 85],
    ],
    dtype=np.uint8,
)


_UNREADABLE_IMAGE = "not a readable image (empty, truncated, or not a PNG/JPEG file)"


# --- images -----------------------------------------------------------------------------------


def write_image(path: PathLike, rgb: np.ndarray) -> None:
    """Write an 8-bit image, RGB [H, W, 3] or grey [H, W] (PNG or JPG by suffix)."""
    path = Path(path)
    with fileio.atomic_path(path) as tmp:
        iio.imwrite(tmp, rgb, extension=path.suffix)


def read_image(path: PathLike) -> np.ndarray:
    """[H, W, 3] uint8 RGB (grey images are repeated, alpha is dropped)."""
    image = _read_raster(path)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    if image.ndim != 3 or image.shape[-1] not in (3, 4):
        raise InputFileError(path, f"expected an RGB image, got an array of shape {image.shape}")
    return image[..., :3]


def write_mask(path: PathLike, mask: np.ndarray) -> None:
    """Write a boolean mask [H, W] as an 8-bit PNG (255 = foreground)."""
    write_image(path, mask.astype(np.uint8) * 255)


def read_mask(path: PathLike) -> np.ndarray:
    """[H, W] bool: a pixel is foreground when any channel is > 0 (REC-MV's rule)."""
    image = _read_raster(path)
    return image.reshape(image.shape[0], image.shape[1], -1).max(axis=-1) > 0


def image_size(path: PathLike) -> tuple[int, int]:
    """(H, W) of an image file, read from its header where possible."""
    try:
        props = iio.improps(path, plugin="pillow")
    except (OSError, ValueError) as error:
        raise InputFileError(path, _UNREADABLE_IMAGE) from error
    return int(props.shape[0]), int(props.shape[1])


def _read_raster(path: PathLike) -> np.ndarray:
    try:
        return np.asarray(iio.imread(path, plugin="pillow"))
    except (OSError, ValueError) as error:
        raise InputFileError(path, _UNREADABLE_IMAGE) from error


# --- normal maps ------------------------------------------------------------------------------


def encode_normals(normals: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """World (OpenCV) unit normals [H, W, 3] -> REC-MV's 8-bit encoding [H, W, 3].

    File RGB = (n_x, -n_y, -n_z) * 0.5 + 0.5 (PIFuHD camera axes: y up, z towards the viewer); 0 outside `valid`.
    """
    pifuhd = normals * np.array([1.0, -1.0, -1.0])
    png = np.clip(np.round((pifuhd * 0.5 + 0.5) * 255.0), 0, 255).astype(np.uint8)
    png[~valid] = 0
    return png


def decode_normals(png: np.ndarray) -> np.ndarray:
    """REC-MV's 8-bit normal encoding [H, W, 3] -> world (OpenCV) normals [H, W, 3], not renormalised.

    Background pixels (0) decode to (-1, 1, 1); callers look up normals on garment pixels only.
    """
    pifuhd = png.astype(np.float32) / 255.0 * 2.0 - 1.0
    return pifuhd * np.array([1.0, -1.0, -1.0], dtype=np.float32)


def write_normal_map(path: PathLike, normals: np.ndarray, valid: np.ndarray) -> None:
    write_image(path, encode_normals(normals, valid))


def read_normal_map(path: PathLike) -> np.ndarray:
    """[H, W, 3] world normals (see `decode_normals`)."""
    return decode_normals(read_image(path))


# --- parsing ----------------------------------------------------------------------------------


def write_parsing(path: PathLike, labels: np.ndarray) -> None:
    """Write an ATR label map [H, W] as .npy (integer labels)."""
    fileio.write_npy(path, labels.astype(np.uint8))


write_mask_parsing = write_parsing


def write_parsing_png(path: PathLike, labels: np.ndarray) -> None:
    """Write an ATR label map [H, W] as a palette PNG: pixel values are the labels, colours for viewing."""
    labels = np.ascontiguousarray(labels, dtype=np.uint8)
    image = Image.frombytes("P", (labels.shape[1], labels.shape[0]), labels.tobytes())
    image.putpalette(ATR_PALETTE.reshape(-1).tolist())
    with fileio.atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


def read_parsing(path: PathLike) -> np.ndarray:
    """[H, W] integer ATR label map with labels in 0..17, from .npy or a label PNG (palette or grey)."""
    labels = _read_label_png(path) if Path(path).suffix.lower() == ".png" else _read_label_npy(path)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise InputFileError(path, f"expected an integer [H, W] label map, got {labels.dtype} {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 17):
        raise InputFileError(path, f"ATR labels must lie in 0..17, found {labels.min()}..{labels.max()}")
    return labels


def _read_label_npy(path: PathLike) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise InputFileError(path, f"not a readable .npy label map ({error})") from error


def _read_label_png(path: PathLike) -> np.ndarray:
    try:
        with Image.open(path) as image:
            mode, labels = image.mode, np.asarray(image)
    except (OSError, ValueError) as error:
        raise InputFileError(path, f"not a readable PNG ({error})") from error
    if mode not in ("P", "L"):
        raise InputFileError(path, f"a {mode} PNG is a colour visualisation, not labels; read the .npy instead")
    return labels


def fill_parsing(labels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """REC-MV's `mask_parsing`: every mask pixel takes the label of its nearest labelled pixel (1-NN).

    Args:
        labels: [H, W] ATR labels, 0 = unlabelled.
        mask: [H, W] bool foreground.
    Returns:
        [H, W] uint8 labels over the mask, 0 outside it (all 0 when nothing is labelled).
    """
    if not (labels > 0).any():
        return np.zeros(labels.shape, dtype=np.uint8)
    _, (rows, cols) = ndimage.distance_transform_edt(labels == 0, return_indices=True)
    filled = labels[rows, cols].astype(np.uint8)
    filled[~mask] = 0
    return filled


# --- labelme curves ---------------------------------------------------------------------------


def write_labelme(
    path: PathLike, curves: dict[str, np.ndarray], image_size: tuple[int, int], image_path: str = ""
) -> None:
    """Write 2D curves as labelme JSON: one "linestrip" shape per curve, points (x = column, y = row)."""
    shapes = [
        {
            "label": name,
            "points": np.asarray(points, dtype=float).round(3).tolist(),
            "group_id": None,
            "shape_type": "linestrip",
            "line_color": None,
            "fill_color": None,
            "flags": {},
        }
        for name, points in curves.items()
    ]
    fileio.write_json(
        path,
        {
            "version": "4.5.6",
            "flags": {},
            "shapes": shapes,
            "imagePath": image_path,
            "imageData": None,
            "imageHeight": int(image_size[0]),
            "imageWidth": int(image_size[1]),
        },
    )


def read_labelme(path: PathLike) -> dict[str, np.ndarray]:
    """Curve name -> [K, 2] points of a labelme JSON; labels must be unique and points numeric pairs."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputFileError(path, f"not readable JSON ({error})") from error
    if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
        raise InputFileError(path, "expected a labelme object with a 'shapes' list")
    curves: dict[str, np.ndarray] = {}
    for shape in data["shapes"]:
        label = shape.get("label") if isinstance(shape, dict) else None
        if not isinstance(label, str):
            raise InputFileError(path, "every shape needs a string 'label'")
        if label in curves:
            raise InputFileError(path, f"label {label!r} appears twice; labels must be unique per file")
        try:
            points = np.asarray(shape.get("points"), dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise InputFileError(path, f"shape {label!r}: points are not numbers ({error})") from error
        if points.ndim != 2 or points.shape[1] != 2 or not np.isfinite(points).all():
            raise InputFileError(path, f"shape {label!r}: expected finite [K, 2] points, got shape {points.shape}")
        curves[label] = points
    return curves


# --- camera -----------------------------------------------------------------------------------


def write_camera(path: PathLike, camera: PinholeCamera) -> None:
    """Write REC-MV's camera.npz for a camera whose rotation is the identity (world = camera frame)."""
    if not torch.allclose(camera.rotation.float(), torch.eye(3), atol=1e-6):
        raise ValueError("REC-MV's camera.npz holds only cameras with R = I (world = OpenCV camera frame)")
    t = camera.translation.detach().cpu().double().numpy()
    fileio.write_npz(
        path,
        fx=np.float32(camera.fx),
        fy=np.float32(camera.fy),
        cx=np.float32(camera.cx),
        cy=np.float32(camera.cy),
        quat=REC_MV_QUAT,
        T=np.array([-t[0], -t[1], t[2]], dtype=np.float32),
    )


def read_camera(path: PathLike, image_size: tuple[int, int]) -> PinholeCamera:
    """REC-MV's camera.npz -> PinholeCamera (R = I, t = (-T_x, -T_y, T_z)); image_size = (H, W)."""
    arrays = _read_npz(path, CAMERA_KEYS)
    for key in ("fx", "fy", "cx", "cy"):
        if arrays[key].size != 1:
            raise InputFileError(path, f"'{key}' must be a scalar, got shape {arrays[key].shape}")
    for key, size in (("quat", 4), ("T", 3)):
        if arrays[key].shape != (size,):
            raise InputFileError(path, f"'{key}' must have shape ({size},), got {arrays[key].shape}")
    for key in CAMERA_KEYS:
        if not np.isfinite(arrays[key]).all():
            raise InputFileError(path, f"'{key}' contains NaN or inf")
    quat = arrays["quat"].astype(np.float64)
    if not (np.allclose(quat, REC_MV_QUAT, atol=1e-4) or np.allclose(quat, -REC_MV_QUAT, atol=1e-4)):
        raise InputFileError(path, f"'quat' must be (0, 0, 0, ±1) as in REC-MV's subjects, got {quat.tolist()}")
    fx, fy, cx, cy = (float(arrays[k].reshape(())) for k in ("fx", "fy", "cx", "cy"))
    if fx <= 0 or fy <= 0:
        raise InputFileError(path, f"focal lengths must be positive, got fx={fx}, fy={fy}")
    t = arrays["T"].astype(np.float64)
    return PinholeCamera(
        fx,
        fy,
        cx,
        cy,
        torch.eye(3),
        torch.tensor([-t[0], -t[1], t[2]], dtype=torch.float32),
        width=int(image_size[1]),
        height=int(image_size[0]),
    )


# --- body parameters --------------------------------------------------------------------------


@dataclass
class BodyParams:
    """The body of every frame (smpl_rec.npz).

    poses: [F, J, 3] axis-angle per joint; shape: [S]; trans: [F, 3] metres (world);
    gender: optional SMPL gender; vid_seg_indices: optional start frames of clip segments.
    """

    poses: np.ndarray
    shape: np.ndarray
    trans: np.ndarray
    gender: str = "neutral"
    vid_seg_indices: list[int] | None = None

    @property
    def frames(self) -> int:
        return int(self.poses.shape[0])


def write_body_params(path: PathLike, params: BodyParams) -> None:
    extra = {} if params.vid_seg_indices is None else {"vid_seg_indices": np.asarray(params.vid_seg_indices)}
    fileio.write_npz(
        path,
        poses=np.asarray(params.poses, dtype=np.float32),
        shape=np.asarray(params.shape, dtype=np.float32),
        trans=np.asarray(params.trans, dtype=np.float32),
        gender=np.asarray(params.gender),
        **extra,
    )


def read_body_params(path: PathLike, num_joints: int | None = None) -> BodyParams:
    """smpl_rec.npz -> BodyParams; `poses` may be stored flat [F, 3J]. Checks shapes and finiteness."""
    arrays = _read_npz(path, ("poses", "shape", "trans"))
    poses, shape, trans = arrays["poses"], arrays["shape"], arrays["trans"]
    if poses.ndim == 2 and poses.shape[1] % 3 == 0:
        poses = poses.reshape(poses.shape[0], -1, 3)
    if poses.ndim != 3 or poses.shape[2] != 3:
        raise InputFileError(path, f"'poses' must be [F, J, 3] (or [F, 3J]), got shape {arrays['poses'].shape}")
    if num_joints is not None and poses.shape[1] != num_joints:
        raise InputFileError(path, f"'poses' has {poses.shape[1]} joints, the body model has {num_joints}")
    if trans.shape != (poses.shape[0], 3):
        raise InputFileError(path, f"'trans' must be [{poses.shape[0]}, 3] (one per frame), got {trans.shape}")
    if shape.ndim == 2:
        shape = shape[0]
    if shape.ndim != 1:
        raise InputFileError(path, f"'shape' must be a vector, got shape {arrays['shape'].shape}")
    for key, value in (("poses", poses), ("shape", shape), ("trans", trans)):
        if not np.isfinite(value).all():
            raise InputFileError(path, f"'{key}' contains NaN or inf")
    gender = str(arrays["gender"]) if "gender" in arrays else "neutral"
    segments = arrays.get("vid_seg_indices")
    if segments is not None and segments.dtype.kind not in "iu":
        raise InputFileError(path, f"'vid_seg_indices' must be integer frame indices, got dtype {segments.dtype}")
    segments = None if segments is None else segments.reshape(-1).tolist()
    return BodyParams(poses.astype(np.float32), shape.astype(np.float32), trans.astype(np.float32), gender, segments)


def _read_npz(path: PathLike, required: tuple[str, ...]) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError) as error:
        raise InputFileError(path, f"not a readable .npz archive ({error})") from error
    missing = [key for key in required if key not in arrays]
    if missing:
        raise InputFileError(path, f"missing key(s) {', '.join(repr(k) for k in missing)}; it has {sorted(arrays)}")
    for key in required:
        if arrays[key].dtype.kind not in "biuf":
            raise InputFileError(path, f"'{key}' must hold numbers, got dtype {arrays[key].dtype}")
    return arrays


# --- skinning grid ----------------------------------------------------------------------------


def write_skinning_grid(path: PathLike, weights: np.ndarray) -> None:
    """Write REC-MV's diffused_skinning_weights.npy: float32 [J, D, D, D], axes (D, H, W) <-> (z, y, x)."""
    weights = np.asarray(weights, dtype=np.float32)
    if weights.ndim != 4 or not weights.shape[1] == weights.shape[2] == weights.shape[3]:
        raise ValueError(f"a skinning grid is [J, D, D, D], got shape {weights.shape}")
    fileio.write_npy(path, weights)


def read_skinning_grid(path: PathLike, num_joints: int | None = None, mmap: bool = False) -> np.ndarray:
    """[J, D, D, D] float weights, checked: cubic, finite, in [0, 1], summing to 1 per voxel.

    mmap=True leaves the array on disk (a 256³ SMPL grid is 1.6 GB); the checks then read it slab by slab.
    """
    try:
        grid = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise InputFileError(path, f"not a readable .npy array ({error})") from error
    if grid.ndim != 4 or not grid.shape[1] == grid.shape[2] == grid.shape[3] or grid.dtype.kind != "f":
        raise InputFileError(path, f"expected a float [J, D, D, D] grid, got {grid.dtype} {grid.shape}")
    if num_joints is not None and grid.shape[0] != num_joints:
        raise InputFileError(path, f"grid has {grid.shape[0]} joints, the body model has {num_joints}")
    for depth in range(grid.shape[1]):
        _check_weight_slab(path, np.asarray(grid[:, depth], dtype=np.float64), depth)
    return grid


def _check_weight_slab(path: PathLike, weights: np.ndarray, depth: int) -> None:
    """weights: [J, H, W] one depth slice of a grid."""
    if not np.isfinite(weights).all():
        raise InputFileError(path, f"weights contain NaN or inf (depth slice {depth})")
    if weights.min() < 0.0 or weights.max() > 1.0 + GRID_SUM_TOLERANCE:
        raise InputFileError(path, f"weights must lie in [0, 1], found [{weights.min():g}, {weights.max():g}]")
    sums = weights.sum(axis=0)
    if np.abs(sums - 1.0).max() > GRID_SUM_TOLERANCE:
        raise InputFileError(
            path,
            f"weights must sum to 1 over joints, found sums in [{sums.min():g}, {sums.max():g}] (depth slice {depth})",
        )


# --- person boxes -----------------------------------------------------------------------------


def write_rect(path: PathLike, boxes: np.ndarray) -> None:
    """Write person boxes [K, 4] (x y w h, ints) one per line (REC-MV's *_rect.txt)."""
    text = "".join(" ".join(str(int(v)) for v in box) + "\n" for box in np.asarray(boxes).reshape(-1, 4))
    with fileio.atomic_path(path) as tmp:
        Path(tmp).write_text(text)


def read_rect(path: PathLike) -> np.ndarray:
    """[K, 4] int boxes of a *_rect.txt file."""
    try:
        rows = [line.split() for line in Path(path).read_text().splitlines() if line.strip()]
        boxes = np.array([[int(float(v)) for v in row] for row in rows], dtype=np.int64).reshape(-1, 4)
    except (OSError, ValueError) as error:
        raise InputFileError(path, f"expected lines of 'x y w h' integers ({error})") from error
    return boxes
