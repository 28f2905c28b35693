"""neurotron-poisoning's figures: error against t, final error against theta and beta."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from robustlab.experiments.neurotron_poisoning.claims import final_rows
from robustlab.experiments.neurotron_poisoning.config import LEARNER, Config, InputLaw
from robustlab.experiments.neurotron_poisoning.theory import theory
from robustlab.plotting import new_figure, plot_measured, plot_theory

_LEARNER = LEARNER


# --------------------------------------------------------------------------- figures
_SPREAD = "median over runs, band: interquartile range"
_ORACLE_COLOR = {
    "none": "tab:gray",
    "random": "tab:blue",
    "adversarial": "tab:orange",
    "realizable": "tab:green",
}
_LEARNER_LINE = {"neurotron": "-", "sgd": ":", "sgd-published": "-."}


def _q25(values: pd.Series) -> float:
    return float(values.quantile(0.25))


def _q75(values: pd.Series) -> float:
    return float(values.quantile(0.75))


def _axes_list(axes: Any) -> list[Axes]:
    return list(np.atleast_1d(axes).ravel())


def figures(table: pd.DataFrame, config: Config) -> dict[str, Figure]:
    """Error vs t per theta, final error vs theta (with the bounds) and vs beta, per input law."""
    out: dict[str, Figure] = {}
    predictions = theory(config)["distributions"]
    laws = config.distributions
    learners = [lr for lr in ("neurotron", "sgd", "sgd-published") if lr in config.learners]
    oracle = "random" if "random" in config.oracles else config.oracles[0]

    fig, axes = new_figure(len(learners), nrows=len(laws), width=4.6, height=3.4)
    grid = np.array(_axes_list(axes)).reshape(len(laws), len(learners))
    for i, law in enumerate(laws):
        for j, learner in enumerate(learners):
            ax = grid[i, j]
            rows = table[
                (table["distribution"] == law.name)
                & (table["learner"] == learner)
                & (table["oracle"] == oracle)
                & (table["sweep"] == "theta")
            ]
            for theta, group in rows.groupby("theta"):
                stats_ = group.groupby("t")["error"].agg(["median", _q25, _q75]).reset_index()
                plot_measured(
                    ax,
                    stats_["t"],
                    stats_["median"],
                    low=stats_["_q25"],
                    high=stats_["_q75"],
                    label=rf"$\theta$ = {theta:g}",
                    marker=None,
                )
            ax.set_yscale("log")
            ax.set_xlabel("iteration $t$")
            ax.set_ylabel(r"$\|w_t - w^*\|$")
            ax.xaxis.set_major_locator(MaxNLocator(5))
            ax.set_title(
                f"{_LEARNER[learner]}, {law.label()}, {oracle} attack\n{_SPREAD}", fontsize=8
            )
            ax.grid(True, which="both", alpha=0.25)
            ax.legend(fontsize=7)
    out["error_vs_iterations"] = fig

    fig, axes = new_figure(len(laws), width=4.8, height=3.8)
    for ax, law in zip(_axes_list(axes), laws, strict=True):
        _theta_panel(ax, table, config, law, predictions[law.name])
    out["final_error_vs_theta"] = fig

    if config.beta_sweep and any(o in config.oracles for o in ("random", "adversarial")):
        fig, axes = new_figure(len(laws), width=4.8, height=3.8)
        for ax, law in zip(_axes_list(axes), laws, strict=True):
            final = final_rows(table)
            rows = final[(final["distribution"] == law.name) & (final["sweep"] == "beta")]
            for (orc, learner_name), group in rows.groupby(["oracle", "learner"]):
                stats_ = group.groupby("beta")["error"].agg(["median", _q25, _q75]).reset_index()
                plot_measured(
                    ax,
                    stats_["beta"],
                    stats_["median"],
                    low=stats_["_q25"],
                    high=stats_["_q75"],
                    label=f"{_LEARNER[str(learner_name)]}, {orc}",
                    color=_ORACLE_COLOR[str(orc)],
                    linestyle=_LEARNER_LINE[str(learner_name)],
                )
            ax.set_xscale("symlog", linthresh=0.01)
            ax.set_yscale("log")
            ax.set_xlabel(r"attack probability $\beta$")
            ax.set_ylabel(r"$\|w_T - w^*\|$")
            ax.set_title(
                rf"{law.label()}, $\theta$ = {config.beta_sweep_theta:g}" + f"\n{_SPREAD}",
                fontsize=8,
            )
            ax.grid(True, which="both", alpha=0.25)
            ax.legend(fontsize=7)
        out["final_error_vs_beta"] = fig
    return out


def _theta_panel(
    ax: Axes, table: pd.DataFrame, config: Config, law: InputLaw, info: dict[str, Any]
) -> None:
    """Final error vs theta per (oracle, learner), Theorem II.1's bound and the w_adv bound."""
    final = final_rows(table)
    rows = final[(final["distribution"] == law.name) & (final["sweep"] == "theta")]
    for (orc, learner), group in rows.groupby(["oracle", "learner"]):
        stats_ = group.groupby("theta")["error"].agg(["median", _q25, _q75]).reset_index()
        plot_measured(
            ax,
            stats_["theta"],
            stats_["median"],
            low=stats_["_q25"],
            high=stats_["_q75"],
            label=f"{_LEARNER[str(learner)]}, {orc}",
            color=_ORACLE_COLOR[str(orc)],
            linestyle=_LEARNER_LINE[str(learner)],
        )
    thetas = np.array(sorted(config.thetas), dtype=float)
    realizable = rows[(rows["oracle"] == "realizable") & (rows["theta"] > 0)]
    if not realizable.empty:
        gap = realizable.groupby("theta")["w_adv_gap"].mean()
        plot_theory(
            ax,
            gap.index.to_numpy(dtype=float),
            gap.to_numpy(dtype=float),
            label=r"$\|w_{adv} - w^*\|$ (II-A lower bound)",
            color="tab:red",
            linewidth=2.0,
        )
    notes = []
    seeds = [v for v in info.values() if v.get("defined")]
    slopes = [v["asymptotic_slope"] for v in seeds if "asymptotic_slope" in v]
    if slopes and len(thetas):
        plot_theory(
            ax, thetas, float(np.mean(slopes)) * thetas, label=r"$\theta/\sqrt{c_{trade-off}}$"
        )
    informative = []
    for seed_info in seeds:
        for theta_key, entry in seed_info.get("bound_at_eta", {}).items():
            if entry["informative"]:
                informative.append((float(theta_key), math.sqrt(entry["bound_sq_at_T"])))
    if informative:
        xs, ys = zip(*sorted(informative), strict=True)
        plot_theory(ax, xs, ys, label="Thm II.1 bound at $T$", marker="x")
    if seeds:
        c_mean = float(np.mean([v["c_tradeoff"] for v in seeds]))
        vacuous = all(v["vacuous"] for v in seeds)
        notes.append(rf"$c_{{trade-off}}$ = {c_mean:.3g}" + (" (vacuous)" if vacuous else ""))
    else:
        notes.append("Thm II.1 undefined")
    if any(not math.isfinite(v["m4"]) for v in seeds):
        notes.append(r"$m_4 = \infty$")
    if not informative:
        notes.append("Thm II.1 bound vacuous at this $\\eta$")
    ax.text(0.02, 0.98, "\n".join(notes), transform=ax.transAxes, va="top", fontsize=7)
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set_yscale("log")
    ax.set_xlabel(r"noise bound $\theta$")
    ax.set_ylabel(r"$\|w_T - w^*\|$, $T$ = " + f"{config.steps}")
    ax.set_title(f"{law.label()}\n{_SPREAD}", fontsize=8)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=6, loc="best")
