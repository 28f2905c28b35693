"""poisoning-sample-size: the sweep and one cell (poison, retrain, score on clean data)."""

from __future__ import annotations

import math
from typing import Any

import torch

from robustlab.experiments.base import Cell, CellContext, grid
from robustlab.experiments.linear_training import (
    NUM_CLASSES,
    derived_seeds,
    mnist_draw,
    reference_model,
    train_linear_classifiers,
)
from robustlab.experiments.poisoning_sample_size.config import MNIST_TRAIN, Config
from robustlab.geometry import L21
from robustlab.learners.trace import evaluate
from robustlab.poisoning import clean_label
from robustlab.theory import poisoning as theory_poisoning

SOFTMAX_LIPSCHITZ = math.sqrt(2.0)
"""||p - e_y|| <= sqrt 2: the cross-entropy is sqrt(2)-Lipschitz in the logits (Prop. 2.1's L)."""
SOFTMAX_SMOOTHNESS = 0.5
"""The softmax Jacobian diag(p) - p p^T has spectral norm <= 1/2 (Prop. 2.1's alpha)."""


def cells(config: Config) -> list[Cell]:
    """One cell per (seed, n, C)."""
    return grid(config, sweep=("n", "C"))


def run_cell(cell: Cell, ctx: CellContext) -> list[dict[str, Any]]:
    """Poison the first n samples against w* with S = C sqrt(n), train w_n, score on clean data.

    One row per member of w_n: clean test loss F(w_n) and error L(w_n), the excess over w*,
    the attack's spend and the quantities of Theorem 2.2 (D, R, max ||delta_i||, the bound).
    """
    n, C, seed = int(cell["n"]), float(cell["C"]), cell.seed
    n_test, batch = int(cell["n_test"]), int(cell["batch_size"])
    X_all, y_all, X_test, y_test = mnist_draw(seed, n_test, ctx.data_dir)
    X = X_all[:n].to(ctx.device, ctx.dtype)
    y = y_all[:n].to(ctx.device)
    X_test, y_test = X_test.to(ctx.device, ctx.dtype), y_test.to(ctx.device)
    reference = reference_model(
        seed,
        int(cell["reference_n"]),
        n_test,
        lr=float(cell["lr"]),
        epochs=int(cell["reference_epochs"]),
        batch_size=batch,
        dtype=ctx.dtype,
        device=ctx.device,
        data_dir=ctx.data_dir,
    )
    reference_loss, reference_accuracy = evaluate(reference, X_test, y_test, loss="ce")
    budget = L21.from_C(C, n)
    if C > 0:
        attack = clean_label(
            reference,
            X,
            y,
            budget,
            loss=cell["loss"],
            steps=int(cell["poison_steps"]),
            box=(0.0, 1.0) if cell["box"] else None,
        )
        poisoned, spent, max_norm = attack.x, attack.record.spent_sum, attack.record.spent_max
    else:
        poisoned, spent, max_norm = X, 0.0, 0.0
    steps_per_epoch = math.ceil(n / batch)
    epochs = max(int(cell["epochs"]), math.ceil(int(cell["min_steps"]) / steps_per_epoch))
    model = train_linear_classifiers(
        poisoned,
        y,
        members=int(cell["members"]),
        num_classes=NUM_CLASSES,
        lr=float(cell["lr"]),
        epochs=epochs,
        batch_size=batch,
        seed=derived_seeds(seed)[1],
    )
    test_loss, test_accuracy = evaluate(model, X_test, y_test, loss="ce")
    train_loss, _ = evaluate(model, poisoned, y, loss="ce")
    # Theorem 2.2 with Proposition 2.1 for one pass (T = n) over the poisoned samples; the
    # parameter set is the ball holding w* and every w_n, the inputs carry the bias feature 1.
    D = float(torch.cat([reference.parameter_norm(), model.parameter_norm()]).max())
    R = math.sqrt(float(X.pow(2).sum(dim=1).max()) + 1.0)
    bound = theory_poisoning.linear_regime_a_bound(
        n,
        C,
        D=D,
        G=SOFTMAX_LIPSCHITZ * R,
        R=R,
        max_perturbation=max_norm,
        lipschitz=SOFTMAX_LIPSCHITZ,
        smoothness=SOFTMAX_SMOOTHNESS,
    )
    F_star, L_star = float(reference_loss[0]), 1.0 - float(reference_accuracy[0])
    rows = []
    for member in range(int(cell["members"])):
        F_n, L_n = float(test_loss[member]), 1.0 - float(test_accuracy[member])
        rows.append(
            {
                "member": member,
                "test_loss": F_n,
                "test_error": L_n,
                "excess_loss": F_n - F_star,
                "excess_error": L_n - L_star,
                "train_loss": float(train_loss[member]),
                "reference_loss": F_star,
                "reference_error": L_star,
                "per_sample_budget": C / math.sqrt(n),
                "budget_S": budget.S,
                "spent": spent,
                "max_norm": max_norm,
                "sgd_epochs": epochs,
                "D": D,
                "R": R,
                "bound": bound.total,
                "bound_statistical": bound.statistical,
                "bound_poisoning": bound.poisoning,
            }
        )
    return rows


def estimate_memory(config: Config) -> int:
    """Peak bytes of one cell: MNIST in memory plus about twelve (n, 784) arrays in the attack."""
    return 12 * max(config.n) * 784 * 4 + 4 * MNIST_TRAIN * 784 * 4
