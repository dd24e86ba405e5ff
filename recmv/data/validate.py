"""Check a subject folder: one problem per fault, each naming the file and what was expected.

Readers raise `InputFileError`; here they are called one file at a time and their errors collected,
so a user sees every problem at once and never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recmv.data import formats
from recmv.data.subject import SUBJECT_FILE, SubjectMeta, frame_stems
from recmv.errors import InputFileError, RecmvError
from recmv.tables import CURVE_NAMES

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass
class ValidationProblem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class _Collector:
    def __init__(self) -> None:
        self.problems: list[ValidationProblem] = []

    def add(self, path: Path | str, message: str) -> None:
        self.problems.append(ValidationProblem(str(path), message))

    def run(self, function, *args):
        """Call a reader; turn its InputFileError into a problem. Returns None on failure."""
        try:
            return function(*args)
        except InputFileError as error:
            self.add(error.path, error.problem)
        except RecmvError as error:
            self.add(args[0] if args else "", str(error))
        return None


def _check_frames(subject: Path, found: _Collector) -> tuple[list[str], int]:
    """Frame stems of imgs/ that are numbered right (0, 1, ... up to a gap), and the number of frames."""
    stems = frame_stems(subject / "imgs", IMAGE_SUFFIXES)
    if not stems:
        found.add(subject / "imgs", "no frames found (expected 000000.png, 000001.png, ...)")
        return [], 0
    expected = [f"{i:06d}" for i in range(len(stems))]
    if stems != expected:
        missing = sorted(set(expected) - set(stems))
        first = missing[0] if missing else next(s for s, e in zip(stems, expected) if s != e)
        found.add(subject / "imgs", f"frame numbering has a gap: expected 0..{len(stems) - 1} without gaps, {first} is missing")
        # Check the other folders only over the frames that are numbered right.
        return [s for s in stems if s in set(expected)], len(stems)
    return stems, len(stems)


def _image_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}


def _check_images(subject: Path, stems: list[str], found: _Collector) -> tuple[int, int] | None:
    images = _image_files(subject / "imgs")
    sizes = {stem: found.run(formats.image_size, images[stem]) for stem in stems}
    valid = {stem: size for stem, size in sizes.items() if size is not None}
    if not valid:
        return None
    reference = valid[stems[0]] if stems[0] in valid else next(iter(valid.values()))
    for stem, size in valid.items():
        if size != reference:
            found.add(images[stem], f"image size {size[1]}x{size[0]} differs from the first frame's {reference[1]}x{reference[0]}")
    return reference


def _check_masks(subject: Path, stems: list[str], size: tuple[int, int] | None, found: _Collector) -> None:
    masks = _image_files(subject / "masks")
    missing = [s for s in stems if s not in masks]
    if missing:
        found.add(subject / "masks", f"masks missing for {len(missing)} frame(s): {', '.join(missing[:5])}")
    for stem in stems:
        if stem not in masks:
            continue
        mask = found.run(formats.read_mask, masks[stem])
        if mask is None:
            continue
        if size is not None and mask.shape != size:
            found.add(masks[stem], f"mask size {mask.shape[1]}x{mask.shape[0]} differs from the frames' {size[1]}x{size[0]}")
        elif not mask.any():
            found.add(masks[stem], "mask is empty (no foreground pixel)")


def _check_parsing(subject: Path, stems: list[str], size: tuple[int, int] | None, found: _Collector) -> None:
    folder = subject / "parsing_SCH_ATR"
    for stem in stems:
        for name in (f"{stem}.npy", f"mask_parsing_{stem}.npy"):
            path = folder / name
            if not path.exists():
                continue
            labels = found.run(formats.read_parsing, path)
            if labels is not None and size is not None and labels.shape != size:
                found.add(path, f"label map {labels.shape} differs from the frames' size {size}")


def _check_curves(subject: Path, meta: SubjectMeta | None, found: _Collector) -> None:
    known = set(meta.curves) if meta is not None else set(CURVE_NAMES)
    for folder in ("featurelines", "mask2fl"):
        for stem in frame_stems(subject / folder, (".json",)):
            path = subject / folder / f"{stem}.json"
            curves = found.run(formats.read_labelme, path)
            if curves is None:
                continue
            unknown = sorted(set(curves) - known)
            if unknown:
                found.add(path, f"unknown curve label(s) {unknown}; this subject's curves are {sorted(known)}")


def _check_body(subject: Path, meta: SubjectMeta | None, frames: int, found: _Collector) -> None:
    joints = meta.num_joints if meta is not None and not meta.problems() else None
    params = found.run(formats.read_body_params, subject / "smpl_rec.npz", joints)
    if params is not None and frames and params.frames != frames:
        found.add(subject / "smpl_rec.npz", f"'poses' has {params.frames} frames, imgs/ has {frames}")


def _check_skinning_grid(subject: Path, meta: SubjectMeta | None, found: _Collector) -> None:
    path = subject / "diffused_skinning_weights.npy"
    if not path.exists():
        found.add(path, "missing (run `recmv skinning SUBJECT` to compute it)")
        return
    try:
        grid = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as error:
        found.add(path, f"not a readable .npy array ({error})")
        return
    if grid.ndim != 4 or not grid.shape[1] == grid.shape[2] == grid.shape[3]:
        found.add(path, f"expected a [J, D, D, D] grid, got shape {grid.shape}")
    elif meta is not None and not meta.problems() and grid.shape[0] != meta.num_joints:
        found.add(path, f"grid has {grid.shape[0]} joints, the {meta.body['model']} body has {meta.num_joints}")
    elif not np.isfinite(grid).all():
        found.add(path, "grid contains NaN or inf")


def validate_subject(subject: str | Path) -> list[ValidationProblem]:
    """Every problem found in a subject folder (an empty list for a valid one)."""
    subject = Path(subject)
    found = _Collector()
    if not subject.is_dir():
        found.add(subject, "not a folder")
        return found.problems
    meta = found.run(SubjectMeta.load, subject)
    if meta is not None:
        for problem in meta.problems():
            found.add(subject / SUBJECT_FILE, problem)
    stems, frames = _check_frames(subject, found)
    size = _check_images(subject, stems, found)
    _check_masks(subject, stems, size, found)
    _check_parsing(subject, stems, size, found)
    _check_curves(subject, meta, found)
    found.run(formats.read_camera, subject / "camera.npz", size or (1, 1))
    _check_body(subject, meta, frames, found)
    _check_skinning_grid(subject, meta, found)
    return found.problems
