"""poisoning-width: clean test accuracy against width per family, as Fig. 3."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from robustlab.experiments.poisoning_width.claims import theory
from robustlab.experiments.poisoning_width.config import Config
from robustlab.plotting import mean_and_spread, new_figure, plot_measured, plot_theory

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
