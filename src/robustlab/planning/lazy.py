"""Cost models of paper 002 (lazy training): lazy-single-step and lazy-adversarial-training.

Both stop early (a lazy-ball stop, a robust-accuracy plateau), so their figures are caps:
every SGD epoch up to ``max_epochs`` is counted. A cell trains at its own lazy radius; once a
cell records every radius from one trajectory (issue 10 section 2), the saving shows up as fewer
cells, with no change here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from robustlab.planning.cost import (
    MNIST_BINARY_TEST,
    MNIST_BINARY_TRAIN,
    SORT_OPS,
    TRAIN_LOOP_PASSES,
    CellCost,
    dense_kind,
    input_gradient,
    itemsize,
    sgd_step,
    two_layer_forward,
    work,
)

__all__ = ["lazy_adversarial_training", "lazy_single_step"]

_TRAIN_COPIES = 8  # (m, d) tensors alive per member during an SGD step (W, W0, grad, ...)


def lazy_single_step(cell: Mapping[str, Any]) -> CellCost:
    """One SGD run of E nets on MNIST 1 vs 0 to the largest lazy ball (`lazy_path` records
    every C0 of the cell's ``C0s``), then per C0 one exact step per test point: 3 products of
    (points, d, m) per member and a sort of m breakpoints per point."""
    d, m, E = int(cell["dim"]), int(cell["width"]), int(cell["members"])
    radii = len(cell.get("C0s") or [cell.get("C0", 0.0)])
    b = int(cell["batch_size"])
    steps = int(cell["max_epochs"]) * math.ceil(MNIST_BINARY_TRAIN / b)
    points = cell.get("test_points") or MNIST_BINARY_TEST
    attack = input_gradient(points, d, m, members=E) + 2.0 * points * E * m * d
    dense = radii * (two_layer_forward(MNIST_BINARY_TEST, d, m, members=E) + attack)
    size = itemsize(cell)
    budget = int(cell.get("memory_mb", 2048)) * 2**20
    training = min(E * _TRAIN_COPIES * m * d * size, max(budget, _TRAIN_COPIES * m * d * size))
    return CellCost(
        flops=work(
            (dense_kind(cell), steps * sgd_step(b, d, m, members=E)),
            ("dense", dense),
            (
                "elementwise",
                steps * E * m + radii * points * E * m * SORT_OPS * math.log2(max(m, 2)),
            ),
        ),
        peak_bytes=2 * MNIST_BINARY_TRAIN * d * 4
        + max(training, min(budget, 3 * E * m * points * size)),
        steps=steps,
        at_most=True,
    )


def lazy_adversarial_training(cell: Mapping[str, Any]) -> CellCost:
    """Projected adversarial training (paper 002 Algorithm 1): every epoch PGD on the whole
    training set, then one SGD epoch on the attacked points; then PGD at every test budget."""
    d, m, E = int(cell["dim"]), int(cell["width"]), int(cell["n_runs"])
    n = cell.get("n_train") or MNIST_BINARY_TRAIN
    n_test = cell.get("n_test") or MNIST_BINARY_TEST
    b, epochs = int(cell["batch_size"]), int(cell["max_epochs"])
    train_steps = int(cell["train_steps"])
    per_epoch_steps = math.ceil(n / b)
    training = epochs * (
        (train_steps + 1) * input_gradient(n, d, m, members=E)
        + per_epoch_steps * TRAIN_LOOP_PASSES * sgd_step(b, d, m, members=E)
    )
    evaluation = (
        len(cell["eval_budgets"])
        * int(cell["eval_restarts"])
        * (int(cell["eval_steps"]) + 1)
        * input_gradient(n_test, d, m, members=E)
    )
    return CellCost(
        flops=work(
            (dense_kind(cell), training),
            ("dense", evaluation),
            ("elementwise", epochs * per_epoch_steps * E * m * d),  # projection onto the ball
        ),
        peak_bytes=(n + n_test) * d * 4 * 4 + 4 * E * m * d * itemsize(cell),
        steps=epochs * (train_steps + per_epoch_steps)
        + len(cell["eval_budgets"]) * int(cell["eval_steps"]),
        at_most=True,
    )
