"""A static, self-contained HTML report of every run under a results folder.

``build_report(DIR)`` writes ``DIR/index.html``: a table of contents with each experiment's
verdict counts, then one section per run folder (one holding ``config.json``) with its
figures (relative links), headline figures, verdicts (colored), predictions, settings and the
command that reproduces it. Every piece of text is HTML-escaped; nothing is fetched from the
network, so the page opens from disk.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from robustlab.runner.store import PREVIOUS_DIR, atomic_write

__all__ = ["RunRecord", "build_report", "find_runs", "render_report"]

logger = logging.getLogger(__name__)

_SKIP = {"cells", "figures", PREVIOUS_DIR}

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em;
       color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2.5em; }
table { border-collapse: collapse; margin: 0.8em 0; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.consistent { background: #d9f2d9; color: #145214; }
.inconsistent { background: #f8d7d7; color: #7a1010; }
.inconclusive { background: #fff1c2; color: #6b5200; }
.missing { background: #eee; color: #555; }
.verdict { font-weight: bold; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; }
.meta { color: #555; }
"""


@dataclass(frozen=True)
class RunRecord:
    """What the report needs from one run folder."""

    folder: Path
    config: dict[str, Any]
    summary: dict[str, Any] | None
    figures: list[Path] = field(default_factory=list)
    finished_cells: int = 0

    @property
    def name(self) -> str:
        """The experiment's name (from config.json, else the folder's)."""
        return str(self.config.get("experiment", self.folder.name))


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        logger.warning("skipping unreadable %s: %s", path, err)
        return None
    return data if isinstance(data, dict) else None


def find_runs(root: str | Path) -> list[RunRecord]:
    """Every run folder under ``root`` (one holding config.json), sorted by path.

    Hidden folders (``.previous`` holds what ``--fresh`` moved aside) and the cells/figures
    folders of a run are not searched.
    """
    root = Path(root)
    records = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and d not in _SKIP)
        if "config.json" not in files:
            continue
        path = Path(folder)
        config = _read_json(path / "config.json")
        if config is None:
            continue
        summary = _read_json(path / "summary.json") if "summary.json" in files else None
        if summary is not None and isinstance(summary.get("figures"), list):
            figures = [path / str(name) for name in summary["figures"]]
        else:
            figures = sorted((path / "figures").glob("*.png"))
        cells = path / "cells"
        finished = len(list(cells.glob("*.parquet"))) if cells.is_dir() else 0
        records.append(RunRecord(path, config, summary, figures, finished))
    return sorted(records, key=lambda record: record.folder.as_posix())


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return "" if value is None else str(value)


def _esc(value: Any) -> str:
    return html.escape(_text(value), quote=True)


def _anchor(index: int, name: str) -> str:
    return f"run-{index}-" + re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")


def _counts(record: RunRecord) -> dict[str, int]:
    if record.summary is None:
        return {}
    counts = record.summary.get("verdict_counts")
    if isinstance(counts, dict):
        return {str(k): int(v) for k, v in counts.items()}
    tally: dict[str, int] = {}
    for verdict in record.summary.get("verdicts", []):
        kind = str(verdict.get("verdict"))
        tally[kind] = tally.get(kind, 0) + 1
    return tally


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any, css: str = "") -> str:
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    classes = " ".join(filter(None, [css, "num" if numeric else ""]))
    attr = f' class="{html.escape(classes)}"' if classes else ""
    return f"<td{attr}>{_esc(value)}</td>"


def _verdict_class(kind: Any) -> str:
    return str(kind) if kind in ("consistent", "inconsistent", "inconclusive") else "missing"


def _toc(records: list[RunRecord], root: Path) -> str:
    rows = []
    for index, record in enumerate(records):
        counts = _counts(record)
        link = (
            f'<td><a href="#{_anchor(index, record.name)}">{html.escape(record.name)}</a>'
            f"{_location(record, root)}</td>"
        )
        status = "finished" if record.summary is not None else "incomplete"
        rows.append(
            [
                link,
                _cell(record.config.get("paper")),
                _cell(record.config.get("figure")),
                _cell(record.config.get("preset")),
                _cell(counts.get("consistent", 0), "consistent"),
                _cell(counts.get("inconsistent", 0), "inconsistent"),
                _cell(counts.get("inconclusive", 0), "inconclusive"),
                _cell(status, "" if record.summary is not None else "missing"),
            ]
        )
    header = (
        "experiment",
        "paper",
        "figure",
        "preset",
        "consistent",
        "inconsistent",
        "inconclusive",
        "status",
    )
    return _table(header, rows)


def _location(record: RunRecord, root: Path) -> str:
    relative = record.folder.relative_to(root).as_posix()
    if relative == record.name:
        return ""
    return f' <span class="meta">({html.escape(relative)})</span>'


def _figures(record: RunRecord, root: Path) -> str:
    parts = []
    for path in record.figures:
        if not path.is_file():
            parts.append(f'<p class="missing">missing figure {html.escape(path.name)}</p>')
            continue
        src = quote(path.relative_to(root).as_posix())
        parts.append(
            f'<figure><img src="{html.escape(src, quote=True)}" '
            f'alt="{html.escape(record.name + ": " + path.stem, quote=True)}">'
            f"<figcaption>{html.escape(path.stem)}</figcaption></figure>"
        )
    return "".join(parts) or "<p>No figures.</p>"


def _mapping_table(data: Mapping[str, Any], header: tuple[str, str]) -> str:
    return _table(header, ([_cell(key), _cell(value)] for key, value in data.items()))


def _section(index: int, record: RunRecord, root: Path) -> str:
    config = record.config
    parts = [
        f'<section id="{_anchor(index, record.name)}">',
        f"<h2>{html.escape(record.name)}{_location(record, root)}</h2>",
        f'<p class="meta">paper {_esc(config.get("paper"))} · {_esc(config.get("figure"))} · '
        f"preset {_esc(config.get('preset'))} · version {_esc(config.get('version'))} · "
        f"robustlab {_esc(config.get('robustlab_version'))} · "
        f"device {_esc(config.get('device'))}</p>",
        f"<p>{_esc(config.get('description'))}</p>",
    ]
    summary = record.summary
    if summary is None:
        total = config.get("n_cells", "?")
        parts.append(
            f'<p class="missing">Incomplete run: {record.finished_cells} of {_esc(total)} '
            "cells finished; rerun the command below to complete it.</p>"
        )
    else:
        parts.append(_figures(record, root))
        verdicts = summary.get("verdicts", [])
        if verdicts:
            parts.append("<h3>Theory against measurement</h3>")
            rows = [
                [
                    _cell(v.get("claim")),
                    _cell(v.get("verdict"), f"verdict {_verdict_class(v.get('verdict'))}"),
                    _cell(v.get("measured")),
                    _cell(v.get("predicted")),
                    _cell(v.get("reason")),
                ]
                for v in verdicts
            ]
            parts.append(_table(("claim", "verdict", "measured", "predicted", "reason"), rows))
        headline = summary.get("headline") or {}
        if headline:
            parts.append("<h3>Headline figures</h3>")
            parts.append(_mapping_table(headline, ("quantity", "value")))
        predictions = summary.get("predictions") or {}
        if predictions:
            parts.append("<details><summary>Predictions from theory</summary>")
            parts.append(_mapping_table(predictions, ("quantity", "predicted")))
            parts.append("</details>")
        parts.append(
            f'<p class="meta">{_esc(summary.get("n_cells"))} cells, '
            f"{_esc(summary.get('n_rows'))} rows in results.parquet</p>"
        )
    settings = config.get("config") or {}
    parts.append("<details><summary>Settings</summary>")
    parts.append(_mapping_table(settings, ("field", "value")))
    parts.append("</details>")
    command = config.get("reproduce") or config.get("command")
    if command:
        parts.append("<h3>Reproduce</h3>")
        parts.append(f"<pre><code>{_esc(command)}</code></pre>")
    parts.append("</section>")
    return "\n".join(parts)


def render_report(records: list[RunRecord], root: str | Path) -> str:
    """The report page for ``records`` (folders under ``root``) as an HTML string."""
    root = Path(root)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        "<h1>robustlab results</h1>",
        f'<p class="meta">{len(records)} run(s) under {html.escape(str(root))}; '
        f"generated {html.escape(stamp)}.</p>",
    ]
    if records:
        body.append(_toc(records, root))
        body.extend(_section(index, record, root) for index, record in enumerate(records))
    else:
        body.append("<p>No results yet: run <code>robustlab run NAME</code> first.</p>")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>robustlab results</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def build_report(root: str | Path = "results") -> Path:
    """Write ``root/index.html`` from every run under ``root``. Returns its path.

    Raises FileNotFoundError when ``root`` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no results folder at {root}; run `robustlab run NAME` first")
    page = render_report(find_runs(root), root)
    target = root / "index.html"
    return atomic_write(target, lambda tmp: tmp.write_text(page, encoding="utf-8"))
