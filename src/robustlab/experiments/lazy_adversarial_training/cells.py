"""lazy-adversarial-training's cells: projected PGD adversarial training (Algorithm 1) with
the paper's stopping rule, then PGD robust test accuracy at every budget."""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from robustlab.attacks import AttackResult, pgd, robust_accuracy
from robustlab.data import mnist_binary, random_subset
from robustlab.experiments.base import Cell, CellContext
from robustlab.experiments.lazy_adversarial_training.config import (
    _COMMON,
    CHUNK_ELEMENTS,
    Config,
)
from robustlab.learners import adversarial_training, from_attack
from robustlab.models import TwoLayerNet
from robustlab.theory.lazy import lazy_radius


def cells(config: Config) -> list[Cell]:
    """Left panel: one cell per (d, R), trained at R; right: one per (m, V), at right_budget.

    Each cell carries its panel, d, m, V, training budget, test budgets and the shared settings.
    """
    common = {name: getattr(config, name) for name in _COMMON}
    left_eval = sorted(config.budgets)
    right_eval = sorted({*config.budgets, config.right_budget})
    result: list[Cell] = []
    for seed in config.seeds:
        if "left" in config.panels:
            radius = lazy_radius(config.left_width, C0=config.C0)
            for d in config.left_dims:
                for budget in config.budgets:
                    result.append(
                        Cell(
                            {
                                "panel": "left",
                                "dim": d,
                                "width": config.left_width,
                                "lazy_radius": radius,
                                "train_budget": budget,
                                "eval_budgets": left_eval,
                                **common,
                                "seed": seed,
                            }
                        )
                    )
        if "right" in config.panels:
            for m in config.right_widths:
                for radius in config.right_radii:
                    result.append(
                        Cell(
                            {
                                "panel": "right",
                                "dim": config.right_dim,
                                "width": m,
                                "lazy_radius": radius,
                                "train_budget": config.right_budget,
                                "eval_budgets": right_eval,
                                **common,
                                "seed": seed,
                            }
                        )
                    )
    return result


@functools.lru_cache(maxsize=8)
def _mnist(split: str, d: int, data_dir: str | None) -> tuple[Tensor, Tensor]:
    """Unit-norm MNIST 1 (+1) vs 0 (-1) downsampled to d, cached per process."""
    ds = mnist_binary(
        "train" if split == "train" else "test",
        d=d,
        unit_norm=True,
        data_dir=None if data_dir is None else Path(data_dir),
    )
    return ds.x, ds.y


def _chunk(n_members: int, width: int, dim: int, copies: int = 1) -> int:
    """Samples per attacked block for E members, width m, dimension d and `copies` budgets."""
    return max(1, CHUNK_ELEMENTS // max(1, n_members * copies * (width + dim)))


class _RecordingAttack:
    """PGD on the whole training set in chunks (paper 002 Algorithm 1, lines 3-6).

    Called once per epoch by `adversarial_training`; records each member's robust training
    accuracy (the fraction of points PGD does not flip), which drives the stopping rule.
    """

    def __init__(self, *, budget: float, steps: int, chunk: int) -> None:
        self.attack = functools.partial(
            pgd,
            eps=budget,
            norm="l2",
            steps=steps,
            step_size=2.5 * budget / steps,
            loss="ce",
            random_start=False,
        )
        self.chunk = chunk
        self.history: list[Tensor] = []

    def __call__(self, model: nn.Module, x: Tensor, y: Tensor) -> AttackResult:
        parts = [
            self.attack(model, xb, yb)
            for xb, yb in zip(torch.split(x, self.chunk), torch.split(y, self.chunk), strict=True)
        ]
        result = AttackResult(
            x_adv=torch.cat([p.x_adv for p in parts], dim=2),
            norms=torch.cat([p.norms for p in parts], dim=2),
            success=torch.cat([p.success for p in parts], dim=2),
            eps=torch.cat([p.eps for p in parts], dim=2),
            loss=torch.cat([p.loss for p in parts], dim=2),
            margin=torch.cat([p.margin for p in parts], dim=2),
            norm=parts[0].norm,
        )
        self.history.append(result.robust_accuracy[0].detach().cpu())
        return result


def _train(
    net: TwoLayerNet,
    X: Tensor,
    y: Tensor,
    cell: Cell,
    generator: torch.Generator,
) -> tuple[int, Tensor]:
    """Projected adversarial training with the paper's stopping rule; returns (epochs, acc).

    One epoch per `adversarial_training` call (attack_every="epoch", lazy_radius=V). Epoch t
    first attacks the training set at W_t, which measures the robust training accuracy of W_t;
    once its mean over the runs has not exceeded its best for `patience` epochs, training stops
    at W_t (paper 002 appendix: "we stop when the robust training accuracy is not increasing"),
    else at W_{max_epochs}. Returns the epochs W received and each run's last measured robust
    training accuracy (of W_t, or of W_{max_epochs - 1} when the cap ends training).
    """
    budget = float(cell["train_budget"])
    batch_size = int(cell["batch_size"])
    recorder = _RecordingAttack(
        budget=budget,
        steps=int(cell["train_steps"]),
        chunk=_chunk(net.ensemble, net.width, net.dim),
    )
    attack = from_attack(recorder)
    best_score, best_epoch = -math.inf, 0
    max_epochs = int(cell["max_epochs"])
    for epoch in range(max_epochs):
        before = net.W.detach().clone()
        adversarial_training(
            net,
            X,
            y,
            attack=attack,
            lr=float(cell["lr"]) * batch_size,  # Algorithm 1 steps on the summed minibatch loss
            epochs=1,
            batch_size=batch_size,
            lazy_radius=float(cell["lazy_radius"]),
            attack_every="epoch",
            loss="logistic",
            generator=generator,
            inplace=True,
        )
        score = float(recorder.history[-1].mean())
        if score > best_score:
            best_score, best_epoch = score, epoch
        elif epoch - best_epoch >= int(cell["patience"]):
            with torch.no_grad():
                net.W.copy_(before)
            return epoch, recorder.history[-1]
    return max_epochs, recorder.history[-1]


def run_cell(cell: Cell, ctx: CellContext) -> list[dict[str, Any]]:
    """Train n_runs networks at (d, m, V, R), then PGD robust test accuracy at every budget."""
    d, m = int(cell["dim"]), int(cell["width"])
    generator = ctx.generator(cell.seed)
    data_dir = None if ctx.data_dir is None else str(ctx.data_dir)
    X, y = random_subset(*_mnist("train", d, data_dir), cell["n_train"], generator)
    X_test, y_test = random_subset(*_mnist("test", d, data_dir), cell["n_test"], generator)
    X, y = X.to(ctx.device, ctx.dtype), y.to(ctx.device, ctx.dtype)
    X_test, y_test = X_test.to(ctx.device, ctx.dtype), y_test.to(ctx.device, ctx.dtype)
    net = TwoLayerNet.ntk(int(cell["n_runs"]), m, d, generator=generator, dtype=ctx.dtype)
    net = net.to(ctx.device)

    epochs, train_accuracy = _train(net, X, y, cell, generator)

    budgets = [float(b) for b in cell["eval_budgets"]]
    attack = functools.partial(
        pgd,
        norm="l2",
        steps=int(cell["eval_steps"]),
        loss="ce",
        restarts=int(cell["eval_restarts"]),
        early_stop=True,
        generator=ctx.generator(cell.seed + 1),
    )
    curve = robust_accuracy(
        attack,
        net,
        X_test,
        y_test,
        budgets,
        batch_size=_chunk(net.ensemble, m, d, copies=len(budgets)),
    )
    distance = net.distance_from_init().cpu()
    rows = []
    train_budget = float(cell["train_budget"])
    for run in range(net.ensemble):
        for index, budget in enumerate(budgets):
            rows.append(
                {
                    "run": run,
                    "eval_budget": budget,
                    "robust_accuracy": float(curve.accuracy[index, run]),
                    "clean_accuracy": float(curve.clean_accuracy[run]),
                    "matched": math.isclose(budget, train_budget),
                    "epochs": epochs,
                    "robust_train_accuracy": float(train_accuracy[run]),
                    "distance_from_init": float(distance[run]),
                }
            )
    return rows


def estimate_memory(config: Config) -> int:
    """Peak bytes of one cell: data, weights, and a few attacked blocks of CHUNK_ELEMENTS."""
    widths = [config.left_width, *config.right_widths]
    m, d = max(widths), max([*config.left_dims, config.right_dim])
    data = 12665 * 784 * 4 * 4
    weights = 4 * config.n_runs * m * d * 4
    return data + weights + 6 * CHUNK_ELEMENTS * 4
