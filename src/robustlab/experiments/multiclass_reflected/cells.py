"""multiclass-reflected: the sweep, the training cells and the section 4.3 counterexample."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import Tensor

from robustlab.attacks import pgd
from robustlab.data import load_mnist, random_subset
from robustlab.experiments.base import Cell, CellContext, grid
from robustlab.experiments.multiclass_reflected.config import (
    COUNTEREXAMPLE_DELTA,
    COUNTEREXAMPLE_RADIUS,
    COUNTEREXAMPLE_W,
    COUNTEREXAMPLE_X,
    Config,
)
from robustlab.learners import from_attack
from robustlab.learners.sgd import train_loop
from robustlab.models import LinearModel, TwoLayerNet

METHOD_LOSS = {"PGD": "ce", "R-PGD": "reflected"}
#: Test points attacked at once.
TEST_CHUNK = 2048


def cells(config: Config) -> list[Cell]:
    """One training cell per (seed, data set, nu, steps, method), plus the counterexample."""
    training = [
        Cell({**cell.to_dict(), "part": "training"})
        for cell in grid(config, sweep=("dataset", "nu_255", "steps", "method"))
    ]
    if not config.counterexample:
        return training
    extra = Cell(
        {
            "part": "counterexample",
            "radius": COUNTEREXAMPLE_RADIUS,
            "dtype": "float64",
            "seed": config.seeds[0],
        }
    )
    return [*training, extra]


def run_cell(cell: Cell, ctx: CellContext) -> list[dict[str, Any]]:
    """A training cell (RA and SA per member) or the counterexample cell."""
    if cell["part"] == "counterexample":
        return counterexample(float(cell["radius"]))
    return _train_and_test(cell, ctx)


# --------------------------------------------------------------------------- training cells
def initial_net(
    members: int,
    width: int,
    dim: int,
    classes: int,
    *,
    generator: torch.Generator,
    dtype: torch.dtype = torch.float32,
) -> TwoLayerNet:
    """E nets f(x) = A relu(W x + b) (A: (K, m)), both layers trained, nn.Linear init."""

    def uniform(shape: tuple[int, ...], fan_in: int) -> Tensor:
        return (torch.rand(shape, generator=generator, dtype=dtype) * 2 - 1) / math.sqrt(fan_in)

    return TwoLayerNet(
        uniform((members, width, dim), dim),
        uniform((members, classes, width), width),
        uniform((members, width), dim),
        activation="relu",
        train_top=True,
        scheme="pytorch",
    )


def triangular(epochs: int) -> Callable[[int], float]:
    """Learning-rate factor of epoch e: 0 -> 1 -> 0 linearly, taken at each epoch's middle."""

    def factor(epoch: int) -> float:
        t = (epoch + 0.5) / epochs
        return 1.0 - abs(2.0 * t - 1.0)

    return factor


def _train_and_test(cell: Cell, ctx: CellContext) -> list[dict[str, Any]]:
    generator = ctx.generator(cell.seed)
    data_generator = ctx.generator(cell.seed + 1_000_003)
    order_generator = ctx.generator(cell.seed + 2_000_003)
    attack_generator = ctx.generator(cell.seed + 3_000_003)
    test_generator = ctx.generator(cell.seed + 4_000_003)
    kind = str(cell["dataset"])
    train = load_mnist("train", kind=kind, data_dir=ctx.data_dir)  # type: ignore[arg-type]
    test = load_mnist("test", kind=kind, data_dir=ctx.data_dir)  # type: ignore[arg-type]
    n_train = None if cell["n_train"] is None else int(cell["n_train"])
    n_test = None if cell["n_test"] is None else int(cell["n_test"])
    x_train, y_train = random_subset(train.x, train.y, n_train, data_generator)
    x_test, y_test = random_subset(test.x, test.y, n_test, data_generator)
    x_train, x_test = x_train.to(ctx.device, ctx.dtype), x_test.to(ctx.device, ctx.dtype)
    y_train, y_test = y_train.to(ctx.device), y_test.to(ctx.device)

    net = initial_net(
        int(cell["members"]),
        int(cell["width"]),
        x_train.shape[1],
        10,
        generator=generator,
        dtype=ctx.dtype,
    ).to(ctx.device)
    nu = float(cell["nu_255"]) / 255
    train_attack = partial(
        pgd,
        eps=nu,
        norm="linf",
        steps=int(cell["steps"]),
        step_ratio=float(cell["step_ratio"]),
        loss=METHOD_LOSS[str(cell["method"])],
        box=(0.0, 1.0),
        generator=attack_generator,
    )
    epochs = int(cell["epochs"])
    model, trace = train_loop(
        net,
        x_train,
        y_train,
        loss="ce",
        lr=float(cell["lr_max"]),
        batch_size=int(cell["batch_size"]),
        epochs=epochs,
        max_steps=None,
        lazy_radius=None,
        lazy_mode="stop",
        weight_decay=float(cell["weight_decay"]),
        generator=order_generator,
        shared_order=True,
        record_every=None,
        eval_data=None,
        record_iterates=False,
        inplace=True,
        lr_factor=triangular(epochs),
        perturb=from_attack(train_attack),
        perturb_every="batch",
    )
    test_nu = float(cell["test_nu_255"]) / 255
    test_attack = partial(
        pgd,
        eps=test_nu,
        norm="linf",
        steps=int(cell["test_steps"]),
        step_ratio=float(cell["step_ratio"]),
        loss="ce",
        restarts=int(cell["test_restarts"]),
        box=(0.0, 1.0),
        early_stop=True,
        generator=test_generator,
    )
    fooled = torch.zeros(model.ensemble, dtype=torch.float64)
    correct = torch.zeros(model.ensemble, dtype=torch.float64)
    largest = torch.zeros(model.ensemble, dtype=torch.float64)
    for start in range(0, x_test.shape[0], TEST_CHUNK):
        xb, yb = x_test[start : start + TEST_CHUNK], y_test[start : start + TEST_CHUNK]
        with torch.no_grad():
            correct += (model(xb).argmax(dim=-1) == yb).sum(dim=-1).to(torch.float64).cpu()
        result = test_attack(model, xb, yb)
        fooled += result.success[0].sum(dim=-1).to(torch.float64).cpu()
        largest = torch.maximum(largest, result.norms[0].amax(dim=-1).to(torch.float64).cpu())
    n = x_test.shape[0]
    return [
        {
            "member": e,
            "robust_accuracy": 1.0 - float(fooled[e]) / n,
            "standard_accuracy": float(correct[e]) / n,
            "train_accuracy": float(trace.accuracy[-1, e]),
            "train_attacked_loss": float(trace.batch_loss[-1, e]),
            "max_test_norm": float(largest[e]),
        }
        for e in range(model.ensemble)
    ]


# --------------------------------------------------------------------------- counterexample
def counterexample(radius: float = COUNTEREXAMPLE_RADIUS) -> list[dict[str, Any]]:
    """Paper 004 section 4.3: greedy R-PGD vs R-PGD targeted at class 3 on f(x) = W x.

    Rows: the exact best margins against each wrong class over ||delta|| <= radius (closed
    form (w_j - w_y) . x + radius ||w_j - w_y||), the paper's example delta, and three attacks of
    the library (200 l2 steps from x): greedy R-PGD, plain PGD on cross entropy, and R-PGD on the
    two-class model (f_1, f_3), i.e. targeted at class 3. Classes are 0-based in the rows.
    """
    dtype = torch.float64
    W = torch.tensor(COUNTEREXAMPLE_W, dtype=dtype)
    x = torch.tensor([COUNTEREXAMPLE_X], dtype=dtype)
    y = torch.tensor([0])
    rows: list[dict[str, Any]] = []

    def logits_of(point: Tensor) -> list[float]:
        return [float(v) for v in (W @ point.reshape(-1)).tolist()]

    def row(method: str, point: Tensor, success: bool | None = None) -> dict[str, Any]:
        logits = logits_of(point)
        predicted = int(np.argmax(logits))
        wrong = max(logits[1:])
        return {
            "attack": method,
            "delta_norm": float((point.reshape(-1) - x.reshape(-1)).norm()),
            "logit_0": logits[0],
            "logit_1": logits[1],
            "logit_2": logits[2],
            "predicted_class": predicted,
            "margin": logits[0] - wrong,
            "flipped": predicted != 0 if success is None else bool(success),
        }

    for j in (1, 2):
        gap = W[j] - W[0]
        best = float(gap @ x.reshape(-1)) + radius * float(gap.norm())
        rows.append(
            {
                "attack": f"exact max f_{j} - f_0",
                "delta_norm": radius,
                "margin": -best,
                "predicted_class": j if best > 0 else 0,
                "flipped": best > 0,
            }
        )
    rows.append(row("paper example delta", x + torch.tensor([COUNTEREXAMPLE_DELTA], dtype=dtype)))
    model = LinearModel(W.unsqueeze(0))
    settings = {"eps": radius, "norm": "l2", "steps": 200, "step_size": radius / 20}
    for method, loss in (("greedy R-PGD", "reflected"), ("PGD (cross entropy)", "ce")):
        result = pgd(model, x, y, loss=loss, random_start=False, **settings)  # type: ignore[arg-type]
        rows.append(row(method, result.x_adv[0, 0], bool(result.success[0, 0, 0])))
    pair = LinearModel(W[[0, 2]].unsqueeze(0))
    targeted = pgd(pair, x, y, loss="reflected", random_start=False, **settings)  # type: ignore[arg-type]
    rows.append(row("R-PGD targeted at class 3", targeted.x_adv[0, 0]))
    return rows
