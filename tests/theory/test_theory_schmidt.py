"""Schmidt et al. 2018: exact errors against Monte Carlo and brute force; sample complexities."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from robustlab.theory import schmidt as S
from robustlab.theory.fitting import fit_loglog_slope


def _gaussian_mc_error(
    w: np.ndarray, theta: np.ndarray, sigma: float, eps: float, norm: str, n: int, seed: int
) -> tuple[float, float]:
    """Attack each drawn point with the worst-case perturbation and count sign errors."""
    rng = np.random.default_rng(seed)
    y = rng.choice([-1.0, 1.0], size=n)
    x = y[:, None] * theta + sigma * rng.standard_normal((n, theta.size))
    step = np.sign(w) if norm == "linf" else w / np.linalg.norm(w)
    x_adv = x - eps * y[:, None] * step  # pushes y<w, x> down by eps ||w||_dual
    wrong = np.sign(x_adv @ w) != y
    p = wrong.mean()
    return float(p), math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("norm", ["linf", "l2"])
@pytest.mark.parametrize("eps", [0.0, 0.1, 0.4])
def test_gaussian_error_matches_monte_carlo(norm: str, eps: float) -> None:
    d, sigma = 16, 2.0
    rng = np.random.default_rng(7)
    theta = rng.standard_normal(d)
    theta *= math.sqrt(d) / np.linalg.norm(theta)
    ws = np.stack([theta, theta + 2 * rng.standard_normal(d), rng.standard_normal(d)])
    exact = S.gaussian_linear_error(ws, theta, sigma=sigma, eps=eps, norm=norm)  # type: ignore[arg-type]
    assert exact.shape == (3,)
    for i, w in enumerate(ws):
        p, se = _gaussian_mc_error(w, theta, sigma, eps, norm, 80_000, seed=i)
        assert abs(exact[i] - p) <= 4 * se + 1e-4, (i, exact[i], p, se)


def test_gaussian_error_closed_form_and_edge_cases() -> None:
    w, theta = np.array([1.0, -2.0, 0.5]), np.array([1.0, 1.0, 1.0])
    z = (0.2 * 3.5 - (-0.5)) / (1.5 * math.sqrt(5.25))
    assert float(S.gaussian_linear_error(w, theta, sigma=1.5, eps=0.2)) == pytest.approx(
        stats.norm.cdf(z)
    )
    assert float(S.gaussian_linear_error(np.zeros(3), theta, sigma=1.0)) == 1.0
    with pytest.raises(ValueError, match="same d"):
        S.gaussian_linear_error(np.ones(4), theta, sigma=1.0)
    with pytest.raises(ValueError, match="norm"):
        S.gaussian_linear_error(w, theta, sigma=1.0, norm="l1")  # type: ignore[arg-type]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), eps=st.floats(0.0, 1.0), extra=st.floats(0.0, 1.0))
def test_gaussian_robust_error_is_monotone_in_eps(seed: int, eps: float, extra: float) -> None:
    rng = np.random.default_rng(seed)
    w, theta = rng.standard_normal(8), rng.standard_normal(8)
    low = S.gaussian_linear_error(w, theta, sigma=1.0, eps=eps)
    high = S.gaussian_linear_error(w, theta, sigma=1.0, eps=eps + extra)
    assert high >= low - 1e-15
    assert S.gaussian_linear_error(w, theta, sigma=1.0, eps=eps, norm="l2") <= low + 1e-15


def test_single_sample_standard_error_is_small_in_the_theorem_regime() -> None:
    """Schmidt et al.: sigma <= c d^{1/4} and w = y x from one sample: error <= 1% w.h.p."""
    d = 10_000
    sigma = S.gaussian_sigma(d, c1=0.3)
    assert S.gaussian_single_sample_suffices(sigma, d, c=0.3)
    rng = np.random.default_rng(0)
    theta = np.ones(d)  # ||theta*|| = sqrt(d)
    for _ in range(5):
        y = rng.choice([-1.0, 1.0])
        w = y * (y * theta + sigma * rng.standard_normal(d))
        assert float(S.gaussian_linear_error(w, theta, sigma=sigma)) <= S.TARGET_ERROR


def _brute_force_bernoulli(w: np.ndarray, theta: np.ndarray, tau: float, threshold: float) -> float:
    """Sum over all 2^d sign patterns s (x = y theta * s): P(sum_i w_i theta_i s_i <= threshold)."""
    p = (1 + tau) / 2
    total = 0.0
    for signs in itertools.product([-1.0, 1.0], repeat=w.size):
        s = np.array(signs)
        prob = np.prod(np.where(s > 0, p, 1 - p))
        if (w * theta * s).sum() <= threshold + 1e-12:
            total += prob
    return total


@pytest.mark.parametrize("eps", [0.0, 0.05, 1 / 19, 3 / 19, 0.25, 0.5])
def test_bernoulli_exact_matches_enumeration(eps: float) -> None:
    rng = np.random.default_rng(3)
    d = 10
    theta = rng.choice([-1.0, 1.0], size=d)
    w = np.array([3.0, -1.0, 0.0, 2.0, 2.0, 5.0, -4.0, 1.0, 1.0, 0.0])
    # ||w||_1 = 19, so the sum is odd: eps = 1/19 and 3/19 put the threshold on attainable sums
    for tau in (0.1, 0.6):
        got = S.bernoulli_linear_error(w, theta, tau=tau, eps=eps, method="exact")
        expected = _brute_force_bernoulli(w, theta, tau, eps * 19.0)
        assert got.method == "exact" and got.stderr == 0.0
        assert got.value == pytest.approx(expected, abs=1e-12)


def test_bernoulli_exact_counts_ties_as_errors() -> None:
    theta = np.ones(4)
    w = np.ones(4)  # S = 2B - 4 with B ~ Bin(4, p); robust threshold eps * 4 = 2 exactly for 0.5
    p = 0.75
    got = S.bernoulli_linear_error(w, theta, tau=0.5, eps=0.5, method="exact").value
    assert got == pytest.approx(stats.binom.cdf(3, 4, p))  # S <= 2  <=>  B <= 3


@pytest.mark.parametrize(("d", "tau", "eps"), [(101, 0.1, 0.0), (400, 0.05, 0.03), (64, 0.3, 0.2)])
def test_bernoulli_constant_weights_match_binomial(d: int, tau: float, eps: float) -> None:
    theta = np.where(np.arange(d) % 3 == 0, -1.0, 1.0)
    got = S.bernoulli_linear_error(2.0 * theta, theta, tau=tau, eps=eps).value
    # y<w, x> = 2 (2B - d), B ~ Bin(d, (1 + tau)/2); error iff 2B - d <= eps d
    expected = stats.binom.cdf(math.floor((d + eps * d) / 2 + 1e-9), d, (1 + tau) / 2)
    assert got == pytest.approx(expected, abs=1e-10)


def test_bernoulli_monte_carlo_agrees_with_exact() -> None:
    rng = np.random.default_rng(11)
    d, n, tau = 300, 15, 0.2
    theta = rng.choice([-1.0, 1.0], size=d)
    y = rng.choice([-1.0, 1.0], size=n)
    x = y[:, None] * theta * np.where(rng.random((n, d)) < (1 + tau) / 2, 1.0, -1.0)
    w = (y[:, None] * x).sum(0)  # the paper's estimator: integral weights
    for eps in (0.0, 0.1):
        exact = S.bernoulli_linear_error(w, theta, tau=tau, eps=eps)
        mc = S.bernoulli_linear_error(
            w, theta, tau=tau, eps=eps, method="monte_carlo", samples=60_000, seed=5
        )
        assert exact.method == "exact" and mc.method == "monte_carlo" and mc.samples == 60_000
        assert abs(exact.value - mc.value) <= 4 * mc.stderr + 1e-4


def test_bernoulli_method_selection() -> None:
    theta = np.ones(6)
    w = np.array([0.5, 1.0, 1.5, 1.0, 1.0, 1.0])
    assert S.bernoulli_linear_error(w, theta, tau=0.3, samples=1000).method == "monte_carlo"
    with pytest.raises(ValueError, match="integral"):
        S.bernoulli_linear_error(w, theta, tau=0.3, method="exact")
    big = np.full(6, 1000.0)
    assert S.bernoulli_linear_error(big, theta, tau=0.3, max_support=1024, samples=100).method == (
        "monte_carlo"
    )
    with pytest.raises(ValueError, match="max_support"):
        S.bernoulli_linear_error(big, theta, tau=0.3, method="exact", max_support=1024)
    assert S.bernoulli_linear_error(np.zeros(6), theta, tau=0.3).value == 1.0
    with pytest.raises(ValueError, match="tau"):
        S.bernoulli_linear_error(w, theta, tau=0.0)


def test_sample_complexity_hand_computed() -> None:
    d = 10_000.0  # d^{-1/4}/4 = 0.025
    assert S.robust_sample_complexity_upper(0.02, d, c2=5.0) == 1.0
    assert S.robust_sample_complexity_upper(0.1, d, c2=5.0) == pytest.approx(5 * 0.01 * 100)
    assert S.robust_sample_complexity_lower(0.1, d, c=2.0) == pytest.approx(
        2 * 0.01 * 100 / math.log(d)
    )
    rng = S.robust_sample_complexity_range(0.1, d, c_low=1.0, c_high=3.0)
    assert (rng.low, rng.high) == pytest.approx((0.01 * 100 / math.log(d), 3.0))
    assert S.robust_error_lower_bound(100) == pytest.approx(0.495)
    assert S.bernoulli_single_sample_suffices(0.2, 10_000, c=1.0)  # 0.2 >= 0.1
    assert not S.bernoulli_single_sample_suffices(0.05, 10_000, c=1.0)
    assert S.bernoulli_linear_lower_bound_samples(100, 0.1, c=2.0) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="eps <= 1/4"):
        S.robust_sample_complexity_upper(0.3, d)
    with pytest.raises(ValueError, match="d must be > 1"):
        S.robust_sample_complexity_lower(0.1, 1.0)


def test_sample_complexity_exponents() -> None:
    d = 1e6
    eps = np.array([0.05, 0.08, 0.12, 0.2, 0.25])
    upper = [S.robust_sample_complexity_upper(e, d) for e in eps]
    assert fit_loglog_slope(eps, upper).slope == pytest.approx(S.SAMPLE_COMPLEXITY_EXPONENT_EPS)
    dims = np.array([1e4, 1e5, 1e6, 1e7])
    upper_d = [S.robust_sample_complexity_upper(0.2, k) for k in dims]
    assert fit_loglog_slope(dims, upper_d).slope == pytest.approx(S.SAMPLE_COMPLEXITY_EXPONENT_D)


@settings(max_examples=50, deadline=None)
@given(eps=st.floats(0.0, 0.25), d=st.floats(16.0, 1e8))
def test_lower_bound_below_upper_bound(eps: float, d: float) -> None:
    """Eq. (17) with equal constants: eps^2 sqrt(d)/log d <= n_upper once log d >= 1."""
    assert (
        S.robust_sample_complexity_lower(eps, d) <= S.robust_sample_complexity_upper(eps, d) + 1e-12
    )
