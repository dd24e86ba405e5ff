"""The end of a batch: per-job records for summary.json, and the table printed from them."""

from __future__ import annotations

SUMMARY_FILE = "summary.json"

# (metric key of recmv eval's "overall", column header, format) shown in the table.
METRIC_COLUMNS = (("chamfer_cm", "CD cm", "{:.3f}"), ("normal_consistency", "NC", "{:.3f}"), ("fscore_1cm", "F@1cm", "{:.3f}"))
ERROR_WIDTH = 90


def job_summary(run) -> dict:
    """One job of summary.json: status, error, per-stage status / runs / seconds, fit facts, metrics."""
    record = {"name": run.job.name, "input": str(run.job.input), "kind": run.kind, "folder": str(run.folder)}
    if run.state is None:
        return {**record, "status": "failed", "error": run.error, "ran_now": [], "stages": {}, "seconds": 0.0, "metrics": None}
    stages = {
        name: {key: run.state.stage(name).get(key) for key in ("status", "runs", "seconds", "started", "finished", "error")}
        for name in run.stages
    }
    failed = next((name for name in run.stages if stages[name]["status"] == "failed"), None)
    fit = run.state.outputs("fit")
    return {
        **record,
        "status": "failed" if failed else ("done" if all(s["status"] == "done" for s in stages.values()) else "incomplete"),
        "error": f"{failed}: {stages[failed]['error']}" if failed else None,
        "ran_now": list(run.ran),
        "stages": stages,
        "seconds": round(sum(s["seconds"] or 0.0 for s in stages.values()), 3),
        "fit": {key: fit.get(key) for key in ("iterations", "resumed_from")} if fit else None,
        "metrics": run.state.outputs("eval").get("metrics"),
    }


def format_summary(summary: dict) -> str:
    """A fixed-width table, one row per job, then the counts and the wall time."""
    headers = ["job", "status", "ran now", "fit it", "time s", *(title for _, title, _ in METRIC_COLUMNS), "error"]
    rows = []
    for job in summary["jobs"]:
        metrics = job["metrics"] or {}
        fit = job.get("fit") or {}
        rows.append([
            job["name"],
            job["status"],
            ",".join(job["ran_now"]) or "-",
            "-" if fit.get("iterations") is None else str(fit["iterations"]),
            f"{job['seconds']:.0f}",
            *("-" if metrics.get(key) is None else fmt.format(metrics[key]) for key, _, fmt in METRIC_COLUMNS),
            _shorten(job["error"] or ""),
        ])
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in [headers, *rows]]
    counts = summary["counts"]
    lines.append(
        f"{counts['done']} of {len(summary['jobs'])} jobs done, {counts['failed']} failed, "
        f"in {summary['wall_seconds']:.0f} s; details in {summary['out']}/{SUMMARY_FILE}"
    )
    return "\n".join(lines)


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ERROR_WIDTH else text[: ERROR_WIDTH - 3] + "..."
