"""The static HTML report of every run under a results folder (``robustlab report``)."""

from robustlab.report.html import RunRecord, build_report, find_runs, render_report
from robustlab.report.standard import STANDARD_DIR, standard_results_page

__all__ = [
    "STANDARD_DIR",
    "RunRecord",
    "build_report",
    "find_runs",
    "render_report",
    "standard_results_page",
]
