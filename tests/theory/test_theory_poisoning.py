"""Paper 001 bounds: hand-computed values, a brute-force check of Proposition 2.1, monotonicity."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robustlab.theory import poisoning as P
from robustlab.theory.fitting import fit_loglog_slope

pos = st.floats(1e-3, 1e3)


def test_psfo_bound_hand_computed() -> None:
    # 5 * 2 * (3 + 1) / (2 * 10) + 2 * 2 * 20 / 100
    assert P.psfo_bound(2.0, 3.0, 1.0, 100, 20.0) == pytest.approx(2.0 + 0.8)
    terms = P.psfo_bound_terms(2.0, 3.0, 1.0, 100, 20.0)
    assert (terms.statistical, terms.poisoning) == pytest.approx((2.0, 0.8))
    assert terms.step_size == pytest.approx(2.0 / (10.0 * 4.0))
    assert P.psfo_step_size(2.0, 3.0, 1.0, 100) == pytest.approx(0.05)


@settings(max_examples=60, deadline=None)
@given(D=pos, G=pos, B=pos, T=st.integers(1, 10**6), zeta=pos, factor=st.floats(1.01, 100.0))
def test_psfo_bound_monotone(
    D: float, G: float, B: float, T: int, zeta: float, factor: float
) -> None:
    base = P.psfo_bound(D, G, B, T, zeta)
    assert P.psfo_bound(D, G, B, math.ceil(T * factor), zeta) < base
    assert P.psfo_bound(D, G, B * factor, T, zeta) > base
    assert P.psfo_bound(D, G * factor, B, T, zeta) > base
    assert P.psfo_bound(D * factor, G, B, T, zeta) > base
    assert P.psfo_bound(D, G, B, T, zeta * factor) > base


def test_psfo_bound_decays_as_inverse_sqrt_when_poisoning_is_sqrt_t() -> None:
    T = np.array([10, 100, 1000, 10_000, 100_000])
    bounds = [P.psfo_bound(1.0, 1.0, 0.5, int(t), 3.0 * math.sqrt(t)) for t in T]
    fit = fit_loglog_slope(T, bounds)
    assert fit.slope == pytest.approx(P.PSFO_RATE_EXPONENT, abs=1e-9)


def test_psfo_lower_bound_and_errors() -> None:
    assert P.psfo_lower_bound(100, 5.0, constant=2.0) == pytest.approx(2.0 * (0.1 + 0.05))
    with pytest.raises(ValueError, match="T must be"):
        P.psfo_bound(1.0, 1.0, 1.0, 0, 1.0)
    with pytest.raises(ValueError, match="zeta_sum"):
        P.psfo_bound(1.0, 1.0, 1.0, 10, -1.0)
    with pytest.raises(ValueError, match="G \\+ B"):
        P.psfo_step_size(1.0, 0.0, 0.0, 10)


def _logistic_grad(w: np.ndarray, x: np.ndarray, y: float) -> np.ndarray:
    """d/dw log(1 + exp(-y <w, x>)) = -y x sigmoid(-y <w, x>), written out independently."""
    z = y * (w @ x)
    return -y * x / (1.0 + np.exp(z))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), D=st.floats(0.1, 10.0), R=st.floats(0.1, 10.0))
def test_proposition_21_bounds_the_actual_gradient_shift(seed: int, D: float, R: float) -> None:
    rng = np.random.default_rng(seed)
    d = 5
    w = rng.standard_normal(d)
    w *= D * rng.random() / np.linalg.norm(w)
    x = rng.standard_normal(d)
    x *= R * rng.random() / np.linalg.norm(x)
    delta = rng.standard_normal(d) * rng.exponential()
    y = float(rng.choice([-1.0, 1.0]))
    shift = np.linalg.norm(_logistic_grad(w, x + delta, y) - _logistic_grad(w, x, y))
    bound = P.clean_label_gradient_shift(float(np.linalg.norm(delta)), D=D, R=R)
    assert shift <= bound * (1 + 1e-12) + 1e-15


def test_linear_regime_a_bound_hand_computed() -> None:
    n, C, D, G, R = 10_000, 5.0, 2.0, 1.0, 1.0
    factor = 0.25 * D * R + 1.0  # alpha D R + L for the logistic loss
    S = C * math.sqrt(n)
    bound = P.linear_regime_a_bound(n, C, D=D, G=G, R=R, max_perturbation=3.0)
    assert bound.poisoning == pytest.approx(2 * D * factor * S / n)
    assert bound.poisoning == pytest.approx(2 * D * factor * C / math.sqrt(n))
    assert bound.statistical == pytest.approx(5 * D * (G + factor * 3.0) / (2 * math.sqrt(n)))
    worst = P.linear_regime_a_bound(n, C, D=D, G=G, R=R)
    assert worst.statistical == pytest.approx(5 * D * (G + factor * S) / (2 * math.sqrt(n)))


def test_critical_corruption_rate_matches_figure_2() -> None:
    # "a phase transition ... at C ~ 250 ~ sqrt(n)" for the MNIST training set size.
    assert P.critical_corruption_rate(60_000) == pytest.approx(244.95, abs=0.01)
    n = 60_000.0
    at_critical = P.linear_regime_a_bound(
        int(n), P.critical_corruption_rate(n), D=1.0, G=1.0, R=1.0, max_perturbation=1.0
    )
    assert at_critical.poisoning == pytest.approx(2 * 1.25)  # Theta(1): no longer decaying


def _width_log(n: float, delta: float) -> float:
    return math.log(n / delta) + math.log(n) ** 2


def test_regime_a_hand_computed() -> None:
    n, C, B, d, gamma, delta = 10_000, 0.5, 0.01, 100, 0.8, 0.05
    g = P.regime_a(n, C=C, B=B, d=d, gamma=gamma, delta=delta, c_high=2.0, c_low=0.5)
    S = C * math.sqrt(n)
    assert g.step_size == pytest.approx(1 / ((1 + B) ** 2 * 100))
    rate = (math.log(25.0) ** 2 + math.log(24 * n / delta)) / (100 * gamma**2)
    assert g.error_rate == pytest.approx(rate)
    assert g.width.low == pytest.approx(0.5 * _width_log(n, delta) / gamma**8)
    high = 2.0 * (n * math.log(n) ** 4 + n * math.log(n / delta) ** 2) / (gamma**4 * S**2)
    assert g.width.high == pytest.approx(high)
    assert g.per_sample_limit == pytest.approx(gamma / 10.0)
    assert g.budget == pytest.approx(S)
    assert g.applies_at(math.sqrt(g.width.low * g.width.high)) == g.admissible


def test_regime_a_width_closes_at_max_corruption_rate() -> None:
    n, gamma = 20_000, 0.7
    c_max = P.regime_a_max_corruption_rate(n, gamma=gamma)
    inside = P.regime_a(n, C=c_max * (1 - 1e-6), B=0.0, d=10, gamma=gamma)
    outside = P.regime_a(n, C=c_max * (1 + 1e-6), B=0.0, d=10, gamma=gamma)
    assert inside.width.nonempty and inside.admissible
    assert not outside.width.nonempty and not outside.admissible
    assert inside.budget_limit == pytest.approx(c_max * math.sqrt(n))
    # S <~ gamma^2 sqrt(n) up to logs: C_max / gamma^2 depends on n only through logarithms.
    assert c_max / gamma**2 == pytest.approx(P.regime_a_max_corruption_rate(n, gamma=0.3) / 0.3**2)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(100, 10**7), C=st.floats(0.01, 100.0), factor=st.floats(1.01, 10.0))
def test_regime_a_width_upper_bound_decreases_in_budget(n: int, C: float, factor: float) -> None:
    a = P.regime_a(n, C=C, B=0.0, d=10, gamma=0.5)
    b = P.regime_a(n, C=C * factor, B=0.0, d=10, gamma=0.5)
    assert b.width.high < a.width.high
    assert b.width.low == a.width.low


def _regime_b_limit(m: float, n: float, d: float, gamma: float, delta: float) -> float:
    first = 1 / (math.sqrt(m * d) + math.sqrt(m * math.log(m / delta)))
    second = gamma / (gamma + math.sqrt(d) + math.sqrt(math.log(m * n / delta)))
    return min(first, second)


def test_regime_b_hand_computed() -> None:
    n, B, d, gamma, delta = 50_000, 1e-4, 64, 0.9, 0.1
    g = P.regime_b(n, B=B, d=d, gamma=gamma, delta=delta)
    assert g.step_size == pytest.approx((1 + B) ** -2)
    rate = (math.log(math.sqrt(n) / 4) ** 2 + math.log(24 * n / delta)) / (n * gamma**2)
    assert g.error_rate == pytest.approx(rate)
    # the width upper bound is where the per-sample condition becomes tight
    m_high = g.width.high
    assert _regime_b_limit(m_high, n, d, gamma, delta) == pytest.approx(B, rel=1e-8)
    assert _regime_b_limit(m_high * 0.99, n, d, gamma, delta) > B
    assert g.budget_limit == pytest.approx(_regime_b_limit(g.width.low, n, d, gamma, delta))
    assert g.admissible == (g.budget_limit >= B) == g.width.nonempty


def test_regime_b_extremes() -> None:
    big = P.regime_b(1000, B=1.0, d=10, gamma=0.5)
    assert big.width.high == 0.0 and not big.admissible
    assert math.isinf(P.regime_b(1000, B=0.0, d=10, gamma=0.5).width.high)
    with pytest.raises(ValueError, match="width m"):
        P.regime_b_per_sample_limit(0.5, n=10, d=10, gamma=0.5)


@settings(max_examples=30, deadline=None)
@given(B=st.floats(1e-8, 1e-2), factor=st.floats(1.1, 10.0))
def test_regime_b_width_upper_bound_decreases_in_budget(B: float, factor: float) -> None:
    a = P.regime_b(10_000, B=B, d=32, gamma=0.5).width.high
    b = P.regime_b(10_000, B=B * factor, d=32, gamma=0.5).width.high
    assert b < a


def test_regime_c_hand_computed() -> None:
    n, beta, gamma, delta = 1_000_000, 0.001, 0.9, 0.1
    g = P.regime_c(n, beta=beta, gamma=gamma, delta=delta, c_high=3.0)
    assert g.step_size == pytest.approx(1e-3)
    rate = (math.log(250.0) ** 2 + math.log(16 * n / delta)) / (1000 * gamma**2)
    assert g.error_rate == pytest.approx(rate)
    w = _width_log(n, delta)
    denominator = (math.sqrt(math.log(n / delta)) + math.log(gamma**2 * 1000 / w)) * gamma * 1000
    assert denominator > 0
    assert g.budget_limit == pytest.approx(w / denominator)
    assert g.width.high == pytest.approx(3.0 / beta)
    assert math.isinf(P.regime_c(n, beta=0.0, gamma=gamma).width.high)


def test_regime_c_flip_limit_vacuous_for_small_margin() -> None:
    assert math.isinf(P.regime_c_flip_limit(10_000, gamma=0.1))
    with pytest.raises(ValueError, match="beta"):
        P.regime_c(100, beta=1.5, gamma=0.5)


def test_rate_exponents_up_to_logs() -> None:
    n = np.array([1e4, 1e5, 1e6, 1e7])
    for regime, make in (
        ("A", lambda k: P.regime_a(int(k), C=0.1, B=0.0, d=10, gamma=0.5)),
        ("B", lambda k: P.regime_b(int(k), B=1e-6, d=10, gamma=0.5)),
        ("C", lambda k: P.regime_c(int(k), beta=0.0, gamma=0.5)),
    ):
        rates = np.array([make(k).error_rate for k in n])
        log_factor = np.log(np.sqrt(n) / 4) ** 2 + np.log(24 * n / 0.1)
        fit = fit_loglog_slope(n, rates / log_factor)
        assert fit.slope == pytest.approx(P.RATE_EXPONENT[regime], abs=0.02)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"delta": 1.0}, "delta"),
        ({"gamma": 0.0}, "gamma"),
        ({"C": -1.0}, "C must"),
    ],
)
def test_regime_a_rejects_bad_arguments(kwargs: dict[str, float], match: str) -> None:
    args: dict[str, float] = {"C": 1.0, "B": 0.0, "d": 10, "gamma": 0.5, "delta": 0.1}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        P.regime_a(100, **args)  # type: ignore[arg-type]
