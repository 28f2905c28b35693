"""poisoning-loss: the sweep over C and the cell (poison with each loss, retrain, score)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from robustlab.experiments.base import Cell, CellContext, grid
from robustlab.experiments.linear_training import (
    NUM_CLASSES,
    derived_seeds,
    mnist_draw,
    reference_model,
    train_linear_classifiers,
)
from robustlab.experiments.poisoning_loss.config import MNIST_TRAIN, SIZE_FIVE, Config
from robustlab.geometry import L21
from robustlab.learners.trace import evaluate
from robustlab.models import LinearModel
from robustlab.poisoning import clean_label


def cells(config: Config) -> list[Cell]:
    """One cell per (seed, C); each cell attacks with every loss against the same w*."""
    return grid(config, sweep=("C",))


def run_cell(cell: Cell, ctx: CellContext) -> list[dict[str, Any]]:
    """Poison the training set with each loss at this C, retrain, score on clean test data.

    Rows: record="member" (one per loss and retrained member: clean test accuracy and loss,
    with the attack's spend and per-sample norm statistics) and record="histogram" (one per
    loss and bin of ||delta_i|| on [0, sqrt(d)]).
    """
    n, n_test, seed = int(cell["n_train"]), int(cell["n_test"]), cell.seed
    C = float(cell["C"])
    lr, epochs, batch = float(cell["lr"]), int(cell["epochs"]), int(cell["batch_size"])
    members = int(cell["members"])
    X, y, X_test, y_test = mnist_draw(seed, n_test, ctx.data_dir)
    X, y, X_test, y_test = (t.to(ctx.device) for t in (X[:n], y[:n], X_test, y_test))
    X, X_test = X.to(ctx.dtype), X_test.to(ctx.dtype)
    reference = reference_model(
        seed,
        n,
        n_test,
        lr=lr,
        epochs=epochs,
        batch_size=batch,
        dtype=ctx.dtype,
        device=ctx.device,
        data_dir=ctx.data_dir,
    )
    _, reference_accuracy = evaluate(reference, X_test, y_test, loss="ce")
    member_seed = derived_seeds(seed)[1]
    budget = L21.from_C(C, n)
    d = X.shape[1]
    edges = np.linspace(0.0, math.sqrt(d), int(cell["histogram_bins"]) + 1)
    rows: list[dict[str, Any]] = []
    clean_members: LinearModel | None = None
    for loss in cell["losses"]:
        if C > 0:
            attack = clean_label(
                reference,
                X,
                y,
                budget,
                loss=loss,
                steps=int(cell["poison_steps"]),
                box=(0.0, 1.0) if cell["box"] else None,
            )
            poisoned, norms = attack.x, attack.record.norms
            attack_accuracy, spent = float(attack.accuracy[-1]), attack.record.spent_sum
            model = train_linear_classifiers(
                poisoned,
                y,
                members=members,
                num_classes=NUM_CLASSES,
                lr=lr,
                epochs=epochs,
                batch_size=batch,
                seed=member_seed,
            )
        else:  # no budget: every loss leaves the data clean, so train once
            poisoned, norms = X, torch.zeros(n, dtype=torch.float64)
            _, clean_accuracy = evaluate(reference, X, y, loss="ce")
            attack_accuracy, spent = float(clean_accuracy[0]), 0.0
            if clean_members is None:
                clean_members = train_linear_classifiers(
                    X,
                    y,
                    members=members,
                    num_classes=NUM_CLASSES,
                    lr=lr,
                    epochs=epochs,
                    batch_size=batch,
                    seed=member_seed,
                )
            model = clean_members
        test_loss, test_accuracy = evaluate(model, X_test, y_test, loss="ce")
        train_loss, train_accuracy = evaluate(model, poisoned, y, loss="ce")
        norms_np = norms.detach().cpu().numpy()
        summary = {
            "budget_S": budget.S,
            "per_sample_budget": budget.S / n,
            "spent": spent,
            "frac_untouched": float(np.mean(norms_np < float(cell["untouched_norm"]))),
            "frac_above_five": float(np.mean(norms_np > SIZE_FIVE)),
            "max_norm": float(norms_np.max()),
            "median_norm": float(np.median(norms_np)),
            "attack_train_accuracy": attack_accuracy,
            "reference_test_accuracy": float(reference_accuracy[0]),
        }
        for member in range(members):
            rows.append(
                {
                    "record": "member",
                    "loss": loss,
                    "member": member,
                    "test_accuracy": float(test_accuracy[member]),
                    "test_loss": float(test_loss[member]),
                    "train_accuracy": float(train_accuracy[member]),
                    "train_loss": float(train_loss[member]),
                    **summary,
                }
            )
        counts, _ = np.histogram(np.clip(norms_np, 0.0, edges[-1]), bins=edges)
        for index, count in enumerate(counts):
            rows.append(
                {
                    "record": "histogram",
                    "loss": loss,
                    "bin": index,
                    "bin_low": float(edges[index]),
                    "bin_high": float(edges[index + 1]),
                    "count": int(count),
                }
            )
    return rows


def estimate_memory(config: Config) -> int:
    """Peak bytes of one cell: about twelve (n, 784) float32 arrays during the attack."""
    return 12 * config.n_train * 784 * 4 + 4 * MNIST_TRAIN * 784 * 4
