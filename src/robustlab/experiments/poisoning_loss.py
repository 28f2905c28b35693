"""Negated loss vs cross-entropy for clean-label poisoning of a linear MNIST model (paper 001).

Paper 001 (Wang, Mianjy & Arora, ICML 2021), section 5 and Figure 1 (left column): a linear
model w* (10 classes, PyTorch initialization, minibatch SGD with batch 128) is trained on clean
MNIST; the training inputs are then poisoned against w* by projected gradient ascent under the
regime-A budget sum_i ||delta_i|| <= S = C sqrt(n) (labels intact, pixels kept in [0, 1]); a fresh
linear model trained on the poisoned set is scored on the clean test set. Maximizing the paper's
negated loss -CE(-f(x), y) ("flipping the sign on both the model prediction and the
cross-entropy loss"; -log(1 + e^z) for one logit) instead of the cross-entropy is claimed to give
the stronger attack (top row: lower clean test accuracy at each corruption rate C) because it
spreads the budget over all samples, while the cross-entropy "wastes" it on making a few samples
"more wrong" and leaves many virtually untouched (bottom row: histograms of ||delta_i||).
Theorem 2.2 with Proposition 2.1 ties the damage to S / n = C / sqrt(n), the average per-sample
perturbation. Training follows the authors' released script for this figure (advgenmnist.py:
lr 0.004, 100 epochs, its default C = 800); the grid of C values is not in the text (the figure
was lost in conversion), so ours spans 0 to 1200 around that default. The library's greedy
multiclass negated loss (paper 004) can be added as a third loss ("negated").
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from pydantic import Field, field_validator
from scipy import stats
from torch import Tensor

from robustlab.data import load_mnist
from robustlab.experiments.base import Cell, CellContext, ExperimentConfig, Summary, grid
from robustlab.experiments.linear_training import train_linear_classifiers
from robustlab.geometry import L21
from robustlab.learners.trace import evaluate
from robustlab.models import LinearModel
from robustlab.plotting import (
    legend_outside,
    mean_and_spread,
    new_figure,
    plot_measured,
    plot_theory,
)
from robustlab.poisoning import clean_label
from robustlab.theory.fitting import Verdict

PAPER = "001"
FIGURE = "Fig. 1 (left: linear model on MNIST)"
VERSION = 1

LossName = Literal["negated-ce", "negated", "ce"]
NUM_CLASSES = 10
MNIST_TRAIN, MNIST_TEST = 60_000, 10_000

PAPER_CODE_C = 800.0
"""Default corruption rate of the authors' linear-model script (advgenmnist.py), at n = 60000."""
PAPER_PER_SAMPLE = PAPER_CODE_C / math.sqrt(MNIST_TRAIN)
"""The same budget as an average per-sample perturbation S / n = C / sqrt(n) (3.27)."""

PAPER_FIGURE_1: dict[str, Any] = {
    "accuracy": "negated loss (orange) below cross-entropy (blue) in clean test accuracy of the "
    "model retrained on poisoned data, as a function of C; no values in the text",
    "histogram": "cross-entropy leaves a large portion of samples virtually untouched and "
    "spends excessive norm on a few; 'a perturbation of size 5 is more than enough'",
    "code_default_C": PAPER_CODE_C,
    "training": "SGD, batch 128, lr 0.004, 100 epochs, PyTorch init, no momentum",
}
"""What paper 001 section 5 (and its linear-model script) states about Figure 1 (left)."""

ALPHA = 0.05
"""Level of the one-sided tests in `summarize`."""
PAPER_BUDGET_TOLERANCE = 1.5
"""A grid C counts as the paper's budget when its S/n is within this factor of 3.27."""
SIZE_FIVE = 5.0
"""The per-sample norm the paper calls 'more than enough' to make an MNIST label hard."""


class Config(ExperimentConfig):
    """Corruption rates (swept), data sizes, attack and retraining settings."""

    C: list[float] = Field(
        default=[0.0, 200.0, 400.0, 600.0, 800.0, 1000.0, 1200.0],
        min_length=1,
        description="corruption rates C (swept): l_{2,1} budget S = C sqrt(n_train)",
    )
    losses: list[LossName] = Field(
        default=["negated-ce", "ce"],
        min_length=1,
        description="poisoning losses compared in every cell: 'negated-ce' -CE(-f, y) (the "
        "paper's), 'negated' (greedy multiclass variant, paper 004), 'ce' (cross-entropy)",
    )
    n_train: int = Field(
        default=MNIST_TRAIN, ge=20, le=MNIST_TRAIN, description="training images (seeded draw)"
    )
    n_test: int = Field(
        default=MNIST_TEST, ge=10, le=MNIST_TEST, description="clean test images (seeded draw)"
    )
    poison_steps: int = Field(
        default=50, ge=1, description="projected gradient ascent steps of the attack"
    )
    box: bool = Field(default=True, description="keep poisoned pixels in [0, 1] (paper's code)")
    members: int = Field(
        default=4, ge=1, description="linear models retrained per poisoned set (ensemble axis)"
    )
    lr: float = Field(default=0.004, gt=0.0, description="SGD learning rate (w* and retraining)")
    epochs: int = Field(default=100, ge=1, description="SGD epochs (w* and retraining)")
    batch_size: int = Field(default=128, ge=1, description="SGD minibatch size")
    histogram_bins: int = Field(
        default=56, ge=2, description="bins of the ||delta_i|| histograms on [0, sqrt(784)]"
    )
    untouched_norm: float = Field(
        default=0.1, gt=0.0, description="||delta_i|| below this counts as virtually untouched"
    )

    @field_validator("C")
    @classmethod
    def _nonnegative(cls, value: list[float]) -> list[float]:
        if any(not (math.isfinite(c) and c >= 0) for c in value):
            raise ValueError(f"corruption rates must be finite and >= 0, got {value}")
        if len(set(value)) != len(value):
            raise ValueError(f"corruption rates must be distinct, got {value}")
        return value

    @field_validator("losses")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"losses must be distinct, got {value}")
        return value


PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        # The paper preset's C = 0, 400, 800, 1200 at n = 60000 rescaled to n = 2000 (same S/n
        # = 0, 1.63, 3.27, 4.90).
        "C": [0.0, 73.03, 146.06, 219.09],
        "losses": ["negated-ce", "negated", "ce"],
        "n_train": 2000,
        "n_test": 1000,
        "poison_steps": 10,
        "members": 4,
        "lr": 0.05,
        "epochs": 10,
    },
    "paper": {},
}

CAPTIONS: dict[str, str] = {
    # figure stem -> what it shows and which paper figure it reproduces
    "accuracy_and_norms": (
        "Paper 001 Fig. 1 (left, linear model on MNIST): clean test accuracy after retraining on "
        "data poisoned under the l_{2,1} budget S = C sqrt(n), against C per poisoning loss "
        "(the negated loss -l(-f) of the paper, a greedy negated variant, cross-entropy); right, "
        "histograms of the per-sample perturbation norms ||delta_i|| at the largest C."
    ),
}


def cells(config: Config) -> list[Cell]:
    """One cell per (seed, C); each cell attacks with every loss against the same w*."""
    return grid(config, sweep=("C",))


# --------------------------------------------------------------------------- run_cell


@functools.lru_cache(maxsize=4)
def _data(
    n_train: int, n_test: int, seed: int, data_dir: Path | None
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The cell's seeded draw of MNIST: x_train (n, 784), y_train, x_test, y_test (CPU, float32)."""
    generator = torch.Generator().manual_seed(seed)
    train, test = load_mnist("train", data_dir=data_dir), load_mnist("test", data_dir=data_dir)
    train_idx = torch.randperm(train.x.shape[0], generator=generator)[:n_train]
    test_idx = torch.randperm(test.x.shape[0], generator=generator)[:n_test]
    return train.x[train_idx], train.y[train_idx], test.x[test_idx], test.y[test_idx]


@functools.lru_cache(maxsize=4)
def _reference(
    n_train: int,
    n_test: int,
    seed: int,
    lr: float,
    epochs: int,
    batch_size: int,
    dtype: torch.dtype,
    device: torch.device,
    data_dir: Path | None,
) -> LinearModel:
    """w*: one linear model trained on the cell's clean training set (shared by its C cells)."""
    X, y, _, _ = _data(n_train, n_test, seed, data_dir)
    reference_seed = _derived_seeds(seed)[0]
    return train_linear_classifiers(
        X.to(device, dtype),
        y.to(device),
        members=1,
        num_classes=NUM_CLASSES,
        lr=lr,
        epochs=epochs,
        batch_size=batch_size,
        seed=reference_seed,
    )


def _derived_seeds(seed: int) -> tuple[int, int]:
    """(seed of w*, seed of the retrained members), drawn from the cell seed."""
    draws = torch.randint(0, 2**62, (2,), generator=torch.Generator().manual_seed(seed + 1))
    return int(draws[0]), int(draws[1])


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
    X, y, X_test, y_test = (t.to(ctx.device) for t in _data(n, n_test, seed, ctx.data_dir))
    X, X_test = X.to(ctx.dtype), X_test.to(ctx.dtype)
    reference = _reference(n, n_test, seed, lr, epochs, batch, ctx.dtype, ctx.device, ctx.data_dir)
    _, reference_accuracy = evaluate(reference, X_test, y_test, loss="ce")
    member_seed = _derived_seeds(seed)[1]
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


# --------------------------------------------------------------------------- theory


def theory(config: Config) -> dict[str, Any]:
    """The per-sample budgets S/n = C/sqrt(n) of the grid, the paper's budget and statements."""
    root_n = math.sqrt(config.n_train)
    return {
        "per_sample_budget": {str(c): c / root_n for c in config.C},
        "paper_code_C_at_60000": PAPER_CODE_C,
        "paper_per_sample_budget": PAPER_PER_SAMPLE,
        "paper_equivalent_C_here": PAPER_PER_SAMPLE * root_n,
        "theorem_2_2_poisoning_term": "2 D (alpha D R + L) C / sqrt(n): grows linearly in C",
        "paper_figure_1": PAPER_FIGURE_1,
    }


# --------------------------------------------------------------------------- summarize


def _members(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["record"] == "member"]


def _negated_losses(config: Config) -> list[LossName]:
    return [loss for loss in config.losses if loss != "ce"]


def _decrease_verdict(rows: pd.DataFrame, loss: str) -> tuple[Verdict, float]:
    """Spearman test that the clean test accuracy falls as C grows (all members and seeds)."""
    claim = f"clean test accuracy after poisoning with '{loss}' decreases with C"
    part = rows[rows["loss"] == loss]
    if part["C"].nunique() < 3:
        reason = f"only {part['C'].nunique()} distinct C values (need 3)"
        return Verdict(claim, "inconclusive", None, None, reason), math.nan
    rho, p_two = stats.spearmanr(part["C"], part["test_accuracy"])
    rho, p_two = float(rho), float(p_two)
    one_sided = p_two / 2 if rho < 0 else 1 - p_two / 2
    reason = f"Spearman rho = {rho:.3f} over {len(part)} retrained models, one-sided p = "
    reason += f"{one_sided:.2g}"
    if rho < 0 and one_sided < ALPHA:
        return Verdict(claim, "consistent", rho, -1.0, reason), rho
    if rho > 0 and 1 - one_sided < ALPHA:
        return Verdict(claim, "inconsistent", rho, -1.0, reason + " (increasing)"), rho
    return Verdict(claim, "inconclusive", rho, -1.0, reason + ": not significant"), rho


def _paired_differences(rows: pd.DataFrame, loss: str) -> pd.DataFrame:
    """Per C > 0: mean accuracy(loss) - accuracy(ce) over paired members, t statistic, p values."""
    keys = ["C", "seed", "member"]
    mine = rows[rows["loss"] == loss].set_index(keys)["test_accuracy"]
    ce = rows[rows["loss"] == "ce"].set_index(keys)["test_accuracy"]
    diff = (mine - ce).dropna().reset_index()
    out = []
    for C in sorted(diff[diff["C"] > 0]["C"].unique()):
        values = diff[diff["C"] == C]["test_accuracy"].to_numpy()
        mean = float(values.mean())
        if len(values) > 1 and float(values.std(ddof=1)) > 0:
            result = stats.ttest_1samp(values, 0.0)
            t, p = float(result.statistic), float(result.pvalue)
        else:
            t, p = (0.0, 1.0) if mean == 0 else (math.copysign(math.inf, mean), 0.0)
        out.append({"C": float(C), "mean": mean, "t": t, "p": p, "count": len(values)})
    return pd.DataFrame(out, columns=["C", "mean", "t", "p", "count"])


def _comparison_verdicts(
    rows: pd.DataFrame, loss: str, config: Config
) -> tuple[list[Verdict], dict[str, Any]]:
    """Is `loss` the stronger attack (lower clean accuracy) than 'ce' at every C, and at 3.27?"""
    diffs = _paired_differences(rows, loss)
    lower = diffs[(diffs["mean"] < 0) & (diffs["p"] < ALPHA)]
    higher = diffs[(diffs["mean"] > 0) & (diffs["p"] < ALPHA)]
    headline = {
        f"accuracy_{loss}_minus_ce": {str(r.C): r.mean for r in diffs.itertuples()},
        f"C_where_{loss}_beats_ce": [float(c) for c in lower["C"]],
        f"C_where_ce_beats_{loss}": [float(c) for c in higher["C"]],
    }
    claim = f"'{loss}' poisons harder than 'ce' (lower clean test accuracy) at every C > 0"
    total = len(diffs)
    per_c = "; ".join(f"C={r.C:g}: {r.mean:+.3f} (p={r.p:.2g})" for r in diffs.itertuples())
    verdicts = []
    if total == 0:
        verdicts.append(Verdict(claim, "inconclusive", None, None, "no C > 0 on the grid"))
    elif len(lower) == total:
        verdicts.append(
            Verdict(claim, "consistent", float(len(lower)), float(total), f"paired: {per_c}")
        )
    elif len(higher) > 0:
        reason = f"'ce' significantly stronger at C = {sorted(higher['C'].tolist())}; {per_c}"
        verdicts.append(Verdict(claim, "inconsistent", float(len(lower)), float(total), reason))
    else:
        reason = f"not significant at every C; {per_c}"
        verdicts.append(Verdict(claim, "inconclusive", float(len(lower)), float(total), reason))
    # The paper's own budget: C = 800 at n = 60000, i.e. S/n = 3.27.
    claim = f"'{loss}' poisons harder than 'ce' at the paper's budget S/n = {PAPER_PER_SAMPLE:.2f}"
    root_n = math.sqrt(config.n_train)
    if total:
        ratios = np.abs(np.log(diffs["C"].to_numpy() / root_n / PAPER_PER_SAMPLE))
        nearest = diffs.iloc[int(np.argmin(ratios))]
        if float(ratios.min()) > math.log(PAPER_BUDGET_TOLERANCE):
            reason = f"no grid C has S/n within a factor {PAPER_BUDGET_TOLERANCE} of 3.27"
            verdicts.append(Verdict(claim, "inconclusive", None, 0.0, reason))
        else:
            reason = (
                f"at C = {nearest['C']:g} (S/n = {nearest['C'] / root_n:.2f}): accuracy "
                f"difference {nearest['mean']:+.3f}, t = {nearest['t']:.2f}, p = {nearest['p']:.2g}"
            )
            significant = float(nearest["p"]) < ALPHA
            measured = float(nearest["mean"])
            if not significant:
                verdicts.append(Verdict(claim, "inconclusive", measured, 0.0, reason))
            elif measured < 0:
                verdicts.append(Verdict(claim, "consistent", measured, 0.0, reason))
            else:
                verdicts.append(Verdict(claim, "inconsistent", measured, 0.0, reason))
    else:
        verdicts.append(Verdict(claim, "inconclusive", None, 0.0, "no C > 0 on the grid"))
    return verdicts, headline


def _spread_verdict(rows: pd.DataFrame, loss: str) -> Verdict:
    """Fig. 1 bottom: 'ce' leaves more samples untouched and piles more norm on a few."""
    claim = (
        f"'ce' leaves more samples virtually untouched and reaches larger ||delta_i|| "
        f"than '{loss}' (Fig. 1 bottom)"
    )
    first = rows[(rows["C"] > 0) & (rows["member"] == 0)]
    per_cell = first.pivot_table(
        index=["C", "seed"], columns="loss", values=["frac_untouched", "max_norm"]
    )
    if per_cell.empty:
        return Verdict(claim, "inconclusive", None, None, "no C > 0 on the grid")
    untouched = per_cell["frac_untouched"]["ce"] > per_cell["frac_untouched"][loss]
    larger = per_cell["max_norm"]["ce"] > per_cell["max_norm"][loss]
    both = untouched & larger
    share = float(both.mean())
    reason = (
        f"in {int(both.sum())} of {len(both)} (C, seed) cells; untouched fraction ce vs "
        f"{loss}: {per_cell['frac_untouched']['ce'].mean():.3f} vs "
        f"{per_cell['frac_untouched'][loss].mean():.3f}, max norm "
        f"{per_cell['max_norm']['ce'].mean():.2f} vs {per_cell['max_norm'][loss].mean():.2f}"
    )
    if share == 1.0:
        return Verdict(claim, "consistent", share, 1.0, reason)
    if share < 0.5:
        return Verdict(claim, "inconsistent", share, 1.0, reason)
    return Verdict(claim, "inconclusive", share, 1.0, reason)


def summarize(table: pd.DataFrame, config: Config) -> Summary:
    """Accuracy against C per loss, negated vs ce per C and at the paper's budget, spreading."""
    rows = _members(table)
    stats_by = mean_and_spread(rows, "C", "test_accuracy", by=("loss",))
    headline: dict[str, Any] = {
        "n_train": config.n_train,
        "clean_test_accuracy": float(rows[rows["C"] == 0]["test_accuracy"].mean())
        if (rows["C"] == 0).any()
        else None,
        "reference_test_accuracy": float(rows["reference_test_accuracy"].mean()),
        "test_accuracy": {
            loss: {str(r.C): r.mean for r in part.itertuples()}
            for loss, part in stats_by.groupby("loss")
        },
        "per_sample_budget": {str(c): c / math.sqrt(config.n_train) for c in config.C},
        "paper": PAPER_FIGURE_1,
    }
    verdicts: list[Verdict] = []
    for loss in config.losses:
        verdict, rho = _decrease_verdict(rows, loss)
        headline[f"spearman_accuracy_vs_C_{loss}"] = rho
        if loss != "ce":
            verdicts.append(verdict)
    if "ce" in config.losses:
        for loss in _negated_losses(config):
            found, extra = _comparison_verdicts(rows, loss, config)
            verdicts.extend(found)
            headline.update(extra)
            verdicts.append(_spread_verdict(rows, loss))
    return Summary(headline=headline, verdicts=verdicts)


# --------------------------------------------------------------------------- figures

_LABELS = {"negated-ce": "negated loss $-\\ell(-f)$", "negated": "greedy negated", "ce": "CE"}
_COLORS = {"negated-ce": "tab:orange", "negated": "tab:green", "ce": "tab:blue"}


def figures(table: pd.DataFrame, config: Config) -> dict[str, Figure]:
    """Clean test accuracy against C per loss (top row of Fig. 1) and ||delta_i|| histograms."""
    rows = _members(table)
    root_n = math.sqrt(config.n_train)
    fig, axes = new_figure(2)
    ax = axes[0]
    stats_by = mean_and_spread(rows, "C", "test_accuracy", by=("loss",))
    for loss, part in stats_by.groupby("loss"):
        plot_measured(
            ax,
            part["C"],
            part["mean"],
            low=part["min"],
            high=part["max"],
            label=_LABELS.get(str(loss), str(loss)),
            color=_COLORS.get(str(loss)),
        )
    paper_c = PAPER_PER_SAMPLE * root_n
    ax.axvline(paper_c, color="gray", linestyle=":", linewidth=1)
    ax.annotate(
        " paper's C = 800 at n = 60000",
        (paper_c, 0.93),
        xycoords=("data", "axes fraction"),
        fontsize=7,
        color="gray",
    )
    ax.set_xlabel(r"corruption rate $C$  ($S = C\sqrt{n}$)")
    ax.set_ylabel("clean test accuracy")
    ax.set_ylim(0.0, 1.0)
    top = ax.secondary_xaxis("top", functions=(lambda c: c / root_n, lambda r: r * root_n))
    top.set_xlabel(r"$S/n = C/\sqrt{n}$")
    ax.set_title(f"linear model, MNIST (10 classes, n = {config.n_train})", fontsize=9)
    ax.grid(True, alpha=0.25)
    ax.legend(fontsize=8)

    ax = axes[1]
    hist = table[table["record"] == "histogram"]
    positive = sorted(c for c in hist["C"].unique() if c > 0)
    if positive:
        shown = positive[-1]
        part = hist[hist["C"] == shown]
        for loss, group in part.groupby("loss"):
            counts = group.groupby("bin")["count"].mean().sort_index()
            lows = group.groupby("bin")["bin_low"].first().sort_index().to_numpy()
            edges = np.append(lows, group["bin_high"].max())
            ax.stairs(
                counts.to_numpy(),
                edges,
                label=_LABELS.get(str(loss), str(loss)),
                color=_COLORS.get(str(loss)),
                linewidth=1.5,
            )
        plot_theory(
            ax,
            [shown / root_n] * 2,
            [0.8, config.n_train],
            label=r"uniform spread $\|\delta_i\| = S/n$",
        )
        ax.axvline(SIZE_FIVE, color="gray", linestyle=":", linewidth=1, label="size 5 (paper)")
        ax.set_yscale("log")
        reached = part[part["count"] > 0]["bin_high"].max()
        ax.set_xlim(0.0, max(float(reached), SIZE_FIVE) * 1.1)
        ax.set_title(f"C = {shown:g} (S/n = {shown / root_n:.2f})", fontsize=9)
        legend_outside(ax, fontsize=8)
    ax.set_xlabel(r"per-sample perturbation $\|\delta_i\|_2$")
    ax.set_ylabel("number of training samples")
    ax.grid(True, alpha=0.25)
    return {"accuracy_and_norms": fig}
