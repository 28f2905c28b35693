"""Committed ``standard`` results (issue 10 section 3): a folder of run folders shown as a page.

The layout, one folder per experiment (``docs/results/standard/NAME/``): the run's
``config.json``, ``summary.json``, ``figures/*.png`` (SVG beside each), ``results.parquet`` when
small, and ``RUN.md`` with the command, the source commit, the wall time and the machine load.
``find_runs`` of the report reads them like any run folder (``RUN.md`` through
``schema.load_run_notes``);
``standard_results_page`` writes the docs site's "Standard results" page from them (called by
the MkDocs hook ``tools/docs_hooks.py`` at build time, so the page cannot drift from the
committed files). ``robustlab report DIR --standard FOLDER`` shows them beside the quick run.
"""

from __future__ import annotations

import re
from pathlib import Path

from robustlab.report.html import RunRecord, find_runs
from robustlab.report.schema import RUN_NOTES, VerdictRecord, load_run_notes
from robustlab.report.values import value_text

__all__ = ["STANDARD_DIR", "markdown_cell", "markdown_table", "standard_results_page"]

STANDARD_DIR = Path("docs") / "results" / "standard"
"""Where the committed standard results live, relative to the project root."""

_HEADING = re.compile(r"^(#{1,5})(\s)")


def markdown_cell(value: object) -> str:
    """Text for a markdown table cell: no pipes or line breaks, numbers to 4 digits."""
    text = value if isinstance(value, str) else value_text(value)
    return text.replace("|", "\\|").replace("\n", " ").strip() or " "


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    """A markdown table (GitHub and MkDocs ``tables``) of ``rows`` under ``header``."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(markdown_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _verdict_rows(verdicts: list[VerdictRecord]) -> list[list[object]]:
    rows: list[list[object]] = []
    for verdict in verdicts:
        numbers: object = dict(verdict.compared) if verdict.compared else None
        if numbers is None and (verdict.measured is not None or verdict.predicted is not None):
            numbers = f"{value_text(verdict.measured)} vs {value_text(verdict.predicted)}"
        settle = verdict.settle if verdict.verdict != "consistent" else ""
        rows.append([verdict.claim, f"**{verdict.verdict}**", numbers, verdict.reason, settle])
    return rows


def _demoted(notes: str) -> str:
    """RUN.md inside a page section: its headings three levels down (``#`` becomes ``####``);
    lines inside code fences are kept as they are."""
    lines, fenced = [], False
    for line in notes.strip().splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced:
            line = _HEADING.sub(lambda m: "#" * min(len(m.group(1)) + 3, 6) + m.group(2), line)
        lines.append(line)
    return "\n".join(lines)


def _section(record: RunRecord, link: str, experiment_pages: str | None) -> str:
    name = record.name
    parts = [f"## {name}\n"]
    if experiment_pages is not None:
        parts.append(f"Claim and protocol: [{name}]({experiment_pages}/{name}.md).\n")
    if record.problems:
        parts.append('!!! failure "Broken run"\n    ' + "; ".join(record.problems) + "\n")
    notes = load_run_notes(record.folder)
    parts.append(
        ("### How it was run\n\n" + _demoted(notes) + "\n")
        if notes
        else f"*No {RUN_NOTES}: the command and wall time were not recorded.*\n"
    )
    summary = record.summary
    if summary is None:
        parts.append("*No summary.json: the run did not finish.*\n")
        return "\n".join(parts)
    counts = summary.counts()
    kinds = ("consistent", "inconsistent", "inconclusive")
    tally = ", ".join(f"{counts.get(kind, 0)} {kind}" for kind in kinds)
    parts.append(f"### Verdicts\n\n{tally}.\n")
    if summary.verdicts:
        header = ["claim", "verdict", "measured vs predicted", "reason", "what would settle it"]
        parts.append(markdown_table(header, _verdict_rows(summary.verdicts)))
    if record.figures:
        parts.append("### Figures\n")
    captions = _captions(name)
    for path in record.figures:
        relative = path.relative_to(record.folder).as_posix()
        caption = captions.get(path.stem, "")
        parts.append(f"![{markdown_cell(caption or path.stem)}]({link}/{relative})\n")
        parts.append(f"*{path.stem}*" + (f": {caption}\n" if caption else "\n"))
    return "\n".join(parts)


def standard_results_page(
    folder: str | Path, *, link: str, experiment_pages: str | None = None
) -> str:
    """The markdown page of every committed standard run under ``folder``.

    ``link``: the path from the page to ``folder`` (figure links are ``link/NAME/...``);
    ``experiment_pages``: the path from the page to the experiment pages (None: no links).
    Per run: how it was run (``RUN.md``), the verdict counts and table, the figures.
    """
    folder = Path(folder)
    records = find_runs(folder) if folder.is_dir() else []
    parts = [
        "# Standard results\n",
        "The `standard` preset of an experiment settles the claims its `quick` preset leaves "
        "inconclusive for lack of grid points or seeds, in at most 2 hours on a 2-core machine. "
        f"These runs are committed under `{STANDARD_DIR.as_posix()}/NAME/` (summary, figures, "
        f"settings and `{RUN_NOTES}`); `robustlab report DIR --standard "
        f"{STANDARD_DIR.as_posix()}` shows them beside a quick run. Run one with:\n",
        "```bash\nrobustlab run NAME --preset standard\nrobustlab run all --preset standard  "
        "# experiments without a standard preset are skipped\n```\n",
    ]
    if not records:
        parts.append("No standard results are committed yet.\n")
        return "\n".join(parts)
    rows = []
    for record in records:
        counts = record.summary.counts() if record.summary is not None else {}
        relative = record.folder.relative_to(folder).as_posix()
        rows.append(
            [
                f"[{record.name}](#{_anchor(record.name)})",
                relative,
                counts.get("consistent", 0),
                counts.get("inconsistent", 0),
                counts.get("inconclusive", 0),
            ]
        )
    header = ["experiment", "folder", "consistent", "inconsistent", "inconclusive"]
    parts.append(markdown_table(header, rows))
    for record in records:
        relative = record.folder.relative_to(folder).as_posix()
        parts.append(_section(record, f"{link}/{relative}", experiment_pages))
    return "\n".join(parts)


def _captions(name: str) -> dict[str, str]:
    """The experiment's figure captions (none for an experiment this version does not know)."""
    from robustlab.experiments.registry import UnknownExperimentError, get_experiment

    try:
        return dict(get_experiment(name).captions)
    except (UnknownExperimentError, TypeError, ValueError):
        return {}


def _anchor(name: str) -> str:
    """The id MkDocs' toc extension gives the heading ``## name``."""
    return re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-")
