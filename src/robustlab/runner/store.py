"""The result store of one experiment: ``DIR/NAME/`` with a Parquet file per finished cell.

Layout::

    DIR/NAME/config.json        the validated config, preset, versions, command
    DIR/NAME/cells/<key>.parquet one file per finished cell, written atomically
    DIR/NAME/results.parquet    the union of the sweep's cells
    DIR/NAME/summary.json       headline figures, predictions, verdicts
    DIR/NAME/figures/*.png

Every file is written to a hidden temporary name in the same folder, flushed to disk and
renamed over its final name, so a reader (or a rerun after SIGKILL) sees either the whole file
or none; temporaries end in ``.tmp-<pid>-<random>`` and are never read as cells.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

__all__ = ["RunLockedError", "RunStore", "atomic_write", "write_json"]

logger = logging.getLogger(__name__)

PREVIOUS_DIR = ".previous"
"""Folder of ``DIR`` where ``--fresh`` moves an experiment's earlier results."""

_TMP_MARK = ".tmp-"


class RunLockedError(RuntimeError):
    """Another live run holds the lock of this experiment's folder."""


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary sibling of ``path``, then rename it over ``path``.

    The temporary is removed when ``write`` raises. Returns ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}{_TMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def write_json(path: Path, data: Any) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    text = json.dumps(data, indent=2, sort_keys=False, allow_nan=True, default=str) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _write_parquet(frame: pd.DataFrame) -> Callable[[Path], None]:
    return lambda tmp: frame.to_parquet(tmp, index=False, engine="pyarrow")


class RunStore:
    """The files of one experiment's results under ``root`` (``DIR/NAME``)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.cells_dir = self.root / "cells"
        self.figures_dir = self.root / "figures"
        self.config_path = self.root / "config.json"
        self.results_path = self.root / "results.parquet"
        self.summary_path = self.root / "summary.json"

    def cell_path(self, key: str) -> Path:
        """Where the cell with ``key`` is stored."""
        return self.cells_dir / f"{key}.parquet"

    def is_finished(self, key: str) -> bool:
        """Whether the cell ``key`` has a complete file.

        An unreadable file (damaged outside robustlab) is renamed to ``<key>.parquet.corrupt``
        and counts as not finished, so the cell runs again.
        """
        path = self.cell_path(key)
        if not path.is_file():
            return False
        try:
            pq.read_metadata(path)
        except Exception as err:  # pyarrow raises several types for a damaged footer
            logger.warning("cell file %s is unreadable (%s); it will be recomputed", path, err)
            os.replace(path, path.with_name(path.name + ".corrupt"))
            return False
        return True

    def write_cell(self, key: str, frame: pd.DataFrame) -> Path:
        """Store the table of one finished cell atomically."""
        return atomic_write(self.cell_path(key), _write_parquet(frame))

    def read_cell(self, key: str) -> pd.DataFrame:
        """The stored table of cell ``key``. Raises FileNotFoundError when it is not finished."""
        return pd.read_parquet(self.cell_path(key), engine="pyarrow")

    def read_cells(self, keys: Sequence[str]) -> pd.DataFrame:
        """The union of the cells ``keys``, in that order, with a fresh index."""
        frames = [frame for frame in map(self.read_cell, keys) if len(frame)]
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames, ignore_index=True, sort=False)

    def write_results(self, table: pd.DataFrame) -> Path:
        """Write ``results.parquet`` atomically."""
        return atomic_write(self.results_path, _write_parquet(table))

    def discard_outputs_unless(self, config: dict[str, Any], version: int) -> bool:
        """Remove results.parquet, summary.json and figures made with other settings.

        Compares with the ``config`` and ``version`` recorded in config.json, so a run that is
        killed after changing the settings never leaves the old table beside the new
        config.json. Cells stay: they are keyed by their own parameters. Returns whether
        anything was removed.
        """
        if not self.config_path.is_file():
            return False
        try:
            recorded = json.loads(self.config_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            recorded = {}
        if recorded.get("config") == config and recorded.get("version") == version:
            return False
        stale = [self.results_path, self.summary_path]
        if self.figures_dir.is_dir():
            stale += list(self.figures_dir.glob("*.png"))
        removed = False
        for path in stale:
            if path.is_file():
                path.unlink()
                removed = True
        return removed

    def remove_temporaries(self) -> int:
        """Delete temporaries left by killed writers (call under the lock). Returns how many."""
        removed = 0
        for folder in (self.root, self.cells_dir, self.figures_dir):
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                if path.name.startswith(".") and _TMP_MARK in path.name:
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold an exclusive lock on this folder; the OS drops it when the process dies.

        Raises RunLockedError when another live process holds it.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunLockedError(
                    f"another robustlab run is writing to {self.root}; wait for it to finish"
                ) from None
            yield
        finally:
            os.close(fd)

    def move_aside(self) -> Path | None:
        """Move the folder to ``DIR/.previous/NAME-<UTC time>`` (for ``--fresh``).

        Returns the new place, or None when there was nothing to move. Raises RunLockedError
        when a live run holds the folder.
        """
        if not self.root.exists():
            return None
        with self.lock():
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            parent = self.root.parent / PREVIOUS_DIR
            parent.mkdir(parents=True, exist_ok=True)
            target = parent / f"{self.root.name}-{stamp}"
            suffix = 1
            while target.exists():
                suffix += 1
                target = parent / f"{self.root.name}-{stamp}-{suffix}"
            os.replace(self.root, target)
        return target
