"""The job list of `recmv batch`: a YAML or CSV manifest, checked before anything runs.

YAML: a list of jobs, or a mapping with `jobs:` (the list) and optional `defaults:` (keys every job
starts from). CSV: a header row, then one job per row; an empty cell leaves the field unset, and a cell
of a fit option is read as YAML (`64`, `0.5`, `[16, 26]`).

Fields of a job:
    name             folder name of the job under --out (letters, digits, `.`, `_`, `-`; unique)
    input            a subject folder, a video file or a folder of frames; relative to the manifest
    garments         garment types for `recmv prepare` (a list, or one string split on `,` `+` or spaces);
                     a subject folder's own subject.json names its garments
    preset           fit preset (fast or reference; default fast)
    segment          frames to fit: rotation (default), large_motion or all
    eval_samples     surface samples per mesh and frame for eval (default 100000)
    prepare          options of `recmv prepare`, PrepareOptions fields (`{size: 512, fps: 10}`)
    extract          options of `recmv extract`, ExtractOptions fields (`{videos: false, cell_size: 0.01}`)
    crash_fit_after  testing aid: the first fit of the job kills its own worker after this many iterations
Any other key is a FitConfig option of the preset to override (`epochs`, `working_size`); nested
options are written as a mapping (`sdf_init: {iterations: 40}`) or with dots (`sdf_init.iterations`).
A list of stages is merged entry by entry onto the preset's stages (the last one where the preset has
fewer), so `stages: [{batch_size: 2}]` keeps only the first stage, with a batch of 2.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from recmv.errors import RecmvError
from recmv.tables import GARMENT_TYPES
from recmv.training.config import PRESETS, FitConfig, config_from_json, preset_config

SEGMENTS = ("rotation", "large_motion", "all")
JOB_FIELDS = ("name", "input", "garments", "preset", "segment", "eval_samples", "prepare", "extract", "crash_fit_after")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
DEFAULT_EVAL_SAMPLES = 100_000
_LINE = "__line__"


class ManifestError(RecmvError):
    """A manifest entry that cannot be run; the message names the file, line and field."""

    def __init__(self, path: Path, line: int | None, field: str | None, problem: str):
        where = str(path) + (f" line {line}" if line is not None else "") + (f", field {field!r}" if field else "")
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class Job:
    """One manifest entry, checked and resolved."""

    name: str
    input: Path
    """Absolute path of the subject folder, video or frame folder."""
    line: int
    """Line of the entry in the manifest (for messages)."""
    garments: tuple[str, ...] | None
    preset: str | None
    segment: str
    eval_samples: int
    crash_fit_after: int | None
    fit_overrides: dict
    """The manifest's FitConfig overrides, nested, as written (after type checks)."""
    fit_config: FitConfig
    """The preset with the overrides applied and validated."""
    prepare_options: dict
    """PrepareOptions fields to set (checked against their defaults' types)."""
    extract_options: dict
    """ExtractOptions fields to set (checked against their defaults' types)."""

    def spec(self) -> dict:
        """What the job's outputs depend on; a job folder started from another spec is not resumed."""
        return {
            "input": str(self.input),
            "garments": list(self.garments) if self.garments is not None else None,
            "preset": self.preset,
            "segment": self.segment,
            "eval_samples": self.eval_samples,
            "crash_fit_after": self.crash_fit_after,
            "fit": self.fit_overrides,
            "prepare": self.prepare_options,
            "extract": self.extract_options,
        }

    def fit_kwargs(self) -> dict:
        """`overrides` for fit_subject: every FitConfig field of the resolved config."""
        return {item.name: getattr(self.fit_config, item.name) for item in dataclasses.fields(FitConfig)}


def load_manifest(path: str | Path) -> list[Job]:
    """Read and check every entry of a manifest; raises ManifestError naming the first bad one."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(path, None, None, "no such manifest file")
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        entries = _read_yaml(path)
    elif suffix == ".csv":
        entries = _read_csv(path)
    else:
        raise ManifestError(path, None, None, f"expected a .yaml, .yml or .csv manifest, got {suffix or 'no suffix'}")
    if not entries:
        raise ManifestError(path, None, None, "lists no jobs")
    jobs = [_job(path, line, entry) for line, entry in entries]
    seen: dict[str, int] = {}
    for job in jobs:
        if job.name in seen:
            raise ManifestError(path, job.line, "name", f"{job.name!r} is already the name of the job on line {seen[job.name]}")
        seen[job.name] = job.line
    return jobs


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records each mapping's line under a private key."""

    def construct_mapping(self, node, deep=False):
        mapping = super().construct_mapping(node, deep=deep)
        mapping[_LINE] = node.start_mark.line + 1
        return mapping


def _read_yaml(path: Path) -> list[tuple[int, dict]]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)
    except yaml.YAMLError as error:
        raise ManifestError(path, None, None, f"not valid YAML ({error})") from error
    defaults: dict = {}
    if isinstance(data, dict):
        unknown = sorted(set(data) - {"jobs", "defaults", _LINE})
        if unknown:
            raise ManifestError(path, data[_LINE], unknown[0], "expected only `jobs:` and `defaults:` at the top level")
        defaults = data.get("defaults") or {}
        if not isinstance(defaults, dict):
            raise ManifestError(path, data[_LINE], "defaults", "expected a mapping of job fields")
        data = data.get("jobs")
    if not isinstance(data, list):
        raise ManifestError(path, None, "jobs", "expected a list of jobs (or a mapping with a `jobs:` list)")
    entries = []
    for index, entry in enumerate(data):
        if not isinstance(entry, dict):
            raise ManifestError(path, None, None, f"job {index + 1}: expected a mapping of fields, got {entry!r}")
        line = entry[_LINE]
        entries.append((line, _strip_lines(_deep_merge(defaults, entry))))
    return entries


def _read_csv(path: Path) -> list[tuple[int, dict]]:
    entries = []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:
            return []
        for row in reader:
            line = reader.line_num
            if None in row:
                raise ManifestError(path, line, None, f"more cells than the {len(reader.fieldnames)} columns of the header")
            entry: dict[str, Any] = {}
            for key, text in row.items():
                key = key.strip()
                text = (text or "").strip()
                if not text:
                    continue
                entry[key] = text if key in ("name", "input", "garments", "preset", "segment") else _cell(path, line, key, text)
            if entry:
                entries.append((line, entry))
    return entries


def _cell(path: Path, line: int, key: str, text: str):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ManifestError(path, line, key, f"cannot read {text!r} ({error})") from error


def _job(path: Path, line: int, entry: dict) -> Job:
    def fail(field: str, problem: str):
        raise ManifestError(path, line, field, problem)

    name = entry.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        fail("name", f"expected a folder name of letters, digits, '.', '_' or '-', got {name!r}")
    source = entry.get("input")
    if not isinstance(source, str) or not source.strip():
        fail("input", "expected the path of a subject folder, a video or a frame folder")
    garments = _garments(entry.get("garments"), fail)
    preset = entry.get("preset")
    if preset is not None and preset not in PRESETS:
        fail("preset", f"expected one of {', '.join(PRESETS)}, got {preset!r}")
    segment = entry.get("segment", "rotation")
    if segment not in SEGMENTS:
        fail("segment", f"expected one of {', '.join(SEGMENTS)}, got {segment!r}")
    eval_samples = _positive_int(entry.get("eval_samples", DEFAULT_EVAL_SAMPLES), "eval_samples", fail)
    crash = entry.get("crash_fit_after")
    crash = None if crash is None else _positive_int(crash, "crash_fit_after", fail)

    prepare = _stage_options("prepare", entry.get("prepare", {}), ("garments", "device"), fail)
    extract = _stage_options("extract", entry.get("extract", {}), ("device", "subject"), fail)
    overrides = _nest({k: v for k, v in entry.items() if k not in JOB_FIELDS}, fail)
    base = preset_config(preset or "fast").to_json()
    merged = _apply(base, overrides, "", fail)
    try:
        config = config_from_json(merged)
        config.validate()
    except (RecmvError, TypeError, ValueError) as error:
        fail(None, str(error))
    return Job(
        name=name, input=(path.parent / source).resolve(), line=line, garments=garments, preset=preset,
        segment=segment, eval_samples=eval_samples, crash_fit_after=crash, fit_overrides=overrides, fit_config=config,
        prepare_options=prepare, extract_options=extract,
    )


def _garments(value, fail) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = re.split(r"[,+\s]+", value.strip()) if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        fail("garments", f"expected a list of garment types, got {value!r}")
    unknown = [n for n in names if n not in GARMENT_TYPES]
    if unknown:
        fail("garments", f"unknown garment type {unknown[0]!r}; expected some of {', '.join(GARMENT_TYPES)}")
    return tuple(names)


def _stage_options(stage: str, value, reserved: tuple[str, ...], fail) -> dict:
    """Checks `prepare:` or `extract:` against PrepareOptions or ExtractOptions: fields, nesting, types."""
    if not isinstance(value, dict):
        fail(stage, f"expected a mapping of `recmv {stage}` options, got {value!r}")
    if not value:
        return {}
    if stage == "prepare":
        from recmv.preprocess.pipeline import PrepareOptions as Options
    else:
        from recmv.export.extract import ExtractOptions as Options
    for key in reserved:
        if key in value:
            fail(f"{stage}.{key}", "set by the batch itself (from the job's garments and subject, and --gpus-per-job)")
    base = dataclasses.asdict(Options())
    hints = typing.get_type_hints(Options)
    for key, option in value.items():
        if key in base and base[key] is None and option is not None:  # an option unset by default: its type hint
            kinds = tuple(k for k in typing.get_args(hints[key]) if k is not type(None))
            if isinstance(option, bool) or not isinstance(option, kinds + ((int,) if float in kinds else ())):
                fail(f"{stage}.{key}", f"expected {' or '.join(k.__name__ for k in kinds)} or null, got {option!r}")
    _apply(base, {k: v for k, v in value.items() if base.get(k, ...) is not None}, stage, fail)
    return dict(value)


def _positive_int(value, field: str, fail) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        fail(field, f"expected a positive integer, got {value!r}")
    return value


def _nest(flat: dict, fail) -> dict:
    """{'sdf_init.iterations': 40} -> {'sdf_init': {'iterations': 40}}."""
    nested: dict = {}
    for key, value in flat.items():
        parts = key.split(".")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                fail(key, f"{part!r} is given both as a value and as a mapping")
        node[parts[-1]] = _deep_merge(node[parts[-1]], value) if isinstance(node.get(parts[-1]), dict) else value
    return nested


def _apply(base, override, prefix: str, fail):
    """base (a FitConfig JSON node) with override merged in; each key and value type is checked."""
    if isinstance(base, dict):
        if not isinstance(override, dict):
            fail(prefix, f"expected a mapping of {', '.join(base)}, got {override!r}")
        merged = dict(base)
        for key, value in override.items():
            path = f"{prefix}.{key}" if prefix else key
            if key not in base:
                close = difflib.get_close_matches(key, list(base), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                what = "a job field or fit option" if not prefix else f"an option of {prefix}"
                fail(path, f"not {what}{hint}")
            merged[key] = _apply(base[key], value, path, fail)
        return merged
    if isinstance(base, (list, tuple)):
        if not isinstance(override, list) or (base and isinstance(base[0], dict) and not override):
            fail(prefix, f"expected a list, got {override!r}")
        if base and isinstance(base[0], dict):  # stages: merge entry by entry onto the preset's
            return [_apply(base[min(i, len(base) - 1)], item, f"{prefix}[{i}]", fail) for i, item in enumerate(override)]
        return [_apply(base[0], item, f"{prefix}[{i}]", fail) if base else item for i, item in enumerate(override)]
    return _scalar(base, override, prefix, fail)


def _scalar(base, value, field: str, fail):
    if isinstance(base, bool):
        ok = isinstance(value, bool)
    elif isinstance(base, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(base, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(base, str):
        ok = isinstance(value, str)
    else:  # an optional number that the defaults leave unset (working_size, cell_size)
        ok = value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))
        if not ok:
            fail(field, f"expected a number or null, got {value!r}")
    if not ok:
        fail(field, f"expected a value like {base!r}, got {value!r}")
    return value


def _deep_merge(base, override):
    if not isinstance(base, dict) or not isinstance(override, dict):
        return override
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _deep_merge(base[key], value) if key in base else value
    return merged


def _strip_lines(value):
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if k != _LINE}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value
