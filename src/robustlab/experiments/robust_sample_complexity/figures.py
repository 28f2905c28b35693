"""robust-sample-complexity: error against n per d, n at the target error against d."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from robustlab.experiments.robust_sample_complexity.claims import _curves, sample_complexities
from robustlab.experiments.robust_sample_complexity.config import Config, _tau
from robustlab.experiments.robust_sample_complexity.theory import _lower, _upper
from robustlab.plotting import legend_below, loglog, new_figure, plot_measured, plot_theory
from robustlab.theory.schmidt import TARGET_ERROR, predicted_n_half, robust_error_lower_bound

_FLOOR = 1e-7


def _error_axes(ax: Any, title: str, n_grid: list[int]) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(min(n_grid) / 1.3, max(n_grid) * 1.3)
    ax.set_ylim(_FLOOR, 1.5)
    ax.set_xlabel(r"training samples $n$")
    ax.set_ylabel(r"error $\beta$, robust error $\beta_r$ (mean)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.25)


def _panels(count: int) -> tuple[Figure, list[Any]]:
    fig, axes = new_figure(count, width=4.4)
    return fig, list(np.atleast_1d(axes))


def figures(table: pd.DataFrame, config: Config) -> dict[str, Figure]:
    """Error vs n per d (bounds as vertical lines), n_target vs d with eq. (17), Bernoulli."""
    out: dict[str, Figure] = {}
    curves = _curves(table, "gaussian")
    dims = sorted({d for d, _ in curves})
    colors = {eps: f"C{k}" for k, eps in enumerate(sorted(config.eps))}
    fig, axes = _panels(len(dims))
    for ax, d in zip(axes, dims, strict=True):
        for (dim, eps), (n, error) in curves.items():
            if dim != d:
                continue
            label = r"$\beta$ (standard)" if eps == 0 else rf"$\beta_r$, $\epsilon={eps:g}$"
            color = "gray" if eps == 0 else colors.get(eps, "C9")
            plot_measured(ax, n, np.clip(error, _FLOOR, None), label=label, color=color)
            if eps == 0:
                continue
            upper = _upper(eps, d, config.c_upper)
            if upper is not None:
                ax.axvline(max(upper, 1.0), color=color, linestyle="--", linewidth=1)
            lower = _lower(eps, d, config.c_lower)
            if lower >= min(config.n_samples) / 1.3:
                ax.axvline(lower, color=color, linestyle=":", linewidth=1)
        ax.axhline(TARGET_ERROR, color="black", linestyle="--", linewidth=0.8)
        ax.axhline(robust_error_lower_bound(d), color="black", linestyle=":", linewidth=0.8)
        title = rf"Gaussian, $d={d}$, $\sigma={config.sigma_coef:g}d^{{1/4}}$"
        _error_axes(ax, title, config.n_samples)
    handles, labels = axes[0].get_legend_handles_labels()
    handles += [Line2D([], [], color="black", linestyle="--", linewidth=1)] * 2
    handles += [Line2D([], [], color="black", linestyle=":", linewidth=1)] * 2
    labels += [
        r"vertical: $n=c'\epsilon^2\sqrt{d}$ (upper, eq. 17)",
        "horizontal: 1% error (target)",
        r"vertical: $n=c\epsilon^2\sqrt{d}/\log d$ (lower, eq. 16)",
        r"horizontal: $(1-1/d)/2$ (robust error floor)",
    ]
    legend_below(fig, handles, labels, fontsize=10)
    out["gaussian_errors"] = fig

    points = sample_complexities(table, config.target_error)
    fig, ax = new_figure()
    grid = np.geomspace(min(config.gaussian_dims), max(config.gaussian_dims), 50)
    for eps in sorted(config.eps):
        color = colors[eps]
        first = eps == min(config.eps)
        measured = sorted((d, v) for (d, e), v in points.items() if e == eps)
        if measured:
            label = rf"measured, $\epsilon={eps:g}$"
            xs, ys = zip(*measured, strict=True)
            plot_measured(ax, xs, ys, label=label, color=color)
        if eps <= 0.25:
            upper_curve = [_upper(eps, float(d), config.c_upper) or math.nan for d in grid]
            label = r"$c'\epsilon^2\sqrt{d}$ (upper, eq. 17)" if first else "_nolegend_"
            plot_theory(ax, grid, upper_curve, label=label, color=color)
        if config.target_error == 0.5:
            closed = [predicted_n_half(eps, float(d), config.sigma_coef) for d in grid]
            label = r"closed form of $w=\sum_i y_i x_i$" if first else "_nolegend_"
            plot_theory(ax, grid, closed, label=label, linestyle="-.", color=color, linewidth=0.9)
        lower_curve = [_lower(eps, float(d), config.c_lower) for d in grid]
        label = r"$c\,\epsilon^2\sqrt{d}/\log d$ (lower, eq. 16)" if first else "_nolegend_"
        plot_theory(ax, grid, lower_curve, label=label, linestyle=":", color=color)
    loglog(
        ax,
        xlabel=r"dimension $d$",
        ylabel=rf"$n$ at robust error $\beta_r = {config.target_error:g}$",
        title="Gaussian model: robust sample complexity",
    )
    ax.legend(fontsize=7, loc="upper left")
    out["gaussian_sample_complexity"] = fig

    if config.bernoulli_dims and bool((table["model"] == "bernoulli").any()):
        linear = _curves(table, "bernoulli", "linear")
        thresholded = _curves(table, "bernoulli", "thresholded")
        dims = sorted({d for d, _ in linear})
        fig, axes = _panels(len(dims))
        for ax, d in zip(axes, dims, strict=True):
            ratios = sorted(ratio for dim, ratio in linear if dim == d)
            for k, ratio in enumerate(ratios):
                n, error = linear[(d, ratio)]
                label = (
                    r"linear, $\beta$"
                    if ratio == 0
                    else rf"linear, $\beta_r$, $\epsilon={ratio:g}\tau$"
                )
                color = "gray" if ratio == 0 else f"C{k - 1}"
                plot_measured(ax, n, np.clip(error, _FLOOR, None), label=label, color=color)
            robust = [thresholded[(d, ratio)] for ratio in ratios if ratio > 0]
            if robust:
                n = robust[0][0]
                error = np.max(np.stack([err for _, err in robust]), axis=0)
                plot_measured(
                    ax,
                    n,
                    np.clip(error, _FLOOR, None),
                    label=r"$f\circ\mathrm{sgn}$, $\beta_r$ (every $\epsilon$)",
                    color="black",
                    linestyle="none",
                    marker="x",
                )
            ax.axvline(config.bernoulli_gap**2 * d, color="black", linestyle=":", linewidth=1)
            ax.axhline(0.5 - config.bernoulli_gap, color="black", linestyle=":", linewidth=0.8)
            ax.axhline(TARGET_ERROR, color="black", linestyle="--", linewidth=0.8)
            title = rf"Bernoulli, $d={d}$, $\tau={_tau(config.tau_coef, d):.3g}$"
            _error_axes(ax, title, config.n_samples)
        axes[0].legend(
            fontsize=7, title=r": $n=\gamma^2 d$ and $1/2-\gamma$ (eq. 18)", title_fontsize=7
        )
        out["bernoulli_errors"] = fig
    return out
