"""poisoning-width: the cells (seed block, family) and run_cell: rates, poisons, widths."""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from robustlab.data import downsample, load_mnist, unit_norm
from robustlab.experiments.base import (
    Cell,
    CellContext,
    grid,
)
from robustlab.experiments.poisoning_width.config import NUM_CLASSES, Config
from robustlab.experiments.poisoning_width.training import _accuracy, _Split, _Training
from robustlab.geometry import L21, DataBudget, L2Inf
from robustlab.poisoning import clean_label, label_flip
from robustlab.poisoning.clean_label import CleanLabelResult
from robustlab.theory.margin import finite_width_margin

logger = logging.getLogger("robustlab.experiments.poisoning_width")


def cells(config: Config) -> list[Cell]:
    """One cell per (seed block, family): it picks the learning rates on the clean data, then
    poisons once per regime and trains every width (regimes of a seed share the rates, the
    data split and the poisoner).

    A block is one seed (`block_seeds` = [seed]) except for the conv family with
    `seed_block` > 1, whose consecutive seeds train together as one `PaperConvEnsemble`.
    """
    out = []
    block = config.seed_block
    heads = {
        config.seeds[i]: config.seeds[i : i + block] for i in range(0, len(config.seeds), block)
    }
    for cell in grid(config, sweep=("family",), exclude=("seed_block", "regime")):
        params = {**cell.to_dict(), "regimes": list(config.regime)}
        if cell["family"] != "conv" or block == 1:
            out.append(Cell({**params, "block_seeds": [cell.seed]}))
        elif cell.seed in heads:
            out.append(Cell({**params, "block_seeds": heads[cell.seed]}))
    return out


# --------------------------------------------------------------------------------- run_cell
@dataclass
class _Member:
    """One seed of a cell: its data split, (poisoned) training data and what the poison did."""

    seed: int
    X: Tensor
    y: Tensor
    pixel_box: Tensor
    fit_idx: Tensor
    val_idx: Tensor
    X_test: Tensor
    y_test: Tensor
    seeds: dict[str, int]
    info: dict[str, Any]

    def split(self, X: Tensor | None = None, y: Tensor | None = None) -> _Split:
        X = self.X if X is None else X
        y = self.y if y is None else y
        return _Split(X[self.fit_idx], y[self.fit_idx], X[self.val_idx], y[self.val_idx])


def run_cell(cell: Cell, ctx: CellContext) -> list[dict[str, Any]]:
    """Per seed: learning rates on the clean data, then per regime one poison and every width.

    The data subsample, validation split, poisoner and per-width initializations of a seed are
    drawn from seeds derived in a fixed order from it, so the regimes of one seed share them
    (paired comparisons) and a seed gives the same rows alone or in a block. Rows: run_seed,
    regime, width, the learning rate used (and its search score), clean test / poisoned
    validation / poisoned training accuracy at the early-stopped epoch, epochs, seconds (a
    block's time is shared equally), and what the poison spent.
    """
    family = str(cell["family"])
    regimes = [str(r) for r in cell["regimes"]]
    block = [int(s) for s in cell["block_seeds"]]
    clean = [_member(cell, seed, ctx, margin="clean" in regimes) for seed in block]
    training = _Training.from_cell(cell, family)
    poison_width = int(cell["poison_width"])
    start = time.perf_counter()
    need = [int(m) for m in cell["widths"]]
    if "A" in regimes or "B" in regimes:
        need.append(poison_width)
    rates = {m: _select_lr(cell, training, family, m, clean) for m in sorted(set(need))}
    search_seconds = (time.perf_counter() - start) / len(clean)
    poisoners: list[nn.Module] = []
    if "A" in regimes or "B" in regimes:
        fits = training.fit_all(
            family,
            poison_width,
            [m.split() for m in clean],
            [torch.Generator().manual_seed(m.seeds["poisoner"]) for m in clean],
            [lr for lr, _ in rates[poison_width]],
        )
        poisoners = [f.model for f in fits]
    rows = []
    for regime in regimes:
        start = time.perf_counter()
        members = [dataclasses.replace(m, info=dict(m.info)) for m in clean]
        if regime in ("A", "B"):
            for member, poisoner in zip(members, poisoners, strict=True):
                _poison_member(cell, member, poisoner, regime)
        elif regime == "C":
            for member in members:
                flips = label_flip(
                    member.y,
                    float(cell["beta"]),
                    num_classes=NUM_CLASSES,
                    generator=torch.Generator().manual_seed(member.seeds["flip"]),
                )
                member.y = flips.y
                member.info["flip_rate"] = flips.rate
        if regime != "clean":
            for member in members:
                member.info |= {"margin_lower": math.nan, "margin_upper": math.nan}
        poison_seconds = (time.perf_counter() - start) / len(members)
        rows += _train_widths(cell, training, family, regime, members, rates)
        for row in rows[-len(members) * len(cell["widths"]) :]:
            row |= {"poison_seconds": poison_seconds, "lr_search_seconds": search_seconds}
    return rows


def _train_widths(
    cell: Cell,
    training: _Training,
    family: str,
    regime: str,
    members: list[_Member],
    rates: dict[int, list[tuple[float, float]]],
) -> list[dict[str, Any]]:
    """Train every width on the members' (poisoned) data: one row per (width, member)."""
    rows = []
    for m in cell["widths"]:
        start = time.perf_counter()
        generators = [torch.Generator().manual_seed(x.seeds["models"] + int(m)) for x in members]
        lrs = [lr for lr, _ in rates[int(m)]]
        fits = training.fit_all(family, int(m), [x.split() for x in members], generators, lrs)
        seconds = (time.perf_counter() - start) / len(members)
        for k, (member, fitted) in enumerate(zip(members, fits, strict=True)):
            rows.append(
                {
                    "run_seed": member.seed,
                    "regime": regime,
                    "width": int(m),
                    "lr": lrs[k],
                    "lr_search_accuracy": rates[int(m)][k][1],
                    "test_accuracy": _accuracy(fitted.model, member.X_test, member.y_test),
                    "val_accuracy": fitted.val_accuracy,
                    "train_accuracy": fitted.train_accuracy,
                    "best_epoch": fitted.best_epoch,
                    "epochs_run": fitted.epochs_run,
                    "n_fit": int(member.fit_idx.numel()),
                    "n_val": int(member.val_idx.numel()),
                    "seconds": seconds,
                    **member.info,
                }
            )
            logger.info(
                "%s regime %s seed %d m=%d lr %g: test accuracy %.4f (%d epochs, %.1f s)",
                family,
                regime,
                member.seed,
                m,
                lrs[k],
                rows[-1]["test_accuracy"],
                fitted.epochs_run,
                seconds,
            )
    return rows


def _select_lr(
    cell: Cell, training: _Training, family: str, width: int, members: list[_Member]
) -> list[tuple[float, float]]:
    """Per member: the learning rate for `width` and its search score (mean validation
    accuracy over the folds; nan for 'fixed'), on the member's clean training data only.

    'cv5': five equal folds of a seeded permutation of the n training images (the remainder
    always trains); each grid rate trains on four folds, early-stopped on the fifth, and the
    rate with the best mean fold accuracy wins (ties: the smaller rate). 'holdout': the same
    on the validation split. Every rate starts from the same initialization per fold.
    """
    how = str(cell["lr_selection"])
    if how == "fixed":
        return [(training.lr, math.nan)] * len(members)
    grid_ = [float(x) for x in cell["lr_grid_conv" if family == "conv" else "lr_grid_ntk"]]
    cap = int(cell["lr_search_epochs"]) or training.max_epochs
    search = _Training(training.lr, training.batch_size, cap, training.patience)
    folds: list[list[_Split]] = []  # per member, per fold
    for member in members:
        if how == "holdout":
            folds.append([member.split()])
            continue
        n = member.X.shape[0]
        size = n // 5
        order = torch.randperm(n, generator=torch.Generator().manual_seed(member.seeds["cv"]))
        order = order.to(member.X.device)
        splits = []
        for k in range(5):
            val = order[k * size : (k + 1) * size]
            fit = torch.cat([order[: k * size], order[(k + 1) * size :]])
            splits.append(_Split(member.X[fit], member.y[fit], member.X[val], member.y[val]))
        folds.append(splits)
    flat = [s for splits in folds for s in splits]
    per = len(folds[0])
    scores = np.zeros((len(members), len(grid_)))
    for j, lr in enumerate(grid_):
        generators = [
            torch.Generator().manual_seed(members[i // per].seeds["cv"] + 7919 * (i % per) + width)
            for i in range(len(flat))
        ]
        fits = search.fit_all(family, width, flat, generators, [lr] * len(flat))
        accuracy = np.array([f.val_accuracy for f in fits]).reshape(len(members), per)
        scores[:, j] = accuracy.mean(axis=1)
    best = scores.argmax(axis=1)  # first maximum: the smaller rate on ties
    return [(grid_[b], float(scores[i, b])) for i, b in enumerate(best)]


def _member(cell: Cell, seed: int, ctx: CellContext, *, margin: bool) -> _Member:
    """A seed's clean data: subsample, model inputs, pixel box, validation split, sub-seeds
    (and, with `margin`, the ntk family's Assumption 1 margin bounds)."""
    family = str(cell["family"])
    n, dtype, device = int(cell["n_train"]), ctx.dtype, ctx.device
    drawn = torch.randint(0, 2**62, (5,), generator=ctx.generator(seed)).tolist()
    seeds = dict(zip(("data", "split", "poisoner", "flip", "models"), drawn, strict=True))
    cv = torch.Generator().manual_seed(seeds["split"] + 1)
    seeds["cv"] = int(torch.randint(0, 2**40, (1,), generator=cv))
    train_pixels, test_pixels, y_all, y_test = _subsample(cell, seeds["data"], ctx.data_dir)
    scale = 1.0 if family == "conv" else 1.0 / float(train_pixels.double().norm(dim=1).mean())
    X_all, pixel_box = _inputs(family, train_pixels, int(cell["ntk_dim"]))
    X_test = _inputs(family, test_pixels, int(cell["ntk_dim"]))[0]
    n_val = max(1, round(float(cell["val_fraction"]) * n))
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seeds["split"])).to(device)
    info: dict[str, Any] = {
        "input_scale": scale,
        "poison_budget": 0.0,
        "poison_spent": 0.0,
        "poison_spent_max": 0.0,
        "poison_mean_norm": 0.0,
        "poisoner_test_accuracy": math.nan,
        "poisoner_accuracy_before": math.nan,
        "poisoner_accuracy_after": math.nan,
        "flip_rate": 0.0,
        "margin_lower": math.nan,
        "margin_upper": math.nan,
    }
    member = _Member(
        seed,
        X_all.to(device, dtype),
        y_all.to(device),
        pixel_box.to(device, dtype),
        order[n_val:],
        order[:n_val],
        X_test.to(device, dtype),
        y_test.to(device),
        seeds,
        info,
    )
    if family == "ntk" and margin and int(cell["margin_samples"]) > 0:
        info |= _margin(cell, member.X, member.y, seeds["models"])
    return member


def _poison_member(cell: Cell, member: _Member, poisoner: nn.Module, regime: str) -> None:
    """Replace the member's inputs by the clean-label poison made against `poisoner`."""
    scale = float(member.info["input_scale"])
    budget: DataBudget = (
        L21.from_C(float(cell["C"]) * scale, member.X.shape[0])
        if regime == "A"
        else L2Inf(float(cell["B"]) * scale)
    )
    generator = torch.Generator().manual_seed(member.seeds["poisoner"] + 1)
    poison = _poison(cell, poisoner, member.X, member.y, budget, scale, member.pixel_box, generator)
    member.info |= {
        "poison_budget": poison.record.given,
        "poison_spent": poison.record.spent,
        "poison_spent_max": poison.record.spent_max,
        "poison_mean_norm": float(poison.record.norms.mean()),
        "poisoner_test_accuracy": _accuracy(poisoner, member.X_test, member.y_test),
        "poisoner_accuracy_before": float(poison.accuracy[0]),
        "poisoner_accuracy_after": float(poison.accuracy[-1]),
    }
    member.X = poison.x


@functools.lru_cache(maxsize=4)
def _images(
    split: Literal["train", "test"], kind: Literal["mnist", "fashion-mnist"], data_dir: Path | None
) -> tuple[Tensor, Tensor]:
    """All images (N, 784) in [0, 1] and labels (N,) of one split, loaded once per process."""
    ds = load_mnist(split, kind=kind, data_dir=data_dir)
    return ds.x, ds.y


def _subsample(
    cell: Cell, seed: int, data_dir: Path | None
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Training and test pixels (n, 784) and labels drawn without replacement from `seed`."""
    kind: Literal["mnist", "fashion-mnist"] = "fashion-mnist"
    if cell["dataset"] == "mnist":
        kind = "mnist"
    x_train, y_train = _images("train", kind, data_dir)
    x_test, y_test = _images("test", kind, data_dir)
    generator = torch.Generator().manual_seed(seed)
    train = torch.randperm(x_train.shape[0], generator=generator)[: int(cell["n_train"])]
    test = torch.randperm(x_test.shape[0], generator=generator)[: int(cell["n_test"])]
    return x_train[train], x_test[test], y_train[train], y_test[test]


def _inputs(family: str, pixels: Tensor, ntk_dim: int) -> tuple[Tensor, Tensor]:
    """Model inputs and the upper end of their pixel box ([0, 1] in the model's units).

    The conv net sees raw pixels (box [0, 1]); ntk nets see downsampled rows x_i / ||x_i||, whose
    pixels in [0, 1] map to [0, 1 / ||x_i||] (a per-sample bound, shape (n, 1)).
    """
    if family == "conv":
        return pixels, torch.ones(())
    small = downsample(pixels, ntk_dim)
    return unit_norm(small), 1.0 / small.norm(dim=1, keepdim=True)


def _poison(
    cell: Cell,
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    budget: DataBudget,
    scale: float,
    pixel_box: Tensor,
    generator: torch.Generator,
) -> CleanLabelResult:
    """The clean-label poison of one cell (see `Config.poison_schedule`).

    'sga' follows the authors' poison_attack.py: regime A steps along the raw gradient of the
    minibatch-mean loss (eta / batch per sample), regime B along each sample's normalized
    gradient (eta per sample); pixel units are converted by `scale` (gradients scale by 1/scale,
    so raw steps by scale^2, normalized steps by scale).
    """
    box = (0.0, pixel_box) if cell["poison_box"] else None
    loss = cell["poison_loss"]
    steps = int(cell["poison_steps"])
    if cell["poison_schedule"] == "pga":
        return clean_label(model, X, y, budget, loss=loss, steps=steps, box=box)
    batch = int(cell["poison_batch_size"])
    raw = isinstance(budget, L21)
    eta = float(cell["poison_lr_a"] if raw else cell["poison_lr_b"])
    return clean_label(
        model, X, y, budget, loss=loss, steps=steps, box=box, batch_size=batch,
        generator=generator, normalize=not raw,
        step_size=eta * scale**2 / batch if raw else eta * scale,
    )  # fmt: skip


def _margin(cell: Cell, X: Tensor, y: Tensor, seed: int) -> dict[str, float]:
    """Bounds on the finite-width margin (Assumption 1) of the first `margin_samples` inputs.

    The theorems are binary: labels are the digit parity (even +1, odd -1); W0 is an ntk init
    of width `margin_width` drawn from `seed` (robustlab.theory.margin).
    """
    k = int(cell["margin_samples"])
    W0 = torch.randn(
        int(cell["margin_width"]), X.shape[1], generator=torch.Generator().manual_seed(seed + 1)
    )
    labels = 1.0 - 2.0 * (y[:k] % 2).double()
    est = finite_width_margin(X[:k].cpu(), labels.cpu(), W0, steps=int(cell["margin_steps"]))
    return {"margin_lower": est.lower, "margin_upper": est.upper}


def estimate_memory(config: Config) -> int:
    """Peak bytes of one cell: data copies, the widest net's weights and one evaluation chunk.

    Measured peaks at m = 1e5 (5000 images): 4.5 GB for an ntk net (d = 784), 4.0 GB for the
    conv net, of which 0.6 GB is the interpreter; this estimate is 10-40% above them.
    """
    images = 4 * (config.n_train * 784 * 4 + config.n_test * 784 * 2)
    m, chunk = max(config.widths), 4096
    per_model = 0
    for family in config.family:
        if family == "ntk":  # W, W0, gradient, step, best copy; (chunk, m) pre- and activations
            per_model = max(per_model, 4 * (5 * m * config.ntk_dim + 2 * chunk * m))
        else:  # fc1 dominates the weights; (chunk, m) hidden layer and the conv activations
            per_model = max(per_model, 4 * (5 * 330 * m + 5 * chunk * m // 2 + 8000 * chunk))
    return images + per_model + 700 * 2**20
