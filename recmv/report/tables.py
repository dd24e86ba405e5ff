"""HTML tables of the report: the run summary, the metrics of `recmv eval`, the config."""

from __future__ import annotations

import html
import json
from pathlib import Path

from recmv.errors import InputFileError

# (key in a garment's "mean", column title, number format) of the metrics table.
METRIC_COLUMNS = (
    ("chamfer_cm", "CD cm", "{:.3f}"),
    ("p2s_cm", "P2S cm", "{:.3f}"),
    ("s2p_cm", "S2P cm", "{:.3f}"),
    ("normal_consistency", "NC", "{:.3f}"),
    ("fscore_1cm", "F@1cm", "{:.3f}"),
    ("mask_iou", "mask IoU", "{:.3f}"),
    ("interpenetration", "inside body", "{:.3f}"),
    ("boundary_cm_mean", "boundary cm", "{:.3f}"),
)


def number(value, fmt: str = "{:.4g}") -> str:
    """A table cell: formatted number, or '–' for a missing value."""
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if isinstance(value, (int, float)):
        return fmt.format(value)
    return html.escape(str(value))


def table(header: list[str], rows: list[list[str]]) -> str:
    """An HTML table from already-escaped cells."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def metrics_section(metrics: dict, path: Path) -> str:
    """Per-garment means of every metric, boundary error per loop, and the acceleration ratio."""
    garments = metrics.get("garments")
    if not isinstance(garments, dict) or not garments:
        raise InputFileError(path, "expected the JSON of `recmv eval` with a 'garments' object")
    rows, loop_rows = [], []
    for name, result in garments.items():
        mean, accel = result.get("mean", {}), result.get("acceleration_cm_per_frame2", {})
        loops = f"{number(mean.get('boundary_count_pred'), '{:.1f}')} / {number(mean.get('boundary_count_gt'), '{:.1f}')}"
        rows.append(
            [html.escape(name)]
            + [number(mean.get(key), fmt) for key, _, fmt in METRIC_COLUMNS]
            + [loops, number(accel.get("ratio"), "{:.3f}")]
        )
        for loop, error in (mean.get("boundary_cm") or {}).items():
            loop_rows.append([html.escape(name), html.escape(loop), number(error, "{:.3f}")])
    header = ["garment"] + [title for _, title, _ in METRIC_COLUMNS] + ["loops pred / GT", "acceleration pred / GT"]
    frames = metrics.get("frames") or []
    note = (
        f'<p class="note">From {html.escape(str(path))}: means over {len(frames)} frames, '
        f"{number(metrics.get('samples'), '{}')} surface samples per mesh. Distances in cm.</p>"
    )
    parts = ['<section id="metrics"><h2>Metrics against ground truth</h2>', note, table(header, rows)]
    if loop_rows:
        parts += ["<h3>Boundary error per loop (cm)</h3>", table(["garment", "loop", "error cm"], loop_rows)]
    return "".join(parts) + "</section>"


def summary_section(run: Path, meshes: Path, run_info: dict, summary: dict) -> str:
    """Subject, segment, device, iterations and the time of each fit stage."""
    rows = [
        ["run folder", html.escape(str(run))],
        ["meshes", html.escape(str(meshes))],
        ["subject", html.escape(str(run_info.get("subject", "–")))],
        ["segment", html.escape(str(run_info.get("segment", "–")))],
        ["device", html.escape(str(run_info.get("device", "–")))],
        ["iterations", number(summary.get("iterations"), "{}")],
        ["finished", html.escape(str(summary.get("finished", "–")))],
    ]
    for name, seconds in (summary.get("timings") or {}).items():
        rows.append([f"time: {html.escape(name)}", number(seconds, "{:.1f} s")])
    return f'<section><h2>Run</h2>{table(["", ""], rows)}</section>'


def config_section(config: dict, run_info: dict) -> str:
    """The resolved config.json (and run.json), as pretty-printed JSON."""
    if not config:
        return '<section><h2>Config</h2><p class="note">No config.json in the run folder.</p></section>'
    text = html.escape(json.dumps(config, indent=2))
    info = html.escape(json.dumps(run_info, indent=2))
    return (
        f'<section><h2>Config</h2><details open><summary>config.json (preset {html.escape(str(config.get("preset")))})'
        f"</summary><pre>{text}</pre></details><details><summary>run.json</summary><pre>{info}</pre></details></section>"
    )
