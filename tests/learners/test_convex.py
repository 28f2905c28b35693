"""Projected SGD with averaging on a poisoned oracle; paper 001 Theorem 2.2 in expectation."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from robustlab.learners.convex import projected_sgd
from robustlab.poisoning.psfo import PoisonedGradientOracle
from robustlab.theory.poisoning import psfo_bound

F64 = torch.float64


class LeastSquares:
    """F(w) = E (x.w - y)^2 / 2, x ~ N(0, I_d), y = x.w* + sigma eps: F(w) - F(w*) = |w - w*|^2/2.

    The stochastic gradient x (x.w - y) has E||g||^2 = (d + 2)||w - w*||^2 + d sigma^2, so on
    the ball ||w|| <= D it is a (G, 0)-oracle with G^2 = (d + 2)(D + ||w*||)^2 + d sigma^2.
    Each row of w (E, d) draws its own samples: E independent runs.
    """

    def __init__(self, w_star: Tensor, sigma: float, generator: torch.Generator) -> None:
        self.w_star, self.sigma, self.generator = w_star, sigma, generator

    def gradient(self, w: Tensor) -> Tensor:
        x = torch.randn(w.shape, generator=self.generator, dtype=w.dtype)
        noise = torch.randn(w.shape[:-1], generator=self.generator, dtype=w.dtype)
        residual = (x * (w - self.w_star)).sum(dim=-1) - self.sigma * noise
        return x * residual.unsqueeze(-1)

    def excess(self, w: Tensor) -> Tensor:
        return 0.5 * (w - self.w_star).pow(2).sum(dim=-1)

    def G(self, D: float) -> float:
        d = self.w_star.numel()
        return math.sqrt((d + 2) * (D + float(self.w_star.norm())) ** 2 + d * self.sigma**2)


@pytest.mark.parametrize(
    ("strategy", "decay"), [("none", False), ("adversarial", True), ("random", False)]
)
def test_theorem_2_2_bound_holds_in_expectation_over_seeds(strategy: str, decay: bool) -> None:
    g = torch.Generator().manual_seed(0)
    d, D, T, runs = 5, 1.0, 400, 300
    w_star = torch.full((d,), 0.2, dtype=F64)  # ||w*|| = 0.447 < D
    problem = LeastSquares(w_star, sigma=0.5, generator=g)
    B = 0.5
    # 1/sqrt(t) decay keeps sum_t ||zeta_t|| = O(sqrt T), the regime where poisoning is harmless
    budget = B / torch.arange(1, T + 1, dtype=F64).sqrt() if decay else B / 10
    oracle = PoisonedGradientOracle(
        problem.gradient, budget=budget, strategy=strategy, optimum=w_star, generator=g
    )
    G = problem.G(D)
    eta = D / (math.sqrt(T) * (G + oracle.B))
    w0 = torch.zeros(runs, d, dtype=F64)
    w_bar, trace = projected_sgd(oracle, D=D, eta=eta, T=T, w0=w0, objective=problem.excess)
    zeta_sum = 0.0 if strategy == "none" else float(trace.cumulative_perturbation.mean())  # type: ignore[union-attr]
    bound = psfo_bound(D, G, oracle.B, T, zeta_sum)
    expected_excess = float(problem.excess(w_bar).mean())
    assert expected_excess <= bound
    assert bound < 0.5 * (D + float(w_star.norm())) ** 2  # the bound is not vacuous here
    assert trace.average_objective is not None
    torch.testing.assert_close(trace.average_objective, problem.excess(w_bar))
    assert trace.objective is not None and trace.objective.shape == (T, runs)
    assert trace.perturbation_norms is not None and trace.perturbation_norms.shape == (T, runs)


def test_adversarial_oracle_hurts_and_more_budget_hurts_more() -> None:
    d, D, T, runs = 3, 1.0, 300, 200
    w_star = torch.tensor([0.3, 0.0, 0.0], dtype=F64)
    excess = []
    for B in (0.0, 0.5, 2.0):
        g = torch.Generator().manual_seed(1)
        problem = LeastSquares(w_star, sigma=0.1, generator=g)
        oracle = PoisonedGradientOracle(
            problem.gradient, budget=B, strategy="adversarial", optimum=w_star
        )
        w_bar, _ = projected_sgd(oracle, D=D, eta=0.05, T=T, w0=torch.zeros(runs, d, dtype=F64))
        excess.append(float(problem.excess(w_bar).mean()))
    assert excess[0] < excess[1] < excess[2]


def test_matches_a_hand_written_loop() -> None:
    center = torch.tensor([2.0, -1.0, 0.5], dtype=F64)
    calls: list[Tensor] = []

    def oracle(w: Tensor) -> Tensor:
        calls.append(w.clone())
        return 2 * (w - center) + 0.1 * len(calls)

    D, eta, T = 1.5, 0.2, 7
    w0 = torch.tensor([0.0, 3.0, 0.0], dtype=F64)
    w_bar, trace = projected_sgd(oracle, D=D, eta=eta, T=T, w0=w0, record_iterates=True)
    w, points = w0.clone(), []
    w = w * min(1.0, D / float(w.norm()))
    for k in range(1, T + 1):
        points.append(w.clone())
        w = w - eta * (2 * (w - center) + 0.1 * k)
        w = w * min(1.0, D / float(w.norm()))
    torch.testing.assert_close(w_bar, torch.stack(points).mean(dim=0))
    assert trace.iterates is not None
    torch.testing.assert_close(trace.iterates, torch.stack(points))
    assert trace.perturbation_norms is None and trace.objective is None
    assert trace.gradient_norms.shape == (T,)


@settings(max_examples=40, deadline=None)
@given(
    D=st.floats(0.0, 5.0),
    eta=st.floats(1e-3, 10.0),
    seed=st.integers(0, 2**16),
    p=st.integers(1, 5),
)
def test_iterates_stay_in_the_ball(D: float, eta: float, seed: int, p: int) -> None:
    g = torch.Generator().manual_seed(seed)
    oracle = PoisonedGradientOracle(
        lambda w: torch.randn(w.shape, generator=g, dtype=F64) * 10, budget=3.0, generator=g
    )
    w0 = torch.randn(4, p, generator=g, dtype=F64) * 10
    w_bar, trace = projected_sgd(oracle, D=D, eta=eta, T=20, w0=w0, record_iterates=True)
    assert trace.iterates is not None
    assert (trace.iterates.norm(dim=-1) <= D * (1 + 1e-12) + 1e-15).all()
    assert (w_bar.norm(dim=-1) <= D * (1 + 1e-12) + 1e-15).all()


def test_custom_projection_and_bad_arguments() -> None:
    def box(w: Tensor) -> Tensor:
        return w.clamp(-0.1, 0.1)

    w_bar, _ = projected_sgd(
        lambda w: -torch.ones_like(w), project=box, eta=1.0, T=5, w0=torch.zeros(2)
    )
    torch.testing.assert_close(w_bar, torch.full((2,), 0.08))  # (0 + 4 * 0.1) / 5
    with pytest.raises(ValueError, match="exactly one"):
        projected_sgd(lambda w: w, eta=1.0, T=5, w0=torch.zeros(2))
    with pytest.raises(ValueError, match="exactly one"):
        projected_sgd(lambda w: w, D=1.0, project=box, eta=1.0, T=5, w0=torch.zeros(2))
    with pytest.raises(ValueError, match="eta"):
        projected_sgd(lambda w: w, D=1.0, eta=0.0, T=5, w0=torch.zeros(2))
    with pytest.raises(ValueError, match="T"):
        projected_sgd(lambda w: w, D=1.0, eta=1.0, T=0, w0=torch.zeros(2))
