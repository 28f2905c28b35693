"""The poisoned stochastic first-order oracle: budgets, running sums, directions."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from robustlab.poisoning.psfo import STRATEGIES, PoisonedGradientOracle

F64 = torch.float64


@settings(max_examples=60, deadline=None)
@given(
    strategy=st.sampled_from(STRATEGIES),
    E=st.integers(1, 4),
    p=st.integers(1, 6),
    calls=st.integers(1, 12),
    budget=st.floats(0.0, 50.0),
    use_schedule=st.booleans(),
    cap=st.one_of(st.none(), st.floats(0.0, 100.0)),
    seed=st.integers(0, 2**16),
)
def test_perturbation_within_budget_and_running_sum(
    strategy: str,
    E: int,
    p: int,
    calls: int,
    budget: float,
    use_schedule: bool,
    cap: float | None,
    seed: int,
) -> None:
    g = torch.Generator().manual_seed(seed)
    center = torch.randn(E, p, generator=g, dtype=F64)
    schedule = budget / torch.arange(1, calls + 1, dtype=F64).sqrt()
    oracle = PoisonedGradientOracle(
        lambda w: w - center,
        budget=schedule if use_schedule else budget,
        strategy=strategy,
        target=torch.randn(p, generator=g, dtype=F64),
        optimum=torch.randn(E, p, generator=g, dtype=F64),
        total_budget=cap,
        generator=g,
    )
    w = torch.randn(E, p, generator=g, dtype=F64)
    for t in range(calls):
        noisy = oracle(w)
        zeta_norm = (noisy - (w - center)).norm(dim=-1)
        radius = float(schedule[t]) if use_schedule else budget
        assert (zeta_norm <= radius * (1 + 1e-9) + 1e-12).all()
        torch.testing.assert_close(zeta_norm, oracle.last_norm, rtol=1e-9, atol=1e-9)
        w = w - 0.1 * noisy
    assert oracle.calls == calls
    assert oracle.history.shape == (calls, E)
    torch.testing.assert_close(oracle.total, oracle.history.sum(dim=0))
    if cap is not None:
        assert (oracle.total <= cap * (1 + 1e-9) + 1e-12).all()
    assert pytest.approx(float(schedule.max()) if use_schedule else budget) == oracle.B


def test_directions_of_each_strategy() -> None:
    w = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=F64)
    center = torch.zeros(2, dtype=F64)
    clean = w - center
    optimum = torch.tensor([0.5, 0.0], dtype=F64)
    target = torch.tensor([3.0, 4.0], dtype=F64)
    for strategy, expected in [
        ("none", torch.zeros_like(w)),
        ("target", 2.0 * (w - target) / (w - target).norm(dim=1, keepdim=True)),
        ("adversarial", 2.0 * (optimum - w) / (optimum - w).norm(dim=1, keepdim=True)),
    ]:
        oracle = PoisonedGradientOracle(
            lambda v: v - center, budget=2.0, strategy=strategy, target=target, optimum=optimum
        )
        torch.testing.assert_close(oracle(w) - clean, expected)
    # without an optimum the adversary cancels the descent direction
    oracle = PoisonedGradientOracle(lambda v: v - center, budget=0.5, strategy="adversarial")
    torch.testing.assert_close(oracle(w) - clean, -0.5 * clean / clean.norm(dim=1, keepdim=True))


def test_random_directions_are_isotropic_with_exact_norm() -> None:
    g = torch.Generator().manual_seed(0)
    oracle = PoisonedGradientOracle(lambda v: torch.zeros_like(v), budget=3.0, generator=g)
    zeta = oracle(torch.zeros(20000, 3, dtype=F64))
    torch.testing.assert_close(zeta.norm(dim=1), torch.full((20000,), 3.0, dtype=F64))
    assert float(zeta.mean(dim=0).abs().max()) < 0.1  # sd of a mean is sqrt(3)/sqrt(20000)
    second = (zeta.T @ zeta) / 20000  # E[zeta zeta^T] = (9/3) I for a uniform direction
    torch.testing.assert_close(second, 3.0 * torch.eye(3, dtype=F64), atol=0.15, rtol=0)


def test_total_budget_stops_poisoning_and_reset() -> None:
    oracle = PoisonedGradientOracle(
        lambda v: torch.zeros_like(v),
        budget=1.0,
        strategy="random",
        total_budget=2.5,
        generator=torch.Generator().manual_seed(0),
    )
    w = torch.ones(3, dtype=F64)
    norms = [float(oracle(w).norm()) for _ in range(5)]
    assert norms == pytest.approx([1.0, 1.0, 0.5, 0.0, 0.0])
    assert float(oracle.total) == pytest.approx(2.5)
    oracle.reset()
    assert oracle.calls == 0 and float(oracle.total) == 0.0


def test_schedule_too_short_and_bad_arguments() -> None:
    oracle = PoisonedGradientOracle(lambda v: v, budget=torch.tensor([1.0, 0.5]))
    w = torch.ones(2)
    oracle(w)
    oracle(w)
    with pytest.raises(IndexError, match="2 entries"):
        oracle(w)
    with pytest.raises(ValueError, match="strategy"):
        PoisonedGradientOracle(lambda v: v, budget=1.0, strategy="evil")
    with pytest.raises(ValueError, match="budget"):
        PoisonedGradientOracle(lambda v: v, budget=-1.0)
    with pytest.raises(ValueError, match="target"):
        PoisonedGradientOracle(lambda v: v, budget=1.0, strategy="target")
    with pytest.raises(ValueError, match="shaped like w"):
        PoisonedGradientOracle(lambda v: v[:1], budget=1.0)(w)
    with pytest.raises(RuntimeError, match="not been called"):
        _ = PoisonedGradientOracle(lambda v: v, budget=1.0).last_norm
