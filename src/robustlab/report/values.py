"""Values of summary.json as readable, escaped HTML: numbers to significant digits, nested
dicts as small tables, lists of numbers as one line.

``number(0.44575366718666903)`` is ``"0.4458"``; ``value_html({"a": {"b": 1.0}})`` is a nested
table. Every piece of text is HTML-escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "DIGITS",
    "Html",
    "is_number",
    "mapping_html",
    "number",
    "table_html",
    "value_html",
    "value_text",
]

DIGITS = 4
"""Significant digits of every number the report prints."""

_MAX_DEPTH = 4
_MAX_ITEMS = 60


class Html(str):
    """Text that is already HTML (built from escaped parts): ``value_html`` keeps it as is."""

    __slots__ = ()


def is_number(value: Any) -> bool:
    """True for int and float (not bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def number(value: float | int, digits: int = DIGITS) -> str:
    """``value`` to ``digits`` significant digits: 0.4458, 1.235e+06, 12, nan, inf."""
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 100_000 else str(value)
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 10**digits:
        return str(int(value))
    return f"{value:.{digits}g}"


def value_text(value: Any) -> str:
    """A value as one line of plain text (numbers formatted, lists joined, dicts as k=v)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if is_number(value):
        return number(value)
    if isinstance(value, list | tuple):
        return ", ".join(value_text(item) for item in value)
    if isinstance(value, Mapping):
        return "; ".join(f"{key}={value_text(item)}" for key, item in value.items())
    return str(value)


def _flat(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return all(not isinstance(item, list | tuple | Mapping) for item in value)
    return not isinstance(value, Mapping)


def value_html(value: Any, depth: int = 0) -> str:
    """A value as escaped HTML: scalars and flat lists as text, dicts as nested tables."""
    if isinstance(value, Html):
        return str(value)
    if _flat(value) or depth >= _MAX_DEPTH:
        return html.escape(value_text(value), quote=True)
    if isinstance(value, Mapping):
        items = list(value.items())
        rows = [[str(key), item] for key, item in items[:_MAX_ITEMS]]
        more = len(items) - len(rows)
        return table_html(("", ""), rows, depth=depth + 1, compact=True) + (
            f'<p class="meta">{more} more</p>' if more > 0 else ""
        )
    items = list(value)
    if items and all(isinstance(item, Mapping) for item in items):
        columns: list[str] = []
        for item in items:
            columns += [str(key) for key in item if str(key) not in columns]
        records = [dict(item) for item in items[:_MAX_ITEMS]]
        rows = [[record.get(column) for column in columns] for record in records]
        return table_html(columns, rows, depth=depth + 1, compact=True)
    return "<br>".join(value_html(item, depth + 1) for item in items[:_MAX_ITEMS])


def table_html(
    header: Iterable[str],
    rows: Iterable[Iterable[Any]],
    *,
    depth: int = 0,
    compact: bool = False,
    classes: Iterable[Iterable[str]] | None = None,
    row_ids: Iterable[str] | None = None,
) -> str:
    """An escaped table; numbers right-aligned. ``classes``: a CSS class per cell, row by row;
    ``row_ids``: an id per row (link targets).

    A header of empty strings is left out (a key-value table nested in a cell).
    """
    names = list(header)
    head = (
        "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in names) + "</tr></thead>"
        if any(names)
        else ""
    )
    css_rows = iter(classes) if classes is not None else None
    ids = iter(row_ids) if row_ids is not None else None
    body = []
    for row in rows:
        css = list(next(css_rows)) if css_rows is not None else []
        cells = []
        for position, value in enumerate(row):
            extra = css[position] if position < len(css) else ""
            kind = "num" if is_number(value) else ""
            names_ = " ".join(filter(None, (extra, kind)))
            attr = f' class="{html.escape(names_, quote=True)}"' if names_ else ""
            cells.append(f"<td{attr}>{value_html(value, depth)}</td>")
        row_id = f' id="{html.escape(next(ids), quote=True)}"' if ids is not None else ""
        body.append(f"<tr{row_id}>" + "".join(cells) + "</tr>")
    table_class = ' class="compact"' if compact else ""
    return f"<table{table_class}>{head}<tbody>{''.join(body)}</tbody></table>"


def _record(value: Any) -> bool:
    """A non-empty dict of scalars (one row of a matrix)."""
    return (
        isinstance(value, Mapping)
        and bool(value)
        and all(not isinstance(item, list | tuple | Mapping) for item in value.values())
    )


def mapping_html(data: Mapping[str, Any], header: tuple[str, str]) -> str:
    """A key-value table; three or more entries whose values are dicts of scalars with the same
    keys (at most 8) become one matrix table with those keys as columns, after it."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for key, value in data.items():
        if _record(value):
            groups.setdefault(tuple(str(k) for k in value), []).append(key)
    matrices = {cols: keys for cols, keys in groups.items() if len(keys) >= 3 and len(cols) <= 8}
    in_matrix = {key for keys in matrices.values() for key in keys}
    rows = [[key, value] for key, value in data.items() if key not in in_matrix]
    parts = [table_html(header, rows)] if rows else []
    for columns, keys in matrices.items():
        cells = [[key, *(dict(data[key]).get(c) for c in columns)] for key in keys]
        parts.append(table_html((header[0], *columns), cells))
    return "".join(parts)
