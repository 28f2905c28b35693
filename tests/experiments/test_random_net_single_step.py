"""random-net-single-step: the quick preset end to end, and the step search against brute force."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from robustlab.experiments.base import CellContext
from robustlab.experiments.random_net_single_step.cells import ROOT_RTOL, _minimal_step
from robustlab.experiments.registry import get_experiment
from robustlab.models import TwoLayerNet
from robustlab.theory.lazy import activation_moments, limit_medians

NAME = "random-net-single-step"


@pytest.fixture(scope="module")
def quick(run_quick: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return run_quick(NAME)


def test_one_row_per_network_and_input(quick: dict[str, Any]) -> None:
    config, table = quick["config"], quick["table"]
    grid = len(config.dim) * len(config.width) * len(config.activation) * len(config.seeds)
    assert quick["result"].total == grid
    assert len(table) == grid * config.n_inputs * config.n_networks
    for column in ("dim", "width", "activation", "eta", "delta_norm", "grad_norm", "f_clean"):
        assert column in table.columns
    per_cell = table.groupby(["dim", "width", "activation"]).size()
    assert (per_cell == config.n_inputs * config.n_networks).all()


def test_steps_point_against_the_sign_and_match_their_norms(quick: dict[str, Any]) -> None:
    table = quick["table"]
    finite = table[np.isfinite(table["eta"])]
    assert len(finite) == len(table)  # every ray flips within the exact or bracketed search
    assert (np.sign(finite["eta"]) == -np.sign(finite["f_clean"])).all()
    np.testing.assert_allclose(
        finite["delta_norm"], finite["abs_eta"] * finite["grad_norm"], rtol=1e-5
    )
    # ||x|| = sqrt(d) on Bubeck et al.'s sphere
    np.testing.assert_allclose(
        finite["relative_delta"], finite["delta_norm"] / np.sqrt(finite["dim"]), rtol=1e-4
    )
    # the minimal step is never far below the linearized one |f| / ||grad f||^2
    assert (finite["abs_eta"] >= 0.5 * finite["eta_linear"]).all()


def test_summary_verdicts_show_the_claims(quick: dict[str, Any]) -> None:
    summary = quick["summary"]
    keys = {"claim", "verdict", "measured", "predicted", "reason"}
    assert all(set(v) - {"settle", "compared"} == keys for v in summary["verdicts"])
    by_claim = {v["claim"]: v for v in summary["verdicts"]}
    for activation in quick["config"].activation:
        relative = by_claim[f"{activation}: median ||delta|| / ||x|| ~ d^-1/2"]
        assert relative["verdict"] == "consistent"
        assert abs(relative["measured"] + 0.5) < 0.1
        claim = f"{activation}: median |eta| does not grow or shrink with d (theorem: O(1))"
        step = by_claim[claim]
        assert abs(step["measured"]) < 0.1
        head = summary["headline"][activation]
        assert 0.5 <= head["median_abs_eta"] <= 2.0
        assert head["fraction_flipped_within_max_eta"] >= 0.99
    for name in ("step_vs_dimension", "step_histogram"):
        assert (quick["root"] / "figures" / f"{name}.png").stat().st_size > 0


def test_relative_perturbation_shrinks_with_d_per_setting(quick: dict[str, Any]) -> None:
    table = quick["table"]
    medians = table.groupby(["activation", "width", "dim"])["relative_delta"].median()
    for (_, _), series in medians.groupby(level=[0, 1]):
        values = series.to_numpy()
        assert (np.diff(values) < 0).all()


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_minimal_step_matches_a_float64_brute_force_scan(activation: str) -> None:
    """The first sign change along x - sign(f) tau grad f(x), by a fine scan of the ray."""
    generator = torch.Generator().manual_seed(3)
    d, k, n, E = 12, 16, 5, 3
    net = TwoLayerNet.bubeck(
        E, k, d, activation=activation, generator=generator, dtype=torch.float64
    )
    x = torch.randn(n, d, generator=generator, dtype=torch.float64)
    x = math.sqrt(d) * x / x.norm(dim=1, keepdim=True)
    result = _minimal_step(net, x, max_eta=20.0)
    found = torch.isfinite(result.eta)
    assert found.float().mean() > 0.5
    f, grad = net(x), net.input_grad(x)
    direction = -f.sign().unsqueeze(-1) * grad  # (E, n, d)
    # scan [0, 1.01 |eta|] (or [0, 20] where no flip was found) on 20001 points
    top = torch.where(found, result.eta.abs() * 1.01, 20.0)  # (E, n)
    taus = torch.linspace(0.0, 1.0, 20_001, dtype=torch.float64).view(1, 1, -1) * top.unsqueeze(-1)
    points = x.view(1, n, 1, d) + taus.unsqueeze(-1) * direction.unsqueeze(2)  # (E, n, S, d)
    values = net(points.reshape(E, -1, d)).reshape(E, n, -1)
    flipped = values * f.unsqueeze(-1) < 0
    assert not flipped.any(dim=2)[~found].any()
    assert flipped.any(dim=2)[found].all()
    first = torch.gather(taus, 2, flipped.to(torch.int8).argmax(dim=2, keepdim=True)).squeeze(2)
    gap = (result.eta.abs() - first)[found]
    tolerance = (ROOT_RTOL * result.eta.abs() + 2 * top / 20_000)[found]
    assert (gap.abs() <= tolerance).all()


def test_activation_moments_against_quadrature() -> None:
    assert activation_moments("relu") == pytest.approx((0.5, 0.5), abs=1e-6)
    second = integrate.quad(lambda z: math.tanh(z) ** 2 * stats.norm.pdf(z), -12, 12)[0]
    slope = integrate.quad(lambda z: (1 - math.tanh(z) ** 2) ** 2 * stats.norm.pdf(z), -12, 12)[0]
    assert activation_moments("tanh") == pytest.approx((second, slope), rel=1e-6)
    limit = limit_medians("relu")
    assert limit["median_abs_eta"] == pytest.approx(stats.norm.ppf(0.75) * math.sqrt(0.5) / 0.5)


def test_cells_are_reproducible_and_share_networks_across_activations(tmp_path: Path) -> None:
    exp = get_experiment(NAME)
    config = exp.config(
        "quick",
        {"dim": [16], "width": [8], "n_inputs": 4, "n_networks": 12, "activation": ["relu"]},
    )
    (cell,) = exp.cells(config)
    ctx = CellContext()
    first, second = exp.run_cell(cell, ctx), exp.run_cell(cell, ctx)
    assert first == second
    assert len(first) == 4 * 12
    assert sorted({row["network"] for row in first}) == list(range(12))


# The quick preset's verdicts, pinned before the claims moved onto robustlab.theory.claims
# (issue 9), in order, by the first 60 characters of each claim: a change here must be
# deliberate.
QUICK_VERDICTS = [
    ("relu: median |eta| does not grow or shrink with d (theorem: ", "consistent"),
    ("relu: median ||delta|| / ||x|| ~ d^-1/2", "consistent"),
    ("relu: median |eta| does not depend on the width k", "inconclusive"),
    ("relu: median |eta| is about 1 (slides), within [0.5, 2]", "consistent"),
    ("relu: median |eta| at the largest d, k is near the large-wid", "consistent"),
    ("relu: one step with |eta| <= 20 flips the sign w.p. >= 1 - g", "consistent"),
    ("tanh: median |eta| does not grow or shrink with d (theorem: ", "consistent"),
    ("tanh: median ||delta|| / ||x|| ~ d^-1/2", "consistent"),
    ("tanh: median |eta| does not depend on the width k", "inconclusive"),
    ("tanh: median |eta| is about 1 (slides), within [0.5, 2]", "consistent"),
    ("tanh: median |eta| at the largest d, k is near the large-wid", "consistent"),
    ("tanh: one step with |eta| <= 20 flips the sign w.p. >= 1 - g", "consistent"),
]


def test_quick_verdicts_are_pinned(quick: dict[str, Any]) -> None:
    found = [(v["claim"][:60], v["verdict"]) for v in quick["summary"]["verdicts"]]
    assert found == QUICK_VERDICTS
