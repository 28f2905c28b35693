"""Progress over the cells of a run: a rich bar with ETA on a terminal, log lines otherwise."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["LogProgress", "NullProgress", "ProgressReporter", "RichProgress", "make_progress"]

logger = logging.getLogger("robustlab.runner")


class ProgressReporter(Protocol):
    """Told when a run starts, when each cell finishes, and when the run ends."""

    def start(self, experiment: str, *, total: int, done: int) -> None: ...

    def advance(self, params: Mapping[str, Any], seconds: float) -> None: ...

    def finish(self) -> None: ...


class NullProgress:
    """Reports nothing."""

    def start(self, experiment: str, *, total: int, done: int) -> None:
        """Ignore the start."""

    def advance(self, params: Mapping[str, Any], seconds: float) -> None:
        """Ignore a finished cell."""

    def finish(self) -> None:
        """Ignore the end."""


def _short(params: Mapping[str, Any], limit: int = 6) -> str:
    items = [f"{k}={v}" for k, v in params.items() if not isinstance(v, list | dict)]
    if len(items) > limit:
        items = [*items[: limit - 1], "...", items[-1]]
    return ", ".join(items)


class LogProgress:
    """One log line per finished cell with the count and a naive ETA (for CI and pipes)."""

    def __init__(self, log: logging.Logger | None = None) -> None:
        self._log = log or logger
        self._name = ""
        self._total = 0
        self._done = 0
        self._ran = 0
        self._start = 0.0

    def start(self, experiment: str, *, total: int, done: int) -> None:
        """Log how many cells there are and how many are already finished."""
        self._name, self._total, self._done, self._ran = experiment, total, done, 0
        self._start = time.perf_counter()
        self._log.info(
            "%s: %d cells, %d already finished, %d to run", experiment, total, done, total - done
        )

    def advance(self, params: Mapping[str, Any], seconds: float) -> None:
        """Log the finished cell, its time and the estimated time left."""
        self._done += 1
        self._ran += 1
        elapsed = time.perf_counter() - self._start
        left = elapsed / self._ran * (self._total - self._done)
        self._log.info(
            "%s: cell %d/%d done in %.2f s (%s); about %.0f s left",
            self._name,
            self._done,
            self._total,
            seconds,
            _short(params),
            left,
        )

    def finish(self) -> None:
        """Log the total time (and how far it got, when the run stopped early)."""
        elapsed = time.perf_counter() - self._start
        if self._done < self._total:
            self._log.info(
                "%s: stopped after %.1f s with %d of %d cells finished",
                self._name,
                elapsed,
                self._done,
                self._total,
            )
        else:
            self._log.info("%s: finished in %.1f s", self._name, elapsed)


class RichProgress:
    """A rich progress bar over cells with elapsed time and ETA."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("cells"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._task: TaskID | None = None

    def start(self, experiment: str, *, total: int, done: int) -> None:
        """Show the bar, with finished cells already counted."""
        self._progress.start()
        self._task = self._progress.add_task(experiment, total=total, completed=done)

    def advance(self, params: Mapping[str, Any], seconds: float) -> None:
        """Advance the bar by one cell."""
        if self._task is not None:
            self._progress.advance(self._task)

    def finish(self) -> None:
        """Stop the bar (it stays on screen)."""
        self._progress.stop()
        self._task = None


def make_progress(console: Console | None = None) -> RichProgress | LogProgress:
    """A rich bar when ``console`` (stderr by default) is a terminal, else log lines."""
    console = console or Console(stderr=True)
    return RichProgress(console) if console.is_terminal else LogProgress()
