"""A static HTML report of every run under a results folder.

``build_report(DIR)`` writes ``DIR/index.html``: a table of contents with each experiment's
paper and verdict counts, then one section per run folder (one holding ``config.json``) with
its figures and captions (PNG in the page, SVG linked), the verdicts (with the reason, the
numbers of a comparative claim in their own "compared" column, and what would settle each
inconsistent or inconclusive one), headline figures (numbers to 4 significant
digits, nested values as small tables), the protocol table, predictions, settings, links to the
run's data files and the command that reproduces it; the papers cited close the page.
``build_report(DIR, single_file=True)`` writes ``DIR/report.html`` with every image embedded,
a page that can be shared alone. ``build_report(DIR, standard=FOLDER)`` adds the committed
``standard`` runs under FOLDER (``docs/results/standard``: one folder per experiment with its
``RUN.md``), each as its own section right after the same experiment's run from DIR.

What the report reads is validated (``robustlab.report.schema``): a run whose config.json or
summary.json is not JSON or has wrong values is shown as broken, with the problem; a figure
path outside the run folder is refused. Every piece of text is HTML-escaped; nothing is
fetched from the network and the page holds no script.
"""

from __future__ import annotations

import base64
import html
import logging
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from robustlab.experiments.base import Experiment
from robustlab.references import REFERENCES, Reference, short_title
from robustlab.report.schema import (
    RUN_NOTES,
    RunConfigFile,
    SummaryFile,
    VerdictRecord,
    figure_path,
    load_config_file,
    load_run_notes,
    load_summary_file,
)
from robustlab.report.values import Html, is_number, mapping_html, table_html, value_text
from robustlab.runner.store import PREVIOUS_DIR, atomic_write

__all__ = ["SINGLE_FILE", "RunRecord", "build_report", "find_runs", "render_report"]

logger = logging.getLogger(__name__)

SINGLE_FILE = "report.html"
"""The name of the self-contained report (images embedded) beside index.html."""

DATA_FILES: tuple[str, ...] = ("results.parquet", "summary.json", "config.json")

_SKIP = {"cells", "figures", PREVIOUS_DIR}

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 76em; padding: 0 1em;
       color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2.5em; }
table { border-collapse: collapse; margin: 0.8em 0; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
table.compact { margin: 0; font-size: 0.9em; }
table.compact td { border-color: #eee; padding: 0.1em 0.4em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.consistent { background: #d9f2d9; color: #145214; }
.inconsistent { background: #f8d7d7; color: #7a1010; }
.inconclusive { background: #fff1c2; color: #6b5200; }
.missing, .broken { background: #eee; color: #555; }
.broken { background: #f8d7d7; color: #7a1010; padding: 0.4em; }
.verdict { font-weight: bold; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; max-width: 100%; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #333; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; }
.meta { color: #555; }
"""


@dataclass(frozen=True)
class RunRecord:
    """What the report needs from one run folder; ``problems`` make it a broken run."""

    folder: Path
    config: RunConfigFile | None
    summary: SummaryFile | None
    figures: list[Path] = field(default_factory=list)
    finished_cells: int = 0
    problems: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The experiment's name (from config.json, else the folder's)."""
        if self.config is not None and self.config.experiment:
            return self.config.experiment
        return self.folder.name

    @property
    def status(self) -> str:
        """``broken`` (a file could not be used), ``finished`` or ``incomplete``."""
        if self.problems:
            return "broken"
        return "finished" if self.summary is not None else "incomplete"


def _figures(path: Path, summary: SummaryFile | None) -> tuple[list[Path], list[str]]:
    if summary is None or summary.figures is None:
        return sorted((path / "figures").glob("*.png")), []
    figures, problems = [], []
    for name in summary.figures:
        try:
            figures.append(figure_path(path, name))
        except ValueError as err:
            problems.append(f"summary.json: {err}; not shown")
    return figures, problems


def _record(path: Path, files: list[str]) -> RunRecord:
    config, problem = load_config_file(path / "config.json")
    problems = [problem] if problem else []
    summary = None
    if "summary.json" in files:
        summary, problem = load_summary_file(path / "summary.json")
        problems += [problem] if problem else []
    figures, refused = _figures(path, summary)
    cells = path / "cells"
    finished = len(list(cells.glob("*.parquet"))) if cells.is_dir() else 0
    return RunRecord(path, config, summary, figures, finished, (*problems, *refused))


def find_runs(root: str | Path) -> list[RunRecord]:
    """Every run folder under ``root`` (one holding config.json), sorted by path.

    Hidden folders (``.previous`` holds what ``--fresh`` moved aside) and the cells/figures
    folders of a run are not searched. A run whose files cannot be used is returned with its
    ``problems`` (shown as broken), never dropped.
    """
    root = Path(root)
    records = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and d not in _SKIP)
        if "config.json" in files:
            records.append(_record(Path(folder), files))
    return sorted(records, key=lambda record: record.folder.as_posix())


def _esc(value: Any) -> str:
    return html.escape(value_text(value), quote=True)


def _anchor(index: int, name: str) -> str:
    return f"run-{index}-" + re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")


def _experiment(record: RunRecord) -> Experiment | None:
    from robustlab.experiments.registry import UnknownExperimentError, get_experiment

    try:
        return get_experiment(record.name)
    except (UnknownExperimentError, TypeError, ValueError):
        return None


def _paper(record: RunRecord) -> str:
    paper = record.config.paper if record.config is not None else None
    if paper is None and record.summary is not None:
        paper = getattr(record.summary, "paper", None)
    return str(paper) if paper is not None else ""


@dataclass(frozen=True)
class _Entry:
    """A run as the page shows it: ``home`` is the results folder it was found under;
    ``standard`` marks a committed standard run (``--standard``)."""

    record: RunRecord
    home: Path
    standard: bool = False


def _entries(
    records: list[RunRecord], root: Path, standard: list[RunRecord], standard_root: Path | None
) -> list[_Entry]:
    """The runs in page order: each run of ``root``, then the standard runs of its experiment;
    standard runs of experiments without a run in ``root`` close the list."""
    home = standard_root or root
    left = list(standard)
    entries: list[_Entry] = []
    for record in records:
        entries.append(_Entry(record, root))
        entries += [_Entry(r, home, standard=True) for r in left if r.name == record.name]
        left = [r for r in left if r.name != record.name]
    return entries + [_Entry(r, home, standard=True) for r in left]


def _toc(entries: list[_Entry]) -> str:
    rows, classes = [], []
    for index, entry in enumerate(entries):
        record = entry.record
        counts = record.summary.counts() if record.summary is not None else {}
        config = record.config
        text = html.escape(record.name, quote=True)
        where = _location(record, entry.home, entry.standard)
        link = f'<a href="#{_anchor(index, record.name)}">{text}</a>{where}'
        rows.append(
            [
                Html(link),
                short_title(_paper(record)),
                config.figure if config else None,
                config.preset if config else None,
                counts.get("consistent", 0),
                counts.get("inconsistent", 0),
                counts.get("inconclusive", 0),
                record.status,
            ]
        )
        status_class = {"broken": "broken", "incomplete": "missing"}.get(record.status, "")
        classes.append(["", "", "", "", "consistent", "inconsistent", "inconclusive", status_class])
    header: tuple[str, ...] = ("experiment", "paper", "figure", "preset", "consistent")
    header += ("inconsistent", "inconclusive", "status")
    return table_html(header, rows, classes=classes)


def _location(record: RunRecord, home: Path, standard: bool = False) -> str:
    relative = record.folder.relative_to(home).as_posix()
    if standard:
        where = (home / relative).as_posix() if relative != "." else home.as_posix()
        return f' <span class="meta">(standard results: {html.escape(where)})</span>'
    if relative == record.name:
        return ""
    return f' <span class="meta">({html.escape(relative)})</span>'


def _src(path: Path, root: Path, embed: bool) -> str:
    """The image or link target of ``path`` from the page in ``root`` (a relative URL, or the
    file itself as a data URI when ``embed``); standard runs may live outside ``root``."""
    if embed:
        kind = "svg+xml" if path.suffix.lower() == ".svg" else "png"
        return f"data:image/{kind};base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    return quote(Path(os.path.relpath(path, root)).as_posix())


def _figure_html(record: RunRecord, experiment: Experiment | None, root: Path, embed: bool) -> str:
    captions = experiment.captions if experiment is not None else {}
    parts = []
    for path in record.figures:
        if not path.is_file():
            parts.append(f'<p class="missing">missing figure {html.escape(path.name)}</p>')
            continue
        caption = captions.get(path.stem, "")
        links = [f"<b>{html.escape(path.stem)}</b>"]
        vector = path.with_suffix(".svg")
        if not embed and path.suffix.lower() == ".png" and vector.is_file():
            links.append(f'<a href="{html.escape(_src(vector, root, False), quote=True)}">SVG</a>')
        alt = f"{record.name}: {caption or path.stem}"
        parts.append(
            f'<figure><img src="{html.escape(_src(path, root, embed), quote=True)}" '
            f'alt="{html.escape(alt, quote=True)}">'
            f"<figcaption>{' · '.join(links)}"
            f"{': ' + html.escape(caption) if caption else ''}</figcaption></figure>"
        )
    return "".join(parts) or "<p>No figures.</p>"


def _settle(verdict: VerdictRecord, record: RunRecord) -> str:
    """What would settle a verdict that is not consistent: the experiment's word, else the
    run's preset tells: a quick run is settled by the paper preset."""
    if verdict.verdict == "consistent":
        return ""
    if verdict.settle:
        return verdict.settle
    preset = record.config.preset if record.config is not None else None
    if preset != "paper":
        return (
            f"this {preset or 'custom'} run is smaller than the paper's; the paper's settings: "
            f"robustlab run {record.name} --preset paper"
        )
    return "the paper preset gives this verdict: see the reason, and the protocol table"


def _measured_predicted(verdict: VerdictRecord) -> tuple[Any, Any]:
    """The measured and predicted cells: blank when they only repeat the numbers of the
    ``compared`` column (a count "11 of 12" is not a measurement against a prediction)."""
    if verdict.compared:
        values = set(verdict.compared.values())
        if all(
            v is None or (is_number(v) and v in values)
            for v in (verdict.measured, verdict.predicted)
        ):
            return None, None
    return verdict.measured, verdict.predicted


def _verdicts(summary: SummaryFile, record: RunRecord) -> str:
    """The verdict table; the "compared" column appears when a verdict carries one (older
    summaries have none and render as before), and the measured / predicted columns go when
    every number is in "compared"."""
    with_compared = any(verdict.compared for verdict in summary.verdicts)
    numbers = [_measured_predicted(verdict) for verdict in summary.verdicts]
    with_numbers = not with_compared or any(v is not None for pair in numbers for v in pair)
    rows, classes = [], []
    for verdict, pair in zip(summary.verdicts, numbers, strict=True):
        row: list[Any] = [verdict.claim, verdict.verdict, *(pair if with_numbers else ())]
        if with_compared:
            row.append(dict(verdict.compared) if verdict.compared else None)
        rows.append([*row, verdict.reason, _settle(verdict, record)])
        classes.append(["", f"verdict {verdict.verdict}"])
    header: tuple[str, ...] = ("claim", "verdict")
    header += ("measured", "predicted") if with_numbers else ()
    header += ("compared",) if with_compared else ()
    header += ("reason", "what would settle it")
    return table_html(header, rows, classes=classes)


def _protocol(experiment: Experiment | None) -> str:
    if experiment is None or not experiment.protocol:
        return ""
    rows = [
        [row.setting, row.paper, row.authors_code, row.robustlab, row.deviation]
        for row in experiment.protocol
    ]
    header = ("setting", "paper", "authors' code", "robustlab", "deviation and why")
    return "<h3>Protocol</h3>" + table_html(header, rows)


def _data_links(record: RunRecord, root: Path) -> str:
    links = [
        f'<a href="{html.escape(_src(record.folder / name, root, False), quote=True)}">'
        f"{html.escape(name)}</a>"
        for name in DATA_FILES
        if (record.folder / name).is_file()
    ]
    return f'<p class="meta">Data: {" · ".join(links)}</p>' if links else ""


def _meta(record: RunRecord) -> str:
    config = record.config
    if config is None:
        return ""
    reference = REFERENCES.get(_paper(record))
    items = []
    if reference is not None:
        title = html.escape(short_title(reference.paper))
        items.append(f'<a href="#ref-{html.escape(reference.paper)}">{title}</a>')
    elif config.paper:
        items.append(f"paper {_esc(config.paper)}")
    labelled = (
        ("", config.figure),
        ("preset ", config.preset),
        ("version ", config.version),
        ("robustlab ", config.robustlab_version),
        ("device ", config.device),
    )
    items += [f"{label}{_esc(value)}" for label, value in labelled if value is not None]
    line = f'<p class="meta">{" · ".join(items)}</p>' if items else ""
    return line + (f"<p>{_esc(config.description)}</p>" if config.description else "")


def _run_notes(record: RunRecord) -> str:
    notes = load_run_notes(record.folder)
    if not notes:
        return f'<p class="meta">No {RUN_NOTES}: the wall time and command were not recorded.</p>'
    return (
        f"<details open><summary>How it was run ({RUN_NOTES})</summary>"
        f"<pre>{html.escape(notes.strip())}</pre></details>"
    )


def _section(index: int, entry: _Entry, root: Path, embed: bool) -> str:
    record = entry.record
    experiment = _experiment(record)
    title = html.escape(record.name) + (" — standard preset" if entry.standard else "")
    parts = [
        f'<section id="{_anchor(index, record.name)}">',
        f"<h2>{title}{_location(record, entry.home, entry.standard)}</h2>",
        _meta(record),
        _run_notes(record) if entry.standard else "",
    ]
    if record.problems:
        items = "".join(f"<li>{html.escape(problem)}</li>" for problem in record.problems)
        parts.append(f'<div class="broken"><b>Broken run</b>: <ul>{items}</ul></div>')
    summary = record.summary
    if summary is None:
        total = record.config.n_cells if record.config is not None else None
        command = record.config is not None and (record.config.reproduce or record.config.command)
        parts.append(
            f'<p class="missing">No usable summary: {record.finished_cells} of '
            f"{_esc(total if total is not None else '?')} cells finished"
            + ("; rerun the command below to complete it.</p>" if command else ".</p>")
        )
    else:
        parts.append(_figure_html(record, experiment, root, embed))
        if summary.verdicts:
            parts.append("<h3>Theory against measurement</h3>" + _verdicts(summary, record))
        if summary.headline:
            parts.append("<h3>Headline figures</h3>")
            parts.append(mapping_html(summary.headline, ("quantity", "value")))
        if summary.predictions:
            parts.append("<details><summary>Predictions from theory</summary>")
            parts.append(mapping_html(summary.predictions, ("quantity", "predicted")))
            parts.append("</details>")
        if summary.n_cells is not None and summary.n_rows is not None:
            parts.append(
                f'<p class="meta">{_esc(summary.n_cells)} cells, '
                f"{_esc(summary.n_rows)} rows in results.parquet</p>"
            )
    parts.append(_protocol(experiment))
    parts.append(_data_links(record, root))
    if record.config is not None:
        parts.append("<details><summary>Settings</summary>")
        parts.append(table_html(("field", "value"), record.config.config.items()))
        parts.append("</details>")
        command = record.config.reproduce or record.config.command
        if command:
            parts.append("<h3>Reproduce</h3>")
            parts.append(f"<pre><code>{html.escape(command)}</code></pre>")
    parts.append("</section>")
    return "\n".join(part for part in parts if part)


def _references() -> str:
    rows = [_reference_row(reference) for reference in REFERENCES.values()]
    header = ("paper", "title", "authors", "venue", "year", "link")
    ids = [f"ref-{paper}" for paper in REFERENCES]
    table = table_html(header, rows, row_ids=ids)
    return f'<section id="references"><h2>Papers</h2>{table}</section>'


def _reference_row(reference: Reference) -> list[Any]:
    title = reference.title + (f" ({reference.note})" if reference.note else "")
    links = [(reference.link, "paper"), (reference.code, "authors' code")]
    link = " · ".join(
        f'<a href="{html.escape(url, quote=True)}">{label}</a>' for url, label in links if url
    )
    return [
        short_title(reference.paper),
        title,
        reference.authors,
        reference.venue,
        reference.year,
        Html(link),
    ]


def render_report(
    records: list[RunRecord],
    root: str | Path,
    *,
    embed: bool = False,
    standard: list[RunRecord] | None = None,
    standard_root: str | Path | None = None,
) -> str:
    """The report page for ``records`` (folders under ``root``) as an HTML string.

    ``embed``: images inline as data URIs (a single file that can be shared alone).
    ``standard``: committed standard runs (folders under ``standard_root``), each shown as its
    own section after the same experiment's run, with its ``RUN.md``.
    """
    root = Path(root)
    standard = standard or []
    home = Path(standard_root) if standard_root is not None else None
    entries = _entries(records, root, standard, home)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    extra = f" and {len(standard)} standard run(s) under {home}" if standard else ""
    body = [
        "<h1>robustlab results</h1>",
        f'<p class="meta">{len(records)} run(s) under {html.escape(str(root))}'
        f"{html.escape(extra)}; "
        f'generated {html.escape(stamp)}; <a href="#references">the papers</a>.</p>',
    ]
    if entries:
        body.append(_toc(entries))
        body.extend(_section(index, entry, root, embed) for index, entry in enumerate(entries))
    else:
        body.append("<p>No results yet: run <code>robustlab run NAME</code> first.</p>")
    body.append(_references())
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>robustlab results</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def build_report(
    root: str | Path = "results",
    *,
    single_file: bool = False,
    standard: str | Path | None = None,
) -> Path:
    """Write ``root/index.html`` (images linked) from every run under ``root``; with
    ``single_file``, ``root/report.html`` with every image embedded. Returns its path.

    ``standard``: a folder of committed standard runs (``docs/results/standard``) to show
    beside the runs of ``root``, one section each.

    Raises FileNotFoundError when ``root`` or ``standard`` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no results folder at {root}; run `robustlab run NAME` first")
    extra: list[RunRecord] = []
    if standard is not None:
        standard = Path(standard)
        if not standard.is_dir():
            raise FileNotFoundError(
                f"no standard results folder at {standard}; the committed ones are in "
                "docs/results/standard"
            )
        extra = find_runs(standard)
    page = render_report(
        find_runs(root), root, embed=single_file, standard=extra, standard_root=standard
    )
    target = root / (SINGLE_FILE if single_file else "index.html")
    return atomic_write(target, lambda tmp: tmp.write_text(page, encoding="utf-8"))
