"""Random directions are nearly orthogonal: |<x, x'>| ~ d^{-1/2} on the sphere (example).

For x, x' independent and uniform on the unit sphere S^{d-1}, E <x, x'>^2 = 1/d exactly and
E |<x, x'>| = Gamma(d/2) / (sqrt(pi) Gamma((d+1)/2)) ~ sqrt(2 / (pi d)), so log-log slopes in d
are -1 and -1/2. This near-orthogonality is the concentration behind Bubeck et al. (2021)'s
single-step attack on random two-layer nets (paper 003, slides on x in sqrt(d) S^{d-1}). The
experiment is small and fast: it is the runner's end-to-end test and the example to copy.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pydantic import Field

from robustlab.data.synthetic import sphere
from robustlab.experiments.base import (
    Cell,
    CellContext,
    ExperimentConfig,
    PositiveInt,
    Summary,
    grid,
)
from robustlab.plotting import loglog, mean_and_spread, new_figure, plot_measured, plot_theory
from robustlab.theory.fitting import Verdict, compare_exponent, fit_loglog_slope

PAPER = "003"
FIGURE = "example (no figure)"
VERSION = 1


class Config(ExperimentConfig):
    """Dimensions swept, pairs per cell, and a test-only delay."""

    dim: list[PositiveInt] = Field(
        default=[8, 32, 128, 512], min_length=1, description="dimensions d (swept)"
    )
    n_pairs: int = Field(default=4000, ge=2, description="independent pairs (x, x') per cell")
    sleep_seconds: float = Field(
        default=0.0, ge=0.0, le=60.0, description="artificial delay per cell (resume tests)"
    )


PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"dim": [8, 32, 128, 512], "n_pairs": 4000, "seeds": 3},
    "paper": {"dim": [4, 16, 64, 256, 1024, 4096], "n_pairs": 100_000, "seeds": 10},
}

CAPTIONS: dict[str, str] = {
    # figure stem -> what it shows and which paper figure it reproduces
    "inner_products": (
        "Mean |<x, x'>| and mean <x, x'>^2 of independent uniform points on the sphere against d "
        "(log-log), with the exact expectations (slopes -1/2 and -1) dashed. An example "
        "experiment; it reproduces no paper figure."
    ),
}


def cells(config: Config) -> list[Cell]:
    """One cell per (seed, d)."""
    return grid(config, sweep=("dim",))


def run_cell(cell: Cell, ctx: CellContext) -> list[dict[str, Any]]:
    """Mean |<x, x'>| and mean <x, x'>^2 over n_pairs pairs on S^{d-1}, with standard errors."""
    time.sleep(float(cell["sleep_seconds"]))
    n, d = int(cell["n_pairs"]), int(cell["dim"])
    points = sphere(2 * n, d, generator=ctx.generator(cell.seed), dtype=ctx.dtype).x
    points = points.to(ctx.device)
    inner = (points[:n] * points[n:]).sum(dim=1)
    rows = []
    for statistic, values in (("mean_abs_inner", inner.abs()), ("mean_sq_inner", inner**2)):
        rows.append(
            {
                "statistic": statistic,
                "value": values.mean().item(),
                "stderr": (values.std() / math.sqrt(n)).item(),
            }
        )
    return rows


def estimate_memory(config: Config) -> int:
    """Peak bytes of one cell: 2 n x d points drawn in float64, cast, and one product."""
    return 3 * 2 * config.n_pairs * max(config.dim) * 8


def expected_abs_inner(d: float) -> float:
    """E |<x, x'>| for independent uniform x, x' on S^{d-1}: Gamma(d/2)/(sqrt(pi)Gamma((d+1)/2))."""
    return math.exp(math.lgamma(d / 2) - math.lgamma((d + 1) / 2)) / math.sqrt(math.pi)


def theory(config: Config) -> dict[str, Any]:
    """Exact means per d and the log-log slopes they imply."""
    return {
        "slope_mean_abs_inner": -0.5,
        "slope_mean_sq_inner": -1.0,
        "mean_abs_inner": {str(d): expected_abs_inner(d) for d in config.dim},
        "mean_sq_inner": {str(d): 1.0 / d for d in config.dim},
    }


def _exact(statistic: str, d: Any) -> Any:
    dims = np.asarray(d, dtype=float)
    if statistic == "mean_sq_inner":
        return 1.0 / dims
    return np.array([expected_abs_inner(k) for k in dims.ravel()]).reshape(dims.shape)


def summarize(table: pd.DataFrame, config: Config) -> Summary:
    """Fitted slopes against -1/2 and -1, and each cell's mean against the exact value."""
    predictions = theory(config)
    headline: dict[str, Any] = {}
    verdicts: list[Verdict] = []
    for statistic in ("mean_abs_inner", "mean_sq_inner"):
        rows = table[table["statistic"] == statistic]
        predicted = float(predictions[f"slope_{statistic}"])
        try:
            fit = fit_loglog_slope(rows["dim"], rows["value"])
        except ValueError as err:
            verdicts.append(
                Verdict(f"slope of {statistic} in d", "inconclusive", None, predicted, str(err))
            )
        else:
            headline[f"slope_{statistic}"] = fit.slope
            verdicts.append(
                compare_exponent(fit, predicted, tolerance=0.05, claim=f"slope of {statistic} in d")
            )
        z = (rows["value"] - _exact(statistic, rows["dim"])) / rows["stderr"]
        worst = float(np.abs(z).max())
        headline[f"max_z_{statistic}"] = worst
        # With ~10-100 cells, |z| beyond 4.5 has probability < 1e-3 under the exact law.
        verdicts.append(
            Verdict(
                claim=f"{statistic} equals its exact expectation in every cell",
                verdict="consistent" if worst <= 4.5 else "inconsistent",
                measured=worst,
                predicted=4.5,
                reason=f"largest |measured - exact| / stderr over {len(rows)} cells is {worst:.2f}",
            )
        )
    return Summary(headline=headline, verdicts=verdicts)


def figures(table: pd.DataFrame, config: Config) -> dict[str, Figure]:
    """Both statistics against d on log-log axes, with the exact expectations dashed."""
    fig, axes = new_figure(2)
    labels = {
        "mean_abs_inner": r"$\mathbb{E}\,|\langle x, x'\rangle|$",
        "mean_sq_inner": r"$\mathbb{E}\,\langle x, x'\rangle^2$",
    }
    dims = np.geomspace(min(config.dim), max(config.dim), 100)
    for ax, (statistic, label) in zip(axes, labels.items(), strict=True):
        stats = mean_and_spread(table[table["statistic"] == statistic], "dim", "value")
        plot_measured(ax, stats["dim"], stats["mean"], low=stats["min"], high=stats["max"])
        plot_theory(ax, dims, _exact(statistic, dims), label="exact expectation")
        loglog(ax, xlabel=r"dimension $d$", ylabel=label)
        ax.legend()
    return {"inner_products": fig}
