"""bench.md: the Markdown tables of a `recmv bench` run (quality, quality by segment, boundaries by loop,
canonical curves, cost, ratios)."""

from __future__ import annotations

import json

STAGE_COLUMNS = (
    ("synth", "synth s"), ("skinning", "skinning s"), ("fit", "fit s"), ("large_motion", "large-motion s"),
    ("extract", "extract s"), ("eval", "eval s"),
)
QUALITY_COLUMNS = (
    ("chamfer_cm", "CD cm", "{:.2f}"),
    ("p2s_cm", "P2S cm", "{:.2f}"),
    ("s2p_cm", "S2P cm", "{:.2f}"),
    ("normal_consistency", "NC", "{:.3f}"),
    ("fscore_1cm", "F@1cm", "{:.3f}"),
    ("mask_iou", "IoU", "{:.3f}"),
    ("boundary_cm_mean", "boundary cm", "{:.2f}"),
    ("interpenetration", "inside body", "{:.3f}"),
)
RATIO_COLUMNS = (
    ("fit_time", "fit time"), ("total_time", "total time"), ("chamfer_cm", "CD"), ("s2p_cm", "S2P"),
    ("normal_consistency", "NC"), ("fscore_1cm", "F@1cm"), ("mask_iou", "IoU"), ("boundary_cm_mean", "boundary"),
)


def cell(value, fmt: str = "{:.3g}") -> str:
    return "–" if value is None else fmt.format(value)


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def quality_rows(records: list[dict]) -> list[list[str]]:
    rows = []
    for record in records:
        garments = (record["metrics"] or {}).get("garments") or {"–": None}
        for garment, result in garments.items():
            mean = (result or {}).get("mean", {})
            accel = (result or {}).get("acceleration", {})
            loops = f"{cell(mean.get('boundary_count_pred'), '{:.1f}')}/{cell(mean.get('boundary_count_gt'), '{:.1f}')}"
            rows.append(
                [record["subject"], garment, record["method"]]
                + [cell(mean.get(key), fmt) for key, _, fmt in QUALITY_COLUMNS]
                + [loops, cell(accel.get("ratio"), "{:.2f}")]
            )
    return rows


SEGMENT_COLUMNS = (
    ("chamfer_cm", "{:.2f}"), ("s2p_cm", "{:.2f}"), ("normal_consistency", "{:.3f}"), ("mask_iou", "{:.3f}"),
    ("mask_iou_min", "{:.3f}"), ("mask_iou_worst_frame", "{}"), ("boundary_cm_mean", "{:.2f}"),
)
SEGMENT_HEADERS = ("CD cm", "S2P cm", "NC", "IoU", "worst-frame IoU", "worst frame", "boundary cm")


def garment_segments(records: list[dict]):
    """Each (record, garment, segment name, segment values) of the records' evaluated garments."""
    for record in records:
        for garment, result in ((record["metrics"] or {}).get("garments") or {}).items():
            for segment, values in result.get("segments", {}).items():
                yield record, garment, segment, values


def named_cm(values: dict) -> str:
    """"name 1.23, other 0.45" from {name: cm}."""
    return ", ".join(f"{name} {cell(value, '{:.2f}')}" for name, value in values.items())


def segment_rows(records: list[dict]) -> list[list[str]]:
    return [
        [record["subject"], garment, record["method"], segment] + [cell(values.get(k), f) for k, f in SEGMENT_COLUMNS]
        for record, garment, segment, values in garment_segments(records)
    ]


def boundary_rows(records: list[dict]) -> list[list[str]]:
    """One row per garment and segment whose eval measured its boundary loops: each loop's error (cm)."""
    return [
        [record["subject"], garment, record["method"], segment, named_cm(values["boundary_cm"])]
        for record, garment, segment, values in garment_segments(records)
        if values.get("boundary_cm")
    ]


def canonical_curve_rows(records: list[dict]) -> list[list[str]]:
    """One row per fitted record whose fit measured its canonical curves: each curve's error, their mean,
    and each GT canonical loop's distance from the GT posed loops under skinning alone."""
    rows = []
    for record in records:
        value = (record["stages"].get("fit") or {}).get("value") or {}
        errors = value.get("canonical_curves_cm")
        if errors:
            gaps = value.get("skinning_gap_cm")
            rows.append([
                record["subject"], record["method"], named_cm(errors), f"{sum(errors.values()) / len(errors):.2f}",
                named_cm(gaps) if gaps else "–",
            ])
    return rows


def cost_rows(records: list[dict]) -> list[list[str]]:
    rows = []
    for record in records:
        stages = record["stages"]
        cells = []
        for key, _ in STAGE_COLUMNS:
            stage = stages.get(key) or (stages.get("template") if key == "fit" else None)
            cells.append("–" if stage is None or stage["wall_s"] is None else f"{stage['wall_s']:.1f}")
        walls = [s["wall_s"] for s in stages.values() if s["wall_s"] is not None]
        peaks = [s["peak_rss_gib"] for s in stages.values() if s["peak_rss_gib"] is not None]
        rows.append([record["subject"], record["method"], *cells, f"{sum(walls):.1f}", cell(max(peaks, default=None), "{:.2f}")])
    return rows


def bench_markdown(bench: dict) -> str:
    """The whole bench.md text."""
    suite, machine, records = bench["suite"], bench["machine"], bench["records"]
    fits = ", ".join(f"{p}: {c['epochs']} epochs at ≤{c['working_size']} px" for p, c in bench["fit_configs"].items())
    lines = [
        f"# recmv bench: suite `{suite['name']}`",
        "",
        *([] if bench.get("complete", True) else ["**Incomplete**: the bench is still running or was stopped.", ""]),
        f"{len(suite['subjects'])} subjects at {suite['size']}² ({suite['topology']} body, {suite['grid_resolution']}³ skinning grid); "
        f"fits: {fits}; eval with {suite['eval_samples']} samples per surface of the `recmv extract` meshes.",
        f"Machine: {machine['platform']}, {machine['cpus']} CPUs, Python {machine['python']}, torch {machine['torch']}, "
        f"recmv {machine['recmv']}; load average at the end {machine.get('load_average', '–')}. "
        f"Total wall time {bench['total_wall_s']:.0f} s.",
        *([f"Fit config changes laid over every preset: `{json.dumps(bench['config_changes'])}`."] if bench.get("config_changes") else []),
        "",
        "## Quality (means over frames; cm where it says so)",
        "",
    ]
    quality_header = ["subject", "garment", "method", *(t for _, t, _ in QUALITY_COLUMNS), "loops pred/GT", "accel pred/GT"]
    lines += markdown_table(quality_header, quality_rows(records))
    segments = segment_rows(records)
    if segments:
        lines += ["", "## Quality by segment", ""]
        lines += markdown_table(["subject", "garment", "method", "segment", *SEGMENT_HEADERS], segments)
    boundaries = boundary_rows(records)
    if boundaries:
        lines += ["", "## Boundaries by loop (cm from the GT posed loops, means over the segment's frames)", ""]
        lines += markdown_table(["subject", "garment", "method", "segment", "loops"], boundaries)
    curves = canonical_curve_rows(records)
    if curves:
        lines += ["", "## Canonical curves (cm from the GT canonical loops, after the rotation fit)", ""]
        lines += markdown_table(["subject", "method", "curves", "mean", "GT canonical loops skinned, from GT posed"], curves)
        lines += [
            "",
            "The last column is the garment's own motion at each curve (swing, flare) that skinning does not carry: "
            "a canonical curve that explains the frames through skinning lies up to this far from the GT rest loop.",
        ]
    lines += ["", "## Cost (wall time per stage; peak resident memory of the largest stage)", ""]
    cost_header = ["subject", "method", *(t for _, t in STAGE_COLUMNS), "total s", "peak GiB"]
    lines += markdown_table(cost_header, cost_rows(records))
    lines.append("")
    lines.append("Synth and skinning are per subject and shared by its methods; the template baseline's fit column is the time to pose the templates.")
    ratios = bench.get("ratios")
    if ratios:
        lines += ["", f"## {ratios['numerator']} / {ratios['denominator']}", ""]
        rows = [[s] + [cell(r.get(k), "{:.2f}") for k, _ in RATIO_COLUMNS] for s, r in ratios["subjects"].items()]
        rows.append(["geometric mean"] + [cell(ratios["geometric_mean"].get(k), "{:.2f}") for k, _ in RATIO_COLUMNS])
        lines += markdown_table(["subject", *(t for _, t in RATIO_COLUMNS)], rows)
    problems = [
        f"- {r['subject']} / {r['method']} / {name}: {s['status']}: {s['error']}"
        for r in records for name, s in r["stages"].items() if s["status"] != "ok"
    ]
    if problems:
        lines += ["", "## Stages that did not run", "", *sorted(set(problems))]
    return "\n".join(lines) + "\n"
