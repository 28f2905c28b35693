"""lazy-adversarial-training's figures: Fig. 4 as heatmaps and the threshold fits."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter

from robustlab.experiments.lazy_adversarial_training.claims import thresholds
from robustlab.experiments.lazy_adversarial_training.config import (
    FIGURE4_WIDTH_CONSTANT,
    Config,
)
from robustlab.plotting import loglog, new_figure, plot_measured, plot_theory
from robustlab.theory.lazy import (
    FIGURE4_RADIUS_CONSTANT,
    lazy_radius,
)


def _edges(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Cell edges around sorted positive values, at geometric midpoints (for log axes)."""
    v = np.sort(np.asarray(values, dtype=float))
    if v.size == 1:
        return np.array([v[0] / 1.5, v[0] * 1.5])
    mid = np.sqrt(v[:-1] * v[1:])
    return np.concatenate([[v[0] ** 2 / mid[0]], mid, [v[-1] ** 2 / mid[-1]]])


def _heatmap(ax: Axes, means: pd.DataFrame, *, xlabel: str, ylabel: str, title: str) -> Any:
    """Robust accuracy over a (x, y) grid, log axes; means: index y, columns x."""
    mesh = ax.pcolormesh(
        _edges(means.columns.to_numpy(dtype=float)),
        _edges(means.index.to_numpy(dtype=float)),
        means.to_numpy(dtype=float),
        cmap="viridis",
        vmin=0.0,
        vmax=1.0,
        shading="flat",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    _grid_ticks(ax, means.columns.to_numpy(dtype=float), means.index.to_numpy(dtype=float))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    return mesh


def _grid_ticks(ax: Axes, xs: npt.ArrayLike, ys: npt.ArrayLike | None = None) -> None:
    """Label log axes at the swept values only (no overlapping minor labels)."""
    axes = [(ax.xaxis, xs)] if ys is None else [(ax.xaxis, xs), (ax.yaxis, ys)]
    for axis, values in axes:
        ticks = np.unique(np.asarray(values, dtype=float))
        axis.set_major_locator(FixedLocator(ticks.tolist()))
        axis.set_major_formatter(FixedFormatter([f"{v:g}" for v in ticks]))
        axis.set_minor_formatter(NullFormatter())


def figures(table: pd.DataFrame, config: Config) -> dict[str, Figure]:
    """Figure 4 as heatmaps with the paper's 5/sqrt(d) and 25/sqrt(m), and the threshold fits."""
    panels = [p for p in ("left", "right") if p in config.panels]
    heat, heat_axes = new_figure(len(panels), width=5.2, height=4.0)
    fits, fit_axes = new_figure(len(panels))
    heat_axes = list(np.atleast_1d(heat_axes))
    fit_axes = list(np.atleast_1d(fit_axes))
    for panel, ax, fit_ax in zip(panels, heat_axes, fit_axes, strict=True):
        rows = table[(table["panel"] == panel) & table["matched"]]
        if panel == "left":
            means = rows.pivot_table(
                index="train_budget", columns="dim", values="robust_accuracy", aggfunc="mean"
            )
            mesh = _heatmap(
                ax,
                means,
                xlabel=r"dimension $d$",
                ylabel=r"$\|\delta\|$ (train and test budget)",
                title=f"robust test accuracy, m={config.left_width}, "
                f"V={lazy_radius(config.left_width, C0=config.C0):.3g} (MNIST 0/1)",
            )
            xs = np.geomspace(min(config.left_dims), max(config.left_dims), 50)
            theory_y = FIGURE4_RADIUS_CONSTANT / np.sqrt(xs)
            theory_label = r"paper: $5/\sqrt{d}$"
            xlabel, ylabel = r"dimension $d$", r"threshold $\|\delta\|^*$ (50% robust acc.)"
        else:
            means = rows.pivot_table(
                index="lazy_radius", columns="width", values="robust_accuracy", aggfunc="mean"
            )
            mesh = _heatmap(
                ax,
                means,
                xlabel=r"width $m$",
                ylabel=r"lazy radius $V$",
                title=f"robust test accuracy, d={config.right_dim}, "
                rf"$\|\delta\|$={config.right_budget:g} (MNIST 0/1)",
            )
            xs = np.geomspace(min(config.right_widths), max(config.right_widths), 50)
            theory_y = FIGURE4_WIDTH_CONSTANT / np.sqrt(xs)
            theory_label = r"paper: $25/\sqrt{m}$"
            xlabel, ylabel = r"width $m$", r"threshold $V^*$ (50% robust acc.)"
        found = thresholds(table, panel)
        finite = found[np.isfinite(found["threshold"]) & (found["threshold"] > 0)]
        medians = finite.groupby("x")["threshold"].median()
        plot_theory(ax, xs, theory_y, label=theory_label, color="white")
        ax.plot(medians.index, medians.to_numpy(), "r^", label="measured 50% threshold")
        ax.legend(fontsize=7, loc="upper right")
        heat.colorbar(mesh, ax=ax, label="robust test accuracy")

        stats = finite.groupby("x")["threshold"].agg(["median", "min", "max"])
        if not stats.empty:
            plot_measured(fit_ax, stats.index, stats["median"], low=stats["min"], high=stats["max"])
        plot_theory(fit_ax, xs, theory_y, label=theory_label)
        loglog(fit_ax, xlabel=xlabel, ylabel=ylabel, title=f"{panel} panel of Fig. 4")
        _grid_ticks(fit_ax, xs[[0, -1]] if stats.empty else stats.index.to_numpy(dtype=float))
        fit_ax.legend(fontsize=7)
    heat.suptitle("Paper 002 Fig. 4: projected adversarial training in the lazy ball")
    return {"figure4": heat, "thresholds": fits}
