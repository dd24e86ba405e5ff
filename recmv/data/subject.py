"""`subject.json`: what REC-MV kept in code tables (garments, curves, body, segments, keyframes).

When a REC-MV subject has no subject.json, `infer_subject_meta` reads what it can from the subject's
own files: garments from the parsing labels and curve labels, curves and keyframes from the 2D curve
files, the body model from the joint count of smpl_rec.npz.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from recmv import fileio
from recmv.data import formats
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

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
SUBJECT_FILE = "subject.json"
ANNY_SHAPE_SIZE = 6
SMPL_SHAPE_SIZE = 10
_FRAME_STEM = re.compile(r"^\d{6}$")


@dataclass
class SubjectMeta:
    """The contents of subject.json (see docs/conventions.md and the README's data layout).

    garments: garment types in order (the garment index).
    curves: the subject's feature curves, in REC-MV's FL_INFOS order.
    curve_owner: curve -> the garment that owns (warps, projects, snaps) it.
    garment_boundaries: garment -> the curves that bound its open mesh.
    body: body model description ({"model": "anny", "topology", "shape"} or {"model": "smpl", "model_path", ...}),
        as recmv.body.factory.build_body_model takes it.
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
        return _name_problems(self) + _ownership_problems(self) + _body_problems(self.body)

    def save(self, path: str | Path) -> None:
        """Write subject.json into a subject folder (or to a .json path)."""
        path = Path(path)
        if path.suffix != ".json":
            path = path / SUBJECT_FILE
        fileio.write_json(path, asdict(self))

    @classmethod
    def from_json(cls, path: str | Path) -> SubjectMeta:
        """Read subject.json; InputFileError for unreadable JSON, wrong keys or wrong value types."""
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
        _check_keys(path, data, set(cls.__dataclass_fields__))
        data.setdefault("name", path.parent.name)
        _check_types(path, data)
        return cls(**data)

    @classmethod
    def load(cls, subject: str | Path, body_model_path: str | Path | None = None) -> SubjectMeta:
        """subject.json of a subject folder, or what its REC-MV files say when it has none.

        body_model_path: the SMPL model file, needed only to infer the tables of an SMPL subject.
        """
        subject = Path(subject)
        path = subject / SUBJECT_FILE
        if path.exists():
            return cls.from_json(path)
        return infer_subject_meta(subject, body_model_path)


def frame_stems(folder: Path, suffixes: tuple[str, ...]) -> list[str]:
    """Sorted 6-digit stems of the files with these suffixes in a folder."""
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.iterdir() if p.suffix.lower() in suffixes and _FRAME_STEM.match(p.stem))


# --- semantic checks --------------------------------------------------------------------------


def _name_problems(meta: SubjectMeta) -> list[str]:
    found = []
    if not meta.garments:
        found.append("'garments' is empty")
    unknown = [g for g in meta.garments if g not in GARMENT_TYPES]
    if unknown:
        found.append(f"unknown garment(s) {unknown}; expected some of {list(GARMENT_TYPES)}")
    named = set(meta.curves) | set(meta.curve_owner) | {c for b in meta.garment_boundaries.values() for c in b}
    unknown_curves = sorted(c for c in named if c not in CURVE_NAMES)
    if unknown_curves:
        found.append(f"unknown curve name(s) {unknown_curves}; expected some of {list(CURVE_NAMES)}")
    return found


def _ownership_problems(meta: SubjectMeta) -> list[str]:
    found = []
    orphans = [c for c in meta.curves if c not in meta.curve_owner and c in CURVE_NAMES]
    if orphans:
        found.append(f"curve(s) {orphans} are owned by no garment (add them to 'curve_owner')")
    strays = sorted(c for c in meta.curve_owner if c not in meta.curves and c in CURVE_NAMES)
    if strays:
        found.append(f"'curve_owner' names curve(s) {strays} that are not in 'curves'")
    strangers = sorted({g for g in meta.curve_owner.values() if g not in meta.garments})
    if strangers:
        found.append(f"'curve_owner' names garment(s) {strangers} that the subject does not wear")
    unbounded = [g for g in meta.garments if g in GARMENT_TYPES and g not in meta.garment_boundaries]
    if unbounded:
        found.append(f"garment(s) {unbounded} have no entry in 'garment_boundaries'")
    extra = sorted(g for g in meta.garment_boundaries if g not in meta.garments)
    if extra:
        found.append(f"'garment_boundaries' names garment(s) {extra} that the subject does not wear")
    return found


def _body_problems(body: dict) -> list[str]:
    model = body.get("model")
    if model not in BODY_MODELS:
        return [f"body model must be one of {list(BODY_MODELS)}, got {model!r}"]
    if model == "smpl" and not body.get("model_path"):
        return ['an SMPL body needs "model_path": the SMPL model file (.npz or .pkl)']
    shape = body.get("shape")
    if model == "anny" and shape is not None and len(shape) != ANNY_SHAPE_SIZE:
        return [f"an Anny body shape has {ANNY_SHAPE_SIZE} phenotype values, got {len(shape)}"]
    return []


# --- structural checks ------------------------------------------------------------------------


def _check_keys(path: Path, data: dict, known: set[str]) -> None:
    missing = [key for key in ("garments", "curves", "curve_owner", "garment_boundaries", "body") if key not in data]
    if missing:
        raise InputFileError(path, f"missing key(s) {missing}")
    unknown = sorted(set(data) - known)
    if unknown:
        raise InputFileError(path, f"unknown key(s) {unknown}")


def _is_str_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_int_list(value, length: int | None = None) -> bool:
    ints = isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    return ints and (length is None or len(value) == length)


def _is_number_list(value, length: int) -> bool:
    return isinstance(value, list) and len(value) == length and all(isinstance(v, (int, float)) for v in value)


def _is_owner_map(value) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _is_boundary_map(value) -> bool:
    return isinstance(value, dict) and all(_is_str_list(v) for v in value.values())


def _is_segment_map(value) -> bool:
    return isinstance(value, dict) and all(v is None or _is_int_list(v, 2) for v in value.values())


def _is_body(value) -> bool:
    if not isinstance(value, dict) or not isinstance(value.get("model"), str):
        return False
    shape = value.get("shape")
    strings_ok = all(isinstance(value.get(k, ""), str) for k in ("model_path", "topology", "gender"))
    return strings_ok and (shape is None or _is_number_list(shape, len(shape) if isinstance(shape, list) else -1))


def _is_grid_cube(value) -> bool:
    if value is None:
        return True
    return (
        isinstance(value, dict)
        and _is_number_list(value.get("center"), 3)
        and isinstance(value.get("extent"), (int, float))
    )


# key -> (test of its value, what was expected); keys absent from the file are not tested.
_TYPE_CHECKS = {
    "name": (lambda v: isinstance(v, str), "a string"),
    "garments": (_is_str_list, "a list of garment names"),
    "curves": (_is_str_list, "a list of curve names"),
    "curve_owner": (_is_owner_map, "an object curve -> garment"),
    "garment_boundaries": (_is_boundary_map, "an object garment -> list of curves"),
    "body": (_is_body, 'an object such as {"model": "anny", "shape": [6 numbers]} (strings for paths and names)'),
    "segments": (_is_segment_map, "an object name -> [first, last] or null"),
    "keyframes": (_is_int_list, "a list of frame numbers"),
    "image_size": (lambda v: v is None or _is_int_list(v, 2), "[H, W]"),
    "skinning_grid": (_is_grid_cube, '{"center": [x, y, z], "extent": e} or null'),
}


def _check_types(path: Path, data: dict) -> None:
    """Raise InputFileError naming the first key whose value has the wrong type."""
    for key, (is_valid, expected) in _TYPE_CHECKS.items():
        if key in data and not is_valid(data[key]):
            raise InputFileError(path, f"'{key}' must be {expected}, got {data[key]!r}")


# --- inference for REC-MV subjects without subject.json ----------------------------------------

CURVE_FOLDERS = ("featurelines", "mask2fl")
# A label counts as present when it covers at least this share of the labelled pixels (parsing noise aside).
PRESENCE_SHARE = 0.02
# Sleeves (trouser legs) are short when bare arms (legs) cover at least this share of the garment's pixels.
BARE_LIMB_RATIO = 0.25
PARSING_FRAMES_SAMPLED = 5


def infer_subject_meta(subject: str | Path, body_model_path: str | Path | None = None) -> SubjectMeta:
    """Subject tables from a REC-MV subject's own files, for a subject without subject.json.

    Raises InputFileError (on subject.json) when the files cannot decide: an SMPL subject (24 joints)
    without `body_model_path`, an unknown joint count, or no visible garment.
    """
    subject = Path(subject)
    body = _infer_body(subject, body_model_path)
    labels, keyframes = _annotated_curves(subject)
    garments = _infer_garments(subject, labels)
    curves = [c for c in CURVE_NAMES if c in labels] or list(subject_curves(garments))
    owners = curve_owners(garments)
    frames = len(frame_stems(subject / "imgs", (".png", ".jpg", ".jpeg")))
    logger.warning(
        "%s has no subject.json; inferred garments %s and curves %s (write subject.json to correct them)",
        subject,
        garments,
        curves,
    )
    return SubjectMeta(
        name=subject.name,
        garments=garments,
        curves=curves,
        curve_owner={c: owners[c] for c in curves if c in owners},
        garment_boundaries={g: list(CURVES_BOUNDING[g]) for g in garments},
        body=body,
        segments=_segments_from_keyframes(keyframes, frames),
        keyframes=keyframes,
        image_size=_first_mask_size(subject),
    )


def _infer_body(subject: Path, body_model_path: str | Path | None) -> dict:
    """The body description that smpl_rec.npz's joint count implies."""
    meta_path = subject / SUBJECT_FILE
    if not (subject / "smpl_rec.npz").exists():
        raise InputFileError(meta_path, "missing, and there is no smpl_rec.npz to infer the body model from")
    params = formats.read_body_params(subject / "smpl_rec.npz")
    joints, shape = params.poses.shape[1], params.shape.tolist()
    if joints == BODY_JOINT_COUNTS["anny"]:
        body = {"model": "anny", "topology": "notoes"}
        return body | ({"shape": shape} if len(shape) == ANNY_SHAPE_SIZE else {})
    if joints != BODY_JOINT_COUNTS["smpl"]:
        raise InputFileError(
            meta_path,
            f"missing, and smpl_rec.npz has {joints} joints, neither SMPL (24) nor Anny (38): "
            'write subject.json with "body": {"model": ...}',
        )
    if body_model_path is None:
        raise InputFileError(
            meta_path,
            "missing, and smpl_rec.npz has 24 joints (an SMPL subject): pass --body-model with the "
            'SMPL model file, or write subject.json with "body": {"model": "smpl", "model_path": "<SMPL .pkl/.npz>"}',
        )
    body = {"model": "smpl", "model_path": str(body_model_path), "canonical_pose_type": 0, "gender": params.gender}
    return body | ({"shape": shape} if len(shape) == SMPL_SHAPE_SIZE else {})


def _annotated_curves(subject: Path) -> tuple[set[str], list[int]]:
    """Curve labels used in featurelines/ and mask2fl/, and the annotated frames (keyframes)."""
    labels: set[str] = set()
    stems: set[str] = set()
    for folder in CURVE_FOLDERS:
        for stem in frame_stems(subject / folder, (".json",)):
            labels |= set(formats.read_labelme(subject / folder / f"{stem}.json"))
            stems.add(stem)
    return labels, sorted(int(s) for s in stems)


def _label_shares(subject: Path) -> dict[int, float]:
    """ATR label -> share of the labelled pixels, over a few frames spread through the sequence."""
    stems = frame_stems(subject / "parsing_SCH_ATR", (".npy",))
    stems = stems[:: max(1, len(stems) // PARSING_FRAMES_SAMPLED)]
    counts = np.zeros(len(ATR_LABELS), dtype=np.int64)
    for stem in stems:
        labels = formats.read_parsing(subject / "parsing_SCH_ATR" / f"{stem}.npy")
        counts += np.bincount(labels.ravel(), minlength=len(ATR_LABELS))[: len(ATR_LABELS)]
    labelled = counts[1:].sum()
    return {} if labelled == 0 else {label: counts[label] / labelled for label in range(1, len(ATR_LABELS))}


def _infer_garments(subject: Path, curves: set[str]) -> list[str]:
    """Garment types from the parsing labels present, told apart by the curves annotated.

    Sleeve and trouser length come from how much bare arm (leg) shows beside the garment.
    """
    share = _label_shares(subject)
    present = {label for label, value in share.items() if value >= PRESENCE_SHARE}
    if not share:
        present = _labels_implied_by_curves(curves)
    if ATR_LABELS["dress"] in present:
        return ["dress"]
    garments = []
    if ATR_LABELS["upper_clothes"] in present:
        garments.append(_upper_type(share, curves, lower=bool(present & {ATR_LABELS["skirt"], ATR_LABELS["pants"]})))
    if ATR_LABELS["skirt"] in present:
        garments.append("skirt")
    elif ATR_LABELS["pants"] in present:
        legs = share.get(ATR_LABELS["left_leg"], 0.0) + share.get(ATR_LABELS["right_leg"], 0.0)
        garments.append(
            "short_pants" if legs >= BARE_LIMB_RATIO * share.get(ATR_LABELS["pants"], 1.0) else "long_pants"
        )
    if not garments:
        raise InputFileError(
            subject / SUBJECT_FILE,
            "missing, and neither the parsing maps nor the curve labels show a garment: write subject.json",
        )
    return garments


def _labels_implied_by_curves(curves: set[str]) -> set[int]:
    """ATR labels a subject without parsing maps must show, given its curve labels."""
    present = set()
    if curves & {"neck", "left_cuff", "right_cuff", "upper_bottom"}:
        present.add(ATR_LABELS["upper_clothes"])
    if curves & {"left_pant", "right_pant"}:
        present.add(ATR_LABELS["pants"])
    elif "bottom_curve" in curves and "upper_bottom" in curves:
        present.add(ATR_LABELS["skirt"])
    return present


def _upper_type(share: dict[int, float], curves: set[str], lower: bool) -> str:
    if curves and not curves & {"left_cuff", "right_cuff"}:
        return "tube"
    if not lower and "bottom_curve" in curves and "upper_bottom" not in curves:
        return "no_sleeve_upper"
    arms = share.get(ATR_LABELS["left_arm"], 0.0) + share.get(ATR_LABELS["right_arm"], 0.0)
    upper = share.get(ATR_LABELS["upper_clothes"], 0.0)
    return "short_sleeve_upper" if not share or arms >= BARE_LIMB_RATIO * upper else "long_sleeve_upper"


def _segments_from_keyframes(keyframes: list[int], frames: int) -> dict:
    """REC-MV's split: the annotated range is the rotation segment, the frames after it large motion."""
    first, last = (keyframes[0], keyframes[-1]) if keyframes else (0, frames - 1)
    return {"rotation": [first, last], "large_motion": [last + 1, frames - 1] if last + 1 < frames else None}


def _first_mask_size(subject: Path) -> list[int] | None:
    stems = frame_stems(subject / "masks", (".png", ".jpg", ".jpeg"))
    if not stems:
        return None
    path = next(p for p in (subject / "masks").iterdir() if p.stem == stems[0])
    return list(formats.image_size(path))
