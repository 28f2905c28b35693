"""The result store of one experiment: ``DIR/NAME/`` with a Parquet file per finished cell.

Layout::

    DIR/NAME/config.json        the validated config, preset, versions, command
    DIR/NAME/cells/<key>.parquet one file per finished cell, written atomically
    DIR/NAME/cells/<key>.json    its checksum record: key, parameters, rows, SHA-256 of the file
    DIR/NAME/results.parquet    the union of the sweep's cells
    DIR/NAME/summary.json       headline figures, predictions, verdicts
    DIR/NAME/figures/*.png

Every file is written to a hidden temporary name in the same folder, flushed to disk and
renamed over its final name, so a reader (or a rerun after SIGKILL) sees either the whole file
or none; temporaries end in ``.tmp-<pid>-<random>`` and are never read as cells.

A cell is trusted only when its file's SHA-256, its key and its parameters match its checksum
record and its parameter columns match the cell: a bit flip, a truncation, a file copied over
from another cell or garbled compressed data fails the check, and the cell is set aside as
``<key>.parquet.corrupt`` (never deleted), named in a warning, and computed again. Outputs of
other settings are moved to ``DIR/.previous/`` (never deleted), and only once the new run has
its own to put in their place.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import logging
import math
import os
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "CellCheckError",
    "OutputError",
    "RunLockedError",
    "RunStore",
    "atomic_write",
    "check_writable",
    "write_json",
]

logger = logging.getLogger(__name__)

PREVIOUS_DIR = ".previous"
"""Folder of ``DIR`` where ``--fresh`` moves an experiment's earlier results."""

_TMP_MARK = ".tmp-"


class RunLockedError(RuntimeError):
    """Another live run holds the lock of this experiment's folder."""


class OutputError(ValueError):
    """A results folder that cannot be written (under a regular file, read-only)."""


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def check_writable(folder: Path) -> None:
    """Raise OutputError unless ``folder`` is, or can be created as, a writable folder.

    Looks at the nearest existing folder on the way to ``folder`` and at its cells/ and
    figures/ folders, so a run is refused before it computes anything it could not store.
    """
    folder = Path(folder)
    probe = folder
    while not probe.exists():
        if probe.is_symlink():
            raise OutputError(f"{probe} is a broken symbolic link; choose another --out")
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(
            f"cannot write results to {folder}: {probe} is a file, not a folder; "
            "choose another --out"
        )
    folders = [probe, *(path for path in (folder / "cells", folder / "figures") if path.is_dir())]
    for path in folders:
        if not _writable(path):
            raise OutputError(
                f"cannot write results to {folder}: {path} is not writable; "
                "choose another --out or change its permissions"
            )


class CellCheckError(ValueError):
    """A stored cell that fails its checksum, key or parameter check (the message says which)."""


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


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, engine="pyarrow")
    return buffer.getvalue()


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def _record_digest(record: dict[str, Any]) -> str:
    """SHA-256 of a checksum record without its own ``record_sha256`` entry."""
    body = {name: value for name, value in record.items() if name != "record_sha256"}
    return hashlib.sha256(_canonical(body)).hexdigest()


def _same(stored: Any, expected: Any) -> bool:
    """Whether a stored column value is the cell parameter ``expected`` (same kind, same value)."""
    if expected is None:
        return stored is None or (isinstance(stored, float) and math.isnan(stored))
    if isinstance(expected, bool | str) or isinstance(stored, bool | str):
        return type(stored) is type(expected) and stored == expected
    return isinstance(stored, int | float) and stored == expected


def _check_columns(frame: pd.DataFrame, columns: Mapping[str, Any]) -> None:
    """Raise CellCheckError unless every row holds the cell's parameters in its columns."""
    for name, expected in columns.items():
        if name not in frame.columns:
            raise CellCheckError(f"parameter column {name!r} is missing")
        for value in frame[name].tolist():
            if not _same(value, expected):
                raise CellCheckError(
                    f"column {name!r} holds {value!r}, but this cell's {name} is {expected!r}"
                )


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

    def record_path(self, key: str) -> Path:
        """Where the checksum record of cell ``key`` is stored."""
        return self.cells_dir / f"{key}.json"

    def write_cell(
        self, key: str, params: Mapping[str, Any], columns: Mapping[str, Any], frame: pd.DataFrame
    ) -> Path:
        """Store one finished cell: its checksum record, then its table, each atomically.

        ``params`` are the cell's parameters (their key is ``key``), ``columns`` the parameter
        columns every row of ``frame`` holds. A writer killed between the two files leaves a
        record without a table, which counts as not finished.
        """
        data = _parquet_bytes(frame)
        record: dict[str, Any] = {
            "key": key,
            "params": dict(params),
            "rows": len(frame),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        record["record_sha256"] = _record_digest(record)
        write_json(self.record_path(key), record)
        return atomic_write(self.cell_path(key), lambda tmp: tmp.write_bytes(data))

    def check_cell(
        self, key: str, params: Mapping[str, Any], columns: Mapping[str, Any]
    ) -> pd.DataFrame:
        """The stored table of cell ``key`` once every check passes.

        Raises FileNotFoundError when the cell has no file (not finished), CellCheckError
        naming the check that fails otherwise.
        """
        path = self.cell_path(key)
        data = path.read_bytes()
        try:
            record = json.loads(self.record_path(key).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CellCheckError("its checksum record is missing") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise CellCheckError(f"its checksum record is unreadable ({err})") from None
        if not isinstance(record, dict) or record.get("record_sha256") != _record_digest(record):
            raise CellCheckError("its checksum record is damaged")
        if record.get("key") != key:
            raise CellCheckError(f"its record belongs to cell {record.get('key')!r}")
        if record.get("params") != dict(params):
            raise CellCheckError("its recorded parameters differ from this cell's")
        if hashlib.sha256(data).hexdigest() != record.get("sha256"):
            raise CellCheckError(
                f"its content does not match its SHA-256 ({len(data)} bytes on disk)"
            )
        try:
            frame = pd.read_parquet(io.BytesIO(data), engine="pyarrow")
        except Exception as err:  # pyarrow raises several types for damaged data
            raise CellCheckError(f"its table cannot be decoded ({err})") from None
        if len(frame) != record.get("rows"):
            raise CellCheckError(f"it holds {len(frame)} rows, its record {record.get('rows')}")
        _check_columns(frame, columns)
        return frame

    def load_cell(
        self, key: str, params: Mapping[str, Any], columns: Mapping[str, Any]
    ) -> pd.DataFrame | None:
        """The checked table of cell ``key``, or None when it must be computed (again).

        A cell that fails a check is set aside (``<key>.parquet.corrupt``, with its record
        as ``<key>.json.corrupt``), never deleted, and named in a warning with the reason.
        """
        try:
            return self.check_cell(key, params, columns)
        except FileNotFoundError:
            return None
        except CellCheckError as err:
            kept = self.set_aside(key)
            logger.warning(
                "cell file %s failed its check: %s; moved to %s, the cell will be recomputed",
                self.cell_path(key),
                err,
                kept.name,
            )
            return None

    def set_aside(self, key: str) -> Path:
        """Rename the files of cell ``key`` to ``*.corrupt`` (numbered when taken). Returns it."""
        target = self.cell_path(key)
        for path in (self.cell_path(key), self.record_path(key)):
            if not path.exists():
                continue
            kept = path.with_name(path.name + ".corrupt")
            number = 1
            while kept.exists():
                number += 1
                kept = path.with_name(f"{path.name}.corrupt-{number}")
            os.replace(path, kept)
            if path == self.cell_path(key):
                target = kept
        return target

    def load_cells(
        self, cells: Sequence[tuple[str, Mapping[str, Any], Mapping[str, Any]]]
    ) -> dict[str, pd.DataFrame]:
        """The checked tables of the finished cells among ``(key, params, columns)``, by key.

        Cells without a file, or whose file fails a check (set aside, see ``load_cell``), are
        absent from the result.
        """
        found = {}
        for key, params, columns in cells:
            frame = self.load_cell(key, params, columns)
            if frame is not None:
                found[key] = frame
        return found

    def write_results(self, table: pd.DataFrame) -> Path:
        """Write ``results.parquet`` atomically."""
        return atomic_write(self.results_path, _write_parquet(table))

    def outputs(self) -> list[Path]:
        """The finished outputs present: results.parquet, summary.json and the figures."""
        found = [path for path in (self.results_path, self.summary_path) if path.is_file()]
        if self.figures_dir.is_dir():
            found += sorted(path for path in self.figures_dir.iterdir() if path.is_file())
        return found

    def outputs_match(self, config: dict[str, Any], version: int) -> bool:
        """Whether config.json records exactly ``config`` and ``version``."""
        try:
            recorded = json.loads(self.config_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return False
        return (
            isinstance(recorded, dict)
            and recorded.get("config") == config
            and recorded.get("version") == version
        )

    def move_outputs_aside(self) -> Path | None:
        """Move config.json and the outputs to ``DIR/.previous/NAME-<UTC time>/`` (cells stay).

        Call under the lock, once the new outputs are ready to be written. Returns the new
        place, or None when there were no outputs to move.
        """
        outputs = self.outputs()
        if not outputs:
            return None
        target = self._previous_target()
        target.mkdir(parents=True)
        if self.config_path.is_file():
            outputs.append(self.config_path)
        for path in outputs:
            destination = target / path.relative_to(self.root)
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, destination)
        _fsync_dir(self.root)
        return target

    def _previous_target(self) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        parent = self.root.parent / PREVIOUS_DIR
        parent.mkdir(parents=True, exist_ok=True)
        target = parent / f"{self.root.name}-{stamp}"
        suffix = 1
        while target.exists():
            suffix += 1
            target = parent / f"{self.root.name}-{stamp}-{suffix}"
        return target

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
            target = self._previous_target()
            os.replace(self.root, target)
        return target
