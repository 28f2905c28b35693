"""random-net-single-step: median |eta| and ||delta|| / ||x|| against d, and |eta| histograms."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from robustlab.experiments.random_net_single_step.claims import _cell_medians
from robustlab.experiments.random_net_single_step.config import ETA_BAND, Config
from robustlab.plotting import loglog, new_figure, plot_measured, plot_theory
from robustlab.theory.lazy import limit_medians


def figures(table: pd.DataFrame, config: Config) -> dict[str, Figure]:
    """Median |eta| and ||delta|| / ||x|| against d per (activation, k); |eta| histograms."""
    medians = _cell_medians(table)
    fig, axes = new_figure(2)
    dims = np.geomspace(min(config.dim), max(config.dim), 50)
    for activation in config.activation:
        limits = limit_medians(activation)
        for k in config.width:
            sel = medians[(medians["activation"] == activation) & (medians["width"] == k)]
            stats = sel.groupby("dim")[["median_abs_eta", "median_relative_delta"]].mean()
            label = f"{activation}, k={k}"
            plot_measured(axes[0], stats.index, stats["median_abs_eta"], label=label)
            plot_measured(axes[1], stats.index, stats["median_relative_delta"], label=label)
        plot_theory(
            axes[0],
            dims,
            np.full_like(dims, limits["median_abs_eta"]),
            label=f"{activation}: large-width limit",
        )
        plot_theory(
            axes[1],
            dims,
            limits["median_delta_norm"] / np.sqrt(dims),
            label=f"{activation}: limit $\\times d^{{-1/2}}$",
        )
    axes[0].axhspan(1.0 / ETA_BAND, ETA_BAND, color="grey", alpha=0.1, label=r"$|\eta| \approx 1$")
    loglog(axes[0], xlabel=r"dimension $d$", ylabel=r"median $|\eta|$ over inputs and networks")
    loglog(axes[1], xlabel=r"dimension $d$", ylabel=r"median $\|\delta\| / \|x\|$")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.suptitle("Bubeck et al. 2021: minimal single gradient step on random nets")

    hist, hist_axes = new_figure(len(config.activation))
    return {"step_vs_dimension": fig, "step_histogram": _histograms(table, config, hist, hist_axes)}


def _histograms(table: pd.DataFrame, config: Config, fig: Figure, axes: Any) -> Figure:
    """Histogram of |eta| at the largest (d, k), one panel per activation (as paper 002 Fig. 7)."""
    axes_list = list(np.atleast_1d(axes))
    d, k = max(config.dim), max(config.width)
    for ax, activation in zip(axes_list, config.activation, strict=True):
        sel = table[
            (table["activation"] == activation) & (table["dim"] == d) & (table["width"] == k)
        ]
        values = sel["abs_eta"].to_numpy()
        values = values[np.isfinite(values)]
        ax.hist(values, bins=50, color="tab:blue", alpha=0.7, label="measured")
        ax.axvline(1.0, **{"color": "black", "linestyle": "--"}, label=r"$|\eta| = 1$ (slides)")
        ax.axvline(
            limit_medians(activation)["median_abs_eta"],
            color="tab:red",
            linestyle=":",
            label="limit of the median",
        )
        ax.set_xlabel(r"$|\eta|$ of the minimal flipping step")
        ax.set_ylabel("count")
        ax.set_title(f"{activation}, d={d}, k={k}")
        ax.legend(fontsize=7)
    return fig
