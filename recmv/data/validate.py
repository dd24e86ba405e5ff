"""Check a subject folder: one problem per fault, each naming the file and what was expected.

Readers raise `InputFileError`; here they are called one file at a time and their errors collected,
so a user sees every problem at once and never a traceback. A fault is reported once, where it is:
checks that depend on a broken file (frame numbering, subject.json) are skipped rather than repeated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from recmv.data import formats
from recmv.data.subject import CURVE_FOLDERS, SUBJECT_FILE, SubjectMeta, frame_stems
from recmv.errors import InputFileError, RecmvError
from recmv.tables import CURVE_NAMES

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
GRID_FILE = "diffused_skinning_weights.npy"
T = TypeVar("T")


@dataclass(frozen=True)
class ValidationProblem:
    """One fault: the file (or folder) it is in and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class _Collector:
    """Problems in the order found, each once."""

    def __init__(self) -> None:
        self.problems: list[ValidationProblem] = []

    def add(self, path: Path | str, message: str) -> None:
        problem = ValidationProblem(str(path), message)
        if problem not in self.problems:
            self.problems.append(problem)

    def run(self, path: Path, function: Callable[..., T], *args) -> T | None:
        """Call a reader of `path`; turn its errors into problems. Returns None on failure."""
        try:
            return function(path, *args)
        except InputFileError as error:
            self.add(error.path, error.problem)
        except RecmvError as error:
            self.add(path, str(error))
        return None


def validate_subject(subject: str | Path, body_model_path: str | Path | None = None) -> list[ValidationProblem]:
    """Every problem found in a subject folder (an empty list for a valid one).

    body_model_path: the SMPL model file, used only for an SMPL subject without subject.json.
    """
    subject = Path(subject)
    found = _Collector()
    if not subject.is_dir():
        found.add(subject, "not a folder")
        return found.problems
    meta = _check_meta(subject, body_model_path, found)
    stems, frames = _check_frames(subject, found)
    size = _check_images(subject, stems, found)
    if meta is not None:
        _check_meta_against_frames(subject, meta, frames, size, found)
    _check_masks(subject, stems, size, found)
    _check_normals(subject, stems, size, found)
    _check_parsing(subject, stems, size, found)
    _check_curves(subject, meta, found)
    found.run(subject / "camera.npz", formats.read_camera, size or (1, 1))
    params = _check_body(subject, meta, frames, found)
    joints = meta.num_joints if meta is not None else (params.poses.shape[1] if params is not None else None)
    _check_skinning_grid(subject, joints, found)
    return found.problems


def _check_meta(subject: Path, body_model_path: str | Path | None, found: _Collector) -> SubjectMeta | None:
    """subject.json (or the inferred tables); None unless it is sound, so later checks can rely on it."""
    meta = found.run(subject, SubjectMeta.load, body_model_path)
    if meta is None:
        return None
    problems = meta.problems()
    model_path = meta.body.get("model_path")
    if not problems and meta.body["model"] == "smpl" and not Path(model_path).expanduser().is_file():
        problems.append(f"the SMPL model file {model_path!r} does not exist")
    for problem in problems:
        found.add(subject / SUBJECT_FILE, problem)
    return None if problems else meta


def _check_frames(subject: Path, found: _Collector) -> tuple[list[str], int | None]:
    """Frame stems of imgs/ to check file by file, and the frame count (None when numbering is broken)."""
    stems = frame_stems(subject / "imgs", IMAGE_SUFFIXES)
    if not stems:
        found.add(subject / "imgs", "no frames found (expected 000000.png, 000001.png, ...)")
        return [], None
    expected = [f"{i:06d}" for i in range(len(stems))]
    if stems == expected:
        return stems, len(stems)
    missing = sorted(set(expected) - set(stems))
    stray = sorted(set(stems) - set(expected))
    found.add(
        subject / "imgs",
        f"frame numbering has a gap: {len(stems)} frames must be numbered 000000..{expected[-1]}, "
        f"{', '.join(missing[:3])} missing" + (f", {', '.join(stray[:3])} out of sequence" if stray else ""),
    )
    # With the numbering broken the frame count is unknown: check only the frames numbered right.
    return [s for s in stems if s in set(expected)], None


def _files_by_stem(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}


def _check_images(subject: Path, stems: list[str], found: _Collector) -> tuple[int, int] | None:
    """(H, W) that most frames have; each frame of another size is a problem."""
    images = _files_by_stem(subject / "imgs")
    sizes = {stem: found.run(images[stem], formats.image_size) for stem in stems}
    sizes = {stem: size for stem, size in sizes.items() if size is not None}
    if not sizes:
        return None
    reference = Counter(sizes.values()).most_common(1)[0][0]
    for stem, size in sizes.items():
        if size != reference:
            found.add(images[stem], f"image size {_hxw(size)} differs from the other frames' {_hxw(reference)} (HxW)")
    return reference


def _hxw(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def _check_meta_against_frames(
    subject: Path, meta: SubjectMeta, frames: int | None, size: tuple[int, int] | None, found: _Collector
) -> None:
    path = subject / SUBJECT_FILE
    if size is not None and meta.image_size is not None and tuple(meta.image_size) != size:
        found.add(path, f"image_size {meta.image_size} differs from the frames' [{size[0]}, {size[1]}]")
    if frames is None:
        return
    outside = [k for k in meta.keyframes if not 0 <= k < frames]
    if outside:
        found.add(path, f"keyframe(s) {outside} lie outside the {frames} frames")
    for name, span in meta.segments.items():
        if span is not None and not 0 <= span[0] <= span[1] < frames:
            found.add(path, f"segment {name!r} {span} is not an inclusive range inside 0..{frames - 1}")
    annotated = {int(s) for folder in CURVE_FOLDERS for s in frame_stems(subject / folder, (".json",))}
    unannotated = [k for k in meta.keyframes if 0 <= k < frames and k not in annotated]
    if unannotated:
        found.add(path, f"keyframe(s) {unannotated} have no featurelines/ or mask2fl/ JSON")


def _check_masks(subject: Path, stems: list[str], size: tuple[int, int] | None, found: _Collector) -> None:
    masks = _files_by_stem(subject / "masks")
    _report_missing(subject / "masks", "masks", [s for s in stems if s not in masks], found)
    for stem in (s for s in stems if s in masks):
        mask = found.run(masks[stem], formats.read_mask)
        if mask is None:
            continue
        if size is not None and mask.shape != size:
            found.add(masks[stem], f"mask size {_hxw(mask.shape)} differs from the frames' {_hxw(size)} (HxW)")
        elif not mask.any():
            found.add(masks[stem], "mask is empty (no foreground pixel)")


def _check_normals(subject: Path, stems: list[str], size: tuple[int, int] | None, found: _Collector) -> None:
    # Normal maps are optional (the fit drops the normal term without them); a partial folder is not.
    if not (subject / "normals").is_dir():
        return
    normals = _files_by_stem(subject / "normals")
    _report_missing(subject / "normals", "normal maps", [s for s in stems if s not in normals], found)
    for stem in (s for s in stems if s in normals):
        normal_size = found.run(normals[stem], formats.image_size)
        if normal_size is not None and size is not None and normal_size != size:
            found.add(normals[stem], f"normal map size {_hxw(normal_size)} differs from the frames' {_hxw(size)} (HxW)")


def _report_missing(folder: Path, what: str, missing: list[str], found: _Collector) -> None:
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        found.add(folder, f"{what} missing for {len(missing)} frame(s): {shown}")


def _check_parsing(subject: Path, stems: list[str], size: tuple[int, int] | None, found: _Collector) -> None:
    """Each frame needs its ATR label map or its mask_parsing map; those present must read and fit."""
    folder = subject / "parsing_SCH_ATR"
    paths = {stem: [folder / f"{stem}.npy", folder / f"mask_parsing_{stem}.npy"] for stem in stems}
    missing = [stem for stem, pair in paths.items() if not any(p.exists() for p in pair)]
    _report_missing(folder, "parsing maps", missing, found)
    for path in (p for pair in paths.values() for p in pair if p.exists()):
        labels = found.run(path, formats.read_parsing)
        if labels is not None and size is not None and labels.shape != size:
            found.add(path, f"label map size {_hxw(labels.shape)} differs from the frames' {_hxw(size)} (HxW)")


def _check_curves(subject: Path, meta: SubjectMeta | None, found: _Collector) -> None:
    """2D curve files: readable, labels known to the vocabulary and to the subject, endpoint pairs."""
    files = [
        subject / folder / f"{stem}.json"
        for folder in CURVE_FOLDERS
        for stem in frame_stems(subject / folder, (".json",))
    ]
    if not files:
        found.add(subject / "mask2fl", "no 2D curve annotations (featurelines/*.json or mask2fl/*.json)")
    for path in files:
        curves = found.run(path, formats.read_labelme)
        if curves is not None:
            _check_curve_labels(path, curves, meta, found)


def _check_curve_labels(path: Path, curves: dict, meta: SubjectMeta | None, found: _Collector) -> None:
    unknown = sorted(set(curves) - set(CURVE_NAMES))
    if unknown:
        found.add(path, f"unknown curve label(s) {unknown}; expected some of {list(CURVE_NAMES)}")
    foreign = sorted(set(curves) & set(CURVE_NAMES) - set(meta.curves)) if meta is not None else []
    if foreign:
        found.add(path, f"curve label(s) {foreign} are not among the subject's curves {meta.curves} (subject.json)")
    if path.parent.name == "featurelines":
        odd = [name for name, points in curves.items() if len(points) % 2]
        if odd:
            found.add(path, f"curve(s) {odd} have an odd number of points; featurelines hold pairs of endpoints")


def _check_body(
    subject: Path, meta: SubjectMeta | None, frames: int | None, found: _Collector
) -> formats.BodyParams | None:
    path = subject / "smpl_rec.npz"
    params = found.run(path, formats.read_body_params, meta.num_joints if meta is not None else None)
    if params is None:
        return None
    if frames is not None and params.frames != frames:
        found.add(path, f"'poses' has {params.frames} frames, imgs/ has {frames}")
    shape = meta.body.get("shape") if meta is not None else None
    if shape is not None and len(shape) != params.shape.shape[0]:
        found.add(path, f"'shape' has {params.shape.shape[0]} values, subject.json's body shape has {len(shape)}")
    return params


def _check_skinning_grid(subject: Path, joints: int | None, found: _Collector) -> None:
    path = subject / GRID_FILE
    if not path.exists():
        found.add(path, "missing (run `recmv skinning SUBJECT` to compute it)")
        return
    found.run(path, formats.read_skinning_grid, joints, True)
