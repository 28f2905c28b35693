"""Cost models of paper 003 (random nets, universal perturbations, Schmidt et al.) and of
attack-optimality, which checks papers 002 and 003's single steps against exact solvers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from robustlab.planning.cost import (
    MNIST_BINARY_TRAIN,
    MNIST_TEST,
    SORT_OPS,
    CellCost,
    conv_work,
    input_gradient,
    itemsize,
    sgd_step,
    two_layer_forward,
    work,
)

__all__ = [
    "SOLVER_SECONDS_AT_WIDTH_10",
    "attack_optimality",
    "random_net_single_step",
    "robust_sample_complexity",
    "schmidt_cnn",
    "universal_perturbation",
]

_SCAN = 256 + 30  # a smooth net's ray search: scan points and bisection steps, per stage
_RNG_OPS = 20  # elementwise operations per drawn Gaussian or Bernoulli number

SOLVER_SECONDS_AT_WIDTH_10 = 0.2
"""A rough rate for one exact l2 MILP / SOC-MIP (SCIP) solve: 0.2 s at width m = 10, the mean
CPU time per solve measured by the quick preset (0.07-0.53 s over d = 16..784, no clear trend
in d), grown as (m / 10)^2 (more binary variables) and capped by the cell's time_limit. Only
m = 10 was measured: for wider nets this is a guess, not a fit."""


def random_net_single_step(cell: Mapping[str, Any]) -> CellCost:
    """Exact minimal step of ``n_networks`` random nets at ``n_inputs`` points: three products
    (f, grad f, W v) of (n, d, k) per net; ReLU sorts k breakpoints, smooth nets scan the ray
    in two stages (elementwise)."""
    d, k = int(cell["dim"]), int(cell["width"])
    n, E = int(cell["n_inputs"]), int(cell["n_networks"])
    smooth = cell["activation"] not in ("relu", "leaky_relu")
    ray = (2 * _SCAN if smooth else SORT_OPS * math.log2(max(k, 2))) * n * E * k
    return CellCost(
        flops={"dense": 3.0 * two_layer_forward(n, d, k, members=E), "elementwise": ray},
        peak_bytes=min(E, 10) * k * (d + n * (3 + 2 * smooth)) * itemsize(cell) + n * d * 8,
        steps=math.ceil(E / 10) * (2 * _SCAN if smooth else 4),
    )


def universal_perturbation(cell: Mapping[str, Any]) -> CellCost:
    """Gradient flow (full-batch GD) of E Vardi nets on n points until the loss threshold or
    ``max_steps`` (at most), then one exact universal step."""
    d, n, m, E = int(cell["dim"]), int(cell["n_samples"]), int(cell["width"]), int(cell["networks"])
    steps = int(cell["max_steps"])
    return CellCost(
        flops={
            "dense": steps * sgd_step(n, d, m, members=E) + input_gradient(n, d, m, members=E),
            "elementwise": steps * E * m * (d + n),
        },
        peak_bytes=4 * E * m * (d + n) * itemsize(cell),
        steps=steps,
        at_most=True,
    )


def robust_sample_complexity(cell: Mapping[str, Any]) -> CellCost:
    """Sums w = sum_i y_i x_i over up to max(n) draws of d coordinates per replicate, then the
    closed-form (Gaussian) or one FFT per (n, budget) (Bernoulli) errors: elementwise only."""
    d, replicates = int(cell["dim"]), int(cell["replicates"])
    n_grid = [int(n) for n in cell["n_samples"]]
    draws = max(n_grid) * replicates * d * _RNG_OPS
    errors: float
    if cell["model"] == "gaussian":
        errors = len(n_grid) * (1 + len(cell["eps"])) * replicates * d * 4
    else:
        ffts = len(n_grid) * (1 + len(cell["bernoulli_eps_over_tau"])) * replicates
        errors = ffts * 10 * d * math.log2(max(d, 2))
    chunk = min(1 << 23, max(n_grid) * replicates * d)
    return CellCost(
        flops={"elementwise": float(draws + errors)},
        peak_bytes=3 * chunk * 8 + 4 * replicates * d * 8,
        steps=len(n_grid),
    )


def schmidt_cnn(cell: Mapping[str, Any]) -> CellCost:
    """The paper-001 conv net (Schmidt et al.'s MNIST protocol): ``steps`` SGD steps, each with
    ``train_attack_steps`` PGD steps when adversarial; PGD on the test points; train error."""
    m, steps, b = int(cell["width"]), int(cell["steps"]), int(cell["batch_size"])
    n = int(cell["n_train"])
    b = min(b, n)
    test = cell.get("test_points") or MNIST_TEST
    attack_steps = int(cell["train_attack_steps"]) if cell["training"] == "adversarial" else 0
    passes = steps * b * (3 + 2 * attack_steps)  # a training step 3, an input gradient 2
    passes += test * (2 * int(cell["test_attack_steps"]) + 2) + n  # test attacks, train error
    return CellCost(
        flops=work(*conv_work(passes, 1, m)),
        peak_bytes=4 * 70_000 * 784 * 2 + 4 * 1000 * (10 * 24 * 24 * 4 + 784 * 6),
        steps=steps * (1 + attack_steps) + math.ceil(test / 1000) * int(cell["test_attack_steps"]),
    )


def attack_optimality(cell: Mapping[str, Any]) -> CellCost:
    """One exact solve per (network, point) at a rough rate (``SOLVER_SECONDS_AT_WIDTH_10``),
    capped by ``time_limit``; PGD bisection per network; lazy nets are first trained by SGD
    (float64, batch 64) on MNIST 1 vs 0."""
    d, m, E, n = int(cell["dim"]), int(cell["width"]), int(cell["networks"]), int(cell["points"])
    pgd_steps, bisection = int(cell["pgd_steps"]), int(cell["bisection"])
    per_solve = min(float(cell["time_limit"]), SOLVER_SECONDS_AT_WIDTH_10 * (m / 10) ** 2)
    dense = E * bisection * pgd_steps * input_gradient(n, d, m) + 3 * two_layer_forward(
        n, d, m, members=E
    )
    steps = E * bisection * pgd_steps
    if cell["family"] == "lazy":
        train_steps = int(cell["epochs"]) * math.ceil(MNIST_BINARY_TRAIN / 64)
        dense += 2 * train_steps * sgd_step(64, d, m, members=E)  # float64: about half the rate
        steps += train_steps
    return CellCost(
        flops={"dense": dense},
        peak_bytes=MNIST_BINARY_TRAIN * d * 8 * 2 + E * m * d * 8 * 8,
        steps=steps,
        fixed_seconds=E * n * per_solve,
    )
