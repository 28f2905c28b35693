"""universal-perturbation: (a) ||delta|| against d, (b) against n, and ||delta|| / sqrt(d)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from robustlab.experiments.universal_perturbation.claims import _series
from robustlab.experiments.universal_perturbation.config import Config
from robustlab.plotting import legend_outside, loglog, new_figure, plot_measured, plot_theory


def figures(table: pd.DataFrame, config: Config) -> dict[str, Figure]:
    """(a) ||delta|| vs d with sqrt(d) for scale, (b) ||delta|| vs n with sqrt(d/(c^2 n))."""
    fig, (left, right) = new_figure(2)
    dims = np.geomspace(min(config.dim), max(config.dim), 50)
    colors = {n: f"C{k}" for k, n in enumerate(config.n_samples)}
    for n in config.n_samples:
        rows = table[(table["regime"] == "fixed_n") & (table["n_samples"] == n)]
        if len(rows):
            xs, mean, low, high = _series(rows, "dim", "delta_norm")
            plot_measured(left, xs, mean, low=low, high=high, label=f"$n={n}$", color=colors[n])
    theorem = table[table["regime"] == "theorem_n"]
    if len(theorem):
        xs, mean, low, high = _series(theorem, "dim", "delta_norm")
        label = rf"$n\approx{config.theorem_n_coef:g}\sqrt{{d}}/\ln d$"
        plot_measured(left, xs, mean, low=low, high=high, label=label, color="C9")
        xs, scale, _, _ = _series(theorem, "dim", "bound_scale")
        plot_theory(left, xs, scale, label=r"$\sqrt{d/(c^2 n)}$ at that $n$", linestyle=":")
    plot_theory(left, dims, np.sqrt(dims), label=r"$\sqrt{d}$ (robust nets: $\Omega(\sqrt{d})$)")
    loglog(
        left,
        xlabel=r"input dimension $d$",
        ylabel=r"$\|\delta\|$, $\delta=\eta\sum_i y_i x_i$",
        title="(a) universal perturbation vs d",
    )
    legend_outside(left, fontsize=8)

    for k, d in enumerate(config.dim):
        rows = table[table["dim"] == d]
        xs, mean, low, high = _series(rows, "n_samples", "delta_norm")
        color = f"C{k}"
        plot_measured(right, xs, mean, low=low, high=high, label=f"$d={d}$", color=color)
        xs, scale, _, _ = _series(rows, "n_samples", "bound_scale")
        label = r"$\sqrt{d/(c^2 n)}$" if k == 0 else "_nolegend_"
        plot_theory(right, xs, scale, label=label, color=color)
    loglog(
        right,
        xlabel=r"training points $n$",
        ylabel=r"$\|\delta\|$",
        title="(b) universal perturbation vs n",
    )
    legend_outside(right, fontsize=8)

    fig2, ax = new_figure()
    for n in config.n_samples:
        rows = table[(table["regime"] == "fixed_n") & (table["n_samples"] == n)]
        if len(rows):
            xs, mean, low, high = _series(rows, "dim", "delta_over_sqrt_d")
            plot_measured(ax, xs, mean, low=low, high=high, label=f"$n={n}$", color=colors[n])
    if len(theorem):
        xs, mean, low, high = _series(theorem, "dim", "delta_over_sqrt_d")
        label = rf"$n\approx{config.theorem_n_coef:g}\sqrt{{d}}/\ln d$"
        plot_measured(ax, xs, mean, low=low, high=high, label=label, color="C9")
        xs, scale, _, _ = _series(theorem, "dim", "bound_scale")
        plot_theory(ax, xs, scale / np.sqrt(xs), label=r"$\sqrt{1/(c^2 n)}$ at that $n$")
    loglog(
        ax,
        xlabel=r"input dimension $d$",
        ylabel=r"$\|\delta\| / \sqrt{d}$",
        title=r"relative size: $o(\sqrt{d})$ needs $n\to\infty$",
    )
    legend_outside(ax, fontsize=8)
    return {"perturbation_norm": fig, "relative_size": fig2}
