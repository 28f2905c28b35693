"""robust-sample-complexity (Schmidt et al., paper 003): the quick preset end to end, and parts."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from scipy import stats

from robustlab.data.synthetic import schmidt_gaussian
from robustlab.experiments import get_experiment
from robustlab.experiments.base import CellContext
from robustlab.experiments.robust_sample_complexity import crossing
from robustlab.theory.schmidt import predicted_n_half

NAME = "robust-sample-complexity"


@pytest.fixture(scope="module")
def quick(run_quick: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return run_quick(NAME)


def test_grid_and_rows(quick: dict[str, Any]) -> None:
    config, table = quick["config"], quick["table"]
    cells = (len(config.gaussian_dims) + len(config.bernoulli_dims)) * len(config.seeds)
    assert quick["result"].total == cells
    gaussian = table[table["model"] == "gaussian"]
    bernoulli = table[table["model"] == "bernoulli"]
    per_gaussian = len(config.n_samples) * (1 + len(config.eps))
    per_bernoulli = len(config.n_samples) * (1 + len(config.bernoulli_eps_over_tau)) * 2
    assert len(gaussian) == per_gaussian * len(config.gaussian_dims) * len(config.seeds)
    assert len(bernoulli) == per_bernoulli * len(config.bernoulli_dims) * len(config.seeds)
    assert set(gaussian["n"]) == set(config.n_samples)
    assert table["error_mean"].between(0, 1).all()
    assert (table["error_min"] <= table["error_mean"] + 1e-15).all()
    assert (table["error_mean"] <= table["error_max"] + 1e-15).all()


def test_robust_error_grows_with_the_budget(quick: dict[str, Any]) -> None:
    """The adversary lowers the margin by eps ||w||_1, so each w's error is monotone in eps."""
    table = quick["table"]
    linear = table[table["classifier"] == "linear"]
    for _, group in linear.groupby(["model", "dim", "n", "seed"]):
        errors = group.sort_values("epsilon")["error_min"].to_numpy()
        assert np.all(np.diff(errors) >= -1e-12)
        errors = group.sort_values("epsilon")["error_max"].to_numpy()
        assert np.all(np.diff(errors) >= -1e-12)


def test_thresholding_is_exactly_as_robust_as_it_is_accurate(quick: dict[str, Any]) -> None:
    table = quick["table"]
    bernoulli = table[table["model"] == "bernoulli"]
    assert (bernoulli["epsilon"] < 1).all()
    assert np.allclose(bernoulli["epsilon"], bernoulli["eps_over_tau"] * bernoulli["tau"])
    keys = ["dim", "n", "seed"]
    standard = bernoulli[(bernoulli["classifier"] == "linear") & (bernoulli["epsilon"] == 0)]
    thresholded = bernoulli[bernoulli["classifier"] == "thresholded"]
    merged = thresholded.merge(standard, on=keys, suffixes=("", "_standard"))
    assert len(merged) == len(thresholded)
    assert (merged["error_mean"] == merged["error_mean_standard"]).all()
    linear = bernoulli[bernoulli["classifier"] == "linear"]
    paired = thresholded.merge(linear, on=[*keys, "eps_over_tau"], suffixes=("", "_linear"))
    assert (paired["error_mean"] <= paired["error_mean_linear"] + 1e-15).all()


def test_gaussian_errors_match_a_direct_attack_on_test_points() -> None:
    """Rebuild one small cell's w from its seed and attack fresh test points directly."""
    experiment = get_experiment(NAME)
    config = experiment.config(
        "quick",
        {"gaussian_dims": [40], "bernoulli_dims": [], "eps": [0.3], "n_samples": [1, 3]},
    )
    cell = experiment.cells(config)[0]
    rows = experiment.run_cell(cell, CellContext())
    # the same draws as run_cell: theta from the seed, then the samples, replicate-interleaved
    g = CellContext().generator(cell.seed)
    d, sigma, R = 40, 0.5 * 40**0.25, int(config.replicates)  # type: ignore[attr-defined]
    theta = torch.randn(d, generator=g, dtype=torch.float64)
    theta *= math.sqrt(d) / theta.norm()
    first = schmidt_gaussian(R, d, sigma=sigma, theta=theta, generator=g, dtype=torch.float64)
    w = (first.y[:, None] * first.x).numpy()  # n = 1: (R, d)
    rng = np.random.default_rng(0)
    m = 40_000
    y = rng.choice([-1.0, 1.0], size=m)
    x = y[:, None] * theta.numpy() + sigma * rng.standard_normal((m, d))
    for eps in (0.0, 0.3):
        x_adv = x[:, None, :] - eps * y[:, None, None] * np.sign(w)[None]  # worst case per w
        wrong = (np.einsum("mrd,rd->mr", x_adv, w) * y[:, None] <= 0).mean(axis=0)
        row = next(r for r in rows if r["n"] == 1 and r["epsilon"] == eps)
        se = math.sqrt(max(row["error_mean"], 1e-4) / m)
        assert abs(wrong.mean() - row["error_mean"]) <= 5 * se + 1e-4


def test_closed_form_n_half() -> None:
    assert predicted_n_half(0.5, 1e4, 0.5) == pytest.approx(
        (2 / math.pi) * 0.25 * 0.25 * 100 / (1 - 0.5 / math.pi)
    )
    assert predicted_n_half(2.0, 1e4, 0.5) == math.inf
    with pytest.raises(ValueError):
        predicted_n_half(-1.0, 1e4, 0.5)


def test_crossing_interpolates_in_probit_and_log_n() -> None:
    n = [1, 2, 4]
    assert crossing(n, [0.9, 0.5, 0.1], 0.5) == pytest.approx(2.0)
    value = crossing(n, [0.9, 0.8, 0.2], 0.5)
    assert value is not None and 2 < value < 4
    z0, z1 = stats.norm.ppf(0.8), stats.norm.ppf(0.2)
    assert value == pytest.approx(2 * 2 ** (z0 / (z0 - z1)))
    assert crossing(n, [0.4, 0.2, 0.1], 0.5) is None  # already below at the first n
    assert crossing(n, [0.9, 0.8, 0.7], 0.5) is None  # never reached


def test_summary_verdicts_and_figures(quick: dict[str, Any]) -> None:
    summary = quick["summary"]
    for verdict in summary["verdicts"]:
        assert set(verdict) - {"settle", "compared"} == {
            "claim",
            "verdict",
            "measured",
            "predicted",
            "reason",
        }
    by_claim = {v["claim"]: v for v in summary["verdicts"]}
    assert len(by_claim) == 9
    single = by_claim[
        "Gaussian: standard error of w = y x from one sample <= 1% (sigma = c1 d^{1/4})"
    ]
    assert single["verdict"] == "consistent" and single["measured"] <= 0.01
    exponent = next(v for c, v in by_claim.items() if "grows like sqrt(d)" in c)
    assert exponent["verdict"] == "consistent"
    assert abs(exponent["measured"] - 0.5) < 0.15
    closed = next(v for c, v in by_claim.items() if "(2/pi)" in c)
    assert closed["verdict"] == "consistent"
    ratios = summary["headline"]["gaussian_n_half_over_closed_form"]
    assert len(ratios) >= 5 and all(0.8 < r < 1.25 for r in ratios.values())
    headline = summary["headline"]
    assert headline["bernoulli_thresholded_robust_error_n1"] <= 0.01
    assert max(headline["bernoulli_linear_robust_error_n1"].values()) > 0.5
    assert headline["bernoulli_linear_min_robust_error_eps_ge_tau"] > 0.4
    for stem in ("gaussian_errors", "gaussian_sample_complexity", "bernoulli_errors"):
        assert (quick["root"] / "figures" / f"{stem}.png").stat().st_size > 10_000


def test_config_refuses_budgets_that_break_thresholding() -> None:
    experiment = get_experiment(NAME)
    with pytest.raises(ValueError, match="< 1"):
        experiment.config("quick", {"bernoulli_eps_over_tau": [5.0]})
    with pytest.raises(ValueError, match="increasing"):
        experiment.config("quick", {"n_samples": [3, 2]})


# The quick preset's verdicts, pinned before the claims moved onto robustlab.theory.claims
# (issue 9), in order, by the first 60 characters of each claim: a change here must be
# deliberate.
QUICK_VERDICTS = [
    ("Gaussian: standard error of w = y x from one sample <= 1% (s", "consistent"),
    ("Gaussian: robust error <= 1% at the first n >= 1 eps^2 sqrt(", "consistent"),
    ("Gaussian: robust error >= (1 - 1/d)/2 for every n <= 1 eps^2", "consistent"),
    ("Gaussian: n at robust error 0.5 grows like sqrt(d) (eps = 0.", "consistent"),
    ("Gaussian: n at robust error 1/2 equals (2/pi) c1^2 eps^2 sqr", "consistent"),
    ("Gaussian: n at robust error 0.5 grows like eps^2 (d = 300000", "consistent"),
    ("Bernoulli: standard error of w = y x from one sample <= 1% (", "consistent"),
    ("Bernoulli: f o sgn has l_inf-robust error <= 1% from one sam", "consistent"),
    ("Bernoulli: a linear classifier has robust error >= 1/2 - 0.1", "consistent"),
]


def test_quick_verdicts_are_pinned(quick: dict[str, Any]) -> None:
    found = [(v["claim"][:60], v["verdict"]) for v in quick["summary"]["verdicts"]]
    assert found == QUICK_VERDICTS
