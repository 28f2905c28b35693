"""Clean test accuracy against network width under data poisoning: the inverted U (paper 001).

Paper 001 (Wang, Mianjy & Arora, ICML 2021), Theorems 3.1-3.3 guarantee that SGD learns a
two-layer ReLU net robustly from poisoned data only when the width m lies between a lower and an
upper bound: regime A (clean-label, l_{2,1} budget S = C sqrt(n)), regime B (clean-label,
per-sample l2 budget B) and regime C (labels moved i -> i + 1 mod K with probability beta).
Section 5 and Figure 3 (MNIST panel) report that the clean test accuracy of nets trained on
poisoned data rises with the width, plateaus and then falls (an inverted U, widths 10 to 1e5,
C = 700, B = 2.5, beta = 0.3, 50 runs), while clean training improves monotonically.

The poison follows the authors' code (PROTOCOL below): projected stochastic gradient ascent on
the negated loss -CE(-f(x), y) against a clean-trained width-100 net, minibatches of 128 clamped
to the pixel box [0, 1] after every minibatch, the l_{2,1} (A) or per-sample l2 (B) projection
after every epoch. Nets train by minibatch SGD (batch 128, learning rate by 5-fold cross-validation)
for up to 1000 epochs with early stopping (patience 30) on a validation split of the poisoned
data. Two model families: the paper's own convolutional net (`PaperConvNet`, width = size of its
first fully connected layer; seeds batched as a `PaperConvEnsemble` with `seed_block`) and the
theorems' two-layer `ntk` nets (K = 10 outputs, unit-norm inputs as section 3 assumes, budgets
converted in proportion). For the ntk family the finite-width margin of Assumption 1 is
estimated from the data (certified bounds, robustlab.theory.margin), and the theorems' width
ranges are given at that margin instead of a hand-set gamma. Whether each poisoned curve is
non-monotone is decided by a test (per-seed quadratic fit in log m, one-sided t-test on the
curvature, interior peak, held-out fall), not by eye.

Protocol (paper / authors' code / robustlab; deviations named in PROTOCOL):
- poison: negated-ce, SGA with minibatch 128, box [0, 1] per minibatch, projection per epoch,
  500 epochs, step 0.1 (A, raw gradient of the minibatch mean) / 0.5 (B, normalized); the
  quick preset cuts to 10 epochs with a larger regime A step (20), the reduced paper run of the
  final note to 20 epochs with step 2.5;
- training: SGD, up to 1000 epochs, patience 30 (ties count), best epoch restored; the
  learning rate by 5-fold cross-validation on the clean training data (`lr_selection`; quick:
  the fixed rate); one validation fold of five (the authors average five folds).
"""

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
import pandas as pd
import torch
from matplotlib.figure import Figure
from pydantic import Field, field_validator
from scipy import stats
from torch import Tensor, nn

from robustlab.data import downsample, load_mnist, unit_norm
from robustlab.experiments.base import (
    Cell,
    CellContext,
    ExperimentConfig,
    ProtocolRow,
    Summary,
    grid,
)
from robustlab.geometry import L21, DataBudget, L2Inf
from robustlab.learners import TrainingDivergedError, sgd
from robustlab.learners.trace import evaluate, per_sample_loss
from robustlab.models import PaperConvEnsemble, PaperConvNet, TwoLayerNet
from robustlab.plotting import mean_and_spread, new_figure, plot_measured, plot_theory
from robustlab.poisoning import clean_label, label_flip
from robustlab.poisoning.clean_label import CleanLabelResult
from robustlab.theory import poisoning as theory_poisoning
from robustlab.theory.claims import settle_each
from robustlab.theory.fitting import Verdict
from robustlab.theory.margin import finite_width_margin

PAPER = "001"
FIGURE = "Fig. 3 (MNIST panel)"
VERSION = 2

logger = logging.getLogger(__name__)

Family = Literal["ntk", "conv"]
Regime = Literal["clean", "A", "B", "C"]
NUM_CLASSES = 10

MEAN_PIXEL_NORM: dict[str, float] = {"mnist": 9.2147, "fashion-mnist": 12.1522}
"""Mean ||x||_2 of the 60000 training images with pixels in [0, 1] (a property of the data set,
checked against the files in the tests); converts pixel budgets for `theory` only: `run_cell`
uses the mean norm of its own subsample."""

PAPER_FIGURE_3: dict[str, Any] = {
    "C": 700.0,
    "B": 2.5,
    "beta": 0.3,
    "runs": 50,
    "widths": "10 to 100000",
    "batch_size": 128,
    "poisoner": "conv net of width 100 trained on clean data; SGA on the negated loss",
    "shape": "clean: accuracy increases monotonically with width; regimes A, B, C: it rises, "
    "plateaus and falls (inverted U); the text gives no accuracy values",
}
"""What paper 001 section 5 states about its Figure 3 (MNIST panel)."""

ALPHA = 0.05
"""Level of the one-sided tests in `summarize`."""

_CODE = "github.com/yunjuanwang/robust_learning_for_data_poisoning_attack"

PROTOCOL: tuple[ProtocolRow, ...] = (
    ProtocolRow(
        "data",
        "MNIST, 60000 training images (sec. 5); '5-fold cross validation' (Fig. 3 caption)",
        f"{_CODE} mnist_ntk.py: all 60000 images; StratifiedKFold(5, shuffle): five models per "
        "run, their test accuracies averaged",
        "paper: 60000 images (quick: 2000), one random 20% validation split (one fold of five)",
        "one fold instead of five: five times cheaper; the split is random, not stratified",
    ),
    ProtocolRow(
        "model",
        "conv(1,10,5)-pool-relu-conv(10,20,5)-pool-relu-fc(320,m)-relu-fc(m,10), PyTorch init",
        "the same (model_ntk)",
        "PaperConvNet (paper preset; seed_block batches seeds, 1 in the presets) and the theorems' "
        "two-layer ntk nets with fixed top layer (both presets; quick: ntk only)",
        "the ntk family is an addition (the theorems' setting); quick has no conv net for time",
    ),
    ProtocolRow(
        "poisoner",
        "width-100 conv net trained on clean data by minibatch SGD, batch 128 (sec. 5)",
        "poison_attack.py loads a saved clean net (ntkconv100_baseline.pth)",
        "a width-100 net trained per seed on the clean split with the training protocol below",
        "",
    ),
    ProtocolRow(
        "poison loss",
        "negated loss: sign flipped on the prediction and the cross-entropy (sec. 5)",
        "-criterion(-pred, y), criterion = CrossEntropyLoss",
        "poison_loss = 'negated-ce' (options: 'negated' greedy reflected loss, 'ce')",
        "",
    ),
    ProtocolRow(
        "poison ascent",
        "stochastic gradient ascent steps, each followed by the projection (sec. 5)",
        "S2 = 500 epochs of random minibatches of 128 (drawn with replacement across batches); "
        "A: eps += 0.1 * grad of the batch-mean loss; B: eps += eta * grad / ||grad|| per "
        "sample (0.1 default, 0.5 for the released B poison); clamp to [0, 1] after every "
        "minibatch; l_{2,1} or per-sample l2 projection after every epoch",
        "poison_schedule = 'sga': the same with one random permutation per epoch; paper: 500 "
        "epochs, eta 0.1 (A) / 0.5 (B); quick: 10 epochs, eta 20 (A) / 0.5 (B); the earlier "
        "full-batch ascent without box stays as poison_schedule = 'pga', poison_box = false",
        "every sample is visited once per epoch (a permutation); quick cuts the epochs 50x for "
        "time and raises the regime A step so that the budget is still spent",
    ),
    ProtocolRow(
        "budgets",
        "C = 700 (S = C sqrt(n)), B = 2.5, beta = 0.3 (Fig. 3)",
        "argparse defaults C = 500, B = 1; released poisons C = 800 / B = 3 (README)",
        "the paper's C, B, beta; subsamples keep the mean budget per sample (C sqrt(n / 60000)); "
        "the ntk family gets them divided by the mean pixel norm",
        "",
    ),
    ProtocolRow(
        "training",
        "vanilla SGD, batch 128, no momentum or weight decay; learning rate by 5-fold CV",
        "lr 0.1, T = 1000 epochs, stop after 30 epochs without val. accuracy >= best, restore "
        "the last best",
        "lr_selection = 'cv5' (paper): 5-fold CV per (seed, family, width) on the clean "
        "training data over lr_grid_conv / lr_grid_ntk, shared by every regime; max_epochs = "
        "1000, patience = 30, ties count; quick: fixed lr, 60 epochs, patience 8",
        "the paper does not name its grid (robustlab's includes the code's 0.1); quick uses the "
        "fixed rate and cuts epochs for time",
    ),
    ProtocolRow(
        "runs",
        "50 runs per curve, mean and standard deviation",
        "N = 20 runs x 5 folds",
        "paper: 50 seeds; quick: 3",
        "",
    ),
    ProtocolRow(
        "margin (Assumption 1)",
        "a margin gamma > 0 in the NTK feature space is assumed, not measured",
        "",
        "certified bounds on the finite-width margin of sec. 4 on margin_samples images (parity "
        "labels), and the theorems' width ranges at the lower bound",
        "the theorems are binary: MNIST's ten classes are reduced to even vs odd digits",
    ),
)

PAPER_WIDEST = 100_000
"""The paper's widest net: a grid that stops below it cannot refute a fall at large widths."""


class Config(ExperimentConfig):
    """Model families and regimes swept (one cell sweeps all widths), data, poison, training."""

    family: list[Family] = Field(
        default=["ntk", "conv"],
        min_length=1,
        description="model families (swept): 'ntk' two-layer nets (theorems' setting), "
        "'conv' the paper's MNIST conv net",
    )
    regime: list[Regime] = Field(
        default=["clean", "A", "B", "C"],
        min_length=1,
        description="poisoning regimes (swept): clean, A (l_{2,1} budget S = C sqrt n), "
        "B (per-sample l2 budget B), C (label shift i -> i+1 mod 10 with probability beta)",
    )
    widths: list[int] = Field(
        default=[10, 100, 1000, 10_000, 100_000],
        min_length=1,
        description="widths m trained in every cell (one poison per cell, reused across widths); "
        "m = 1e5 fits in ~4.5 GB but one epoch on 60000 images takes ~13 (ntk) / ~7 (conv) "
        "CPU-minutes on 2 cores",
    )
    dataset: Literal["mnist", "fashion-mnist"] = Field(
        default="mnist", description="image data set (paper: MNIST)"
    )
    n_train: int = Field(
        default=60_000,
        ge=20,
        le=60_000,
        description="training images drawn per seed (the poisoned set, validation split included)",
    )
    n_test: int = Field(
        default=10_000, ge=10, le=10_000, description="clean test images drawn per seed"
    )
    val_fraction: float = Field(
        default=0.2,
        gt=0.0,
        lt=1.0,
        description="fraction of the poisoned training set held out for early stopping (0.2: "
        "one of the authors' five stratified folds; they average the five fold models)",
    )
    ntk_dim: int = Field(
        default=784,
        description="input dimension d of the ntk family (MNIST area-downsampled to d, a "
        "perfect square); the conv family always sees 28 x 28 images",
    )
    C: float = Field(
        default=700.0,
        ge=0.0,
        description="regime A corruption rate: sum_i ||delta_i|| <= C sqrt(n) (pixel units)",
    )
    B: float = Field(
        default=2.5, ge=0.0, description="regime B per-sample budget ||delta_i|| <= B (pixels)"
    )
    beta: float = Field(default=0.3, ge=0.0, le=1.0, description="regime C label-shift probability")
    poison_width: int = Field(
        default=100, ge=1, description="width of the clean-trained net the poison is made against"
    )
    poison_schedule: Literal["sga", "pga"] = Field(
        default="sga",
        description="'sga': the authors' projected stochastic gradient ascent (minibatches of "
        "poison_batch_size, pixels clamped to [0, 1] after every minibatch, budget projection "
        "after every epoch; regime A raw gradient steps, regime B per-sample normalized steps); "
        "'pga': the earlier full-batch ascent with normalized steps (step 2.5 budget / steps)",
    )
    poison_steps: int = Field(
        default=500,
        ge=1,
        description="ascent epochs ('sga', authors' S2 = 500) or full-batch steps ('pga')",
    )
    poison_batch_size: int = Field(
        default=128, ge=1, description="'sga' minibatch size (authors: 128)"
    )
    poison_lr_a: float = Field(
        default=0.1,
        gt=0.0,
        description="'sga' regime A step eta_eps (authors' default and their released C poison: "
        "0.1): a sample moves by eta * (gradient of the minibatch-mean loss) per minibatch, "
        "in pixel units (converted to the ntk family's unit-norm inputs by the mean scale)",
    )
    poison_lr_b: float = Field(
        default=0.5,
        gt=0.0,
        description="'sga' regime B step eta_eps (authors' released B poison: 0.5): a sample "
        "moves by eta along its own normalized gradient per minibatch (pixel units)",
    )
    poison_box: bool = Field(
        default=True,
        description="clamp poisoned pixels to [0, 1] (authors: after every minibatch); the ntk "
        "family gets the same box in its rescaled units (per-sample bound 1 / ||x_i||)",
    )
    poison_loss: Literal["negated-ce", "negated", "ce"] = Field(
        default="negated-ce",
        description="loss maximized by the poisoner: 'negated-ce' -CE(-f(x), y) (paper section 5 "
        "and the authors' code), 'negated' the greedy reflected loss, 'ce' cross-entropy",
    )
    lr_conv: float = Field(
        default=0.1,
        gt=0.0,
        description="SGD learning rate, conv family (the authors' code default; the paper picks "
        "it by 5-fold cross-validation, robustlab does not search: see PROTOCOL)",
    )
    lr_ntk: float = Field(
        default=30.0,
        gt=0.0,
        description="SGD learning rate, ntk family (unit-norm inputs, 1/sqrt(m) output scale)",
    )
    lr_selection: Literal["cv5", "holdout", "fixed"] = Field(
        default="cv5",
        description="how each (seed, family, width) gets its learning rate, chosen once on the "
        "seed's clean training data and shared by every regime (no test data): 'cv5' the "
        "paper's 5-fold cross-validation over the family's lr grid (5 x len(grid) extra "
        "trainings per width and for the poisoner's width), 'holdout' one training per grid "
        "value on the validation split (len(grid) extra trainings), 'fixed' lr_conv / lr_ntk "
        "(no extra training)",
    )
    lr_grid_conv: list[float] = Field(
        default=[0.01, 0.03, 0.1, 0.3],
        min_length=1,
        description="conv family learning rates searched by 'cv5' / 'holdout' (the paper does "
        "not name its grid; the authors' code default 0.1 is inside)",
    )
    lr_grid_ntk: list[float] = Field(
        default=[10.0, 30.0, 100.0],
        min_length=1,
        description="ntk family learning rates searched by 'cv5' / 'holdout'",
    )
    lr_search_epochs: int = Field(
        default=0,
        ge=0,
        description="epochs at most of each lr-search training (0: max_epochs; a cap makes the "
        "search cheaper and favours rates that learn fast)",
    )
    batch_size: int = Field(default=128, ge=1, description="SGD minibatch size (paper: 128)")
    max_epochs: int = Field(
        default=1000, ge=1, description="epochs at most per training run (authors: T = 1000)"
    )
    patience: int = Field(
        default=30,
        ge=1,
        description="early stopping: epochs without a validation accuracy at least as good as "
        "the best (ties count as progress, as in the authors' code; patience 30 there); the "
        "last best epoch is restored",
    )
    margin_samples: int = Field(
        default=0,
        ge=0,
        description="ntk family: training images per seed on which the finite-width margin of "
        "Assumption 1 is estimated (0: none; the theorems' width range then uses gamma)",
    )
    margin_width: int = Field(
        default=1000, ge=1, description="width m of the initial weights the margin is taken at"
    )
    margin_steps: int = Field(
        default=300,
        ge=1,
        description="mirror-descent steps of the margin estimate (its bounds close in as "
        "1/sqrt(steps); robustlab.theory.margin)",
    )
    seed_block: int = Field(
        default=1,
        ge=1,
        description="conv family: consecutive seeds trained together as one PaperConvEnsemble "
        "(same rows as one by one in float64; float32 rounding differs). Measured on this 2-core "
        "CPU (benchmarks/conv_ensemble.py) it is not faster (0.6-1.4x per epoch at E = 4, 8), "
        "so the presets use 1; meant for accelerators, where small per-seed kernels idle",
    )
    gamma: float = Field(
        default=1.0,
        gt=0.0,
        le=1.0,
        description="margin gamma of Assumption 1 used for the theorems' width ranges "
        "(1 is the most favourable; constants of the theorems set to 1)",
    )
    delta: float = Field(
        default=0.1, gt=0.0, lt=1.0, description="failure probability delta of the theorems"
    )

    @field_validator("widths")
    @classmethod
    def _widths_valid(cls, value: list[int]) -> list[int]:
        if any(m < 1 for m in value) or len(set(value)) != len(value):
            raise ValueError(f"widths must be distinct integers >= 1, got {value}")
        return sorted(value)

    @field_validator("lr_grid_conv", "lr_grid_ntk")
    @classmethod
    def _rates(cls, value: list[float]) -> list[float]:
        if any(not (lr > 0 and math.isfinite(lr)) for lr in value) or len(set(value)) != len(value):
            raise ValueError(f"learning rates must be distinct finite numbers > 0, got {value}")
        return sorted(value)

    @field_validator("family", "regime")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"values must be distinct, got {value}")
        return value

    @field_validator("ntk_dim")
    @classmethod
    def _square(cls, value: int) -> int:
        side = math.isqrt(value)
        if value < 1 or value > 784 or side * side != value or 28 % side:
            raise ValueError(
                f"ntk_dim must be s*s with s dividing 28 (784, 196, 49, 16, 4, 1), got {value}"
            )
        return value


PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        "family": ["ntk"],
        "regime": ["clean", "A", "B", "C"],
        "widths": [10, 100, 1000],
        "n_train": 2000,
        "n_test": 2000,
        "ntk_dim": 196,
        # The same mean budget per sample as the paper's C = 700 at n = 60000: C sqrt(n) / n.
        "C": 700.0 * math.sqrt(2000 / 60_000),
        "poison_steps": 10,
        "poison_lr_a": 20.0,
        "max_epochs": 60,
        "patience": 8,
        "margin_samples": 300,
        "margin_width": 300,
        "lr_selection": "fixed",
        "seeds": 3,
    },
    "standard": {
        # Issue 10 section 3, sized for ~45-60 min wall on the shared 2-core machine (one
        # worker): the theorems' ntk family (the paper's Fig. 3 uses its conv net, which at
        # m = 1e5 costs ~10x more per epoch here), 600 images at 7 x 7, widths to the paper's
        # widest 1e5 (past the published peak near 2e4), 6 seeds (the fall is then tested on
        # held-out seeds), training cut to 30 epochs (patience 6), the rate by holdout search.
        "family": ["ntk"],
        "regime": ["clean", "A", "B", "C"],
        "widths": [10, 100, 1000, 10_000, 100_000],
        "n_train": 600,
        "n_test": 2000,
        "ntk_dim": 49,
        "C": 700.0 * math.sqrt(600 / 60_000),
        "poison_steps": 10,
        "poison_lr_a": 20.0,
        "max_epochs": 30,
        "patience": 6,
        "lr_selection": "holdout",
        "lr_grid_ntk": [10.0, 30.0, 100.0],
        "lr_search_epochs": 8,
        "margin_samples": 300,
        "margin_width": 300,
        "seeds": 6,
    },
    "paper": {
        "family": ["ntk", "conv"],
        "regime": ["clean", "A", "B", "C"],
        "widths": [10, 100, 1000, 10_000, 100_000],
        "n_train": 60_000,
        "n_test": 10_000,
        "ntk_dim": 784,
        "C": 700.0,
        "B": 2.5,
        "beta": 0.3,
        "poison_schedule": "sga",
        "poison_steps": 500,
        "poison_lr_a": 0.1,
        "poison_lr_b": 0.5,
        "max_epochs": 1000,
        "patience": 30,
        "margin_samples": 2000,
        "lr_selection": "cv5",
        "seeds": 50,
        "seed_block": 1,
    },
}

CAPTIONS: dict[str, str] = {
    # figure stem -> what it shows and which paper figure it reproduces
    "accuracy_vs_width": (
        "Paper 001 Fig. 3 (MNIST panel): clean test accuracy against width m per poisoning regime"
        " (clean, A: l_{2,1}, B: per-sample l2, C: label flips), mean and +-1 sd over seeds, one "
        "panel per network family; the predicted width limits drawn as vertical lines."
    ),
}


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


@dataclass(frozen=True)
class _Split:
    X: Tensor
    y: Tensor
    X_val: Tensor
    y_val: Tensor


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


def _new_model(family: str, width: int, dim: int, generator: torch.Generator) -> nn.Module:
    """A fresh ntk two-layer net (K = 10 outputs, E = 1) or the paper's conv net of width m."""
    if family == "ntk":
        return TwoLayerNet.ntk(1, width, dim, outputs=NUM_CLASSES, generator=generator)
    return PaperConvNet(width, NUM_CLASSES, generator=generator)


@torch.no_grad()
def _accuracy(model: nn.Module, X: Tensor, y: Tensor) -> float:
    return float(evaluate(model, X, y, loss="ce")[1][0])


@dataclass(frozen=True)
class _Fitted:
    """A model restored to its best validation epoch, with what early stopping saw."""

    model: nn.Module
    val_accuracy: float
    train_accuracy: float
    best_epoch: int
    epochs_run: int


class _Training:
    """Minibatch SGD on cross-entropy (no momentum, no weight decay) with early stopping."""

    def __init__(self, lr: float, batch_size: int, max_epochs: int, patience: int) -> None:
        self.lr, self.batch_size = lr, batch_size
        self.max_epochs, self.patience = max_epochs, patience

    @classmethod
    def from_cell(cls, cell: Cell, family: str) -> _Training:
        lr = float(cell["lr_conv"] if family == "conv" else cell["lr_ntk"])
        return cls(lr, int(cell["batch_size"]), int(cell["max_epochs"]), int(cell["patience"]))

    def with_lr(self, lr: float) -> _Training:
        return _Training(lr, self.batch_size, self.max_epochs, self.patience)

    def fit_all(
        self,
        family: str,
        width: int,
        splits: list[_Split],
        generators: list[torch.Generator],
        lrs: list[float],
    ) -> list[_Fitted]:
        """Fresh nets of `width`, one per (split, generator, learning rate): initialized from
        the generator, then trained on the split with batches drawn from it. Several conv
        splits with one rate train as one `PaperConvEnsemble` (same rows as one by one, up to
        summation order)."""
        dim = splits[0].X.shape[1]
        like = splits[0].X
        models = [_new_model(family, width, dim, g).to(like.device, like.dtype) for g in generators]
        if family == "conv" and len(splits) > 1 and len(set(lrs)) == 1:
            ensemble = self.with_lr(lrs[0])
            return ensemble.fit_ensemble(models, splits, generators)  # type: ignore[arg-type]
        return [
            self.with_lr(lr).fit(model, s.X, s.y, s.X_val, s.y_val, g)
            for model, s, g, lr in zip(models, splits, generators, lrs, strict=True)
        ]

    def fit_ensemble(
        self, models: list[PaperConvNet], splits: list[_Split], generators: list[torch.Generator]
    ) -> list[_Fitted]:
        """`fit` for E conv nets at once: member e sees the batches `fit` would draw from
        generators[e] and stops by its own validation accuracy; stopped members leave the
        ensemble (it is rebuilt from the others), so no step is spent on them."""
        E = len(models)
        X_all, y_all = torch.stack([s.X for s in splits]), torch.stack([s.y for s in splits])
        Xv_all = torch.stack([s.X_val for s in splits])
        yv_all = torch.stack([s.y_val for s in splits])
        alive = list(range(E))
        net = PaperConvEnsemble(models)
        best_val, best_epoch = [-1.0] * E, [0] * E
        stopped: list[int | None] = [None] * E
        best_state: list[list[Tensor]] = [[] for _ in range(E)]
        n = X_all.shape[1]
        for epoch in range(1, self.max_epochs + 1):
            pick = torch.tensor(alive, device=X_all.device)
            X, y = X_all[pick], y_all[pick]
            params = list(net.parameters())
            rows = torch.arange(len(alive), device=X.device).unsqueeze(1)
            order = torch.stack([torch.randperm(n, generator=generators[e]) for e in alive])
            order = order.to(X.device)
            last = torch.zeros(len(alive), dtype=X.dtype)
            for start in range(0, n, self.batch_size):
                idx = order[:, start : start + self.batch_size]
                per_member = per_sample_loss(net(X[rows, idx]), y[rows, idx], "ce").mean(dim=1)
                grads = torch.autograd.grad(per_member.sum(), params)
                with torch.no_grad():
                    for p, g in zip(params, grads, strict=True):
                        p.sub_(self.lr * g)
                last = per_member.detach()
            val = _ensemble_accuracy(net, Xv_all[pick], yv_all[pick])
            for k, e in enumerate(alive):
                if val[k] >= best_val[e]:
                    best_val[e], best_epoch[e] = val[k], epoch
                    best_state[e] = [p[k].detach().clone() for p in params]
                elif epoch - best_epoch[e] >= self.patience:
                    stopped[e] = epoch
                    continue
                if not math.isfinite(float(last[k])):
                    logger.warning("member %d diverged at epoch %d (lr %g)", e, epoch, self.lr)
                    stopped[e] = epoch
            keep = [k for k, e in enumerate(alive) if stopped[e] is None]
            if not keep:
                break
            if len(keep) < len(alive):
                net = PaperConvEnsemble([net.member(k) for k in keep])
                alive = [alive[k] for k in keep]
        best = PaperConvEnsemble(models)
        with torch.no_grad():
            for e in range(E):
                for p, state in zip(best.parameters(), best_state[e], strict=True):
                    p[e].copy_(state)
        fitted = []
        for e in range(E):
            model = best.member(e)
            train_accuracy = _accuracy(model, splits[e].X, splits[e].y)
            stop = stopped[e]
            runs = self.max_epochs if stop is None else stop
            fitted.append(_Fitted(model, best_val[e], train_accuracy, best_epoch[e], runs))
        return fitted

    def fit(
        self,
        model: nn.Module,
        X: Tensor,
        y: Tensor,
        X_val: Tensor,
        y_val: Tensor,
        generator: torch.Generator,
    ) -> _Fitted:
        """Train epoch by epoch (reshuffled from `generator`); keep the best validation epoch.

        Stops after `patience` epochs without a validation accuracy at least as good as the best
        or after `max_epochs`; the returned model holds the parameters of the last best epoch.
        """
        best_val, best_epoch = -1.0, 0
        best_state: list[Tensor] = []
        epoch = 0
        for epoch in range(1, self.max_epochs + 1):
            diverged = False
            try:
                sgd(
                    model,
                    X,
                    y,
                    loss="ce",
                    lr=self.lr,
                    batch_size=self.batch_size,
                    epochs=1,
                    generator=generator,
                    inplace=True,
                    diagnostics=False,  # no whole-training-set passes: only validation decides
                )
            except TrainingDivergedError:  # the model holds the diverged weights (inplace)
                diverged = True
            val = _accuracy(model, X_val, y_val)
            if val >= best_val:  # ties count as progress (authors' code)
                best_val, best_epoch = val, epoch
                best_state = [p.detach().clone() for p in model.parameters()]
            elif epoch - best_epoch >= self.patience:
                break
            if diverged:
                logger.warning("training diverged at epoch %d (lr %g)", epoch, self.lr)
                break
        with torch.no_grad():
            for p, best in zip(model.parameters(), best_state, strict=True):
                p.copy_(best)
        return _Fitted(model, best_val, _accuracy(model, X, y), best_epoch, epoch)


@torch.no_grad()
def _ensemble_accuracy(
    net: PaperConvEnsemble, X: Tensor, y: Tensor, chunk: int = 2048
) -> list[float]:
    """Per-member accuracy on per-member data X (E, n, d), y (E, n), in chunks of samples."""
    correct = torch.zeros(X.shape[0], dtype=torch.float64)
    for start in range(0, X.shape[1], chunk):
        logits = net(X[:, start : start + chunk])
        correct += (logits.argmax(dim=-1) == y[:, start : start + chunk]).sum(dim=1).double().cpu()
    return (correct / max(X.shape[1], 1)).tolist()


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


# ----------------------------------------------------------------------------------- theory
def _relative(budget: float, config: Config) -> float:
    """A pixel budget as a fraction of the mean image norm: the budget on unit-norm inputs."""
    return budget / MEAN_PIXEL_NORM[config.dataset]


def _guarantees(config: Config, gamma: float) -> dict[str, theory_poisoning.RegimeGuarantee]:
    """Theorems 3.1-3.3 at this config's budgets (unit-norm units) and margin `gamma`."""
    n, d = config.n_train, config.ntk_dim
    C_rel, B_rel = _relative(config.C, config), _relative(config.B, config)
    # Regime A bounds only the total: one sample may carry all of S, so its per-sample B is S.
    return {
        "A": theory_poisoning.regime_a(
            n, C=C_rel, B=C_rel * math.sqrt(n), d=d, gamma=gamma, delta=config.delta
        ),
        "B": theory_poisoning.regime_b(n, B=B_rel, d=d, gamma=gamma, delta=config.delta),
        "C": theory_poisoning.regime_c(n, beta=config.beta, gamma=gamma, delta=config.delta),
    }


def theory(config: Config) -> dict[str, Any]:
    """Theorems 3.1-3.3 width ranges at these budgets (gamma, constants 1) and Figure 3's claims.

    The theorems are for binary labels and ||x|| = 1; budgets are converted to unit-norm inputs
    by the data set's mean pixel norm. n is the number of poisoned training samples.
    """
    C_rel, B_rel = _relative(config.C, config), _relative(config.B, config)
    guarantees = _guarantees(config, config.gamma)
    out: dict[str, Any] = {
        "predicted_shape": {
            "clean": "non-decreasing in width",
            "A": "inverted U",
            "B": "inverted U",
            "C": "inverted U",
        },
        "paper_figure_3": PAPER_FIGURE_3,
        "mean_pixel_norm": MEAN_PIXEL_NORM[config.dataset],
        "C_unit_norm": C_rel,
        "B_unit_norm": B_rel,
        "error_rate_exponent_in_n": dict(theory_poisoning.RATE_EXPONENT),
        "width_upper_bound_scaling": {
            "A": "m <~ n polylog(n) / (gamma^4 S^2), S = C sqrt(n)",
            "B": "B <~ 1 / sqrt(m d): m <~ 1 / (B^2 d)",
            "C": "beta <~ 1/m: m <~ 1 / beta",
        },
    }
    for regime, g in guarantees.items():
        out[f"regime_{regime}"] = {
            "width_low": g.width.low,
            "width_high": g.width.high if math.isfinite(g.width.high) else None,
            "budget": g.budget,
            "budget_limit": g.budget_limit if math.isfinite(g.budget_limit) else None,
            "budget_ok": g.budget_ok,
            "admissible": g.admissible,
            "widths_in_range": [m for m in config.widths if g.applies_at(m)],
        }
    return out


# -------------------------------------------------------------------------------- summarize
def _one_sided_p(values: np.ndarray, alternative: Literal["less", "greater"]) -> float:
    """One-sample t-test p-value of mean(values) < 0 ('less') or > 0 ('greater')."""
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        return math.nan
    if float(np.std(values)) == 0.0:
        mean = float(np.mean(values))
        hit = mean < 0 if alternative == "less" else mean > 0
        return 0.0 if hit else 1.0
    return float(stats.ttest_1samp(values, 0.0, alternative=alternative).pvalue)


def shape_statistics(accuracy: np.ndarray, widths: np.ndarray) -> dict[str, Any]:
    """Tests of an inverted U on accuracy (seeds, widths) against widths (ascending).

    curvature: per-seed coefficient of t^2 in a least-squares quadratic in t = log10(m), its mean
    and the one-sided t-test p-value that it is < 0 across seeds. peak: the width maximizing the
    mean curve, and whether it is interior. vertex_interior: the mean curve's fitted quadratic
    opens downward with its vertex strictly inside the width range. fall: accuracy at the peak
    minus at the widest width, tested one-sided (> 0) on held-out seeds (peak chosen on the even
    seeds, tested on the odd ones) when there are >= 6 seeds, on all seeds otherwise (then biased
    towards a fall by the choice of the peak: `fall_held_out` says which). Raises ValueError for
    fewer than 3 widths or mismatched shapes.
    """
    acc = np.asarray(accuracy, dtype=float)
    t = np.log10(np.asarray(widths, dtype=float))
    if acc.ndim != 2 or acc.shape[1] != t.size or t.size < 3:
        raise ValueError(
            f"need accuracy (seeds, widths) with >= 3 widths matching {t.size}, got {acc.shape}"
        )
    curvature = np.polyfit(t, acc.T, 2)[0]
    mean = acc.mean(axis=0)
    a, b, _ = np.polyfit(t, mean, 2)
    vertex = -b / (2 * a) if a != 0 else math.nan
    peak = int(np.argmax(mean))
    seeds = acc.shape[0]
    held_out = seeds >= 6
    if held_out:
        pick = int(np.argmax(acc[0::2].mean(axis=0)))
        drops = acc[1::2, pick] - acc[1::2, -1]
    else:
        pick = peak
        drops = acc[:, pick] - acc[:, -1]
    fall_p = 1.0 if pick == t.size - 1 else _one_sided_p(drops, "greater")
    return {
        "seeds": seeds,
        "curvature": float(curvature.mean()),
        "curvature_p": _one_sided_p(curvature, "less"),
        "peak_width": float(widths[peak]),
        "peak_interior": 0 < peak < t.size - 1,
        "vertex_interior": bool(a < 0 and t[0] < vertex < t[-1]),
        "fall": float(mean[peak] - mean[-1]),
        "fall_p": fall_p,
        "fall_held_out": held_out,
    }


def _pivot(table: pd.DataFrame, family: str, regime: str) -> pd.DataFrame:
    """Test accuracy (seeds, widths) of one (family, regime), complete rows only."""
    rows = table[(table["family"] == family) & (table["regime"] == regime)]
    if rows.empty:
        return pd.DataFrame()
    return rows.pivot_table(index="run_seed", columns="width", values="test_accuracy").dropna()


def _inverted_u_verdict(family: str, regime: str, acc: pd.DataFrame) -> Verdict:
    claim = (
        f"{family} nets, regime {regime}: clean test accuracy is non-monotone in width "
        "(inverted U, paper 001 Fig. 3)"
    )
    widths = np.asarray(acc.columns, dtype=float)
    if acc.shape[0] < 3 or widths.size < 3:
        return Verdict(
            claim,
            "inconclusive",
            None,
            None,
            f"{acc.shape[0]} complete seeds and {widths.size} widths: the test needs >= 3 of each",
        )
    s = shape_statistics(acc.to_numpy(), widths)
    shape_ok = s["peak_interior"] and s["vertex_interior"]
    detected = shape_ok and s["curvature_p"] < ALPHA and s["fall_p"] < ALPHA
    detail = (
        f"curvature in log10 m {s['curvature']:.4g} (one-sided p = {s['curvature_p']:.3g}, "
        f"{s['seeds']} seeds), mean curve peaks at m = {s['peak_width']:.0f} "
        f"({'interior' if s['peak_interior'] else 'at an end'}), fall from peak to "
        f"m = {widths[-1]:.0f}: {s['fall']:.4f} (p = {s['fall_p']:.3g}"
        f"{', held-out seeds' if s['fall_held_out'] else ', same seeds: biased'}); "
        f"predicted: curvature < 0, interior peak, significant fall at level {ALPHA}"
    )
    if detected:
        return Verdict(claim, "consistent", s["curvature"], None, detail)
    rise = _one_sided_p(acc.iloc[:, -1].to_numpy() - acc.iloc[:, -2].to_numpy(), "greater")
    still_rising = s["peak_width"] == widths[-1] or rise < ALPHA
    if widths[-1] >= PAPER_WIDEST and still_rising:
        return Verdict(
            claim,
            "inconsistent",
            s["curvature"],
            None,
            f"accuracy does not fall at the paper's widest width {widths[-1]:.0f} (it peaks "
            f"there, or rises into it: one-sided p = {rise:.3g}); {detail}",
        )
    if widths[-1] < PAPER_WIDEST:
        why = f"the widest width {widths[-1]:.0f} is below the paper's {PAPER_WIDEST}"
    else:
        why = f"no significant fall with {s['seeds']} seeds"
    return Verdict(claim, "inconclusive", s["curvature"], None, f"{why}; {detail}")


def _monotone_verdict(family: str, acc: pd.DataFrame) -> Verdict:
    claim = f"{family} nets, clean training: test accuracy does not fall with width"
    widths = np.asarray(acc.columns, dtype=float)
    if acc.shape[0] < 3 or widths.size < 3:
        return Verdict(
            claim,
            "inconclusive",
            None,
            0.0,
            f"{acc.shape[0]} complete seeds and {widths.size} widths: need >= 3 of each",
        )
    s = shape_statistics(acc.to_numpy(), widths)
    detail = (
        f"mean curve peaks at m = {s['peak_width']:.0f}; fall to m = {widths[-1]:.0f}: "
        f"{s['fall']:.4f} (one-sided p = {s['fall_p']:.3g}"
        f"{', held-out seeds' if s['fall_held_out'] else ', same seeds: biased towards a fall'})"
    )
    if s["fall_p"] < ALPHA:
        return Verdict(claim, "inconsistent", s["fall"], 0.0, detail)
    return Verdict(claim, "consistent", s["fall"], 0.0, detail)


def _poison_effect_verdict(
    family: str, regime: str, acc: pd.DataFrame, clean: pd.DataFrame
) -> Verdict:
    claim = f"{family} nets, regime {regime}: poisoning lowers the clean test accuracy"
    seeds = acc.index.intersection(clean.index)
    widths = acc.columns.intersection(clean.columns)
    if len(seeds) < 2 or len(widths) == 0:
        return Verdict(claim, "inconclusive", None, None, "fewer than 2 seeds paired with clean")
    drop = (clean.loc[seeds, widths] - acc.loc[seeds, widths]).mean(axis=1).to_numpy()
    p = _one_sided_p(drop, "greater")
    p_higher = _one_sided_p(drop, "less")
    verdict: Literal["consistent", "inconsistent", "inconclusive"] = "inconclusive"
    if p < ALPHA:
        verdict = "consistent"
    elif p_higher < ALPHA:
        verdict = "inconsistent"
    return Verdict(
        claim,
        verdict,
        float(drop.mean()),
        None,
        f"clean minus poisoned accuracy averaged over widths {list(map(int, widths))}: "
        f"{drop.mean():.4f} over {len(seeds)} paired seeds (one-sided p = {p:.3g} for a drop, "
        f"{p_higher:.3g} for a gain, level {ALPHA})",
    )


def protocol_cuts(config: Config) -> list[str]:
    """Where this config departs from the paper's / authors' protocol (PROTOCOL), in words."""
    cuts = []
    if config.n_train < 60_000:
        cuts.append(f"{config.n_train} of 60000 training images")
    if config.poison_schedule == "pga" or not config.poison_box:
        cuts.append(
            f"poison by {config.poison_schedule} (box {'on' if config.poison_box else 'off'}), "
            "not the authors' minibatch SGA with the pixel box"
        )
    elif config.poison_steps < 500:
        cuts.append(
            f"{config.poison_steps} of 500 poison epochs (steps A {config.poison_lr_a:g}, "
            f"B {config.poison_lr_b:g}; authors 0.1, 0.5)"
        )
    if config.poison_loss != "negated-ce":
        cuts.append(f"poison loss {config.poison_loss}, not negated-ce")
    if config.lr_selection != "cv5":
        cuts.append(f"learning rate by {config.lr_selection!r}, not 5-fold cross-validation")
    elif config.lr_search_epochs and config.lr_search_epochs < config.max_epochs:
        cuts.append(f"lr search trainings capped at {config.lr_search_epochs} epochs")
    if config.max_epochs < 1000 or config.patience < 30:
        cuts.append(
            f"training up to {config.max_epochs} of 1000 epochs, patience {config.patience} of 30"
        )
    if len(config.seeds) < 50:
        cuts.append(f"{len(config.seeds)} of 50 runs")
    if max(config.widths) < PAPER_WIDEST:
        cuts.append(f"widths up to {max(config.widths)} of {PAPER_WIDEST}")
    return cuts


SETTLE: dict[str, str] = {
    # a claim fragment -> what would settle the verdict when it is not consistent
    "non-monotone in width": (
        "`--preset paper` (widths 10 to 1e5 instead of 10 to 1000, all 60000 images at d = 784,"
        " 500-step attack): the fall after the peak lies beyond the quick widths"
    ),
    "poisoning lowers": ("more paired seeds: `--set seeds=10` (quick: 3), or `--preset paper`"),
}


def summarize(table: pd.DataFrame, config: Config) -> Summary:
    """Per (family, regime): accuracy by width, the inverted-U test, poison effect and budgets."""
    headline: dict[str, Any] = {
        "width cap (this config)": max(config.widths),
        "training samples n (poisoned, incl. validation)": config.n_train,
        "cuts of the paper's protocol (this config)": "; ".join(protocol_cuts(config)) or "none",
    }
    verdicts: list[Verdict] = []
    for family in config.family:
        clean = _pivot(table, family, "clean")
        for regime in config.regime:
            acc = _pivot(table, family, regime)
            if acc.empty:
                continue
            key = f"{family}/{regime}"
            headline[f"{key}: test accuracy by width (mean ± sd)"] = ", ".join(
                f"m={int(m)}: {acc[m].mean():.3f}±{acc[m].std(ddof=1) if len(acc) > 1 else 0:.3f}"
                for m in acc.columns
            )
            if acc.shape[1] >= 3:
                s = shape_statistics(acc.to_numpy(), np.asarray(acc.columns, dtype=float))
                headline[f"{key}: peak width"] = s["peak_width"]
                headline[f"{key}: curvature in log10 m"] = s["curvature"]
                headline[f"{key}: curvature p (one-sided, < 0)"] = s["curvature_p"]
            rows = table[(table["family"] == family) & (table["regime"] == regime)]
            if regime in ("A", "B"):
                headline[f"{key}: poison spent / budget"] = float(
                    rows["poison_spent"].mean() / max(rows["poison_budget"].mean(), 1e-300)
                )
                headline[f"{key}: poisoner accuracy on its data before -> after"] = (
                    f"{rows['poisoner_accuracy_before'].mean():.3f} -> "
                    f"{rows['poisoner_accuracy_after'].mean():.3f}"
                )
            if regime == "C":
                headline[f"{key}: flip rate"] = float(rows["flip_rate"].mean())
            if regime == "clean":
                verdicts.append(_monotone_verdict(family, acc))
            else:
                verdicts.append(_inverted_u_verdict(family, regime, acc))
                if not clean.empty:
                    verdicts.append(_poison_effect_verdict(family, regime, acc, clean))
    if "margin_lower" in table and table["margin_lower"].notna().any():
        verdicts.append(_margin_verdict(table, config, headline))
    return Summary(headline=headline, verdicts=settle_each(verdicts, SETTLE))


def _margin_verdict(table: pd.DataFrame, config: Config, headline: dict[str, Any]) -> Verdict:
    """Assumption 1 on the sample (finite-width margin bounds per seed) and the theorems' width
    ranges at the estimated margin instead of the configured gamma."""
    rows = table.dropna(subset=["margin_lower"]).drop_duplicates("run_seed")
    low, high = rows["margin_lower"].to_numpy(), rows["margin_upper"].to_numpy()
    where = f"ntk: Assumption 1 margin gamma_m (parity labels, m = {config.margin_width}, " + (
        f"{config.margin_samples} samples)"
    )
    headline[where] = ", ".join(f"[{a:.4g}, {b:.4g}]" for a, b in zip(low, high, strict=True))
    claim = (
        "ntk nets: the data is separable with a positive margin in the feature space of the "
        "gradient at initialization (paper 001 Assumption 1, finite-width estimate)"
    )
    detail = (
        f"certified bounds lower <= gamma_m <= upper over {len(rows)} seeds: lower "
        f"{low.min():.4g} to {low.max():.4g}, upper {high.min():.4g} to {high.max():.4g}"
    )
    if (low > 0).all():
        gamma = float(low.min())
        for regime, g in _guarantees(config, min(gamma, 1.0)).items():
            high_m = "none" if not math.isfinite(g.width.high) else f"{g.width.high:.3g}"
            headline[f"Thm 3.{'ABC'.index(regime) + 1} width range at gamma = {gamma:.3g}"] = (
                f"[{g.width.low:.3g}, {high_m}]; swept widths inside: "
                f"{[m for m in config.widths if g.applies_at(m)]}"
            )
        return Verdict(claim, "consistent", gamma, 0.0, detail)
    if (high <= 0).any():
        return Verdict(claim, "inconsistent", float(high.min()), 0.0, detail)
    return Verdict(
        claim,
        "inconclusive",
        float(low.min()),
        0.0,
        f"{detail}: the bounds straddle 0 (more margin_steps narrow them)",
    )


# ---------------------------------------------------------------------------------- figures
_COLORS = {"clean": "tab:green", "A": "tab:blue", "B": "tab:orange", "C": "tab:red"}
_LABELS = {
    "clean": "clean",
    "A": r"A: $\sum_i\|\delta_i\| \leq C\sqrt{n}$",
    "B": r"B: $\|\delta_i\| \leq B$",
    "C": r"C: label shift, prob. $\beta$",
}
_TITLES = {"ntk": "two-layer ntk nets (Thms 3.1-3.3)", "conv": "paper's conv net (Fig. 3)"}


def figures(table: pd.DataFrame, config: Config) -> dict[str, Figure]:
    """Clean test accuracy against width m per family (mean and +-1 sd over seeds, as Fig. 3).

    Theory overlay: the theorems' width lower bound (gamma and constants as configured) and
    each regime's upper bound, drawn where they fall inside the plotted widths.
    """
    families = [f for f in config.family if (table["family"] == f).any()]
    fig, axes = new_figure(max(1, len(families)), width=5.4, height=4.0)
    axes_list = list(np.atleast_1d(axes))
    predictions = theory(config)
    lo, hi = min(config.widths), max(config.widths)
    for ax, family in zip(axes_list, families, strict=False):
        for regime in config.regime:
            rows = table[(table["family"] == family) & (table["regime"] == regime)]
            if rows.empty:
                continue
            s = mean_and_spread(rows, "width", "test_accuracy")
            sd = s["std"].fillna(0.0)
            plot_measured(
                ax,
                s["width"],
                s["mean"],
                low=s["mean"] - sd,
                high=s["mean"] + sd,
                label=_LABELS[regime],
                color=_COLORS[regime],
            )
        marks = [("black", predictions["regime_A"]["width_low"], "Thm 3.1-3.3 lower bound")]
        for bounded in ("A", "B", "C"):
            if bounded in config.regime:
                high = predictions[f"regime_{bounded}"]["width_high"]
                label = f"Thm 3.{'ABC'.index(bounded) + 1} upper bound"
                marks.append((_COLORS[bounded], high, label))
        outside = []
        for color, m, label in marks:
            if m is not None and lo <= m <= hi:
                plot_theory(ax, [m, m], [0.0, 1.0], label=label, color=color)
            else:
                shown = "none" if m is None else f"{m:.3g}"
                outside.append(f"{label}: {shown}")
        ax.set_xscale("log")
        ax.set_ylim(0.0, 1.0)
        ax.set_xlabel(r"width $m$")
        ax.set_ylabel("clean test accuracy")
        ax.set_title(f"{config.dataset.upper()}: {_TITLES[family]}", fontsize=10)
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=7, loc="lower right")
        if outside:
            ax.text(
                0.02,
                0.02,
                f"theory bounds off the plot (gamma={config.gamma:g}, constants 1):\n"
                + "\n".join(outside),
                transform=ax.transAxes,
                fontsize=6,
                va="bottom",
            )
    fig.suptitle(
        "paper 001 Fig. 3 protocol\n"
        rf"$n$ = {config.n_train}, $C$ = {config.C:.4g}, $B$ = {config.B:g}, "
        rf"$\beta$ = {config.beta:g}; mean $\pm$ sd over {table['run_seed'].nunique()} seeds",
        fontsize=9,
    )
    return {"accuracy_vs_width": fig}
