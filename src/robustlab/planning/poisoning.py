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
"""Final trainings of each width and regime in poisoning-width (the lr search is counted apart)."""


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
    cell: Mapping[str, Any], family: str, m: int, n_fit: int, n_val: int, epochs: int | None = None
) -> tuple[list[tuple[str, float]], int]:
    """((kind, FLOPs) pairs, steps) of one early-stopped training of width m: at most
    ``epochs`` (default ``max_epochs``) epochs of SGD on n_fit, and a forward pass over
    n_fit + n_val each epoch."""
    b = int(cell["batch_size"])
    epochs = int(cell["max_epochs"]) if epochs is None else epochs
    batches = math.ceil(n_fit / b)
    if family == "conv":
        passes = epochs * (3 * batches * b + n_fit + n_val)
        return list(conv_work(passes, 1, m)), epochs * batches
    d = int(cell["ntk_dim"])
    epoch = batches * sgd_step(b, d, m, outputs=_K)
    epoch += two_layer_forward(n_fit + n_val, d, m, outputs=_K)
    return [(dense_kind(cell), epochs * epoch)], epochs * batches


def _search(
    cell: Mapping[str, Any], family: str, m: int, n: int, n_fit: int, n_val: int
) -> tuple[list[tuple[str, float]], int]:
    """The learning-rate search of width m (`lr_selection`): 'fixed' nothing; 'holdout' one
    training per grid rate on the validation split; 'cv5' five per rate on four fifths of n,
    each at most ``lr_search_epochs`` (0: ``max_epochs``) epochs."""
    how = str(cell.get("lr_selection", "fixed"))
    if how == "fixed":
        return [], 0
    rates = len(cell["lr_grid_conv" if family == "conv" else "lr_grid_ntk"])
    epochs = int(cell.get("lr_search_epochs", 0)) or int(cell["max_epochs"])
    if how == "holdout":
        folds, fit, val = 1, n_fit, n_val
    else:
        folds, fit, val = 5, n - n // 5, n // 5
    pairs, steps = _fit(cell, family, m, fit, val, epochs)
    return [(kind, rates * folds * f) for kind, f in pairs], rates * folds * steps


def _poison_work(cell: Mapping[str, Any], family: str, n: int) -> list[tuple[str, float]]:
    """``poison_steps`` ascent epochs against the width-``poison_width`` poisoner: an input
    gradient and the objective's forward pass over the n inputs per epoch."""
    width, epochs = int(cell["poison_width"]), int(cell["poison_steps"])
    if family == "conv":
        return list(conv_work(3 * epochs * n, 1, width))
    grad = 2.0 * two_layer_forward(n, int(cell["ntk_dim"]), width, outputs=_K)
    return [("dense", 1.5 * epochs * grad)]


def poisoning_width(cell: Mapping[str, Any]) -> CellCost:
    """Each seed of the cell's block: the learning-rate search of every width (and of the
    poisoner's width when a regime is A or B), the poisoner (one width-``poison_width`` net
    shared by A and B), one ``poison_steps``-epoch ascent per regime A or B, then every width
    trained once per regime (at most ``max_epochs`` epochs each); a cell with the clean regime
    and the ntk family also bounds the margin."""
    family = str(cell["family"])
    regimes = [str(r) for r in cell.get("regimes") or [cell.get("regime", "clean")]]
    seeds = len(cell.get("block_seeds") or [cell["seed"]])
    n = int(cell["n_train"])
    n_val = max(1, round(float(cell["val_fraction"]) * n))
    n_fit = n - n_val
    poisoned = [r for r in regimes if r in ("A", "B")]
    widths = sorted(
        {int(m) for m in cell["widths"]} | ({int(cell["poison_width"])} if poisoned else set())
    )
    items: list[tuple[str, float]] = []
    steps = 0
    for m in widths:
        pairs, s = _search(cell, family, m, n, n_fit, n_val)
        items += pairs
        steps += s
    for m in cell["widths"]:
        pairs, s = _fit(cell, family, int(m), n_fit, n_val)
        items += [(kind, TRAININGS_PER_WIDTH * len(regimes) * f) for kind, f in pairs]
        steps += TRAININGS_PER_WIDTH * len(regimes) * s
    if poisoned:
        pairs, s = _fit(cell, family, int(cell["poison_width"]), n_fit, n_val)
        items += pairs
        steps += s
        batches = math.ceil(n / int(cell["poison_batch_size"]))
        for _ in poisoned:
            items += _poison_work(cell, family, n)
            steps += int(cell["poison_steps"]) * (
                batches if cell["poison_schedule"] == "sga" else 1
            )
    if family == "ntk" and "clean" in regimes and int(cell["margin_samples"]) > 0:
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
