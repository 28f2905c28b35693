"""Cost model of the hidden example experiment toy-sphere-norms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from robustlab.planning.cost import CellCost, itemsize

__all__ = ["toy_sphere_norms"]

_RNG_OPS = 20  # elementwise operations per drawn Gaussian number


def toy_sphere_norms(cell: Mapping[str, Any]) -> CellCost:
    """2 n points on the sphere in R^d (drawn and normalized), n inner products, the sleep."""
    n, d = int(cell["n_pairs"]), int(cell["dim"])
    return CellCost(
        flops={"elementwise": 2.0 * n * d * (_RNG_OPS + 2) + 2.0 * n * d},
        peak_bytes=3 * 2 * n * d * itemsize(cell),
        steps=1,
        fixed_seconds=float(cell.get("sleep_seconds", 0.0)),
    )
