"""universal-perturbation (Vardi et al., paper 003): the quick preset end to end, and its parts."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch

from robustlab.attacks import universal_perturbation
from robustlab.data.synthetic import random_labels_sphere
from robustlab.experiments.universal_perturbation import draw_data, theorem_n
from robustlab.learners import gradient_flow
from robustlab.models.two_layer import TwoLayerNet

NAME = "universal-perturbation"


@pytest.fixture(scope="module")
def quick(run_quick: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return run_quick(NAME)


def test_grid_and_rows(quick: dict[str, Any]) -> None:
    config, table = quick["config"], quick["table"]
    per_seed = len(config.dim) * (len(config.n_samples) + 1)
    assert quick["result"].total == per_seed * len(config.seeds)
    assert len(table) == quick["result"].total * config.networks
    theorem = table[table["regime"] == "theorem_n"]
    for d, n in zip(theorem["dim"], theorem["n_samples"], strict=True):
        assert n == theorem_n(int(d), config.theorem_n_coef)
    fixed = table[table["regime"] == "fixed_n"]
    assert set(fixed["n_samples"]) == set(config.n_samples)


def test_training_reaches_the_threshold_and_separates(quick: dict[str, Any]) -> None:
    table = quick["table"]
    assert table["converged"].all()
    assert (table["final_log10_loss"] <= math.log10(1e-30) + 1e-6).all()
    assert (table["train_accuracy"] == 1.0).all()
    assert (table["normalized_margin"] > 0).all()


def test_universal_perturbation_flips_everything_below_sqrt_d(quick: dict[str, Any]) -> None:
    table = quick["table"]
    assert (table["fraction_flipped"] == 1.0).all() and table["all_flipped"].all()
    assert (table["eta"] > 0).all() and (table["eta"] < math.inf).all()
    # Robust nets need Omega(sqrt(d)); the flow's nets are flipped well below that.
    assert (table["delta_norm"] < table["dim"].pow(0.5)).all()
    assert (
        table["delta_over_sqrt_d"] - table["delta_norm"] / table["dim"] ** 0.5
    ).abs().max() < 1e-9
    # ||sum_i y_i x_i|| ~ sqrt(n d) for nearly orthogonal points: eta ~ ||delta|| / sqrt(n d).
    spread = table["delta_norm"] / (table["eta"] * (table["n_samples"] * table["dim"]) ** 0.5)
    assert spread.between(0.5, 2.0).all()


def test_condition_is_recorded_faithfully(quick: dict[str, Any]) -> None:
    table = quick["table"]
    bound = (table["dim"] + 1) / (3 * (table["max_inner"] + 1))
    assert (bound - table["condition_bound"]).abs().max() < 1e-9
    assert ((table["n_samples"] <= bound) == table["condition_holds"]).all()
    # |<x_i, x_j>| <= ||x_i|| ||x_j|| = d, and for random points far below it
    assert (table["max_inner"] > 0).all() and (table["max_inner_over_d"] < 1).all()
    balance = table["class_balance"]
    assert ((table["n_samples"] * balance).round() == table["n_samples"] // 2).all()


def test_summary_and_figures(quick: dict[str, Any]) -> None:
    summary = quick["summary"]
    verdicts = {v["claim"]: v for v in summary["verdicts"]}
    assert len(verdicts) == 4
    for verdict in summary["verdicts"]:
        assert set(verdict) - {"settle", "compared"} == {
            "claim",
            "verdict",
            "measured",
            "predicted",
            "reason",
        }
    flips = next(v for c, v in verdicts.items() if c.startswith("delta = eta"))
    assert flips["verdict"] == "consistent"
    little_o = next(v for c, v in verdicts.items() if "o(sqrt(d))" in c)
    assert little_o["verdict"] in ("consistent", "inconclusive")
    assert little_o["measured"] < 0.5 + 0.1
    assert summary["headline"]["converged_fraction"] == 1.0
    assert "condition" in summary["predictions"]
    for stem in ("perturbation_norm", "relative_size"):
        assert (quick["root"] / "figures" / f"{stem}.png").stat().st_size > 10_000


def test_draw_data_gives_each_network_a_sphere_data_set() -> None:
    g = torch.Generator().manual_seed(3)
    X, y = draw_data(4, 6, 30, generator=g, dtype=torch.float64)
    assert X.shape == (4, 6, 30) and y.shape == (6,)
    assert torch.allclose(X.norm(dim=-1), torch.full((4, 6), math.sqrt(30), dtype=torch.float64))
    assert int((y > 0).sum()) == 3
    reference = random_labels_sphere(6, 30, seed=3, dtype=torch.float64)
    assert torch.equal(X[0], reference.x) and torch.equal(y, reference.y)
    assert not torch.allclose(X[1], X[2])


def test_gradient_flow_with_one_data_set_per_member_matches_separate_runs() -> None:
    g = torch.Generator().manual_seed(0)
    X, y = draw_data(2, 6, 10, generator=g, dtype=torch.float64)
    net = TwoLayerNet.vardi(2, 8, 10, generator=g, dtype=torch.float64)
    both, trace = gradient_flow(net, X, y, max_steps=150)
    for e in range(2):
        single = TwoLayerNet(
            net.W[e : e + 1].detach().clone(),
            net.a[e : e + 1].detach().clone(),
            net.b[e : e + 1].detach().clone(),  # type: ignore[index]
            activation="relu",
            scale=1.0,
            train_top=True,
            scheme="vardi",
        )
        alone, alone_trace = gradient_flow(single, X[e], y, max_steps=150)
        assert torch.allclose(alone.W[0], both.W[e], atol=1e-12)
        assert torch.allclose(alone_trace.log_loss[:, 0], trace.log_loss[:, e], atol=1e-10)


def test_smallest_universal_step_is_minimal_by_brute_force() -> None:
    g = torch.Generator().manual_seed(5)
    X, y = draw_data(2, 6, 40, generator=g, dtype=torch.float64)
    net = TwoLayerNet.vardi(2, 50, 40, generator=g, dtype=torch.float64)
    trained, trace = gradient_flow(net, X, y, max_steps=3000)
    assert bool(trace.converged.all())
    result = universal_perturbation(trained, X, y)
    direction = (y.view(1, -1, 1) * X).sum(dim=1)  # sum_i y_i x_i per member: (E, d)
    for e in range(2):
        W, a, b = trained.W[e].detach(), trained.a[e].detach(), trained.b[e].detach()  # type: ignore[index]

        def f(
            points: torch.Tensor, W: torch.Tensor = W, a: torch.Tensor = a, b: torch.Tensor = b
        ) -> torch.Tensor:
            return torch.relu(points @ W.T + b) @ a

        eta = float(result.eta[e])
        flipped = y * f(X[e] - y[:, None] * eta * direction[e]) < 0
        assert bool(flipped.all())
        # no smaller step on a fine grid flips every point at once
        etas = torch.linspace(0.0, eta * 0.999, 400, dtype=torch.float64)
        shifted = X[e].unsqueeze(0) - etas.view(-1, 1, 1) * y.view(1, -1, 1) * direction[e]
        all_flipped = (y * f(shifted) < 0).all(dim=1)
        assert not bool(all_flipped.any())


# The quick preset's verdicts, pinned before the claims moved onto robustlab.theory.claims
# (issue 9), in order, by the first 60 characters of each claim: a change here must be
# deliberate.
QUICK_VERDICTS = [
    ("delta = eta sum_i y_i x_i flips every training point (fracti", "consistent"),
    ("gradient flow reaches L <= 1e-30 (near a KKT point of eq. (1", "consistent"),
    ("||delta|| = o(sqrt(d)) when n grows like sqrt(d) / log d (sl", "consistent"),
    ("||delta|| scales like sqrt(d / (c^2 n)) in n (log-log slope ", "inconclusive"),
]


def test_quick_verdicts_are_pinned(quick: dict[str, Any]) -> None:
    found = [(v["claim"][:60], v["verdict"]) for v in quick["summary"]["verdicts"]]
    assert found == QUICK_VERDICTS
