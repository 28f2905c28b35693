"""random-net-single-step: what the theorem predicts, and the verdicts (slopes, band, limit)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from robustlab.experiments.base import Summary
from robustlab.experiments.random_net_single_step.config import ETA_BAND, GAMMA, LIMIT_RTOL, Config
from robustlab.theory import claims
from robustlab.theory.claims import settle_each
from robustlab.theory.fitting import Verdict
from robustlab.theory.lazy import (
    BUBECK_SCALINGS,
    bubeck_conditions,
    limit_medians,
)


def theory(config: Config) -> dict[str, Any]:
    """Exponents in d (Bubeck et al.), limits of the medians, and the theorem's conditions."""
    scalings = {
        name: {"exponent_in_d": law.exponent, "source": law.source}
        for name, law in BUBECK_SCALINGS.items()
    }
    return {
        "scalings": scalings,
        "slope_median_abs_eta_in_d": BUBECK_SCALINGS["step_size"].exponent,
        "slope_median_relative_delta_in_d": BUBECK_SCALINGS["perturbation_relative"].exponent,
        "slope_median_abs_eta_in_k": 0.0,
        "eta_band": [1.0 / ETA_BAND, ETA_BAND],
        "paper_reported": "slides: |eta| approximately 1 almost always (search |eta| <= 20, "
        "100 inputs x 100 networks)",
        "limit": {name: limit_medians(name) for name in config.activation},
        "conditions_hold_unit_constants": {
            f"d={d},k={k}": bubeck_conditions(k, d, gamma=GAMMA)
            for d in config.dim
            for k in config.width
        },
    }


def _cell_medians(table: pd.DataFrame) -> pd.DataFrame:
    """Per (activation, d, k, seed): medians of |eta| and ||delta|| / ||x||, flip fraction."""
    return (
        table.groupby(["activation", "dim", "width", "seed"])
        .agg(
            median_abs_eta=("abs_eta", "median"),
            median_relative_delta=("relative_delta", "median"),
            flipped=("flipped", "mean"),
        )
        .reset_index()
    )


def _claims(
    activation: str, rows: pd.DataFrame, cell: pd.DataFrame, config: Config
) -> list[Verdict]:
    """The theorem's scalings in d and k, the slides' |eta| ~ 1, the limit, the flip rate."""
    median, flipped = float(rows["abs_eta"].median()), int(rows["flipped"].sum())
    largest = rows[(rows["dim"] == rows["dim"].max()) & (rows["width"] == rows["width"].max())]
    return [
        claims.exponent(
            cell["dim"],
            cell["median_abs_eta"],
            BUBECK_SCALINGS["step_size"].exponent,
            claim=f"{activation}: median |eta| does not grow or shrink with d (theorem: O(1))",
            tolerance=0.1,
        ),
        claims.exponent(
            cell["dim"],
            cell["median_relative_delta"],
            BUBECK_SCALINGS["perturbation_relative"].exponent,
            claim=f"{activation}: median ||delta|| / ||x|| ~ d^-1/2",
            tolerance=0.1,
        ),
        claims.exponent(
            cell["width"],
            cell["median_abs_eta"],
            0.0,
            claim=f"{activation}: median |eta| does not depend on the width k",
            tolerance=0.1,
        ),
        claims.within_factor(
            median,
            1.0,
            ETA_BAND,
            claim=f"{activation}: median |eta| is about 1 (slides), within "
            f"[{1 / ETA_BAND:g}, {ETA_BAND:g}]",
        ),
        claims.close_to(
            float(largest["abs_eta"].median()),
            limit_medians(activation)["median_abs_eta"],
            claim=f"{activation}: median |eta| at the largest d, k is near the large-width "
            "limit q sqrt(E sigma^2) / E sigma'^2",
            rtol=LIMIT_RTOL,
            interval=_median_interval(largest),
        ),
        claims.fraction(
            flipped,
            len(rows),
            claim=f"{activation}: one step with |eta| <= {config.max_eta:g} flips the sign "
            f"w.p. >= 1 - gamma (gamma = {GAMMA:g})",
            at_least=1.0 - GAMMA,
            what="(network, input) pairs flipped",
        ),
    ]


SETTLE: dict[str, str] = {
    # a claim fragment -> what would settle the verdict when it is not consistent
    "does not depend on the width": (
        "`--preset standard` (widths 64, 256, 1024, 4096 at d <= 1024, 50 networks; quick: 2 "
        "widths; about 18 min here, where it was consistent for both activations) or "
        "`--preset paper` (the same widths, 7 dimensions, 100 networks)"
    ),
}


def summarize(table: pd.DataFrame, config: Config) -> Summary:
    """Slopes of the medians in d and k, the |eta| band, the limit, and the flip rate."""
    medians = _cell_medians(table)
    headline: dict[str, Any] = {}
    verdicts: list[Verdict] = []
    for activation in config.activation:
        rows = table[table["activation"] == activation]
        if rows.empty:
            continue
        found = _claims(activation, rows, medians[medians["activation"] == activation], config)
        verdicts.extend(found)
        abs_eta = rows["abs_eta"].to_numpy()
        finite = abs_eta[np.isfinite(abs_eta)]
        product = (rows["abs_eta"] * rows["grad_norm"] ** 2).to_numpy()
        headline[activation] = {
            "median_abs_eta": float(np.median(abs_eta)),
            "abs_eta_q05": float(np.quantile(finite, 0.05)) if finite.size else math.nan,
            "abs_eta_q95": float(np.quantile(finite, 0.95)) if finite.size else math.nan,
            "fraction_flipped_within_max_eta": float(rows["flipped"].mean()),
            "implied_C3_sqrt_log_inv_gamma": float(np.quantile(product[np.isfinite(product)], 0.99))
            if np.isfinite(product).any()
            else math.nan,
            "median_relative_delta_by_d": {
                str(d): float(group["relative_delta"].median()) for d, group in rows.groupby("dim")
            },
            "relative_delta_q05_q50_q95_by_d": {
                str(d): [float(q) for q in group["relative_delta"].quantile([0.05, 0.5, 0.95])]
                for d, group in rows.groupby("dim")
            },
            "slope_median_abs_eta_in_d": found[0].measured,
            "slope_median_relative_delta_in_d": found[1].measured,
            "slope_median_abs_eta_in_k": found[2].measured,
            "limit_median_abs_eta": limit_medians(activation)["median_abs_eta"],
        }
    return Summary(headline=headline, verdicts=settle_each(verdicts, SETTLE))


def _median_interval(rows: pd.DataFrame, *, resamples: int = 400) -> tuple[float, float]:
    """99% interval of the median |eta| by resampling whole networks (seed 0, reproducible).

    Pairs of one network share its random offset, so networks, not pairs, are the independent
    units; the bootstrap resamples them with replacement and pools their inputs. The 99% level
    offsets the narrowness of a percentile interval over as few as 20 networks.
    """
    values = rows.pivot_table(index=["seed", "network"], columns="input", values="abs_eta")
    matrix = values.to_numpy(dtype=np.float64)
    rng = np.random.default_rng(0)
    picks = rng.integers(0, matrix.shape[0], size=(resamples, matrix.shape[0]))
    medians = np.nanmedian(matrix[picks].reshape(resamples, -1), axis=1)
    low, high = np.quantile(medians, [0.005, 0.995])
    return float(low), float(high)
