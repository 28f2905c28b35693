"""lazy-adversarial-training's theory and claims: thresholds where robust accuracy crosses 50%,
their slopes and constants, the collapse beyond the threshold and the phase transition in V."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from robustlab.experiments.base import Summary
from robustlab.experiments.lazy_adversarial_training.config import (
    FIGURE4_WIDTH_CONSTANT,
    PREFACTOR_FACTOR,
    THRESHOLD_LEVEL,
    Config,
    Panel,
)
from robustlab.theory import claims
from robustlab.theory.claims import settle_each
from robustlab.theory.fitting import Verdict
from robustlab.theory.lazy import (
    FIGURE4_RADIUS_CONSTANT,
    ROBUST_ERROR_FLOOR,
    corollary32_radius,
    lazy_radius,
)


def theory(config: Config) -> dict[str, Any]:
    """Thresholds the paper reports (5/sqrt(d), 25/sqrt(m)) at the swept settings, slopes -1/2."""
    return {
        "slope_threshold_budget_in_d": -0.5,
        "slope_threshold_radius_in_m": -0.5,
        "paper_budget_constant": FIGURE4_RADIUS_CONSTANT,
        "paper_radius_constant": FIGURE4_WIDTH_CONSTANT,
        "threshold_budget": {
            str(d): corollary32_radius(d, constant=FIGURE4_RADIUS_CONSTANT)
            for d in config.left_dims
        },
        "threshold_radius": {
            str(m): FIGURE4_WIDTH_CONSTANT / math.sqrt(m) for m in config.right_widths
        },
        "left_lazy_radius": lazy_radius(config.left_width, C0=config.C0),
        "corollary32_robust_error_floor": ROBUST_ERROR_FLOOR,
        "paper_reported": "Fig. 4: sharp drop of robust accuracy near ||delta|| = 5/sqrt(d) "
        "(m = 1000, V = 0.316); robust once V exceeds about 25/sqrt(m) (d = 784, ||delta|| = 0.2)",
    }


def crossing(levels: npt.ArrayLike, accuracy: npt.ArrayLike, *, rising: bool) -> float:
    """Where accuracy crosses THRESHOLD_LEVEL along increasing levels, log-interpolated.

    Falling (rising=False): the first level with accuracy below the threshold, interpolated
    against the one before; rising: the first at or above it. Returns 0 when the first level is
    already past the threshold and inf when no level is (censored either way).
    """
    order = np.argsort(np.asarray(levels, dtype=float))
    x = np.log(np.asarray(levels, dtype=float)[order])
    a = np.asarray(accuracy, dtype=float)[order]
    past = a >= THRESHOLD_LEVEL if rising else a < THRESHOLD_LEVEL
    if not past.any():
        return math.inf
    i = int(np.argmax(past))
    if i == 0:
        return 0.0
    t = (a[i - 1] - THRESHOLD_LEVEL) / (a[i - 1] - a[i])
    return float(math.exp(x[i - 1] + t * (x[i] - x[i - 1])))


def thresholds(table: pd.DataFrame, panel: Panel) -> pd.DataFrame:
    """Per (x, seed, run): the measured threshold of one panel.

    Left: x = d, threshold = the budget ||delta|| where the robust accuracy of networks trained
    and tested at ||delta|| falls below 50%. Right: x = m, threshold = the radius V where the
    robust accuracy at the panel's budget rises to 50%. Columns x, seed, run, threshold.
    """
    rows = table[(table["panel"] == panel) & table["matched"]]
    key, level = ("dim", "train_budget") if panel == "left" else ("width", "lazy_radius")
    out = []
    for (x, seed, run), group in rows.groupby([key, "seed", "run"]):
        value = crossing(group[level], group["robust_accuracy"], rising=panel == "right")
        out.append({"x": x, "seed": seed, "run": run, "threshold": value})
    return pd.DataFrame(out, columns=["x", "seed", "run", "threshold"])


def _slope_verdict(found: pd.DataFrame, *, claim: str, total: int) -> Verdict:
    """The threshold's log-log slope against -1/2, thresholds outside the grid left out."""
    finite = found[np.isfinite(found["threshold"]) & (found["threshold"] > 0)]
    censored = total - len(finite)
    verdict = claims.exponent(finite["x"], finite["threshold"], -0.5, claim=claim, tolerance=0.15)
    if not censored:
        return verdict
    reason = f"{verdict.reason}; {censored} of {total} thresholds outside the grid left out"
    return Verdict(claim, verdict.verdict, verdict.measured, verdict.predicted, reason)


def _prefactor_verdict(found: pd.DataFrame, *, paper: float, claim: str) -> tuple[Verdict, float]:
    finite = found[np.isfinite(found["threshold"]) & (found["threshold"] > 0)]
    if finite.empty:
        return claims.inconclusive(claim, "no threshold inside the grid", predicted=paper), math.nan
    constant = float(np.median(finite["threshold"] * np.sqrt(finite["x"].astype(float))))
    verdict = claims.within_factor(constant, paper, PREFACTOR_FACTOR, claim=claim)
    reason = f"median threshold x sqrt(.): {verdict.reason}"
    return Verdict(claim, verdict.verdict, verdict.measured, verdict.predicted, reason), constant


def _collapse_verdict(table: pd.DataFrame) -> Verdict:
    """Corollary 3.2: beyond twice the paper's threshold the robust error is >= 0.9."""
    claim = (
        "left: robust accuracy <= 0.1 at every budget >= 2 x 5/sqrt(d) "
        "(Corollary 3.2: robust error >= 0.9)"
    )
    rows = table[(table["panel"] == "left") & table["matched"]]
    far = rows[rows["train_budget"] >= 2 * FIGURE4_RADIUS_CONSTANT / np.sqrt(rows["dim"])]
    if far.empty:
        reason = "no budget that large"
        return claims.inconclusive(claim, reason, predicted=1 - ROBUST_ERROR_FLOOR)
    worst = float(far.groupby(["dim", "train_budget"])["robust_accuracy"].mean().max())
    verdict = claims.bound(worst, 1 - ROBUST_ERROR_FLOOR, claim=claim)
    reason = f"largest mean robust accuracy over {far['dim'].nunique()} dimensions at such "
    reason += f"budgets: {verdict.reason}"
    return Verdict(claim, verdict.verdict, verdict.measured, verdict.predicted, reason)


def _transition_verdict(table: pd.DataFrame) -> Verdict:
    """Right panel: robust accuracy rises from the smallest to the largest radius, per width."""
    claim = "right: robust accuracy rises with the lazy radius V (phase transition)"
    rows = table[(table["panel"] == "right") & table["matched"]]
    if rows["lazy_radius"].nunique() < 2:
        return claims.inconclusive(claim, "fewer than two radii")
    means = rows.groupby(["width", "lazy_radius"])["robust_accuracy"].mean().unstack()
    rise = float((means.iloc[:, -1] - means.iloc[:, 0]).min())
    verdict = claims.bound(rise, THRESHOLD_LEVEL, claim=claim, relation=">=")
    reason = (
        f"smallest rise of the mean robust accuracy from V={means.columns[0]:g} to "
        f"V={means.columns[-1]:g} over {len(means)} widths: {verdict.reason}"
    )
    return Verdict(claim, verdict.verdict, verdict.measured, verdict.predicted, reason)


SETTLE: dict[str, str] = {
    # a claim fragment -> what would settle the verdict when it is not consistent
    "right: threshold radius": (
        "`--preset standard` (right panel: widths 64 to 1e4, radii 0.125 to 4, 3 runs; quick: "
        "widths 64 and 256 only) or `--preset paper` (widths 1e3, 1e4, 1e5 at d = 784, 5 runs)"
    ),
    "left:": (
        "`--preset paper` (24 dimensions 25 to 784, width 1000, 5 runs, 100-step PGD on all of "
        "MNIST 0/1)"
    ),
}


# Per panel of Fig. 4: the axis, the slope claim, the prefactor claim with the paper's
# constant, and the Config field holding its axis values (the third verdict: the collapse on
# the left, the transition on the right).
_PANELS = (
    (
        "left",
        "d",
        "threshold budget ||delta||* ~ d^-1/2 (Theorem 3.1)",
        "threshold ||delta||* sqrt(d) near the paper's 5",
        FIGURE4_RADIUS_CONSTANT,
        "left_dims",
    ),
    (
        "right",
        "m",
        "threshold radius V* ~ m^-1/2 (lazy ball C0/sqrt(m))",
        "threshold V* sqrt(m) near the paper's 25",
        FIGURE4_WIDTH_CONSTANT,
        "right_widths",
    ),
)


def summarize(table: pd.DataFrame, config: Config) -> Summary:
    """Threshold slopes in d and m against -1/2, prefactors against 5 and 25, the collapse."""
    headline: dict[str, Any] = {}
    verdicts: list[Verdict] = []
    for panel, axis, slope_claim, prefactor_claim, paper, values in _PANELS:
        if panel not in config.panels:
            continue
        found = thresholds(table, panel)
        verdict = _slope_verdict(found, claim=f"{panel}: {slope_claim}", total=len(found))
        verdicts.append(verdict)
        prefactor, constant = _prefactor_verdict(
            found, paper=paper, claim=f"{panel}: {prefactor_claim}"
        )
        verdicts.append(prefactor)
        verdicts.append(_collapse_verdict(table) if panel == "left" else _transition_verdict(table))
        headline[f"{panel}_threshold_slope"] = verdict.measured
        headline[f"{panel}_threshold_constant"] = constant
        headline[f"{panel}_threshold_by_{axis}"] = _median_by_x(found)
        headline[f"{panel}_paper_threshold_by_{axis}"] = {
            str(x): paper / math.sqrt(x) for x in getattr(config, values)
        }
        headline[f"{panel}_clean_accuracy"] = float(
            table.loc[table["panel"] == panel, "clean_accuracy"].mean()
        )
    headline["mean_epochs"] = float(table["epochs"].mean())
    return Summary(headline=headline, verdicts=settle_each(verdicts, SETTLE))


def _median_by_x(found: pd.DataFrame) -> dict[str, float]:
    return {str(x): float(group["threshold"].median()) for x, group in found.groupby("x")}
