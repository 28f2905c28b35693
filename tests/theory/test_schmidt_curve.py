"""bernoulli_linear_error_curve: many budgets from one windowed FFT, against exact references."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robustlab.theory import schmidt as S


def _enumerate(w: np.ndarray, theta: np.ndarray, tau: float, thresholds: np.ndarray) -> np.ndarray:
    """P(sum_i w_i theta_i s_i <= t) by summing over all 2^d sign patterns (float64)."""
    p = (1 + tau) / 2
    signs = np.array(list(itertools.product([-1.0, 1.0], repeat=w.size)))
    prob = np.prod(np.where(signs > 0, p, 1 - p), axis=1)
    sums = signs @ (w * theta)
    return np.array([prob[sums <= t + 1e-12].sum() for t in thresholds])


@pytest.mark.parametrize("tau", [0.1, 0.6, 1.0])
def test_curve_matches_enumeration(tau: float) -> None:
    rng = np.random.default_rng(3)
    d = 10
    theta = rng.choice([-1.0, 1.0], size=d)
    w = np.array([3.0, -1.0, 0.0, 2.0, 2.0, 5.0, -4.0, 1.0, 1.0, 0.0])
    eps = np.array([0.0, 0.05, 1 / 19, 3 / 19, 0.25, 0.5, 2.0])  # ||w||_1 = 19
    got = S.bernoulli_linear_error_curve(w, theta, tau=tau, eps=eps)
    assert got.shape == eps.shape
    np.testing.assert_allclose(got, _enumerate(w, theta, tau, eps * 19.0), atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    d=st.integers(20, 400),
    n=st.integers(1, 20),
    tau=st.floats(0.05, 0.9),
)
def test_curve_matches_the_full_fft(seed: int, d: int, n: int, tau: float) -> None:
    rng = np.random.default_rng(seed)
    theta = rng.choice([-1.0, 1.0], size=d)
    w = theta * (np.where(rng.random((n, d)) < (1 + tau) / 2, 1.0, -1.0)).sum(axis=0)
    eps = np.array([0.0, 0.25 * tau, 0.5 * tau, tau, 2 * tau])
    got = S.bernoulli_linear_error_curve(w, theta, tau=tau, eps=eps)
    full = [S.bernoulli_linear_error(w, theta, tau=tau, eps=e, method="exact").value for e in eps]
    # The full FFT has a roundoff floor near 1e-11; the window drops mass below 1e-18.
    np.testing.assert_allclose(got, full, atol=1e-9)
    assert np.all(np.diff(got) >= -1e-12)  # monotone in the budget


def test_curve_l2_norm_and_edge_cases() -> None:
    theta = np.ones(4)
    w = np.array([1.0, 1.0, 1.0, 1.0])
    got = S.bernoulli_linear_error_curve(w, theta, tau=0.5, eps=[0.5], norm="l2")
    # threshold 0.5 * ||w||_2 = 1: S = 2B - 4 <= 1 <=> B <= 2, B ~ Bin(4, 3/4)
    expected = _enumerate(w, theta, 0.5, np.array([1.0]))
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert S.bernoulli_linear_error_curve(np.zeros(4), theta, tau=0.5, eps=[0.0, 1.0]).tolist() == [
        1.0,
        1.0,
    ]
    with pytest.raises(ValueError, match="integral"):
        S.bernoulli_linear_error_curve(np.full(4, 0.5), theta, tau=0.5, eps=[0.0])
    with pytest.raises(ValueError, match="eps"):
        S.bernoulli_linear_error_curve(w, theta, tau=0.5, eps=[-1.0])
    with pytest.raises(ValueError, match="tau"):
        S.bernoulli_linear_error_curve(w, theta, tau=0.0, eps=[0.0])
