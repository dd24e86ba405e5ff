"""The HTML report of a fit: `build_report(run, ...)` writes one self-contained page."""

from recmv.report.build import ReportOptions, build_report

__all__ = ["ReportOptions", "build_report"]
