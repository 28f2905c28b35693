"""Robust generalization needs more data: standard vs robust test error of small CNNs on MNIST.

Paper 003 (slides on Schmidt et al. 2018, "Adversarially robust generalization requires more
data"): "CNNs trained with robustness maximization; compare standard to robust classification
error on MNIST", beside the Gaussian model, in which one sample suffices for a small standard
error while a small l_inf-robust error needs n ~ eps^2 sqrt(d) samples (eq. 17). We train small
CNNs (the conv net of paper 001 Fig. 3, `PaperConvNet`) on n MNIST training images, either on
clean images ("standard") or by PGD-l_inf adversarial training ("adversarial", Madry et al.'s
robustness maximization: random start, steps of 2.5 eps / steps, images kept in [0, 1]), and
measure the standard and the robust test error (PGD-l_inf at the same eps) against n. The
Gaussian model's errors of w = sum_i y_i x_i are computed exactly at the same n
(`theory.schmidt.gaussian_linear_error`) and drawn beside. The claims checked: the robust error
of adversarially trained nets falls with n, and its gap to their standard error is wider at the
smallest n than at the largest (robust generalization needs more data). CIFAR-10, the slides'
other data set, is not available here; the protocol table (PROTOCOL) names every other
deviation.

This module holds Config, cells, run_cell and the claims (CLAIMS, each one kind of
`robustlab.theory.claims`; summarize); `theory` the Gaussian model, `figures` the figure.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from functools import partial
from typing import Any, Literal

import pandas as pd
import torch
from pydantic import Field, field_validator
from torch import Tensor, nn

from robustlab.attacks import pgd
from robustlab.data import mnist_multiclass, random_subset
from robustlab.experiments.base import (
    Cell,
    CellContext,
    ExperimentConfig,
    ProtocolRow,
    Summary,
    grid,
)
from robustlab.experiments.schmidt_cnn.figures import figures
from robustlab.experiments.schmidt_cnn.theory import gaussian_curves, theory
from robustlab.learners import adversarial_training
from robustlab.models import PaperConvNet
from robustlab.theory import claims
from robustlab.theory.claims import settle_each
from robustlab.theory.fitting import Verdict

__all__ = [
    "CAPTIONS",
    "CLAIMS",
    "FIGURE",
    "LEVEL",
    "PAPER",
    "PRESETS",
    "PROTOCOL",
    "SETTLE",
    "VERSION",
    "Config",
    "cells",
    "estimate_memory",
    "figures",
    "gaussian_curves",
    "run_cell",
    "summarize",
    "theory",
]

PAPER = "003"
FIGURE = "Schmidt et al. slide: CNNs, standard vs robust error on MNIST"
VERSION = 1

TrainingName = Literal["standard", "adversarial"]
#: Test points attacked at once.
TEST_CHUNK = 1000
#: Significance level of the trend and gap tests.
LEVEL = 0.05

PROTOCOL: tuple[ProtocolRow, ...] = (
    ProtocolRow(
        "data",
        "MNIST and CIFAR-10 (slides; Schmidt et al. sec. 5)",
        "",
        "MNIST only, n training images drawn per seed, a test subset",
        "CIFAR-10 is not obtainable here",
    ),
    ProtocolRow(
        "network",
        "CNNs (Schmidt et al.: the Madry et al. MNIST net, 32/64 conv channels, fc 1024)",
        "",
        "PaperConvNet: conv 10/20 channels, fc width (100), 10 logits",
        "a smaller CNN keeps CPU runs short; the project's conv net",
    ),
    ProtocolRow(
        "robust training",
        "robustness maximization = PGD-l_inf adversarial training, eps 0.3 on MNIST",
        "",
        "PGD-l_inf, random start, step 2.5 eps / steps, [0, 1] box; eps 0.3 (paper), 7 "
        "training steps; quick: eps 0.1, 3 steps",
        "Madry et al. use 40 steps of 0.01; fewer steps for CPU time",
    ),
    ProtocolRow(
        "optimizer",
        "Adam (Madry et al.), long training",
        "",
        "minibatch SGD (batch 64, lr 0.2), a fixed number of steps for every n",
        "the library's learner; the same step budget keeps every n comparable",
    ),
    ProtocolRow(
        "evaluation",
        "standard and robust test error against n",
        "",
        "PGD-l_inf at the training eps, 20 steps (quick 5), random start; test subset",
        "",
    ),
    ProtocolRow(
        "theory",
        "Gaussian model: n = 1 for standard, n ~ eps^2 sqrt(d) for robust error (eq. 17)",
        "",
        "exact errors of w = sum y_i x_i, d = 784, sigma = c1 d^{1/4}, at the same n",
        "c1 and the Gaussian eps are settings (the theorems hold up to constants)",
    ),
)


class Config(ExperimentConfig):
    """Training-set sizes and training methods (swept); net, optimizer and attack settings."""

    n_train: list[int] = Field(
        default=[100, 300, 1000, 3000, 10_000, 60_000],
        min_length=2,
        description="training images n (swept)",
    )
    training: list[TrainingName] = Field(
        default=["standard", "adversarial"], min_length=1, description="training methods (swept)"
    )
    width: int = Field(default=100, ge=1, description="fc width of the CNN (PaperConvNet)")
    steps: int = Field(default=4000, ge=1, description="SGD steps for every n")
    batch_size: int = Field(default=64, ge=1, description="minibatch size")
    lr: float = Field(default=0.2, gt=0, description="SGD learning rate")
    eps: float = Field(default=0.3, gt=0, le=1, description="l_inf budget (Schmidt et al.: 0.3)")
    train_attack_steps: int = Field(default=7, ge=1, description="PGD steps inside training")
    test_attack_steps: int = Field(default=20, ge=1, description="PGD steps at test")
    test_points: int | None = Field(
        default=2000, ge=1, description="test images per seed (None: all 10000)"
    )
    gaussian_eps: float = Field(
        default=0.25, gt=0, description="eps of the Gaussian-model curves (theorem: <= 1/4)"
    )
    gaussian_c1: float = Field(
        default=1.0, gt=0, description="sigma = c1 d^{1/4} of the Gaussian-model curves"
    )

    @field_validator("n_train")
    @classmethod
    def _sizes(cls, value: list[int]) -> list[int]:
        if any(n < 1 or n > 60_000 for n in value) or len(set(value)) != len(value):
            raise ValueError(f"n_train must be distinct sizes in 1..60000, got {value}")
        return sorted(value)


PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        "n_train": [100, 400, 1600],
        "steps": 100,
        "eps": 0.1,
        "train_attack_steps": 3,
        "test_attack_steps": 5,
        "test_points": 300,
    },
    # Settles both quick verdicts (one seed, 100 steps: no pair, no trend); measured 50 min wall
    # at load 11-21 (a quieter machine needs about half). Cut against the paper preset: eps 0.1,
    # 500 steps, 3-step PGD in training, n up to 6400.
    "standard": {
        "n_train": [100, 400, 1600, 6400],
        "steps": 500,
        "eps": 0.1,
        "train_attack_steps": 3,
        "test_attack_steps": 10,
        "test_points": 500,
        "seeds": 3,
    },
    "paper": {"seeds": 3},
}


CAPTIONS: dict[str, str] = {
    # figure stem -> what it shows and which paper figure it reproduces
    "errors_vs_n": (
        "Schmidt et al. 2018 (paper 003 slides, MNIST CNN experiment): standard and linf-robust "
        "test error of PaperConvNet against the number of training samples, standard and "
        "adversarially trained (mean, min-max over seeds); right: the Gaussian model's exact "
        "standard and robust errors, the predicted gap."
    ),
}


def cells(config: Config) -> list[Cell]:
    """One cell per (n, training method, seed): one CNN."""
    return grid(config, sweep=("n_train", "training"), exclude=("gaussian_eps", "gaussian_c1"))


# --------------------------------------------------------------------------- one cell
def _attack(eps: float, steps: int, generator: torch.Generator) -> Any:
    return partial(
        pgd,
        eps=eps,
        norm="linf",
        steps=steps,
        step_size=2.5 * eps / steps,
        loss="ce",
        random_start=True,
        box=(0.0, 1.0),
        generator=generator,
    )


def _perturbation(attack: Any) -> Any:
    """(model, x, y) -> x_adv shaped like x, for the learner's inner loop."""

    def perturb(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        x_adv: Tensor = attack(model, x, y).x_adv
        return x_adv.reshape(x.shape)

    return perturb


def _clean(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    return x


def run_cell(cell: Cell, ctx: CellContext) -> list[dict[str, Any]]:
    """Train one CNN on n images (clean or adversarially); its standard and robust test error."""
    generator = ctx.generator(cell.seed)
    data_generator = ctx.generator(cell.seed + 1_000_003)
    attack_generator = ctx.generator(cell.seed + 2_000_003)
    n = int(cell["n_train"])
    train = mnist_multiclass("train", data_dir=ctx.data_dir)
    test = mnist_multiclass("test", data_dir=ctx.data_dir)
    x, y = random_subset(train.x, train.y, n, data_generator)
    points = None if cell["test_points"] is None else int(cell["test_points"])
    x_test, y_test = random_subset(test.x, test.y, points, data_generator)
    x, x_test = x.to(ctx.device, ctx.dtype), x_test.to(ctx.device, ctx.dtype)
    y, y_test = y.to(ctx.device), y_test.to(ctx.device)
    net = PaperConvNet(int(cell["width"]), generator=generator).to(ctx.device, ctx.dtype)
    eps, steps, batch = float(cell["eps"]), int(cell["steps"]), int(cell["batch_size"])
    inner = (
        _perturbation(_attack(eps, int(cell["train_attack_steps"]), attack_generator))
        if cell["training"] == "adversarial"
        else _clean
    )
    model, trace = adversarial_training(
        net,
        x,
        y,
        attack=inner,
        lr=float(cell["lr"]),
        epochs=math.ceil(steps * batch / n) + 1,
        max_steps=steps,
        batch_size=min(batch, n),
        generator=generator,
    )
    model.eval()
    test_attack = _attack(eps, int(cell["test_attack_steps"]), attack_generator)
    wrong = robust_wrong = 0
    for start in range(0, x_test.shape[0], TEST_CHUNK):
        xb, yb = x_test[start : start + TEST_CHUNK], y_test[start : start + TEST_CHUNK]
        with torch.no_grad():
            clean_wrong = model(xb).argmax(dim=-1) != yb
        fooled = test_attack(model, xb, yb).success.reshape(-1).to(clean_wrong.device)
        wrong += int(clean_wrong.sum())
        robust_wrong += int((fooled | clean_wrong).sum())
    with torch.no_grad():
        train_error = float((model(x).argmax(dim=-1) != y).to(torch.float64).mean())
    total = x_test.shape[0]
    return [
        {
            "standard_error": wrong / total,
            "robust_error": robust_wrong / total,
            "train_error": train_error,
            "final_batch_loss": float(trace.batch_loss[-1].mean()),
            "test_size": total,
        }
    ]


def estimate_memory(config: Config) -> int:
    """Peak bytes of one cell: MNIST as float32 and the attacked test chunk's activations."""
    return 4 * 70_000 * 784 * 2 + 4 * TEST_CHUNK * (10 * 24 * 24 * 4 + 784 * 6)


# --------------------------------------------------------------------------- claims
def _adversarial(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["training"] == "adversarial"]


def robust_error_falls(table: pd.DataFrame, config: Config) -> Verdict:
    """Robust error of the adversarially trained nets against n: Kendall's tau, exact test
    (3 sizes and one seed cannot reach p < 0.05)."""
    rows = _adversarial(table)
    return claims.rank_trend(
        rows["n_train"],
        rows["robust_error"],
        claim="adversarial training: the robust test error falls with the number of samples n",
        expect="decreasing",
        alpha=LEVEL,
    )


def gap_narrows(table: pd.DataFrame, config: Config) -> Verdict:
    """Robust minus standard error at the smallest n minus that at the largest n, paired by
    seed: above zero (t test)."""
    rows = _adversarial(table)
    gap = rows.assign(gap=rows["robust_error"] - rows["standard_error"])
    small, large = (
        gap[gap["n_train"] == n].set_index("seed")["gap"]
        for n in (min(gap["n_train"]), max(gap["n_train"]))
    )
    verdict = claims.paired_difference(
        (small - large.reindex(small.index)).dropna(),
        claim="adversarial training: the gap robust - standard test error is wider at the "
        "smallest n than at the largest (robust generalization needs more data)",
        expect="positive",
        alpha=LEVEL,
    )
    where = f"gap at the smallest n {small.mean():.3f}, at the largest {large.mean():.3f}; "
    return dataclasses.replace(verdict, reason=where + verdict.reason)


#: The claims, in the order of the summary (each one kind of `robustlab.theory.claims`).
CLAIMS: tuple[Callable[[pd.DataFrame, Config], Verdict], ...] = (robust_error_falls, gap_narrows)

SETTLE: dict[str, str] = {
    # a claim fragment -> what would settle the verdict when it is not consistent
    "falls with the number of samples": (
        "`--preset standard` (4 sizes 100 to 6400, 3 seeds, 600 steps; quick: 3 sizes, 1 "
        "seed, 100 steps) or `--preset paper`"
    ),
    "gap robust - standard": (
        "`--preset standard` (3 seeds: a paired test; quick has one seed, so no pair)"
    ),
}


def summarize(table: pd.DataFrame, config: Config) -> Summary:
    """Standard and robust test error per (training, n), the Gaussian model beside, CLAIMS."""
    means = table.groupby(["training", "n_train"])[["standard_error", "robust_error"]].mean()
    headline: dict[str, Any] = {}
    for _, row in means.reset_index().iterrows():
        headline[f"{row['training']} | n={int(row['n_train'])}"] = {
            "standard_error": round(float(row["standard_error"]), 4),
            "robust_error": round(float(row["robust_error"]), 4),
        }
    gaussian = theory(config)["gaussian_model"]
    for kind in ("robust", "standard"):
        headline[f"gaussian_model_n_for_1pct_{kind}_error"] = next(
            (n for n, e in zip(gaussian["n"], gaussian[kind], strict=True) if e <= 0.01), None
        )
    if _adversarial(table).empty:
        return Summary(headline=headline)
    verdicts = [claim(table, config) for claim in CLAIMS]
    return Summary(headline=headline, verdicts=settle_each(verdicts, SETTLE))
