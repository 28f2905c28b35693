"""poisoning-sample-size: Figure 2 (excess against n per C), the transition and the bound."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from robustlab.experiments.poisoning_sample_size.claims import (
    _cell_means,
    _overhead,
    _segments,
    transition_threshold,
)
from robustlab.experiments.poisoning_sample_size.config import Config
from robustlab.experiments.poisoning_sample_size.theory import PAPER_KAPPA
from robustlab.plotting import loglog, new_figure, plot_measured, plot_theory


def _colors(values: list[float]) -> dict[float, Any]:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    k = max(len(values) - 1, 1)
    return {c: cmap(0.9 * i / k) for i, c in enumerate(values)}


def figures(table: pd.DataFrame, config: Config) -> dict[str, Figure]:
    """Excess loss and error against n per C (Fig. 2), the overhead against C/sqrt(n), the bound."""
    Cs = sorted(float(c) for c in table["C"].unique())
    colors = _colors(Cs)
    sizes = np.array(sorted(table["n"].unique()), dtype=float)
    fig, axes = new_figure(2)
    for ax, column, label in (
        (axes[0], "excess_loss", r"excess loss $F(w_n) - F(w^*)$"),
        (axes[1], "excess_error", r"excess error $L(w_n) - L(w^*)$"),
    ):
        means = _cell_means(table, column)
        for C in Cs:
            part = means[(means["C"] == C) & (means["mean"] > 0)]
            plot_measured(
                ax,
                part["n"],
                part["mean"],
                low=(part["mean"] - part["sem"]).clip(lower=part["mean"] * 0.05),
                high=part["mean"] + part["sem"],
                label=f"C = {C:g}",
                color=colors[C],
            )
            if C > 0 and sizes[0] <= C**2 <= sizes[-1]:
                ax.axvline(C**2, color=colors[C], linestyle=":", linewidth=1)
        positive = means[means["mean"] > 0]
        if column == "excess_loss" and not positive.empty:
            lowest = positive[positive["C"] == positive["C"].min()]
            anchor = lowest.sort_values("n").iloc[-1]
            ref = float(anchor["mean"]) * (sizes / float(anchor["n"])) ** -0.5
            plot_theory(ax, sizes, ref, label=r"$\propto n^{-1/2}$ (Thm 2.2)")
        loglog(ax, xlabel=r"sample size $n$", ylabel=label)
        ax.set_title(r"dotted: $n = C^2$ (predicted transition)", fontsize=8)
        ax.legend(fontsize=7)
    figs = {"excess_vs_n": fig}

    fig, axes = new_figure(2)
    ax = axes[0]
    if (table["C"] == 0).any():
        overhead = _overhead(table).groupby(["C", "n"])["overhead"].mean().reset_index()
        overhead = overhead[overhead["overhead"] > 0]
        for C in Cs[1:] if Cs and Cs[0] == 0 else Cs:
            part = overhead[overhead["C"] == C].sort_values("n")
            ax.plot(
                part["C"] / np.sqrt(part["n"]),
                part["overhead"],
                marker="o",
                color=colors[C],
                label=f"C = {C:g}",
            )
        ax.axvline(PAPER_KAPPA, **{"color": "black", "linestyle": "--", "linewidth": 1.3})
        ax.annotate("paper: C ~ sqrt(n)", (PAPER_KAPPA, 0.95), xycoords=("data", "axes fraction"))
        segments = _segments(_overhead(table))
        usable = segments[segments["resolved"]]
        kappa, _ = transition_threshold(usable["r"].to_numpy(), usable["decreasing"].to_numpy())
        if math.isfinite(kappa):
            ax.axvline(kappa, color="gray", linewidth=1.5, label=rf"fitted $\kappa$ = {kappa:.2g}")
    loglog(
        ax,
        xlabel=r"per-sample budget $S/n = C/\sqrt{n}$",
        ylabel=r"overhead $F(w_n^C) - F(w_n^0)$",
        title="the transition in C/sqrt(n)",
    )
    ax.legend(fontsize=7)
    ax = axes[1]
    bounds = _cell_means(table, "bound")
    means = _cell_means(table, "excess_loss")
    for C in Cs:
        part = means[(means["C"] == C) & (means["mean"] > 0)]
        ax.plot(part["n"], part["mean"], marker="o", color=colors[C], label=f"C = {C:g}")
        bound = bounds[bounds["C"] == C]
        plot_theory(ax, bound["n"], bound["mean"], label="_", color=colors[C])
    loglog(
        ax,
        xlabel=r"sample size $n$",
        ylabel=r"$F(w_n) - F(w^*)$",
        title="dashed: Theorem 2.2 bound (T = n)",
    )
    ax.legend(fontsize=7)
    figs["transition_and_bound"] = fig
    return figs
