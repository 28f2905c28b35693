"""Cost model of paper 000 (Neuro-Tron under label poisoning): neurotron-poisoning."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from robustlab.planning.cost import CellCost, itemsize

__all__ = ["neurotron_poisoning"]

_PER_SAMPLE_OPS = 6  # per member, filter and coordinate of w: forward, oracle and update


def neurotron_poisoning(cell: Mapping[str, Any]) -> CellCost:
    """E = runs x |thetas| x |betas| single-filter nets (k filters A_i of r x d) trained for
    ``steps`` steps on batches of b fresh samples: the sensing products A_i x (2 b k r d per
    step, shared by the members) and 6 b E k r per step for forward, oracle and update; the
    realizable oracle first calibrates its envelope on ``realizable_calibration`` samples."""
    d, r, k = int(cell["dim"]), int(cell["filter_size"]), int(cell["width"])
    E = int(cell["runs"]) * len(cell["thetas"]) * len(cell["betas"])
    steps, b = int(cell["steps"]), int(cell["batch_size"])
    sensing = steps * 2.0 * b * k * r * d
    calibration = 0.0
    if cell["oracle"] == "realizable":
        calibration = 2.0 * int(cell["realizable_calibration"]) * k * r * d
    return CellCost(
        flops={
            "dense": sensing + calibration,
            "elementwise": steps * _PER_SAMPLE_OPS * b * E * k * r,
        },
        peak_bytes=(k * r * d + 4 * b * E * k * r) * itemsize(cell) + 8 * 65536 * k * r,
        steps=steps,
    )
