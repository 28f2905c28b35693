"""Cell keys and cell tables: the stable hash that names a cell and the rows it stores."""

from __future__ import annotations

import hashlib
import json
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from robustlab.experiments.base import Cell

__all__ = ["cell_columns", "cell_frame", "cell_key", "normalize_rows"]

KEY_LENGTH = 24
"""Hex digits of a cell key (96 bits of SHA-256)."""


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def cell_key(experiment: str, version: int, cell: Cell) -> str:
    """The stable key of ``cell``: SHA-256 of (experiment name, version, parameters) as JSON.

    Independent of parameter order, of the process and of the Python session; float
    parameters enter by their shortest repr, so 0.1 and 0.1000000001 differ.
    """
    payload = _canonical({"experiment": experiment, "version": version, "params": dict(cell)})
    return hashlib.sha256(payload.encode()).hexdigest()[:KEY_LENGTH]


def _scalar(value: Any, where: str) -> bool | int | float | str | None:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if callable(getattr(value, "item", None)) and tuple(getattr(value, "shape", (1,))) == ():
        return _scalar(value.item(), where)  # 0-d tensor or numpy scalar
    raise TypeError(
        f"{where}: row values must be scalars (bool, int, float, str, None, 0-d tensor), "
        f"got {type(value).__name__}"
    )


def normalize_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows with plain Python scalars (0-d tensors and numpy scalars unwrapped).

    Raises TypeError for a row that is not a mapping or holds a non-scalar value.
    """
    if not isinstance(rows, Sequence):
        raise TypeError(f"run_cell must return a list of dicts, got {type(rows).__name__}")
    out = []
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise TypeError(f"row {index} must be a dict, got {type(row).__name__}")
        out.append(
            {str(key): _scalar(value, f"row {index} column {key!r}") for key, value in row.items()}
        )
    return out


def cell_columns(cell: Cell) -> dict[str, bool | int | float | str | None]:
    """The cell's parameters as table columns: scalars as they are, lists and dicts as JSON."""
    return {
        name: value if not isinstance(value, list | dict) else _canonical(value)
        for name, value in cell.items()
    }


def cell_frame(cell: Cell, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The table of one cell: a column per cell parameter, then the measurement columns.

    Raises ValueError when a row uses a cell parameter's name for a measurement.
    """
    params = cell_columns(cell)
    clean = normalize_rows(rows)
    for index, row in enumerate(clean):
        clash = sorted(set(row) & set(params))
        if clash:
            raise ValueError(
                f"row {index} reuses cell parameter names {clash} as measurement columns; "
                "rename the measurements"
            )
    measured = pd.DataFrame.from_records(clean) if clean else pd.DataFrame()
    frame = pd.DataFrame({name: [value] * len(clean) for name, value in params.items()})
    if clean:
        frame = pd.concat([frame, measured], axis=1)
    return frame
