"""`subject.json`: what REC-MV kept in code tables (garments, curves, body, segments, keyframes).

When a REC-MV subject has no subject.json, `infer_subject_meta` reads what it can from its files.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from recmv import fileio
from recmv.errors import InputFileError
from recmv.tables import (
    ATR_LABELS,
    BODY_JOINT_COUNTS,
    BODY_MODELS,
    CURVE_NAMES,
    CURVES_BOUNDING,
    GARMENT_TYPES,
    curve_owners,
    subject_curves,
)

FORMAT_VERSION = 1
SUBJECT_FILE = "subject.json"
_FRAME_STEM = re.compile(r"^\d{6}$")


@dataclass
class SubjectMeta:
    """The contents of subject.json (see /docs/conventions.md and the README's data layout).

    garments: garment types in order (the garment index).
    curves: the subject's feature curves, in REC-MV's FL_INFOS order.
    curve_owner: curve -> the garment that owns (warps, projects, snaps) it.
    garment_boundaries: garment -> the curves that bound its open mesh.
    body: body model description ({"model": "anny", "topology", "shape"} or {"model": "smpl", "model_path", ...}).
    segments: {"rotation": [first, last], "large_motion": [first, last] or None}, inclusive frame ranges.
    keyframes: frames with 2D curve annotations.
    image_size: [H, W].
    skinning_grid: {"center": [3], "extent": float} of the grid, or None to derive it from the body.
    """

    name: str
    garments: list[str]
    curves: list[str]
    curve_owner: dict[str, str]
    garment_boundaries: dict[str, list[str]]
    body: dict
    segments: dict = field(default_factory=dict)
    keyframes: list[int] = field(default_factory=list)
    image_size: list[int] | None = None
    skinning_grid: dict | None = None
    format_version: int = FORMAT_VERSION

    @classmethod
    def for_garments(cls, name: str, garments: list[str], body: dict, **kwargs) -> SubjectMeta:
        """A subject whose curve tables are recmv's defaults for these garments."""
        return cls(
            name=name,
            garments=list(garments),
            curves=list(subject_curves(garments)),
            curve_owner=curve_owners(garments),
            garment_boundaries={g: list(CURVES_BOUNDING[g]) for g in garments},
            body=body,
            **kwargs,
        )

    @property
    def num_joints(self) -> int:
        return BODY_JOINT_COUNTS[self.body["model"]]

    def problems(self) -> list[str]:
        """What is wrong with the tables: unknown names, curves nobody owns, owners not in the subject."""
        found = []
        unknown = [g for g in self.garments if g not in GARMENT_TYPES]
        if unknown:
            found.append(f"unknown garment(s) {unknown}; expected some of {list(GARMENT_TYPES)}")
        if not self.garments:
            found.append("'garments' is empty")
        names = set(self.curves) | set(self.curve_owner) | {c for b in self.garment_boundaries.values() for c in b}
        unknown_curves = sorted(c for c in names if c not in CURVE_NAMES)
        if unknown_curves:
            found.append(f"unknown curve name(s) {unknown_curves}; expected some of {list(CURVE_NAMES)}")
        orphans = [c for c in self.curves if c not in self.curve_owner]
        if orphans:
            found.append(f"curve(s) {orphans} are owned by no garment (add them to 'curve_owner')")
        strangers = sorted({g for g in self.curve_owner.values() if g not in self.garments})
        if strangers:
            found.append(f"'curve_owner' names garment(s) {strangers} that the subject does not wear")
        if self.body.get("model") not in BODY_MODELS:
            found.append(f"body model must be one of {list(BODY_MODELS)}, got {self.body.get('model')!r}")
        return found

    def save(self, path: str | Path) -> None:
        """Write subject.json into a subject folder (or to a .json path)."""
        path = Path(path)
        if path.suffix != ".json":
            path = path / SUBJECT_FILE
        fileio.write_json(path, asdict(self))

    @classmethod
    def from_json(cls, path: str | Path) -> SubjectMeta:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise InputFileError(path, f"not readable JSON ({error})") from error
        if not isinstance(data, dict):
            raise InputFileError(path, "expected a JSON object")
        version = data.get("format_version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise InputFileError(path, f"format_version {version} is not supported (this recmv reads {FORMAT_VERSION})")
        required = ("garments", "curves", "curve_owner", "garment_boundaries", "body")
        missing = [key for key in required if key not in data]
        if missing:
            raise InputFileError(path, f"missing key(s) {missing}")
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputFileError(path, f"unknown key(s) {unknown}")
        data.setdefault("name", path.parent.name)
        try:
            return cls(**data)
        except TypeError as error:
            raise InputFileError(path, str(error)) from error

    @classmethod
    def load(cls, subject: str | Path) -> SubjectMeta:
        """subject.json of a subject folder, or what its REC-MV files say when it has none."""
        subject = Path(subject)
        path = subject / SUBJECT_FILE
        if path.exists():
            return cls.from_json(path)
        return infer_subject_meta(subject)


def frame_stems(folder: Path, suffixes: tuple[str, ...]) -> list[str]:
    """Sorted 6-digit stems of the files with these suffixes in a folder."""
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.iterdir() if p.suffix.lower() in suffixes and _FRAME_STEM.match(p.stem))


def _garments_from_parsing(subject: Path) -> list[str]:
    """Garment types that the ATR parsing of the first frame shows (upper + skirt/pants, or dress)."""
    stems = frame_stems(subject / "parsing_SCH_ATR", (".npy",))
    if not stems:
        return []
    labels = set(np.unique(np.load(subject / "parsing_SCH_ATR" / f"{stems[0]}.npy")).tolist())
    garments = []
    if ATR_LABELS["dress"] in labels:
        return ["dress"]
    if ATR_LABELS["upper_clothes"] in labels:
        garments.append("short_sleeve_upper")
    if ATR_LABELS["skirt"] in labels:
        garments.append("skirt")
    elif ATR_LABELS["pants"] in labels:
        garments.append("long_pants")
    return garments


def infer_subject_meta(subject: Path) -> SubjectMeta:
    """Subject tables from a REC-MV subject's own files (no subject.json).

    Body: Anny when smpl_rec.npz has 38 joints; a 24-joint (SMPL) subject needs the SMPL model file,
    which only subject.json can name. Garments: from the ATR labels present (a guess for sleeve and
    leg length, which parsing cannot tell); curves: from the annotated labels.
    """
    rec = subject / "smpl_rec.npz"
    if not rec.exists():
        raise InputFileError(subject / SUBJECT_FILE, "missing, and there is no smpl_rec.npz to infer the body from")
    with np.load(rec, allow_pickle=False) as data:
        poses = data["poses"] if "poses" in data.files else None
    joints = None if poses is None else (poses.shape[1] if poses.ndim == 3 else poses.shape[-1] // 3)
    if joints != BODY_JOINT_COUNTS["anny"]:
        raise InputFileError(
            subject / SUBJECT_FILE,
            f"missing: write one that names the body model (smpl_rec.npz has {joints} joints; an SMPL "
            'subject needs "body": {"model": "smpl", "model_path": "<your SMPL .pkl/.npz>"})',
        )
    garments = _garments_from_parsing(subject)
    if not garments:
        raise InputFileError(subject / SUBJECT_FILE, "missing, and the parsing maps show no garment to infer it from")
    annotated = frame_stems(subject / "mask2fl", (".json",)) or frame_stems(subject / "featurelines", (".json",))
    keyframes = [int(s) for s in annotated]
    frames = len(frame_stems(subject / "imgs", (".png", ".jpg", ".jpeg")))
    last = keyframes[-1] if keyframes else frames - 1
    segments = {"rotation": [keyframes[0] if keyframes else 0, last], "large_motion": [last + 1, frames - 1] if last + 1 < frames else None}
    return SubjectMeta.for_garments(
        subject.name, garments, {"model": "anny", "topology": "notoes"}, segments=segments, keyframes=keyframes
    )
