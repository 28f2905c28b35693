"""schmidt-cnn's figure: the CNNs' errors against n beside the Gaussian model."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from matplotlib.figure import Figure

from robustlab.experiments.schmidt_cnn.theory import theory
from robustlab.plotting import new_figure, plot_measured, plot_theory

if TYPE_CHECKING:
    from robustlab.experiments.schmidt_cnn import Config


def figures(table: pd.DataFrame, config: Config) -> dict[str, Figure]:
    """Left: the CNNs' standard and robust test error against n; right: the Gaussian model."""
    fig, (left, right) = new_figure(2, width=4.6, height=3.6)
    colors = {"standard": "tab:blue", "adversarial": "tab:red"}
    for training, rows in table.groupby("training"):
        for column, style in (("standard_error", "-"), ("robust_error", "--")):
            stats_ = rows.groupby("n_train")[column].agg(["mean", "min", "max"]).reset_index()
            plot_measured(
                left,
                stats_["n_train"],
                stats_["mean"],
                low=stats_["min"],
                high=stats_["max"],
                label=f"{training} training, {column.split('_')[0]} error",
                color=colors.get(str(training), "tab:gray"),
                linestyle=style,
            )
    left.set_xscale("log")
    left.set_xlabel("training samples $n$")
    left.set_ylabel("test error")
    left.set_title(rf"CNNs on MNIST, PGD-$\ell_\infty$ $\varepsilon = {config.eps:g}$", fontsize=9)
    left.grid(True, which="both", alpha=0.25)
    left.legend(fontsize=7)
    curves = theory(config)["gaussian_model"]
    plot_theory(right, curves["n"], curves["standard"], label="standard error", color="tab:blue")
    plot_theory(
        right, curves["n"], curves["robust"], label=r"$\ell_\infty$-robust error", color="tab:red"
    )
    right.set_xscale("log")
    right.set_xlabel("training samples $n$")
    right.set_ylabel("error of $w = \\sum_i y_i x_i$")
    right.set_title(
        rf"Gaussian model, $d = 784$, $\sigma = {config.gaussian_c1:g} d^{{1/4}}$, "
        rf"$\varepsilon = {config.gaussian_eps:g}$",
        fontsize=9,
    )
    right.grid(True, which="both", alpha=0.25)
    right.legend(fontsize=7)
    return {"errors_vs_n": fig}
