"""lazy-single-step's figures: paper 002 Figs. 2, 3, 5, 6 (curves in d) and 7 (histograms)."""

from __future__ import annotations

import math
from typing import cast

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter, ScalarFormatter

from robustlab.experiments.lazy_single_step.claims import (
    _QUANTITIES,
    PAPER_FIG7_PERTURBATION,
    _reference,
    _runs,
    _with_step,
)
from robustlab.experiments.lazy_single_step.config import Config
from robustlab.plotting import loglog, mean_and_spread, new_figure, plot_measured, plot_theory
from robustlab.theory.lazy import LAZY_SCALINGS


def _theory_line(ax: Axes, stats: pd.DataFrame, exponent: float) -> None:
    """The predicted power law through the geometric mean of the plotted means."""
    dims = np.asarray(stats["dim"], dtype=float)
    means = np.asarray(stats["mean"], dtype=float)
    keep = np.isfinite(means) & (means > 0)
    if not keep.any():
        return
    log_d, log_y = np.log(dims[keep]), np.log(means[keep])
    prefactor = math.exp(float(log_y.mean() - exponent * log_d.mean()))
    grid_d = np.geomspace(dims.min(), dims.max(), 50)
    plot_theory(
        ax, grid_d, prefactor * grid_d**exponent, label=f"theory $\\propto d^{{{exponent:g}}}$"
    )


def _tex(value: float) -> str:
    """A number for mathtext: 10^{k} for powers of ten from 1000 on, else its short form."""
    exponent = math.log10(value) if value > 0 else 0.0
    if value >= 1000 and exponent == round(exponent):
        return f"10^{{{round(exponent)}}}"
    return f"{value:g}"


def _curves(runs: pd.DataFrame, by: str, title: str, label: str) -> Figure:
    """Three panels (perturbation, gradient norm, step) against d, one curve per ``by``."""
    fig, axes = new_figure(3)
    for ax, (column, law, ylabel) in zip(axes, _QUANTITIES.values(), strict=True):
        pooled = mean_and_spread(runs, "dim", column)
        for value, part in runs.groupby(by):
            stats = mean_and_spread(part, "dim", column)
            plot_measured(
                ax,
                stats["dim"],
                stats["mean"],
                low=stats["min"],
                high=stats["max"],
                label=label.format(_tex(float(cast(float, value)))),
            )
        _theory_line(ax, pooled, LAZY_SCALINGS[law].exponent)
        loglog(ax, xlabel=r"input dimension $d$", ylabel=ylabel)
        ax.set_xticks(sorted(int(d) for d in runs["dim"].unique()))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return fig


def figures(table: pd.DataFrame, config: Config) -> dict[str, Figure]:
    """Figs. 2/5 (per m at C0), 3/6 (per C0 at m) for raw/unit inputs and Fig. 7 histograms."""
    runs = _runs(table)
    ref_c0 = _reference(runs["C0"], config.reference_c0, fallback="min")
    ref_width = int(_reference(runs["width"], config.reference_width, fallback="max"))
    out: dict[str, Figure] = {}
    numbers = {"raw": ("2", "3"), "unit": ("5", "6")}
    scaling = {"raw": "raw pixels in [0, 1]", "unit": r"$\|x\| = 1$"}
    for norm in sorted(runs["normalization"].unique()):
        of_norm = runs[runs["normalization"] == norm]
        by_width, by_c0 = numbers[norm]
        at_c0 = of_norm[np.isclose(of_norm["C0"], ref_c0)]
        out[f"fig{by_width}_{norm}_by_width"] = _curves(
            at_c0, "width", f"MNIST 0 vs 1, {scaling[norm]}, $C_0 = {ref_c0:g}$", "$m = {}$"
        )
        at_width = of_norm[of_norm["width"] == ref_width]
        if at_width["C0"].nunique() >= 2:
            out[f"fig{by_c0}_{norm}_by_C0"] = _curves(
                at_width,
                "C0",
                f"MNIST 0 vs 1, {scaling[norm]}, $m = {_tex(ref_width)}$",
                "$C_0 = {}$",
            )
    out["fig7_histograms"] = _histograms(table, ref_c0, ref_width)
    return out


def _histograms(table: pd.DataFrame, ref_c0: float, ref_width: int) -> Figure:
    """Fig. 7: per-test-point histograms at the largest d, reference m and C0."""
    data = _with_step(table)
    d_top = int(data["dim"].max())
    chosen = data[
        (data["dim"] == d_top)
        & (data["width"] == ref_width)
        & np.isclose(data["C0"], ref_c0)
        & data["flipped"].astype(bool)
    ]
    fig, axes = new_figure(3)
    for ax, (column, _, xlabel) in zip(axes, _QUANTITIES.values(), strict=True):
        for norm, part in chosen.groupby("normalization"):
            values = part[column].to_numpy(dtype=float)
            spread = values.max() - values.min()
            bins = 40 if spread > 1e-9 * abs(values.max()) else 1
            ax.hist(values, bins=bins, alpha=0.6, label=f"{norm} inputs")
        if column == "delta_norm":
            ax.axvline(PAPER_FIG7_PERTURBATION, color="black", linestyle="--", label="paper: 0.045")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("test points")
        ax.legend(fontsize=8)
    fig.suptitle(f"MNIST 0 vs 1, $d = {d_top}$, $m = {_tex(ref_width)}$, $C_0 = {ref_c0:g}$")
    return fig
