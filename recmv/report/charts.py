"""Loss curves of a fit as inline SVG: one small chart per loss term over iterations."""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import numpy as np

from recmv.errors import InputFileError

BOOKKEEPING_KEYS = ("iteration", "epoch", "stage", "seconds")
WIDTH, HEIGHT = 300, 170
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 52, 10, 22, 26


def read_log(path: Path) -> list[dict]:
    """The records of a run's log.jsonl (one JSON object per iteration); [] when the file is absent."""
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputFileError(path, f"line {number} is not JSON: {error}") from error
        if not isinstance(record, dict) or "iteration" not in record:
            raise InputFileError(path, f"line {number}: expected an object with an 'iteration' key")
        records.append(record)
    return records


def term_series(records: list[dict]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Loss term -> (iterations [N], values [N]) over the records that carry it (finite values only)."""
    names = sorted({k for r in records for k, v in r.items() if k not in BOOKKEEPING_KEYS and isinstance(v, (int, float))})
    series = {}
    for name in names:
        pairs = [(r["iteration"], float(r[name])) for r in records if isinstance(r.get(name), (int, float))]
        pairs = [(i, v) for i, v in pairs if math.isfinite(v)]
        if pairs:
            series[name] = (np.array([i for i, _ in pairs], dtype=float), np.array([v for _, v in pairs]))
    return series


def stage_starts(records: list[dict]) -> list[tuple[float, str]]:
    """(iteration, stage name) where each stage after the first begins."""
    starts, previous = [], None
    for record in records:
        stage = record.get("stage")
        if stage != previous and previous is not None:
            starts.append((float(record["iteration"]), str(stage)))
        previous = stage
    return starts


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """[N] -> [N] mean over the last `window` values (fewer at the start)."""
    sums = np.cumsum(np.insert(values, 0, 0.0))
    index = np.arange(1, len(values) + 1)
    lo = np.maximum(index - window, 0)
    return (sums[index] - sums[lo]) / (index - lo)


def loss_chart(name: str, iterations: np.ndarray, values: np.ndarray, stages: list[tuple[float, str]]) -> str:
    """One SVG chart: raw values (light), their moving average (dark), stage switches (dashed).

    The y axis is logarithmic when every value is positive and they span more than a factor of 10.
    """
    log_scale = bool(values.min() > 0 and values.max() / values.min() > 10)
    y = np.log10(values) if log_scale else values
    smooth = moving_average(y, max(1, len(y) // 20))
    x_lo, x_hi = float(iterations.min()), float(iterations.max())
    y_lo, y_hi = float(y.min()), float(y.max())
    if x_hi == x_lo:
        x_hi = x_lo + 1.0
    if y_hi == y_lo:
        y_lo, y_hi = y_lo - 0.5, y_hi + 0.5
    plot_w, plot_h = WIDTH - MARGIN_LEFT - MARGIN_RIGHT, HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def px(xs: np.ndarray) -> np.ndarray:
        return MARGIN_LEFT + (xs - x_lo) / (x_hi - x_lo) * plot_w

    def py(ys: np.ndarray) -> np.ndarray:
        return MARGIN_TOP + (y_hi - ys) / (y_hi - y_lo) * plot_h

    def polyline(ys: np.ndarray, css: str) -> str:
        points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px(iterations), py(ys)))
        return f'<polyline class="{css}" points="{points}"/>'

    def tick(value: float) -> str:
        return f"{10 ** value:.3g}" if log_scale else f"{value:.3g}"

    parts = [
        f'<svg class="loss-chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{html.escape(name)} over iterations">',
        f'<text class="title" x="{MARGIN_LEFT}" y="14">{html.escape(name)}{" (log)" if log_scale else ""}</text>',
        f'<rect class="frame" x="{MARGIN_LEFT}" y="{MARGIN_TOP}" width="{plot_w}" height="{plot_h}"/>',
    ]
    for at, stage in stages:
        if x_lo <= at <= x_hi:
            x = float(px(np.array([at]))[0])
            parts.append(f'<line class="stage" x1="{x:.1f}" y1="{MARGIN_TOP}" x2="{x:.1f}" y2="{MARGIN_TOP + plot_h}"/>')
            parts.append(f'<text class="stage-label" x="{x + 2:.1f}" y="{MARGIN_TOP + 10}">{html.escape(stage)}</text>')
    parts.append(polyline(y, "raw"))
    parts.append(polyline(smooth, "smooth"))
    for value, anchor_y in ((y_hi, MARGIN_TOP + 4), (y_lo, MARGIN_TOP + plot_h)):
        parts.append(f'<text class="tick" x="{MARGIN_LEFT - 4}" y="{anchor_y}" text-anchor="end">{tick(value)}</text>')
    bottom = HEIGHT - 8
    parts.append(f'<text class="tick" x="{MARGIN_LEFT}" y="{bottom}">{x_lo:.0f}</text>')
    parts.append(f'<text class="tick" x="{WIDTH - MARGIN_RIGHT}" y="{bottom}" text-anchor="end">{x_hi:.0f}</text>')
    parts.append(f'<text class="tick" x="{MARGIN_LEFT + plot_w / 2:.0f}" y="{bottom}" text-anchor="middle">iteration</text>')
    parts.append("</svg>")
    return "".join(parts)


def loss_charts(records: list[dict]) -> list[str]:
    """One chart per loss term of a run's log records."""
    stages = stage_starts(records)
    return [loss_chart(name, its, vals, stages) for name, (its, vals) in term_series(records).items()]
