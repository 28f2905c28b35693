"""Cost models of paper 004 (the reflected loss): reflected-grid, reflected-adversarial-training
and multiclass-reflected. An attack of S steps counts S + 1 input gradients per sample (the
steps and the evaluations around them: FlopCounterMode counts 2 S + 2.2 units of 2 n d m E for
`pgd` on a TwoLayerNet); FGSM has one step."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from robustlab.planning.cost import (
    MNIST_BINARY_TEST,
    MNIST_BINARY_TRAIN,
    MNIST_TEST,
    MNIST_TRAIN,
    TRAIN_LOOP_PASSES,
    CellCost,
    dense_kind,
    input_gradient,
    itemsize,
    sgd_step,
    work,
)

__all__ = ["multiclass_reflected", "reflected_adversarial_training", "reflected_grid"]

_GRID_CHUNK = 1 << 20  # grid_search's chunk of grid points
_GRID_OPS = 40  # per grid point: 3 logits, the softmax loss, the ball test, the top-k keys


def reflected_grid(cell: Mapping[str, Any]) -> CellCost:
    """Exhaustive search of a points_per_axis^3 grid in the box: elementwise, plus a top-k."""
    points = int(cell["points_per_axis"]) ** 3
    return CellCost(
        flops={"elementwise": points * (_GRID_OPS + math.log2(max(points, 2)))},
        peak_bytes=min(points, _GRID_CHUNK) * 100,  # grid_search: about 100 bytes a point
        steps=math.ceil(points / _GRID_CHUNK),
    )


def _attack_steps(name: str, steps: int) -> int:
    return 1 if name.removeprefix("R-") == "FGSM" else steps


def reflected_adversarial_training(cell: Mapping[str, Any]) -> CellCost:
    """E nets (width m, d = 784, MNIST 1 vs 0) trained ``epochs`` epochs, each minibatch first
    attacked with ``train_steps`` steps (not for standard training); then every test attack."""
    m, E, b = int(cell["width"]), int(cell["members"]), int(cell["batch_size"])
    d = 784
    n = cell.get("n_train") or MNIST_BINARY_TRAIN
    n_test = cell.get("n_test") or MNIST_BINARY_TEST
    batches = int(cell["epochs"]) * math.ceil(n / b)
    inner = 0 if cell["training"] == "standard" else int(cell["train_steps"])
    step = TRAIN_LOOP_PASSES * sgd_step(b, d, m, members=E)
    attacked = inner + 1 if inner else 0
    training = batches * (step + attacked * input_gradient(b, d, m, members=E))
    attack_steps = sum(_attack_steps(str(a), int(cell["test_steps"])) for a in cell["attacks"])
    calls = len(cell["attacks"])
    evaluation = (attack_steps + calls) * input_gradient(n_test, d, m, members=E)
    return CellCost(
        flops=work((dense_kind(cell), training), ("dense", evaluation)),
        peak_bytes=(n + n_test) * d * 4 * 2 + 8 * E * m * (d + 1024) * itemsize(cell),
        steps=batches * (1 + inner) + attack_steps * math.ceil(n_test / 1024),
    )


def multiclass_reflected(cell: Mapping[str, Any]) -> CellCost:
    """Training cells: E nets (width m, K = 10) trained ``epochs`` epochs on (Fashion-)MNIST,
    each minibatch attacked with ``steps`` PGD steps; then PGD with restarts on the test set
    (early stopped: at most). The counterexample cell is a 3-point search (negligible)."""
    if cell.get("part") == "counterexample":
        return CellCost(flops={"elementwise": 1e6}, peak_bytes=2**20, steps=100)
    m, E, b = int(cell["width"]), int(cell["members"]), int(cell["batch_size"])
    d, K = 784, 10
    n = cell.get("n_train") or MNIST_TRAIN
    n_test = cell.get("n_test") or MNIST_TEST
    batches = int(cell["epochs"]) * math.ceil(n / b)
    per_batch = TRAIN_LOOP_PASSES * sgd_step(b, d, m, members=E, outputs=K)
    per_batch += (int(cell["steps"]) + 1) * input_gradient(b, d, m, members=E, outputs=K)
    test_steps = int(cell["test_restarts"]) * int(cell["test_steps"])
    evaluation = (test_steps + 1) * input_gradient(n_test, d, m, members=E, outputs=K)
    return CellCost(
        flops=work((dense_kind(cell), batches * per_batch), ("dense", evaluation)),
        peak_bytes=(n + n_test) * d * 4 * 2 + 8 * E * m * (d + 2048) * itemsize(cell),
        steps=batches * (1 + int(cell["steps"])) + test_steps * math.ceil(n_test / 2048),
        at_most=True,
    )
