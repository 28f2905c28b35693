"""Gradient flow picks non-robust nets: a universal delta = eta sum_i y_i x_i flips every point.

Paper 003 (slides on Vardi, Yehudai & Shamir 2022, main theorem and experiments). For n points on
sqrt(d) S^{d-1} with balanced labels (each class at least a fraction c) and
n <= (d + 1) / (3 (max_{i!=j} |<x_i, x_j>| + 1)), every KKT point of the max-margin problem
(eq. (14)) of a two-layer ReLU net f = sum_l a_l relu(w_l . x + b_l) (eq. (11)), where gradient
flow on the exponential loss converges in direction (eq. (13)), admits a universal perturbation
delta = eta sum_i y_i x_i with sign f(x_i - y_i delta) = -y_i for all i, of size
O(sqrt(d / (c^2 n))); with n ~ sqrt(d) / log d this is o(sqrt(d)), while robust nets needing
Omega(sqrt(d)) exist. The slides print the O(.) bound on |eta|; with ||sum_i y_i x_i|| ~ sqrt(n d)
that would give ||delta|| ~ d, not the o(sqrt(d)) they state next, so we read it, as the
corollary requires, as the bound on ||delta|| (eta = O(1 / (c n))). We train `networks` nets (the
slides average 5 per point), each on its own data set, in one batch, by gradient flow until
L <= 1e-30 (`robustlab.learners.gradient_flow` descends log L, so the threshold is met in float32
as well), find the smallest eta flipping all n points at once exactly, and record ||delta||
against d and n with sqrt(d) for scale, plus max |<x_i, x_j>| and whether each data set meets the
theorem's separation condition (at these sizes it mostly does not: the slides remark that the
condition is probably too pessimistic).

Two sweeps share the table: `regime = "fixed_n"` (every d x n of the grid) and
`regime = "theorem_n"` (n = max(2, round(theorem_n_coef sqrt(d) / ln d)) per d, the scaling under
which ||delta|| = o(sqrt(d))).
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import torch
from matplotlib.figure import Figure
from pydantic import Field, field_validator

from robustlab.attacks import universal_perturbation
from robustlab.data.synthetic import random_labels_sphere, sphere
from robustlab.experiments.base import Cell, CellContext, ExperimentConfig, ProtocolRow, Summary
from robustlab.learners import gradient_flow
from robustlab.models.two_layer import TwoLayerNet
from robustlab.plotting import legend_outside, loglog, new_figure, plot_measured, plot_theory
from robustlab.theory import claims
from robustlab.theory.claims import settle_each
from robustlab.theory.fitting import SlopeFit, Verdict, fit_loglog_slope

PAPER = "003"
FIGURE = "Vardi et al. 2022 (slides): experiments (a) ||delta|| vs d, (b) ||delta|| vs n"
VERSION = 1

EXPONENT_N = -0.5
"""||delta|| = O(sqrt(d / (c^2 n))): the bound's exponent in n."""
EXPONENT_D_MAX = 0.5
"""o(sqrt(d)): the log-log slope of ||delta|| in d must stay below 1/2."""


PROTOCOL: tuple[ProtocolRow, ...] = (
    ProtocolRow(
        "data",
        "x_i ~ U(sqrt(d) S^{d-1}), y_i ~ U({-1, +1}) (paper 003, Vardi et al. slides "
        "'Experiments'); the theorem asks for balanced classes",
        "no public code for the slides' experiment found",
        "x_i uniform on sqrt(d) S^{d-1}; exactly balanced labels (random_labels_sphere)",
        "balanced labels: the theorem's assumption; at n = 5 uniform labels can be one-sided",
    ),
    ProtocolRow(
        "network",
        "two-layer ReLU f = sum_l a_l relu(w_l . x + b_l) (eq. (11)); width not stated",
        "",
        "TwoLayerNet.vardi, width 100, initialization scale 1e-2",
        "width and initialization are not on the slides; the theorem is width-independent",
    ),
    ProtocolRow(
        "training",
        "SGD on the exponential loss until L <= 1e-30",
        "",
        "full-batch gradient flow (descending log L) on the exponential loss until L <= 1e-30, "
        "at most 20000 steps",
        "gradient flow is the process of the theorem (eq. (13)); the slides' SGD batch size "
        "and step are not stated",
    ),
    ProtocolRow(
        "perturbation",
        "delta = eta sum_i y_i x_i; the maximum over the n samples of the smallest flipping "
        "eta; 5 networks per point",
        "",
        "the smallest eta flipping all n points at once, computed exactly; 5 networks per point",
    ),
    ProtocolRow(
        "grid",
        "plots (a) ||delta|| vs d and (b) ||delta|| vs n; values not legible",
        "",
        "quick: d in {50, 100, 200}, n in {5, 20}; paper: d 100 to 3200, n 5 to 80; plus "
        "n = round(4 sqrt(d) / ln d) per d (the o(sqrt(d)) regime)",
        "grid chosen to fit slopes in d and n",
    ),
    ProtocolRow(
        "claim judged",
        "||delta|| = O(sqrt(d / (c^2 n))); o(sqrt(d)) for n ~ sqrt(d) / log d",
        "",
        "slope in n at fixed d against -1/2 only on data meeting the separation condition "
        "(95% CI or within 0.15); slope in d below 1/2 with ||delta|| / sqrt(d) falling",
    ),
)
"""The protocol table: the paper, the authors' public code where it differs, the presets."""


class Config(ExperimentConfig):
    """Dimensions and sample sizes swept, the net, and the gradient-flow stopping rule."""

    dim: list[int] = Field(default=[50, 100, 200], min_length=1, description="dimensions d")
    n_samples: list[int] = Field(
        default=[5, 20], description="training set sizes n of the fixed-n sweep ([] skips it)"
    )
    theorem_n_coef: float | None = Field(
        default=4.0,
        gt=0,
        description="also run n = max(2, round(coef sqrt(d) / ln d)) per d (None: skip)",
    )
    width: int = Field(default=100, ge=1, description="hidden neurons k of each net")
    networks: int = Field(
        default=5, ge=1, le=1000, description="nets per point, each on its own data set (one batch)"
    )
    init_scale: float = Field(
        default=1e-2, gt=0, description="initialization scale s of TwoLayerNet.vardi"
    )
    loss: Literal["exp", "logistic"] = Field(default="exp", description="training loss l(z)")
    loss_threshold: float = Field(
        default=1e-30, gt=0, lt=1, description="gradient flow stops once L <= this"
    )
    max_steps: int = Field(default=20_000, ge=1, description="step cap of gradient flow")

    @field_validator("dim", "n_samples")
    @classmethod
    def _sizes(cls, value: list[int]) -> list[int]:
        if any(v < 2 for v in value) or len(set(value)) != len(value):
            raise ValueError(f"sizes must be distinct integers >= 2, got {value}")
        return sorted(value)


PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"dim": [50, 100, 200], "n_samples": [5, 20], "networks": 5, "seeds": 1},
    "standard": {
        # Settles the slope in n that quick leaves inconclusive: the theorem's condition
        # n <= (d+1)/(3(max|<x_i,x_j>|+1)) admits only n <= 5-8 at d = 3200 (measured on the
        # paper grid: n = 5 only), so the slope is fitted over n = 2 to 8 at d up to 3200,
        # with 10 nets per point (d = 6400 took 2 min a cell at load 18 here: cut).
        "dim": [400, 800, 1600, 3200],
        "n_samples": [2, 3, 4, 6, 8],
        "networks": 10,
        "seeds": 1,
    },
    "paper": {
        "dim": [100, 200, 400, 800, 1600, 3200],
        "n_samples": [5, 10, 20, 40, 80],
        "networks": 5,
        "seeds": 1,
    },
}

CAPTIONS: dict[str, str] = {
    # figure stem -> what it shows and which paper figure it reproduces
    "perturbation_norm": (
        "Vardi et al. 2022 (paper 003 slides): norm of the universal perturbation delta = eta "
        "sum_i y_i x_i that flips every training point of a gradient-flow-trained net, (a) "
        "against d and (b) against n, with sqrt(d/(c^2 n)) dashed."
    ),
    "relative_size": (
        "||delta|| / sqrt(d) against d per n: the perturbation is o(sqrt(d)) only as n grows with"
        " d."
    ),
}

_SWEPT = ("dim", "n_samples", "theorem_n_coef", "seeds")


def theorem_n(d: int, coef: float) -> int:
    """n = max(2, round(coef sqrt(d) / ln d)): the growth of n under which ||delta|| = o(sqrt d)."""
    return max(2, round(coef * math.sqrt(d) / math.log(d)))


def cells(config: Config) -> list[Cell]:
    """One cell per (seed, regime, d, n): the fixed-n grid, then the theorem's n per d."""
    fixed = {k: v for k, v in config.model_dump().items() if k not in _SWEPT}
    out = []
    for seed in config.seeds:
        for d in config.dim:
            for n in config.n_samples:
                out.append(
                    Cell({"regime": "fixed_n", "dim": d, "n_samples": n, **fixed, "seed": seed})
                )
            if config.theorem_n_coef is not None:
                n = theorem_n(d, config.theorem_n_coef)
                params = {"regime": "theorem_n", "dim": d, "n_samples": n, **fixed, "seed": seed}
                out.append(Cell(params))
    return out


def draw_data(
    members: int, n: int, d: int, *, generator: torch.Generator, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """One data set per network: X (E, n, d) uniform on sqrt(d) S^{d-1}, balanced labels y (n,).

    Member 0 is `random_labels_sphere(n, d)`; the others draw fresh points for the same label
    vector. Points are independent of the labels, so every member's (X_e, y) has exactly the
    law of `random_labels_sphere` (Vardi et al.'s data).
    """
    first = random_labels_sphere(n, d, generator=generator, dtype=dtype)
    points = [first.x.unsqueeze(0)]
    if members > 1:
        rest = sphere((members - 1) * n, d, radius="sqrt_d", generator=generator, dtype=dtype)
        points.append(rest.x.reshape(members - 1, n, d))
    return torch.cat(points), first.y


def run_cell(cell: Cell, ctx: CellContext) -> list[dict[str, Any]]:
    """Train `networks` Vardi nets, each on its own random data set, by gradient flow; then the
    exact smallest universal perturbation of each.

    Rows: one per network with eta, ||delta||, the fraction flipped, convergence, and its data
    set's separation statistics.
    """
    d, n, members = int(cell["dim"]), int(cell["n_samples"]), int(cell["networks"])
    dtype = CellContext.dtype_of(str(cell["dtype"]))
    generator = ctx.generator(cell.seed)
    X, y = draw_data(members, n, d, generator=generator, dtype=dtype)
    net = TwoLayerNet.vardi(
        members,
        int(cell["width"]),
        d,
        init_scale=float(cell["init_scale"]),
        generator=generator,
        dtype=dtype,
    )
    X, y = X.to(ctx.device), y.to(ctx.device)
    trained, trace = gradient_flow(
        net.to(ctx.device),
        X,
        y,
        loss=cell["loss"],
        loss_threshold=float(cell["loss_threshold"]),
        max_steps=int(cell["max_steps"]),
    )
    result = universal_perturbation(trained, X, y)

    gram = torch.matmul(X, X.transpose(1, 2)).to(torch.float64).cpu()
    max_inner = (gram - torch.diag_embed(torch.diagonal(gram, dim1=1, dim2=2))).abs().amax((1, 2))
    condition = (d + 1) / (3 * (max_inner + 1))
    balance = float(min(int((y > 0).sum()), int((y < 0).sum()))) / n
    scale = math.sqrt(d / (balance**2 * n))  # the theorem's O(sqrt(d / (c^2 n)))
    with torch.no_grad():
        accuracy = (y * trained(X) > 0).to(torch.float64).mean(dim=1).cpu()
    columns = {
        "eta": result.eta,
        "delta_norm": result.delta_norm,
        "fraction_flipped": result.fraction,
        "converged": trace.converged,
        "steps": trace.steps,
        "log_loss": trace.log_loss[-1],
        "margin": trace.normalized_margin[-1],
        "parameter_norm": trace.parameter_norm[-1],
    }
    values = {key: value.detach().cpu().tolist() for key, value in columns.items()}
    rows = []
    for member in range(members):
        norm = float(values["delta_norm"][member])
        eta = float(values["eta"][member])
        rows.append(
            {
                "network": member,
                "eta": eta,
                "eta_times_n": eta * n,
                "delta_norm": norm,
                "delta_over_sqrt_d": norm / math.sqrt(d),
                "delta_over_bound": norm / scale,
                "bound_scale": scale,
                "fraction_flipped": float(values["fraction_flipped"][member]),
                "all_flipped": float(values["fraction_flipped"][member]) == 1.0,
                "converged": bool(values["converged"][member]),
                "steps": int(values["steps"][member]),
                "final_log10_loss": float(values["log_loss"][member]) / math.log(10),
                "normalized_margin": float(values["margin"][member]),
                "parameter_norm": float(values["parameter_norm"][member]),
                "train_accuracy": float(accuracy[member]),
                "max_inner": float(max_inner[member]),
                "max_inner_over_d": float(max_inner[member]) / d,
                "condition_bound": float(condition[member]),
                "condition_holds": n <= float(condition[member]),
                "class_balance": balance,
            }
        )
    return rows


def estimate_memory(config: Config) -> int:
    """Peak bytes of one cell: the exact ray sweep holds O(E n k) events, gradient flow O(E k d)."""
    n = max(
        [*config.n_samples, 2] + [theorem_n(d, config.theorem_n_coef or 1.0) for d in config.dim]
    )
    d = max(config.dim)
    return 8 * config.networks * config.width * (16 * d + 64 * n * 4) + 8 * n * d * 8


def theory(config: Config) -> dict[str, Any]:
    """The theorem's scale sqrt(d / (c^2 n)), its exponents, and the theorem's n per d."""
    theorem: dict[str, Any] = {}
    if config.theorem_n_coef is not None:
        ns = {d: theorem_n(d, config.theorem_n_coef) for d in config.dim}
        # Balanced labels: c = floor(n / 2) / n.
        scales = {d: math.sqrt(d * n / (n // 2) ** 2) for d, n in ns.items()}
        slope = None
        if len(config.dim) >= 2:
            slope = fit_loglog_slope(list(scales), list(scales.values())).slope
        theorem = {
            "n_per_d": {str(d): n for d, n in ns.items()},
            "bound_scale_per_d": {str(d): s for d, s in scales.items()},
            "bound_slope_in_d": slope,
        }
    return {
        "exponent_delta_in_n": EXPONENT_N,
        "exponent_delta_in_d_at_fixed_n": 0.5,
        "max_exponent_delta_in_d_theorem_regime": EXPONENT_D_MAX,
        "delta_bound": "||delta|| = O(sqrt(d / (c^2 n))), c = the smaller class fraction",
        "condition": "n <= (d + 1) / (3 (max_{i != j} |<x_i, x_j>| + 1))",
        "theorem_regime": theorem,
        "paper_statements": {
            "training": "exponential loss until L <= 1e-30; 5 networks per point (slides)",
            "result": "delta = eta sum_i y_i x_i flips every training point; the slides "
            "report no numbers and note the separation condition is probably too pessimistic",
        },
    }


# --------------------------------------------------------------------------- summary


def _means(table: pd.DataFrame, column: str) -> dict[tuple[str, int, int], float]:
    """Mean of `column` over networks and seeds per (regime, d, n)."""
    grouped = table.groupby(["regime", "dim", "n_samples"], sort=True)[column].mean().reset_index()
    columns = (grouped[c].tolist() for c in ("regime", "dim", "n_samples"))
    keys = zip(*columns, strict=True)
    values = grouped[column].to_numpy(dtype=np.float64).tolist()
    return {(str(r), int(d), int(n)): float(v) for (r, d, n), v in zip(keys, values, strict=True)}


def _arrays(table: pd.DataFrame, *columns: str) -> list[npt.NDArray[np.float64]]:
    return [table[c].to_numpy(dtype=np.float64) for c in columns]


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


# --------------------------------------------------------------------------- figures


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
