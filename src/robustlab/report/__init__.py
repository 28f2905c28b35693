"""The static HTML report of every run under a results folder (``robustlab report``)."""

from robustlab.report.html import RunRecord, build_report, find_runs, render_report

__all__ = ["RunRecord", "build_report", "find_runs", "render_report"]
