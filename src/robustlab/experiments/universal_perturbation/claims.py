"""universal-perturbation: the verdicts (every point flipped, o(sqrt d), the slope in n)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from robustlab.experiments.base import Summary
from robustlab.experiments.universal_perturbation.config import EXPONENT_D_MAX, EXPONENT_N, Config
from robustlab.theory import claims
from robustlab.theory.claims import settle_each
from robustlab.theory.fitting import SlopeFit, Verdict, fit_loglog_slope


def _means(table: pd.DataFrame, column: str) -> dict[tuple[str, int, int], float]:
    """Mean of `column` over networks and seeds per (regime, d, n)."""
    grouped = table.groupby(["regime", "dim", "n_samples"], sort=True)[column].mean().reset_index()
    columns = (grouped[c].tolist() for c in ("regime", "dim", "n_samples"))
    keys = zip(*columns, strict=True)
    values = grouped[column].to_numpy(dtype=np.float64).tolist()
    return {(str(r), int(d), int(n)): float(v) for (r, d, n), v in zip(keys, values, strict=True)}


def _arrays(table: pd.DataFrame, *columns: str) -> list[npt.NDArray[np.float64]]:
    return [table[c].to_numpy(dtype=np.float64) for c in columns]


def _series(
    table: pd.DataFrame, x: str, y: str
) -> tuple[
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
]:
    """x values, mean, min and max of y per x."""
    stats = table.groupby(x, sort=True)[y].agg(["mean", "min", "max"]).reset_index()
    xs, mean, low, high = _arrays(stats, x, "mean", "min", "max")
    return xs, mean, low, high


SETTLE: dict[str, str] = {
    # a claim fragment -> what would settle the verdict when it is not consistent
    "scales like sqrt(d / (c^2 n))": (
        "`--preset standard` (n = 2 to 8 at d = 400 to 3200): the theorem's condition admits "
        "only n <= 5-8 at d = 3200, so the paper grid (n >= 5, d <= 3200) meets it at one n "
        "only; quick d <= 200 admit none"
    ),
}


def summarize(table: pd.DataFrame, config: Config) -> Summary:
    """Flips, convergence, o(sqrt d) in the theorem regime, n^{-1/2} at fixed d, the condition."""
    verdicts: list[Verdict] = []
    fractions, converged, ratio = _arrays(
        table, "fraction_flipped", "converged", "delta_over_sqrt_d"
    )
    holds = table["condition_holds"].to_numpy(dtype=bool)
    headline: dict[str, Any] = {
        "networks": len(table),
        "all_points_flipped_fraction_of_nets": float(np.mean(fractions == 1.0)),
        "min_fraction_flipped": float(fractions.min()),
        "converged_fraction": float(converged.mean()),
        "max_final_log10_loss": float(table["final_log10_loss"].max()),
        "max_delta_over_sqrt_d": float(ratio.max()),
        "delta_over_bound_range": [
            float(table["delta_over_bound"].min()),
            float(table["delta_over_bound"].max()),
        ],
        "eta_times_n_mean": float(table["eta_times_n"].mean()),
        "condition_holds_in_data_sets": f"{int(holds.sum())} of {len(holds)}",
        "mean_delta_norm": {
            f"{r},d={d},n={n}": v for (r, d, n), v in _means(table, "delta_norm").items()
        },
        "paper": "the slides show the plots without numbers",
    }
    flipped_where_condition = table[table["condition_holds"]]["fraction_flipped"]
    reason = (
        f"{int((fractions == 1.0).sum())} of {len(fractions)} nets have every point flipped at "
        f"one eta; the separation condition holds in {int(holds.sum())} of {len(holds)} data sets"
        + (
            f" (all flipped there: {bool((flipped_where_condition == 1.0).all())})"
            if len(flipped_where_condition)
            else ", so the flips come from outside the theorem's assumptions"
        )
    )
    verdicts.append(
        claims.fact(
            "delta = eta sum_i y_i x_i flips every training point (fraction flipped = 1)",
            bool((fractions == 1.0).all()),
            measured=float(fractions.min()),
            predicted=1.0,
            reason=reason,
        )
    )
    verdicts.append(
        claims.fraction(
            int(converged.sum()),
            len(converged),
            claim=f"gradient flow reaches L <= {config.loss_threshold:g} (near a KKT point of "
            "eq. (14))",
            at_least=1.0,
            fail_below=0.0,
            what="nets reached the threshold (largest final log10 L: "
            f"{headline['max_final_log10_loss']:.2f})",
        )
    )
    verdicts.append(_little_o_verdict(table, headline))
    verdicts.append(_n_exponent_verdict(table, headline))
    return Summary(headline=headline, verdicts=settle_each(verdicts, SETTLE))


def _little_o_verdict(table: pd.DataFrame, headline: dict[str, Any]) -> Verdict:
    """||delta|| = o(sqrt d) with n ~ sqrt(d)/log d: slope < 1/2 and ||delta||/sqrt(d) falling."""
    claim = "||delta|| = o(sqrt(d)) when n grows like sqrt(d) / log d (slope in d below 1/2)"
    rows = table[table["regime"] == "theorem_n"]
    if rows["dim"].nunique() < 3:
        reason = f"{rows['dim'].nunique()} dimensions in the theorem regime (need 3)"
        return claims.inconclusive(claim, reason, predicted=EXPONENT_D_MAX)
    dims, norms = _arrays(rows, "dim", "delta_norm")
    fit = fit_loglog_slope(dims, norms)
    by_d, ratios, _, _ = _series(rows, "dim", "delta_over_sqrt_d")
    falling = all(b < a for a, b in itertools.pairwise(ratios.tolist()))
    headline["theorem_regime_slope_in_d"] = fit.to_dict()
    headline["theorem_regime_delta_over_sqrt_d"] = {
        str(int(d)): float(v) for d, v in zip(by_d.tolist(), ratios.tolist(), strict=True)
    }
    met = int(rows["condition_holds"].sum())
    parts = [
        claims.exponent_of(fit, EXPONENT_D_MAX, claim="slope", tolerance=0.0, relation="<="),
        claims.fact(
            "||delta||/sqrt(d) falls in d",
            falling,
            measured=None,
            predicted=None,
            reason="monotone" if falling else "not monotone",
            otherwise="inconclusive",
        ),
    ]
    verdict = claims.every(claim, parts, measured=fit.slope, predicted=EXPONENT_D_MAX)
    reason = f"{verdict.reason}; the theorem's separation condition holds in {met} of "
    reason += f"{len(rows)} of these data sets"
    return Verdict(claim, verdict.verdict, fit.slope, EXPONENT_D_MAX, reason)


def _n_exponent_verdict(table: pd.DataFrame, headline: dict[str, Any]) -> Verdict:
    """||delta|| ~ n^{-1/2} at fixed d, judged only on data sets that meet the condition."""
    claim = "||delta|| scales like sqrt(d / (c^2 n)) in n (log-log slope -1/2 at fixed d)"
    slopes: dict[str, float] = {}
    for d, rows in table.groupby("dim", sort=True):
        if rows["n_samples"].nunique() >= 3:
            ns, norms = _arrays(rows, "n_samples", "delta_norm")
            slopes[str(d)] = fit_loglog_slope(ns, norms).slope
    headline["slope_in_n_by_d"] = slopes
    inside = table[table["condition_holds"]]
    best: tuple[int, SlopeFit] | None = None
    for d, rows in inside.groupby("dim", sort=True):
        if rows["n_samples"].nunique() >= 3:
            ns, norms = _arrays(rows, "n_samples", "delta_norm")
            best = (int(str(d)), fit_loglog_slope(ns, norms))
    if best is None:
        measured = slopes[max(slopes, key=int)] if slopes else None
        observed = (
            f"; over all data sets the slope is {measured:.3g} at the largest d"
            if measured is not None
            else ""
        )
        reason = (
            "no d has data sets meeting n <= (d+1)/(3(max|<x_i,x_j>|+1)) at three or more n, "
            f"so the bound does not apply{observed}"
        )
        return claims.inconclusive(claim, reason, measured=measured, predicted=EXPONENT_N)
    d, fit = best
    return claims.exponent_of(
        fit, EXPONENT_N, tolerance=0.15, claim=f"{claim}, d = {d}, data meeting the condition"
    )
