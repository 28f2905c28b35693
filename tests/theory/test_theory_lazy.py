"""Paper 002 / Bubeck et al.: hand values, exact linear checks, scalings on random nets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robustlab.theory import lazy as L
from robustlab.theory.fitting import compare_exponent, fit_loglog_slope


def _relu_net(W: np.ndarray, a: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """f(x) = (1/sqrt m) sum_s a_s relu(w_s.x) and grad_x f for x: (n, d), float64, by hand."""
    pre = x @ W.T
    f = np.maximum(pre, 0.0) @ a / math.sqrt(W.shape[0])
    grad = ((pre > 0) * a) @ W / math.sqrt(W.shape[0])
    return f, grad


def _random_net(d: int, m: int, *, scheme: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    std = 1.0 if scheme == "lazy" else 1.0 / math.sqrt(d)  # N(0, I) vs N(0, I/d)
    return std * rng.standard_normal((m, d)), rng.choice([-1.0, 1.0], size=m)


def _sphere(n: int, d: int, radius: float, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d))
    return radius * x / np.linalg.norm(x, axis=1, keepdims=True)


def test_lazy_radius_and_function_bound() -> None:
    assert L.lazy_radius(10_000, C0=10.0) == pytest.approx(0.1)
    assert L.lazy_radius(1000, C0=L.FIGURE4_C0) == pytest.approx(0.316, abs=1e-3)  # Fig. 4
    assert L.function_value_bound(0.1, C0=2.0) == pytest.approx(2 * math.sqrt(math.log(20)) + 2)
    with pytest.raises(ValueError, match="gamma"):
        L.function_value_bound(1.0, C0=1.0)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10**6), r=st.floats(0.0, 0.9))
def test_flip_steps_are_exact_on_a_linear_function(seed: int, r: float) -> None:
    rng = np.random.default_rng(seed)
    w, x, b = rng.standard_normal(7), rng.standard_normal(7), float(rng.standard_normal())
    f = float(w @ x + b)
    g = float(np.linalg.norm(w))
    eta_lin = float(L.linearized_flip_step(f, g))
    assert w @ (x + eta_lin * w) + b == pytest.approx(0.0, abs=1e-9 * (1 + abs(f)))
    eta = float(L.flip_step(f, g, gradient_variation=r))
    # the proof's step lands at f(x) + eta~ = f(x) - 2 f(x)/(1 - r): past the sign change
    landed = w @ (x + eta * w) + b
    assert landed == pytest.approx(f - 2 * f / (1 - r), rel=1e-9, abs=1e-9)
    assert np.sign(landed) == -np.sign(f) or f == 0


def test_flip_step_flips_a_random_relu_net_when_gradient_variation_is_bounded() -> None:
    # Proof of Theorem 3.1: if sup over the segment of ||grad f(x + t delta) - grad f(x)|| /
    # ||grad f(x)|| is at most r, the step with eta~ = -2 f/(1 - r) gives f(x + delta) <= -f(x).
    d, m, r = 256, 2000, 0.5
    W, a = _random_net(d, m, scheme="lazy", seed=0)
    x = _sphere(40, d, 1.0, seed=1)
    f, grad = _relu_net(W, a, x)
    eta = L.flip_step(f, np.linalg.norm(grad, axis=1), gradient_variation=r)
    delta = eta[:, None] * grad
    t = np.linspace(0.0, 1.0, 101)[:, None, None]
    _, grads = _relu_net(W, a, (x[None] + t * delta[None]).reshape(-1, d))
    variation = np.linalg.norm(grads.reshape(t.shape[0], *x.shape) - grad[None], axis=2).max(0)
    variation /= np.linalg.norm(grad, axis=1)
    f_new, _ = _relu_net(W, a, x + delta)
    ok = variation <= r
    assert ok.sum() >= 30  # the gradient is nearly constant on this scale (Lemma 4.4)
    assert np.all(f_new[ok] * np.sign(f[ok]) <= -np.abs(f[ok]) + 1e-9)


def test_theorem31_step_bound_hand_and_exponents() -> None:
    b = L.theorem31_step_bound(100.0, C1=0.5, C2=3.0, gradient_variation=0.2)
    assert b.step == pytest.approx(2 * 3.0 / (0.8 * 0.25 * 100))
    assert b.perturbation == pytest.approx(2 * 3.0 / (0.8 * 0.5 * 10))
    d = np.array([25.0, 49.0, 100.0, 196.0, 784.0])
    steps = [L.theorem31_step_bound(k).step for k in d]
    perts = [L.theorem31_step_bound(k).perturbation for k in d]
    assert fit_loglog_slope(d, steps).slope == pytest.approx(L.LAZY_SCALINGS["step_size"].exponent)
    assert fit_loglog_slope(d, perts).slope == pytest.approx(
        L.LAZY_SCALINGS["perturbation"].exponent
    )
    with pytest.raises(ValueError, match="gradient_variation"):
        L.theorem31_step_bound(10.0, gradient_variation=1.0)


def test_theorem31_width_range() -> None:
    w = L.theorem31_width_range(1e7, gamma=0.01, C3=2.0, C4=0.5)
    assert w.low == pytest.approx(max(1e7**2.4, 2.0 * math.log(100.0)))
    assert w.high == pytest.approx(0.5 * math.exp(1e7**0.24))
    assert w.nonempty  # non-empty once d^2.4 < exp(d^0.24), i.e. only for very large d
    assert not L.theorem31_width_range(784.0, gamma=0.1).nonempty  # MNIST d: empty at C = 1
    assert math.isinf(L.theorem31_width_range(1e12, gamma=0.1).high)


def test_corollary32_and_bubeck_formulas() -> None:
    assert L.corollary32_radius(784.0, constant=L.FIGURE4_RADIUS_CONSTANT) == pytest.approx(5 / 28)
    eta = L.bubeck_step(np.array([0.5, -2.0, 0.0]), np.array([2.0, 1.0, 1.0]), gamma=0.1, C3=2.0)
    scale = 2.0 * math.sqrt(math.log(10.0))
    np.testing.assert_allclose(eta, [-scale / 4, scale, 0.0])
    assert L.bubeck_perturbation_bound(0.1, C4=3.0) == pytest.approx(3 * math.sqrt(math.log(10)))
    assert L.bubeck_conditions(1000, 1000, gamma=0.1)
    assert not L.bubeck_conditions(10, 1000, gamma=0.1)  # k < log^3(10) = 12.2
    assert not L.bubeck_conditions(1000, 5, gamma=0.1)  # d < log(10^4) log(10) = 21.2


def test_scaling_tables() -> None:
    lazy, bubeck = L.predicted_scalings("lazy"), L.predicted_scalings("bubeck")
    assert lazy["perturbation_relative"].exponent == bubeck["perturbation_relative"].exponent
    assert (lazy["gradient_norm"].exponent, lazy["step_size"].exponent) == (0.5, -1.0)
    assert bubeck["perturbation"].exponent == 0.0
    np.testing.assert_allclose(lazy["perturbation"].predict([4.0, 100.0], prefactor=2.0), [1, 0.2])
    with pytest.raises(ValueError, match="parametrization"):
        L.predicted_scalings("ntk")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="> 0"):
        lazy["step_size"].predict([0.0])


@pytest.mark.parametrize("scheme", ["lazy", "bubeck"])
def test_random_nets_follow_the_predicted_exponents(scheme: str) -> None:
    """Measured on random nets at init (inside every lazy ball): the tables' normalization."""
    dims = np.array([32, 64, 128, 256, 512])
    table = L.predicted_scalings(scheme)  # type: ignore[arg-type]
    names = ("gradient_norm", "step_size", "perturbation", "perturbation_relative")
    medians: dict[str, list[float]] = {name: [] for name in names}
    for d in dims:
        radius = 1.0 if scheme == "lazy" else math.sqrt(d)
        samples: dict[str, list[np.ndarray]] = {name: [] for name in names}
        for net in range(8):  # 8 nets x 64 inputs: the theorems hold w.h.p. over both draws
            seed = int(d) * 100 + net
            W, a = _random_net(int(d), 1000, scheme=scheme, seed=seed)
            f, grad = _relu_net(W, a, _sphere(64, int(d), radius, seed=seed + 50))
            g = np.linalg.norm(grad, axis=1)
            eta = np.abs(L.linearized_flip_step(f, g))
            for name, value in zip(names, (g, eta, eta * g, eta * g / radius), strict=True):
                samples[name].append(value)
        for name in names:
            medians[name].append(float(np.median(np.concatenate(samples[name]))))
    for name in names:
        fit = fit_loglog_slope(dims, medians[name])
        verdict = compare_exponent(fit, table[name].exponent, tolerance=0.15)
        assert verdict.verdict == "consistent", (scheme, name, verdict)
