"""Pluggable inputs of `recmv prepare`, read and checked: each error names the file and what was expected.

Per-frame inputs (masks, ATR parsing maps, normal maps) come as a folder with one file per frame of
the input, sorted by name, at the input frames' size; `prepare` crops them with the frames. Either one
file per decoded frame (subsampling then picks the same frames) or one per kept frame is accepted.

An SMPL sequence (from TCMR, VIBE, 4D-Humans, or REC-MV's own smpl_rec.npz) lives in the input frames'
camera; its 3D is kept and only the camera is mapped through the crop.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from recmv.data import formats
from recmv.errors import InputFileError
from recmv.geometry.rotations import matrix_to_axis_angle
from recmv.preprocess.video import IMAGE_SUFFIXES

SMPL_JOINTS = 24
SMPL_BETAS = 10


def per_frame_files(folder: str | Path, suffixes: tuple[str, ...], decoded: int, kept: np.ndarray, what: str) -> list[Path]:
    """The files of a per-frame input folder for the kept frames (indices into the decoded frames)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(folder, f"expected a folder of {what}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes and not p.name.startswith(("mask_parsing_", ".")))
    if len(files) == decoded:
        return [files[i] for i in kept]
    if len(files) == len(kept):
        return files
    counts = f"{decoded}" if decoded == len(kept) else f"{decoded} (one per input frame) or {len(kept)} (one per kept frame)"
    raise InputFileError(folder, f"holds {len(files)} {what} ({'/'.join(suffixes)}); expected {counts}")


def _check_size(path: Path, shape: tuple[int, ...], size: tuple[int, int], what: str) -> None:
    if tuple(shape[:2]) != tuple(size):
        raise InputFileError(path, f"{what} is {shape[0]}x{shape[1]} (HxW); the input frames are {size[0]}x{size[1]}")


def read_masks(folder: str | Path, decoded: int, kept: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """[F, H, W] bool person masks (foreground = any channel > 0) for the kept frames."""
    masks = []
    for path in per_frame_files(folder, IMAGE_SUFFIXES, decoded, kept, "mask images"):
        mask = formats.read_mask(path)
        _check_size(path, mask.shape, size, "the mask")
        if not mask.any():
            raise InputFileError(path, "mask is empty (no foreground pixel)")
        masks.append(mask)
    return np.stack(masks)


def read_parsing_maps(folder: str | Path, decoded: int, kept: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """[F, H, W] uint8 ATR label maps (SCHP ATR .npy, or label PNGs) for the kept frames."""
    maps = []
    for path in per_frame_files(folder, (".npy", ".png"), decoded, kept, "ATR parsing maps"):
        labels = formats.read_parsing(path)
        _check_size(path, labels.shape, size, "the label map")
        maps.append(labels.astype(np.uint8))
    return np.stack(maps)


def read_normal_maps(folder: str | Path, decoded: int, kept: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """[F, H, W, 3] uint8 normal-map PNGs in REC-MV's encoding, as stored (not decoded)."""
    maps = []
    for path in per_frame_files(folder, IMAGE_SUFFIXES, decoded, kept, "normal maps"):
        image = formats.read_image(path)
        _check_size(path, image.shape, size, "the normal map")
        maps.append(image)
    return np.stack(maps)


@dataclass
class SmplSequence:
    """An SMPL body track in the input frames' camera (OpenCV axes, R = I).

    poses: [F, 24, 3] axis-angle; betas: [10]; trans: [F, 3] metres, or None when the source gave a
    weak-perspective camera instead; weak_camera: [F, 4] (sx, sy, tx, ty) of that camera, or None.
    """

    poses: np.ndarray
    betas: np.ndarray
    trans: np.ndarray | None
    weak_camera: np.ndarray | None

    def translations(self, focal: float, size: tuple[int, int]) -> np.ndarray:
        """[F, 3] translations; a weak-perspective camera is turned into depth with the focal (pixels).

        size: (H, W) of the input frames; VIBE/TCMR's orig_cam scales x by the width.
        """
        if self.trans is not None:
            return self.trans
        sx, tx, ty = self.weak_camera[:, 0], self.weak_camera[:, 2], self.weak_camera[:, 3]
        depth = 2.0 * focal / (size[1] * np.clip(sx, 1e-6, None))
        return np.stack([tx, ty, depth], axis=1).astype(np.float32)


def read_smpl_sequence(path: str | Path, frames: int) -> SmplSequence:
    """An SMPL sequence with one entry per kept frame, from .npz or .pkl.

    Understood layouts: REC-MV's smpl_rec.npz (poses, shape, trans); TCMR/VIBE output (optionally keyed
    by person id: pose [F, 72], betas [F, 10], orig_cam [F, 4]); 4D-Humans (global_orient [F, (1,) 3, 3],
    body_pose [F, 23, 3, 3], betas [F, 10], pred_cam_t [F, 3]).
    """
    path = Path(path)
    data = _load_mapping(path)
    if "body_pose" in data and "global_orient" in data:
        poses = _rotmat_poses(path, data)
    else:
        poses = _array(path, data, ("poses", "pose"), "poses")
        if poses.ndim == 2 and poses.shape[1] == SMPL_JOINTS * 3:
            poses = poses.reshape(-1, SMPL_JOINTS, 3)
        if poses.ndim != 3 or poses.shape[1:] != (SMPL_JOINTS, 3):
            raise InputFileError(path, f"'poses' must be [F, 72] or [F, 24, 3] SMPL axis-angle, got shape {poses.shape}")
    if poses.shape[0] != frames:
        raise InputFileError(path, f"has {poses.shape[0]} frames of poses; the prepared clip has {frames}")
    betas = _array(path, data, ("betas", "shape"), "betas")
    if betas.ndim == 2:
        if betas.shape[0] not in (1, frames):
            raise InputFileError(path, f"'betas' must be [10] or [F, 10] with F = {frames}, got shape {betas.shape}")
        betas = betas.mean(axis=0)
    if betas.shape != (SMPL_BETAS,):
        raise InputFileError(path, f"'betas' must hold {SMPL_BETAS} SMPL shape values, got shape {betas.shape}")
    trans = _optional(data, ("trans", "pred_cam_t", "transl"))
    weak = _optional(data, ("orig_cam",))
    if trans is not None and trans.shape != (frames, 3):
        raise InputFileError(path, f"the translation must be [{frames}, 3], got shape {trans.shape}")
    if trans is None and (weak is None or weak.shape != (frames, 4)):
        got = "none" if weak is None else f"orig_cam of shape {weak.shape}"
        raise InputFileError(path, f"needs 'trans' [{frames}, 3] or a weak-perspective 'orig_cam' [{frames}, 4]; got {got}")
    for name, value in (("poses", poses), ("betas", betas), ("trans", trans), ("orig_cam", weak)):
        if value is not None and not np.isfinite(value).all():
            raise InputFileError(path, f"'{name}' contains NaN or inf")
    return SmplSequence(poses.astype(np.float32), betas.astype(np.float32), trans, weak)


def _load_mapping(path: Path) -> dict:
    if not path.is_file():
        raise InputFileError(path, "does not exist (expected an SMPL sequence .npz or .pkl)")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                data = {key: archive[key] for key in archive.files}
        else:
            data = _load_pickle(path)
    except (OSError, ValueError, EOFError, pickle.UnpicklingError, AttributeError, ImportError) as error:
        raise InputFileError(path, f"not a readable .npz or pickle ({error})") from error
    if not isinstance(data, dict):
        raise InputFileError(path, f"expected a mapping of arrays, got {type(data).__name__}")
    people = [value for value in data.values() if isinstance(value, dict)]
    if people and not any(isinstance(v, np.ndarray) for v in data.values()):
        # TCMR/VIBE: {person id: {...}}; the person seen in most frames is the subject.
        data = max(people, key=lambda person: len(np.asarray(person.get("frame_ids", person.get("pose", [])))))
    return data


def _load_pickle(path: Path):
    """Plain pickles, and joblib's (TCMR/VIBE write with joblib) when joblib is installed."""
    try:
        with open(path, "rb") as f:
            return pickle.load(f, encoding="latin1")
    except pickle.UnpicklingError:
        import joblib

        return joblib.load(path)


def _array(path: Path, data: dict, keys: tuple[str, ...], name: str) -> np.ndarray:
    value = _optional(data, keys)
    if value is None:
        raise InputFileError(path, f"missing {name} (one of the keys {list(keys)}); it has {sorted(data)}")
    return value


def _optional(data: dict, keys: tuple[str, ...]) -> np.ndarray | None:
    for key in keys:
        if key in data:
            return np.asarray(data[key], dtype=np.float64)
    return None


def _rotmat_poses(path: Path, data: dict) -> np.ndarray:
    """[F, 24, 3] axis-angle from 4D-Humans rotation matrices (global_orient and 23 body_pose joints)."""
    root = np.asarray(data["global_orient"], dtype=np.float64).reshape(-1, 1, 3, 3)
    body = np.asarray(data["body_pose"], dtype=np.float64)
    if body.ndim != 4 or body.shape[1:] != (SMPL_JOINTS - 1, 3, 3) or body.shape[0] != root.shape[0]:
        raise InputFileError(path, f"'body_pose' must be [F, 23, 3, 3] rotation matrices, got shape {body.shape}")
    matrices = torch.as_tensor(np.concatenate([root, body], axis=1))
    return matrix_to_axis_angle(matrices).numpy()
