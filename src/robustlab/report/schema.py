"""What the report reads from a run folder, validated: config.json and summary.json.

A file that is not JSON, or whose values have the wrong type (``"config": "x"``,
``"verdict_counts": {"consistent": "many"}``, ``"verdicts": [1, 2]``), does not crash the report
and does not vanish from it: ``load_run_files`` returns the problems, and the report shows the
run as broken with them. Figure paths are resolved inside the run folder only
(``figure_path``); a path that leaves it (``/etc/passwd``, ``../x.png``) is refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

__all__ = [
    "FIGURE_SUFFIXES",
    "RUN_NOTES",
    "RunConfigFile",
    "SummaryFile",
    "VerdictRecord",
    "figure_path",
    "load_config_file",
    "load_run_notes",
    "load_summary_file",
]

FIGURE_SUFFIXES: tuple[str, ...] = (".png", ".svg")
"""The figure files the report shows (PNG in the page, SVG linked beside it)."""

RUN_NOTES = "RUN.md"
"""A committed run's notes on how it was run: command, source commit, wall time, load."""

Count = StrictInt


class _File(BaseModel):
    # Fields the report does not use are kept (newer robustlab versions add some).
    model_config = ConfigDict(extra="allow", frozen=True)


class VerdictRecord(_File):
    """One claim checked against the measurement (``summary.json["verdicts"][i]``).

    ``settle`` (optional) says what would settle an inconclusive or inconsistent verdict;
    ``compared`` (optional) holds a comparative claim's numbers by label (older summaries
    have neither).
    """

    claim: StrictStr
    verdict: Literal["consistent", "inconsistent", "inconclusive"]
    measured: Any = None
    predicted: Any = None
    reason: StrictStr = ""
    settle: StrictStr | None = None
    compared: dict[StrictStr, float] | None = None


class SummaryFile(_File):
    """``summary.json``: headline figures, predictions, verdicts, figure paths."""

    experiment: StrictStr | None = None
    preset: StrictStr | None = None
    n_cells: Count | None = Field(default=None, ge=0)
    n_rows: Count | None = Field(default=None, ge=0)
    headline: dict[str, Any] = Field(default_factory=dict)
    predictions: dict[str, Any] = Field(default_factory=dict)
    verdicts: list[VerdictRecord] = Field(default_factory=list)
    verdict_counts: dict[Literal["consistent", "inconsistent", "inconclusive"], Count] = Field(
        default_factory=dict
    )
    figures: list[StrictStr] | None = None

    def counts(self) -> dict[str, int]:
        """Verdicts by kind: ``verdict_counts`` when given, else counted from ``verdicts``."""
        if self.verdict_counts:
            return {str(kind): count for kind, count in self.verdict_counts.items()}
        tally: dict[str, int] = {}
        for verdict in self.verdicts:
            tally[verdict.verdict] = tally.get(verdict.verdict, 0) + 1
        return tally


class RunConfigFile(_File):
    """``config.json``: the experiment, its settings and how it was run."""

    experiment: StrictStr | None = None
    version: Count | None = None
    preset: StrictStr | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    paper: StrictStr | None = None
    figure: StrictStr | None = None
    description: StrictStr | None = None
    robustlab_version: StrictStr | None = None
    device: StrictStr | None = None
    command: StrictStr | None = None
    reproduce: StrictStr | None = None
    n_cells: Count | None = Field(default=None, ge=0)


def _problem(path: Path, error: Exception) -> str:
    if isinstance(error, ValidationError):
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}"
            for e in error.errors()[:5]
        )
        more = error.error_count() - 5
        return f"{path.name} has invalid values ({details}{f'; {more} more' if more > 0 else ''})"
    if isinstance(error, json.JSONDecodeError):
        return f"{path.name} is not valid JSON ({error.msg} at line {error.lineno})"
    return f"{path.name} cannot be read ({error})"


_T = TypeVar("_T", bound=_File)


def _load(path: Path, model: type[_T]) -> tuple[_T | None, str | None]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        return model.model_validate(data), None
    except (OSError, UnicodeDecodeError, ValueError) as err:  # JSON and validation errors too
        return None, _problem(path, err)


def load_config_file(path: Path) -> tuple[RunConfigFile | None, str | None]:
    """The validated config.json at ``path``, or None and the problem that stops it."""
    return _load(path, RunConfigFile)


def load_summary_file(path: Path) -> tuple[SummaryFile | None, str | None]:
    """The validated summary.json at ``path``, or None and the problem that stops it."""
    return _load(path, SummaryFile)


def load_run_notes(folder: Path) -> str:
    """The text of ``folder/RUN.md`` ("" when absent or not readable as UTF-8 text)."""
    path = folder / RUN_NOTES
    try:
        return path.read_text(encoding="utf-8") if path.is_file() else ""
    except (OSError, UnicodeDecodeError):
        return ""


def figure_path(folder: Path, name: str) -> Path:
    """``folder / name`` for a figure the run lists, resolved inside ``folder``.

    Raises ValueError for an absolute path, a path that leaves ``folder`` (``..``, a link out)
    or a file that is not a figure (suffix not in FIGURE_SUFFIXES).
    """
    relative = Path(name)
    if relative.is_absolute():
        raise ValueError(f"figure path {name!r} is absolute; a run lists figures inside its folder")
    if relative.suffix.lower() not in FIGURE_SUFFIXES:
        raise ValueError(f"figure path {name!r} is not a figure ({', '.join(FIGURE_SUFFIXES)})")
    root = folder.resolve()
    resolved = (root / relative).resolve()
    if not resolved.is_relative_to(root):
        raise ValueError(f"figure path {name!r} leaves the run folder")
    return folder / relative
