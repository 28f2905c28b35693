"""Cost models of paper 001 (poisoning of SGD): poisoning-loss, poisoning-sample-size and
poisoning-width.

The linear experiments train 10-class linear models on 784 MNIST pixels (``8 b d K`` FLOPs
per SGD step and member, as counted) and poison against a reference model w* that a process
trains once per seed (`Shared`). poisoning-width trains every width of a cell up to
``max_epochs`` epochs with early stopping (at most), after training the poisoner (regimes A
and B).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from robustlab.planning.cost import (
    MNIST_TRAIN,
    CellCost,
    Shared,
    conv_work,
    dense_kind,
    itemsize,
    sgd_step,
    two_layer_forward,
    work,
)

__all__ = ["TRAININGS_PER_WIDTH", "poisoning_loss", "poisoning_sample_size", "poisoning_width"]

_D, _K = 784, 10

TRAININGS_PER_WIDTH = 1
"""Trainings of each width in poisoning-width (1: the preset lr; k-fold lr selection: k + 1)."""


_LINEAR_PASSES = 4
"""(b, d, K) products per SGD step of a linear model: FlopCounterMode counts 4 in `sgd` on a
LinearModel (8 b d K FLOPs), twice the minimum of forward and weight gradient."""


def _linear_training(n: int, epochs: int, b: int, members: int) -> tuple[float, int]:
    """(FLOPs, steps) of `members` linear K-class models trained ``epochs`` epochs on n."""
    steps = epochs * math.ceil(n / b)
    return steps * _LINEAR_PASSES * 2.0 * b * _D * _K * members, steps


def _poison(n: int, steps: int) -> float:
    """FLOPs of ``steps`` clean-label ascent steps on n inputs against a linear model."""
    return steps * 6.0 * n * _D * _K


def _reference(cell: Mapping[str, Any], n: int, epochs: int) -> Shared:
    flops, steps = _linear_training(n, epochs, int(cell["batch_size"]), 1)
    return Shared(f"reference seed={cell['seed']} n={n} epochs={epochs}", flops, steps)


def poisoning_loss(cell: Mapping[str, Any]) -> CellCost:
    """Per loss (one training when C = 0): poison n inputs, retrain ``members`` models."""
    n, b, epochs = int(cell["n_train"]), int(cell["batch_size"]), int(cell["epochs"])
    runs = len(cell["losses"]) if float(cell["C"]) > 0 else 1
    training, steps = _linear_training(n, epochs, b, int(cell["members"]))
    poison = _poison(n, int(cell["poison_steps"])) if float(cell["C"]) > 0 else 0.0
    return CellCost(
        flops={"dense": runs * (training + poison)},
        peak_bytes=(MNIST_TRAIN + int(cell["n_test"])) * _D * 4 + 4 * n * _D * itemsize(cell),
        steps=runs * (steps + int(cell["poison_steps"])),
        shared=(_reference(cell, n, epochs),),
    )


def poisoning_sample_size(cell: Mapping[str, Any]) -> CellCost:
    """Poison the first n inputs (C > 0), train ``members`` models for at least ``min_steps``."""
    n, b = int(cell["n"]), int(cell["batch_size"])
    epochs = max(int(cell["epochs"]), math.ceil(int(cell["min_steps"]) / math.ceil(n / b)))
    training, steps = _linear_training(n, epochs, b, int(cell["members"]))
    poisoned = float(cell["C"]) > 0
    return CellCost(
        flops={"dense": training + (_poison(n, int(cell["poison_steps"])) if poisoned else 0.0)},
        peak_bytes=(MNIST_TRAIN + int(cell["n_test"])) * _D * 4 + 4 * n * _D * itemsize(cell),
        steps=steps + (int(cell["poison_steps"]) if poisoned else 0),
        shared=(_reference(cell, int(cell["reference_n"]), int(cell["reference_epochs"])),),
    )


def _fit(
    cell: Mapping[str, Any], family: str, m: int, n_fit: int, n_val: int
) -> tuple[list[tuple[str, float]], int]:
    """((kind, FLOPs) pairs, steps) of one early-stopped training of width m: at most
    ``max_epochs`` epochs of SGD on n_fit, and a forward pass over n_fit + n_val each epoch."""
    b, epochs = int(cell["batch_size"]), int(cell["max_epochs"])
    batches = math.ceil(n_fit / b)
    if family == "conv":
        passes = epochs * (3 * batches * b + n_fit + n_val)
        return list(conv_work(passes, 1, m)), epochs * batches
    d = int(cell["ntk_dim"])
    epoch = batches * sgd_step(b, d, m, outputs=_K)
    epoch += two_layer_forward(n_fit + n_val, d, m, outputs=_K)
    return [(dense_kind(cell), epochs * epoch)], epochs * batches


def _poison_work(cell: Mapping[str, Any], family: str, n: int) -> list[tuple[str, float]]:
    """``poison_steps`` ascent epochs against the width-``poison_width`` poisoner: an input
    gradient and the objective's forward pass over the n inputs per epoch."""
    width, epochs = int(cell["poison_width"]), int(cell["poison_steps"])
    if family == "conv":
        return list(conv_work(3 * epochs * n, 1, width))
    grad = 2.0 * two_layer_forward(n, int(cell["ntk_dim"]), width, outputs=_K)
    return [("dense", 1.5 * epochs * grad)]


def poisoning_width(cell: Mapping[str, Any]) -> CellCost:
    """Each seed of the cell's block: the poisoner (regimes A, B: a width-``poison_width`` net
    and ``poison_steps`` ascent epochs), then every width trained ``TRAININGS_PER_WIDTH`` times
    (at most ``max_epochs`` epochs each); the clean ntk cell also bounds the margin."""
    family, regime = str(cell["family"]), str(cell["regime"])
    seeds = len(cell.get("block_seeds") or [cell["seed"]])
    n = int(cell["n_train"])
    n_val = max(1, round(float(cell["val_fraction"]) * n))
    n_fit = n - n_val
    items: list[tuple[str, float]] = []
    steps = 0
    for m in cell["widths"]:
        pairs, s = _fit(cell, family, int(m), n_fit, n_val)
        items += [(kind, TRAININGS_PER_WIDTH * f) for kind, f in pairs]
        steps += TRAININGS_PER_WIDTH * s
    if regime in ("A", "B"):
        pairs, s = _fit(cell, family, int(cell["poison_width"]), n_fit, n_val)
        items += pairs + _poison_work(cell, family, n)
        batches = math.ceil(n / int(cell["poison_batch_size"]))
        steps += s + int(cell["poison_steps"]) * (
            batches if cell["poison_schedule"] == "sga" else 1
        )
    if family == "ntk" and regime == "clean" and int(cell["margin_samples"]) > 0:
        k, w = int(cell["margin_samples"]), int(cell["margin_width"])
        margin = int(cell["margin_steps"]) * 4.0 * w * k  # float64 (m, n) products per step
        items.append(("dense", margin + 2.0 * w * k * int(cell["ntk_dim"])))
        steps += int(cell["margin_steps"])
    widest = max(int(m) for m in cell["widths"])
    d = 784 if family == "conv" else int(cell["ntk_dim"])
    return CellCost(
        flops=work(*((kind, seeds * f) for kind, f in items)),
        peak_bytes=seeds * (6 * widest * max(d, 320) * 4 + 3 * n * 784 * 4) + MNIST_TRAIN * 784 * 4,
        steps=seeds * steps,
        at_most=True,
    )
