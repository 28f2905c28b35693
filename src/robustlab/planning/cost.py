"""The cost of one cell: FLOPs by kind of work, peak bytes, Python-level steps, solver time.

Counting rules (a multiply-add counts 2 FLOPs; elementwise work, kind "elementwise", counts
element operations, each as one FLOP in the totals):

- a two-layer net x -> a^T sigma(W x) with E members, width m, input d and K outputs costs
  ``2 n E m (d + K)`` forward; one SGD step on b samples ``4 b E m d + 6 b E m K`` (forward,
  the gradient of W and the back-propagated signal; issue 10's "4 b d m per step");
- one gradient of the loss with respect to the input (an attack step) costs
  ``4 n E m d + 4 n E m K`` (forward and one product back to the input);
- the paper-001 conv net (two 5x5 convolutions, 10 and 20 channels, then width m) costs
  `conv_forward` per image; training and input gradients are 3x and 2x the forward pass.

Each cost function reads the config fields that drive cost (widths, steps, epochs, precision),
so a change to a protocol is a change to one line here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "KINDS",
    "TRAIN_LOOP_PASSES",
    "CellCost",
    "Shared",
    "conv_forward",
    "conv_layers",
    "conv_train_step",
    "conv_work",
    "dense_kind",
    "input_gradient",
    "sgd_step",
    "two_layer_forward",
    "work",
]

KINDS: tuple[str, ...] = ("dense", "dense-bf16", "conv", "elementwise")
"""Kinds of work, each with its own calibrated efficiency (see `robustlab.planning.estimate`):
dense float32 matrix products, the same in bfloat16 (``precision = "bf16-mixed"``), the conv
net's convolutions, and memory-bound elementwise work (sorting, projections, distances)."""

TRAIN_LOOP_PASSES = 2.0
"""`train_loop` (behind `adversarial_training` and the perturbed `sgd` of multiclass-reflected)
on a TwoLayerNet does about twice the products of the minimal step: FlopCounterMode counts
4.07 x (2 b d m E) per step (forward and backward through autograd, the recorded batch loss)
beside 2 for `sgd_step`'s forward and weight gradient. Cost models of those loops multiply
`sgd_step` by this."""

SORT_OPS = 30.0
"""Elementwise-operation equivalents per key and log2 level of a sort (benchmarks/planning.py:
a sort of 64 x 8e4 float32 keys ran at 1/32 of the multiply-add rate per key and level)."""

MNIST_BINARY_TRAIN = 12665
"""Training images of MNIST digits 1 and 0 (papers 002 and 004)."""
MNIST_BINARY_TEST = 2115
"""Test images of MNIST digits 1 and 0."""
MNIST_TRAIN = 60_000
MNIST_TEST = 10_000


@dataclass(frozen=True)
class Shared:
    """Work a process does once for every cell with the same `key` (a cached reference model,
    a loaded data set): counted once in a plan's total, and in every cell's own figure."""

    key: str
    flops: float
    steps: int = 0


@dataclass(frozen=True)
class CellCost:
    """The estimated cost of one cell.

    flops: FLOPs by kind (a key of `KINDS`); peak_bytes: the cell's largest live tensors;
    steps: Python-level iterations (optimizer and attack steps), each paying a fixed overhead;
    fixed_seconds: work given in seconds, not FLOPs (exact MILP / SOC solvers at a stated
    rough rate, sleeps), the same here and on a GPU;
    at_most: the work depends on the data (early stopping, a lazy-ball stop) and the figures
    are its cap; shared: work cached per process across cells.
    """

    flops: Mapping[str, float]
    peak_bytes: int
    steps: int = 0
    fixed_seconds: float = 0.0
    at_most: bool = False
    shared: tuple[Shared, ...] = field(default=())

    def __post_init__(self) -> None:
        unknown = sorted(set(self.flops) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown kinds of work {unknown}; allowed: {', '.join(KINDS)}")
        for kind, value in self.flops.items():
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"flops[{kind!r}] must be finite and >= 0, got {value}")
        if self.peak_bytes < 0 or self.steps < 0 or self.fixed_seconds < 0:
            raise ValueError(
                f"peak_bytes, steps and fixed_seconds must be >= 0, got {self.peak_bytes}, "
                f"{self.steps}, {self.fixed_seconds}"
            )

    @property
    def total_flops(self) -> float:
        """FLOPs of every kind, the shared work included (what this cell costs alone)."""
        return sum(self.flops.values()) + sum(s.flops for s in self.shared)


def work(*items: tuple[str, float]) -> dict[str, float]:
    """FLOPs by kind from (kind, FLOPs) pairs, equal kinds summed (e.g. training in
    `dense_kind` beside float32 attacks, both 'dense' unless the cell trains in bfloat16)."""
    totals: dict[str, float] = {}
    for kind, flops in items:
        totals[kind] = totals.get(kind, 0.0) + flops
    return totals


def dense_kind(cell: Mapping[str, Any]) -> str:
    """'dense-bf16' when the cell trains in ``precision = "bf16-mixed"``, else 'dense'."""
    return "dense-bf16" if cell.get("precision") == "bf16-mixed" else "dense"


def itemsize(cell: Mapping[str, Any]) -> int:
    """Bytes per element of the cell's dtype (float32 unless the cell says float64)."""
    return 8 if cell.get("dtype") == "float64" else 4


def two_layer_forward(
    n: float, d: float, m: float, *, members: float = 1, outputs: float = 1
) -> float:
    """FLOPs of one forward pass of E two-layer nets on n inputs: 2 n E m (d + K)."""
    return 2.0 * n * members * m * (d + outputs)


def sgd_step(b: float, d: float, m: float, *, members: float = 1, outputs: float = 1) -> float:
    """FLOPs of one SGD step on b samples: 4 b E m d + 6 b E m K (forward, grad W, backprop)."""
    return 4.0 * b * members * m * d + 6.0 * b * members * m * outputs


def input_gradient(
    n: float, d: float, m: float, *, members: float = 1, outputs: float = 1
) -> float:
    """FLOPs of f(x) and grad_x of a loss of f on n inputs: 4 n E m (d + K)."""
    return 4.0 * n * members * m * (d + outputs)


def conv_layers(n: float, m: float, *, classes: int = 10, side: int = 28) -> tuple[float, float]:
    """FLOPs of the paper-001 conv net's forward pass on n images of side x side, split as
    (the two 5x5 convolutions of 10 and 20 channels, the two linear layers m and K)."""
    s1 = side - 4
    s2 = s1 // 2 - 4
    features = 20 * (s2 // 2) ** 2
    conv = 2 * s1 * s1 * 10 * 25 + 2 * s2 * s2 * 20 * 25 * 10
    return float(n) * conv, 2.0 * n * m * (features + classes)


def conv_forward(n: float, m: float, *, classes: int = 10) -> float:
    """FLOPs of the conv net's forward pass on n MNIST images (convolutions and linear layers)."""
    return sum(conv_layers(n, m, classes=classes))


def conv_work(passes: float, n: float, m: float) -> tuple[tuple[str, float], tuple[str, float]]:
    """(kind, FLOPs) pairs of `passes` forward-pass equivalents of the conv net on n images:
    its convolutions as "conv", its linear layers as "dense" (training is 3 passes, an input
    gradient 2)."""
    conv, linear = conv_layers(n, m)
    return ("conv", passes * conv), ("dense", passes * linear)


def conv_train_step(b: float, m: float, *, classes: int = 10) -> float:
    """FLOPs of one training step of the conv net on b images: 3x the forward pass."""
    return 3.0 * conv_forward(b, m, classes=classes)
