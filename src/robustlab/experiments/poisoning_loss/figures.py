"""poisoning-loss: clean accuracy against C per loss (Fig. 1 top) and the ||delta_i|| histograms."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from robustlab.experiments.poisoning_loss.claims import _members
from robustlab.experiments.poisoning_loss.config import PAPER_PER_SAMPLE, SIZE_FIVE, Config
from robustlab.plotting import (
    legend_outside,
    mean_and_spread,
    new_figure,
    plot_measured,
    plot_theory,
)

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
