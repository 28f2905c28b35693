"""attack-optimality's figures: each radius over the exact one against d; solve times."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter, ScalarFormatter

from robustlab.plotting import loglog, new_figure, plot_measured, plot_theory

if TYPE_CHECKING:
    from robustlab.experiments.attack_optimality import Config


def figures(table: pd.DataFrame, config: Config) -> dict[str, Figure]:
    """Median (quartiles) of the three ratios against d per family; solve time against d."""
    fig, axes = new_figure(len(config.family))
    axes_list = list(np.atleast_1d(axes))
    time_fig, time_ax = new_figure(1)
    for ax, family in zip(axes_list, config.family, strict=True):
        rows = table[(table["family"] == family) & table["optimal"] & (table["exact"] > 0)]
        for column, label in (
            ("ratio_step", "single step / exact"),
            ("ratio_pgd", "PGD / exact"),
            ("ratio_certified", "certified / exact"),
        ):
            for m, group in rows.groupby("width"):
                q = group.groupby("dim")[column].quantile(np.array([0.25, 0.5, 0.75])).unstack()
                plot_measured(
                    ax, q.index, q[0.5], low=q[0.25], high=q[0.75], label=f"{label}, m={m}"
                )
        if not rows.empty:
            dims = np.array(sorted(rows["dim"].unique()), dtype=float)
            plot_theory(ax, dims, np.ones_like(dims), label="optimal (ratio 1)")
        loglog(ax, xlabel=r"dimension $d$", ylabel="radius / exact radius", title=family)
        if not rows.empty:
            ax.set_xticks(dims)
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=6)
        times = table[table["family"] == family].groupby(["dim", "width"])["solve_cpu"].median()
        for m in config.width:
            sel = times.xs(m, level="width") if m in times.index.get_level_values(1) else None
            if sel is not None and not sel.empty:
                plot_measured(time_ax, sel.index, sel.to_numpy(), label=f"{family}, m={m}")
    loglog(time_ax, xlabel=r"dimension $d$", ylabel="median exact solve CPU time per point (s)")
    if not table.empty:
        time_ax.set_xticks(np.array(sorted(table["dim"].unique()), dtype=float))
        time_ax.xaxis.set_major_formatter(ScalarFormatter())
        time_ax.xaxis.set_minor_formatter(NullFormatter())
    time_ax.legend(fontsize=7)
    fig.suptitle("Attack radius against the exact minimal l2 perturbation")
    return {"ratio_vs_dimension": fig, "solve_time": time_fig}
