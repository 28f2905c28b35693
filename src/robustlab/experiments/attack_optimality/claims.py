"""attack-optimality's claims per family, each one kind of `robustlab.theory.claims`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from robustlab.experiments.base import Summary
from robustlab.theory import claims
from robustlab.theory.claims import settle_each
from robustlab.theory.fitting import Verdict

if TYPE_CHECKING:
    from robustlab.experiments.attack_optimality import Config

#: "Within a constant factor": the median single-step / exact ratio at every d stays below it.
STEP_FACTOR = 2.0
#: Largest |slope| of the median step / exact ratio in d that still counts as "does not grow".
SLOPE_TOLERANCE = 0.1
#: Slack of the soundness check: the exact radius asks the margin to reach -1e-5 |f(x)|.
SOUND_RTOL = 1e-4
#: CPU seconds per point within which a solve counts as "solved exactly" (CPU, not wall time:
#: the solvers run single-threaded in process, and CPU time does not grow with machine load).
SOLVE_SECONDS = 10.0


def _solved(table: pd.DataFrame, family: str) -> pd.DataFrame:
    """The points of one family solved to optimality with a positive exact radius."""
    return table[(table["family"] == family) & table["optimal"] & (table["exact"] > 0)]


def _by_dim(rows: pd.DataFrame, column: str) -> pd.Series:
    return rows.groupby("dim")[column].median()


def step_within_factor(rows: pd.DataFrame, family: str) -> Verdict:
    """The largest median step / exact ratio over d is at most STEP_FACTOR."""
    return claims.bound(
        float(_by_dim(rows, "ratio_step").max()),
        STEP_FACTOR,
        claim=f"{family}: the single gradient step is within a factor {STEP_FACTOR:g} of the "
        "exact minimal perturbation (median over points, every d)",
    )


def factor_flat_in_d(rows: pd.DataFrame, family: str) -> Verdict:
    """The median step / exact ratio against d: log-log slope 0 within SLOPE_TOLERANCE."""
    by_dim = _by_dim(rows, "ratio_step")
    return claims.exponent(
        by_dim.index,
        by_dim.to_numpy(),
        0.0,
        claim=f"{family}: the step / exact factor does not grow with d",
        tolerance=SLOPE_TOLERANCE,
    )


def sound(rows: pd.DataFrame, family: str) -> Verdict:
    """certified <= exact <= min(step, PGD) on every optimally solved point."""
    exact = rows["exact"].to_numpy()
    attacks = np.minimum(rows["step"].to_numpy(), rows["pgd"].to_numpy())
    below = rows["certified"].to_numpy() <= exact * (1 + 1e-9)
    above = exact <= attacks * (1 + SOUND_RTOL)
    verdict = claims.fraction(
        int(np.sum(below & above)),
        len(rows),
        claim=f"{family}: certified <= exact <= every attack, on every point",
        at_least=1.0,
        what="points",
    )
    detail = f"; {int(np.sum(~below))} with certified > exact, {int(np.sum(~above))} with an "
    detail += f"attack below exact (relative slack {SOUND_RTOL:g})"
    return dataclasses.replace(verdict, reason=verdict.reason + detail)


#: The claims per family, in the order of the summary (each one kind of theory.claims).
CLAIMS: tuple[Callable[[pd.DataFrame, str], Verdict], ...] = (
    step_within_factor,
    factor_flat_in_d,
    sound,
)

SETTLE: dict[str, str] = {
    # a claim fragment -> what would settle the verdict when it is not consistent
    "grow with d": (
        "`--preset standard` (lazy d = 25, 100, 196, 784; quick: 2 dimensions) or `--preset "
        "paper` (lazy d = 25 to 784, 4 widths, 5 networks)"
    ),
}


def _headline(table: pd.DataFrame, rows: pd.DataFrame, family: str) -> dict[str, Any]:
    """Median ratios (overall, per d, per width), solve times and the widest width solved."""
    per_width = table[table["family"] == family].groupby("width")
    solved = [
        int(str(m))
        for m, group in per_width
        if bool(group["optimal"].all()) and float(group["solve_cpu"].max()) <= SOLVE_SECONDS
    ]
    by_dim = _by_dim(rows, "ratio_step")
    out: dict[str, Any] = {
        f"median_ratio_{kind}": float(rows[f"ratio_{kind}"].median())
        for kind in ("step", "pgd", "certified")
    }
    out |= {
        "median_ratio_step_by_dim": {str(k): float(v) for k, v in by_dim.items()},
        "median_ratio_pgd_by_dim": {
            str(k): float(v) for k, v in _by_dim(rows, "ratio_pgd").items()
        },
        "median_ratio_step_by_width": {
            str(k): float(v) for k, v in rows.groupby("width")["ratio_step"].median().items()
        },
        "fraction_optimal": float(table[table["family"] == family]["optimal"].mean()),
        "median_solve_cpu_seconds": float(rows["solve_cpu"].median()),
        "max_solve_cpu_seconds": float(rows["solve_cpu"].max()),
        "max_solve_wall_seconds": float(rows["solve_time"].max()),
        "largest_width_solved_within_10s": max(solved) if solved else None,
    }
    return out


def summarize(table: pd.DataFrame, config: Config) -> Summary:
    """Median ratios and solve times per family, and CLAIMS per family."""
    headline: dict[str, Any] = {}
    verdicts: list[Verdict] = []
    for family in config.family:
        rows = _solved(table, family)
        if rows.empty:
            continue
        headline[family] = _headline(table, rows, family)
        found = [claim(rows, family) for claim in CLAIMS]
        slope = found[1].measured
        if slope is not None:
            headline[family]["slope_ratio_step_in_d"] = slope
        verdicts.extend(found)
    return Summary(headline=headline, verdicts=settle_each(verdicts, SETTLE))
