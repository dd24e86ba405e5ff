"""`recmv report`: one self-contained HTML page about a fit (no network needed to view it).

The page holds the input frames beside the fitted garments rendered through the subject's camera, the
loss curves of log.jsonl, the metrics of a metrics.json when ground truth was compared, a WebGL viewer
of the per-frame garment meshes (play/pause, frame slider, orbit) and the run's config. Everything is
inline: CSS and JS from `assets/`, images as data URIs, meshes as base64 arrays.
"""

from __future__ import annotations

import html
import json
import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from recmv import __version__, fileio
from recmv.data import formats
from recmv.errors import InputFileError
from recmv.report.charts import loss_charts, read_log
from recmv.report.images import frame_panels, scaled_camera
from recmv.report.meshes import pack_sequence, read_sequences, frame_files, garment_folders
from recmv.report.tables import config_section, metrics_section, summary_section

PALETTE = ("#d0543c", "#3c78d0", "#4aa35a", "#d09a2c", "#8a56c4", "#2aa8a8", "#c44a8a", "#7a7a7a")
"""Garment colours in the viewer and the renders, in garment order."""
VIEWER_BACKGROUND = "#f2f2f2"
RENDER_BACKGROUND = np.ones(3)


@dataclass
class ReportOptions:
    """What goes into the page and how big it gets."""

    viewer_frames: int = 120
    """At most this many frames (evenly spaced) in the 3D viewer."""
    gallery_frames: int = 4
    """Frames shown as input / render / overlay panels."""
    image_size: int = 256
    """Longer side of the gallery images, pixels."""
    fps: float = 10.0
    """Playback speed of the viewer."""


def mesh_folder(run: Path, extract: Path | None) -> Path:
    """The per-frame meshes to show: `recmv extract`'s folder when given, else RUN/meshes."""
    folder = extract if extract is not None else run / "meshes"
    if not folder.is_dir():
        hint = "" if extract is not None else " (pass --extract DIR with `recmv extract`'s output)"
        raise InputFileError(folder, f"missing: no per-frame garment meshes{hint}")
    return folder


def evenly_spaced(items: list[int], count: int) -> list[int]:
    """At most `count` items, evenly spaced, first and last included."""
    if len(items) <= count:
        return list(items)
    picks = np.unique(np.rint(np.linspace(0, len(items) - 1, count)).astype(int))
    return [items[i] for i in picks]


def build_report(
    run: str | Path,
    out: str | Path | None = None,
    extract: str | Path | None = None,
    metrics: str | Path | None = None,
    subject: str | Path | None = None,
    options: ReportOptions | None = None,
) -> Path:
    """Write the report of run folder RUN (default RUN/report.html) and return its path."""
    options = options or ReportOptions()
    run = Path(run)
    if not run.is_dir():
        raise InputFileError(run, "missing: expected a run folder written by `recmv fit`")
    meshes = mesh_folder(run, Path(extract) if extract is not None else None)
    out = Path(out) if out is not None else run / "report.html"
    run_info = _optional_json(run / "run.json")
    subject_dir = Path(subject) if subject is not None else _subject_of(run_info)

    all_frames = sorted({f for folder in garment_folders(meshes) for f in frame_files(folder)})
    viewer_frames = evenly_spaced(all_frames, options.viewer_frames)
    sequences = read_sequences(meshes, viewer_frames)
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(sequences))]
    mesh_data = {
        "frames": viewer_frames,
        "fps": options.fps,
        "background": VIEWER_BACKGROUND,
        "garments": [pack_sequence(s, c) for s, c in zip(sequences, colours)],
    }

    metrics_path = _metrics_path(metrics, meshes, run)
    sections = [
        summary_section(run, meshes, run_info, _optional_json(run / "summary.json")),
        metrics_section(_optional_json(metrics_path), metrics_path) if metrics_path is not None else
        '<section id="metrics"><h2>Metrics</h2><p class="note">No metrics.json (run <code>recmv eval</code> '
        "against a subject with ground truth to add them).</p></section>",
        _viewer_section(sequences, colours),
        _gallery_section(sequences, colours, viewer_frames, subject_dir, options),
        _loss_section(read_log(run / "log.jsonl")),
        config_section(_optional_json(run / "config.json"), run_info),
    ]
    page = string.Template(_asset("page.html")).substitute(
        title=html.escape(f"recmv report: {run.resolve().name}"),
        subtitle=html.escape(f"run {run.resolve()} · meshes {meshes.resolve()} · recmv {__version__}"),
        css=_asset("report.css"),
        sections="\n".join(sections),
        # "</" inside a script element would end it early; JSON allows the escaped slash.
        mesh_json=json.dumps(mesh_data, separators=(",", ":")).replace("</", "<\\/"),
        viewer_js=_asset("viewer.js"),
    )
    with fileio.atomic_path(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return out


def _viewer_section(sequences, colours: list[str]) -> str:
    legend = "".join(
        f'<label><input type="checkbox" class="garment-toggle" value="{html.escape(s.name)}" checked>'
        f'<span class="swatch" style="background:{c}"></span>{html.escape(s.name)}</label>'
        for s, c in zip(sequences, colours)
    )
    return (
        '<section><h2>Garments in 3D</h2><div id="viewer"><canvas width="640" height="480"></canvas>'
        '<div class="viewer-controls"><button class="play" type="button">play</button>'
        '<input class="frame-slider" type="range" min="0" max="0" value="0" step="1" aria-label="frame">'
        '<span class="frame-label"></span></div>'
        f'<div class="legend">{legend}</div><div class="viewer-message"></div></div>'
        '<p class="note">Drag to orbit, scroll to zoom.</p></section>'
    )


def _gallery_section(sequences, colours: list[str], frames: list[int], subject: Path | None, options: ReportOptions) -> str:
    title = "<section><h2>Input frames and fitted garments</h2>"
    if subject is None or not (subject / "camera.npz").exists() or not (subject / "subject.json").exists():
        return f'{title}<p class="note">The subject folder (with camera.npz) is not available, so no renders.</p></section>'
    size = _optional_json(subject / "subject.json").get("image_size")
    if not size:
        return f'{title}<p class="note">{html.escape(str(subject))}/subject.json has no image_size, so no renders.</p></section>'
    camera = scaled_camera(formats.read_camera(subject / "camera.npz", tuple(size)), options.image_size)
    rgb = np.array([[int(c[i : i + 2], 16) / 255 for i in (1, 3, 5)] for c in colours])
    panels = frame_panels(sequences, rgb, evenly_spaced(frames, options.gallery_frames), camera, subject, RENDER_BACKGROUND)
    cells = []
    for panel in panels:
        images = "".join(
            f'<img alt="{alt} of frame {panel.frame}" src="{uri}">'
            for alt, uri in (("input", panel.input_image), ("render", panel.render), ("overlay", panel.overlay))
            if uri is not None
        )
        cells.append(
            f'<div class="panel"><div class="images">{images}</div>'
            f'<div class="caption">frame {panel.frame}: input · fitted garments · overlay</div></div>'
        )
    return f'{title}<div class="gallery">{"".join(cells)}</div></section>'


def _loss_section(records: list[dict]) -> str:
    title = "<section><h2>Loss terms over iterations</h2>"
    charts = loss_charts(records)
    if not charts:
        return f'{title}<p class="note">No log.jsonl records.</p></section>'
    note = '<p class="note">Unweighted terms; light: every iteration, dark: moving average, dashed: stage switch.</p>'
    return f'{title}{note}<div class="charts">{"".join(charts)}</div></section>'


def _metrics_path(metrics: str | Path | None, meshes: Path, run: Path) -> Path | None:
    if metrics is not None:
        path = Path(metrics)
        if not path.is_file():
            raise InputFileError(path, "missing: --metrics expects the JSON written by `recmv eval`")
        return path
    for candidate in (meshes / "metrics.json", run / "metrics.json"):
        if candidate.is_file():
            return candidate
    return None


def _subject_of(run_info: dict) -> Path | None:
    subject = run_info.get("subject")
    return Path(subject) if subject else None


def _optional_json(path: Path) -> dict:
    return fileio.read_json_object(path) if path.is_file() else {}


def _asset(name: str) -> str:
    return resources.files("recmv.report").joinpath("assets", name).read_text(encoding="utf-8")
