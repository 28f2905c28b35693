"""Theorem II.1 of paper 000: constants against independent computations, bound vs measurement."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

from robustlab.learners.neurotron import (
    BallInputs,
    GaussianInputs,
    LaplaceInputs,
    StudentTInputs,
    neurotron,
)
from robustlab.models.single_filter import (
    SingleFilterNet,
    conv_sensing,
    identity_sensing,
    perturbed_mean_sensing,
)
from robustlab.poisoning.oracles import AdversarialOracle, RandomOracle
from robustlab.theory.neurotron import (
    NeurotronConstants,
    c_rate,
    error_bound,
    gaussian_moments,
    gaussian_norm_moment,
    gaussian_relu_tradeoff,
    input_moments,
    monte_carlo_moments,
    neurotron_constants,
    noise_ceiling,
    noisy_gamma_min,
    noisy_step_size,
    realizable_gamma_min,
    realizable_rate,
    realizable_step_size,
    recursion,
    steps_for_accuracy,
)

F64 = torch.float64


# --------------------------------------------------------------------------- moments
@pytest.mark.parametrize(("dim", "sigma"), [(1, 1.0), (3, 0.5), (50, 2.0), (2000, 1.3)])
def test_gaussian_norm_moments_match_chi_distribution(dim: int, sigma: float) -> None:
    """||x|| / sigma ~ chi_n, so E||x||^p = sigma^p * scipy's chi(n) moment p."""
    for p in (1, 2, 3, 4):
        expected = sigma**p * float(stats.chi(dim).moment(p))
        assert gaussian_norm_moment(dim, sigma, p) == pytest.approx(expected, rel=1e-10)
    assert gaussian_norm_moment(dim, sigma, 2) == pytest.approx(dim * sigma**2, rel=1e-12)


def _assert_within(estimate: float, stderr: float, exact: float, z: float = 5.0) -> None:
    assert stderr > 0
    assert abs(estimate - exact) <= z * stderr, (estimate, exact, stderr)


def test_monte_carlo_moments_agree_with_closed_forms() -> None:
    """Each Monte Carlo moment lies within 5 of its own stated standard errors of the truth."""
    g = torch.Generator().manual_seed(0)
    cases: list[tuple[GaussianInputs | BallInputs, object]] = [
        (GaussianInputs(3, sigma=1.5, dtype=F64), gaussian_moments(3, 1.5)),
        (BallInputs(4, radius=2.0, dtype=F64), input_moments(BallInputs(4, radius=2.0))),
    ]
    for sampler, exact in cases:
        mc = monte_carlo_moments(sampler, samples=100_000, generator=g)
        for name, err in zip(("m1", "m2", "m3", "m4"), mc.stderr, strict=True):
            _assert_within(getattr(mc, name), err, getattr(exact, name))
        diff = (mc.covariance - exact.covariance).abs().max()  # type: ignore[attr-defined]
        assert float(diff) <= 5 * mc.covariance_stderr


@pytest.mark.parametrize(
    "sampler", [LaplaceInputs(3, scale=0.7, dtype=F64), StudentTInputs(3, df=12.0, dtype=F64)]
)
def test_even_moments_closed_forms_for_laplace_and_student(
    sampler: LaplaceInputs | StudentTInputs,
) -> None:
    g = torch.Generator().manual_seed(1)
    mixed = input_moments(sampler, samples=50_000, generator=g)
    mc = monte_carlo_moments(sampler, samples=100_000, generator=g)
    assert mixed.stderr[1] == mixed.stderr[3] == 0.0
    _assert_within(mc.m2, mc.stderr[1], mixed.m2)
    _assert_within(mc.m4, mc.stderr[3], mixed.m4)
    _assert_within(mixed.m1, math.hypot(mixed.stderr[0], mc.stderr[0]), mc.m1)
    assert float((mc.covariance - mixed.covariance).abs().max()) <= 5 * mc.covariance_stderr


def test_student_t_without_fourth_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="df > 4"):
        input_moments(StudentTInputs(3, df=4.0), samples=100)


# --------------------------------------------------------------------------- constants
def test_constants_against_numpy(generator: torch.Generator) -> None:
    family = perturbed_mean_sensing(6, 3, 7, generator=generator, dtype=F64)
    moments = gaussian_moments(7, 1.7)
    c = neurotron_constants(family.sensing, family.mean, alpha=0.2, moments=moments)
    A = family.sensing.numpy()
    M = family.mean.numpy()
    # M = A-bar and Sigma = s^2 I: A-bar Sigma M^T = s^2 M M^T, lambda_min = s^2 sigma_min(M)^2
    assert c.lambda1 == pytest.approx(1.7**2 * np.linalg.svd(M, compute_uv=False)[-1] ** 2)
    assert c.lambda2 == pytest.approx(math.sqrt(np.linalg.eigvalsh(M.T @ M).max()))
    lam3 = np.mean([np.linalg.eigvalsh(a @ a.T).max() for a in A])
    assert c.lambda3 == pytest.approx(lam3)
    assert c.c_tradeoff == pytest.approx(-1 + 1.2 * c.lambda1 / (c.m1 * c.lambda2))
    conv = neurotron_constants(
        conv_sensing(7, 3, dtype=F64), torch.eye(3, 7, dtype=F64), alpha=0.0, moments=moments
    )
    assert conv.lambda3 == pytest.approx(1.0)  # A_i A_i^T = I for 0/1 patches


def test_lemma_b2_bound_holds(generator: torch.Generator) -> None:
    """(f_{w*}(x) - f_w(x))^2 <= (1+alpha)^2 lambda_3 ||w* - w||^2 ||x||^2 (Lemma B.2)."""
    family = perturbed_mean_sensing(4, 3, 5, generator=generator, dtype=F64)
    c = neurotron_constants(family.sensing, family.mean, alpha=0.3, moments=gaussian_moments(5))
    net = SingleFilterNet(
        family.sensing, torch.randn(16, 3, generator=generator, dtype=F64), alpha=0.3
    )
    w_star = torch.randn(3, generator=generator, dtype=F64)
    x = torch.randn(16, 200, 5, generator=generator, dtype=F64)
    with torch.no_grad():
        gap = (net.output(x, w_star) - net(x)) ** 2
    dist = ((net.w.detach() - w_star) ** 2).sum(dim=1, keepdim=True)
    assert (gap <= 1.3**2 * c.lambda3 * dist * (x**2).sum(dim=2) + 1e-12).all()


def test_expected_neurotron_direction_is_lemma_b1(generator: torch.Generator) -> None:
    """E[(f_{w*} - f_w)(x) M x] = (1+alpha)/2 M Sigma A-bar^T (w* - w) for symmetric D_in."""
    family = perturbed_mean_sensing(4, 2, 4, generator=generator, dtype=F64)
    alpha = 0.25
    net = SingleFilterNet(
        family.sensing, torch.randn(1, 2, generator=generator, dtype=F64), alpha=alpha
    )
    w_star = torch.randn(2, generator=generator, dtype=F64)
    x = LaplaceInputs(4, scale=1.0, dtype=F64)(400_000, generator)
    with torch.no_grad():
        residual = net.output(x, w_star)[0] - net(x)[0]
    samples = residual.unsqueeze(1) * (x @ family.mean.T)
    mean, err = samples.mean(dim=0), samples.std(dim=0) / math.sqrt(x.shape[0])
    sigma = 2.0 * torch.eye(4, dtype=F64)  # Laplace(1): E x_i^2 = 2
    a_bar = family.sensing.mean(0)
    expected = (1 + alpha) / 2 * family.mean @ sigma @ a_bar.T @ (w_star - net.w.detach()[0])
    assert ((mean - expected).abs() <= 5 * err).all()


@pytest.mark.parametrize("dim", [1, 2, 3, 7, 100, 10_000, 10**7])
@pytest.mark.parametrize("sigma", [0.5, 1.0, 3.0])
def test_gaussian_relu_tradeoff_against_mpmath(dim: int, sigma: float) -> None:
    mpmath.mp.dps = 40
    exact = mpmath.mpf(sigma) / mpmath.sqrt(2) * mpmath.gamma(mpmath.mpf(dim) / 2)
    exact = exact / mpmath.gamma(mpmath.mpf(dim + 1) / 2) - 1
    result = gaussian_relu_tradeoff(dim, sigma)
    assert result.value == pytest.approx(float(exact), rel=1e-9, abs=1e-12)
    assert result.vacuous == (float(exact) <= 0)
    assert ("non-vacuous" in result.reason) != result.vacuous
    if dim < 100:
        direct = sigma / math.sqrt(2) * special.gamma(dim / 2) / special.gamma((dim + 1) / 2) - 1
        assert float(result) == pytest.approx(direct, rel=1e-12)


def test_gaussian_relu_tradeoff_is_theorem_constant() -> None:
    """Lemma II.2 is Theorem II.1's c_trade-off for A = M = I, alpha = 0, N(0, sigma^2 I)."""
    for dim, sigma in [(2, 1.0), (2, 3.0), (9, 5.0)]:
        c = neurotron_constants(
            identity_sensing(dim, dtype=F64),
            torch.eye(dim, dtype=F64),
            alpha=0.0,
            moments=gaussian_moments(dim, sigma),
        )
        assert (c.lambda1, c.lambda2, c.lambda3) == pytest.approx((sigma**2, 1.0, 1.0))
        lemma = gaussian_relu_tradeoff(dim, sigma)
        assert c.c_tradeoff == pytest.approx(lemma.value, rel=1e-12)
        assert c.vacuous == lemma.vacuous
    vacuous = gaussian_relu_tradeoff(2, 1.0)
    assert vacuous.vacuous and "needs sigma >" in vacuous.reason


def test_vacuous_flags_and_refusals() -> None:
    c = neurotron_constants(
        identity_sensing(2, dtype=F64),
        torch.eye(2, dtype=F64),
        alpha=0.0,
        moments=gaussian_moments(2),
    )
    assert c.realizable and c.vacuous and "c_trade-off" in c.reason
    with pytest.raises(ValueError, match="c_trade-off"):
        noise_ceiling(c, epsilon=0.1, delta=0.1)
    with pytest.raises(ValueError, match="c_trade-off"):
        noisy_step_size(c, gamma=2.0)
    bad = neurotron_constants(
        identity_sensing(2, dtype=F64),
        -torch.eye(2, dtype=F64),
        alpha=0.0,
        moments=gaussian_moments(2),
    )
    assert not bad.realizable and "lambda_1" in bad.reason
    with pytest.raises(ValueError, match="lambda_1"):
        realizable_step_size(bad, gamma=2.0)


# --------------------------------------------------------------------------- step sizes, recursion
def _noisy_constants() -> NeurotronConstants:
    """Single ReLU gate, n = 2, sigma = 3: c_trade-off = 1.39 > 0 (non-vacuous)."""
    return neurotron_constants(
        identity_sensing(2, dtype=F64),
        torch.eye(2, dtype=F64),
        alpha=0.0,
        moments=gaussian_moments(2, 3.0),
    )


@settings(max_examples=50, deadline=None)
@given(excess=st.floats(1e-3, 50.0))
def test_realizable_step_gives_papers_kappa(excess: float) -> None:
    """Case I step: kappa = 1 - (gamma-1)/gamma^2 lambda_1^2 / (lambda_2^2 lambda_3 m_4)."""
    c = neurotron_constants(
        conv_sensing(6, 3, dtype=F64),
        torch.eye(3, 6, dtype=F64) * 0.7,
        alpha=0.4,
        moments=gaussian_moments(6),
    )
    gamma = realizable_gamma_min(c) + excess
    eta = realizable_step_size(c, gamma=gamma)
    kappa = 1 - (gamma - 1) / gamma**2 * c.lambda1**2 / (c.lambda2**2 * c.lambda3 * c.m4)
    assert realizable_rate(c, eta=eta) == pytest.approx(kappa, rel=1e-12)
    assert 0 < kappa < 1


@settings(max_examples=50, deadline=None)
@given(
    theta_fraction=st.floats(0.01, 0.99),
    excess=st.floats(1e-3, 20.0),
    epsilon=st.floats(0.05, 2.0),
    delta=st.floats(0.05, 1.0),
)
def test_lemma_a1_at_the_theorem_step_size(
    theta_fraction: float, excess: float, epsilon: float, delta: float
) -> None:
    """Case II step: contraction in (0, 1), fixed point theta^2/c_rate < eps^2 delta, finite T."""
    c = _noisy_constants()
    theta = theta_fraction * noise_ceiling(c, epsilon=epsilon, delta=delta)
    gamma = noisy_gamma_min(c, theta=theta, epsilon=epsilon, delta=delta) + excess
    eta = noisy_step_size(c, gamma=gamma)
    step = recursion(c, eta=eta, theta=theta)
    assert 0 < step.contraction < 1
    assert step.fixed_point == pytest.approx(theta**2 / c_rate(c, gamma=gamma), rel=1e-9)
    assert step.fixed_point < epsilon**2 * delta
    initial = 4.0 * epsilon**2 * delta + 1.0
    T = steps_for_accuracy(c, eta=eta, theta=theta, initial=initial, epsilon=epsilon, delta=delta)
    assert math.isfinite(T)
    bound = error_bound(c, eta=eta, theta=theta, initial=initial, steps=int(T))
    assert float(bound[-1]) <= epsilon**2 * delta * (1 + 1e-9)
    assert T == 0 or float(bound[-2]) > epsilon**2 * delta


def test_error_bound_unrolls_the_recursion() -> None:
    c = _noisy_constants()
    bound = error_bound(c, eta=0.003, theta=0.4, initial=5.0, steps=50)
    step = recursion(c, eta=0.003, theta=0.4)
    value = 5.0
    for t in range(51):
        assert float(bound[t]) == pytest.approx(value, rel=1e-12)
        value = step.contraction * value + step.offset
    assert (
        steps_for_accuracy(c, eta=0.003, theta=0.4, initial=5.0, epsilon=0.01, delta=0.1)
        == math.inf
    )


# --------------------------------------------------------------------------- bound vs measurement
def test_measured_error_under_attack_stays_within_theorem_bound() -> None:
    """Neuro-Tron against the adaptive adversary, theta = 0.5: mean ||w_t - w*||^2 <= bound.

    Single ReLU gate, n = 2, x ~ N(0, 9 I), M = I, batch 1, the Case II step size with
    gamma = 1.5 (non-vacuous: c_trade-off = 1.39). The mean over 256 runs estimates
    E||w_t - w*||^2; measured on this seed it plateaus near 0.076 while the bound's fixed point
    is 0.62 (a random-sign oracle gives about 0.0025: the adaptive one is ~30x stronger).
    """
    c = _noisy_constants()
    assert not c.vacuous
    eta = noisy_step_size(c, gamma=1.5)
    theta, steps, E = 0.5, 1500, 256
    w_star = torch.tensor([1.0, -0.5], dtype=F64)
    w0 = w_star + 2.0
    net = SingleFilterNet.relu_gate(torch.zeros(E, 2, dtype=F64))
    sampler = GaussianInputs(2, sigma=3.0, dtype=F64)
    measured = {}
    for name, oracle in (
        ("adversarial", AdversarialOracle(net, w_star, theta=theta, M=torch.eye(2, dtype=F64))),
        ("random", RandomOracle(net, w_star, theta=theta)),
    ):
        result = neurotron(
            net,
            oracle,
            eta=eta,
            steps=steps,
            M=torch.eye(2, dtype=F64),
            sampler=sampler,
            w0=w0,
            generator=torch.Generator().manual_seed(21),
            record_every=150,
        )
        assert result.max_noise == pytest.approx(theta)
        measured[name] = (result.distance**2).mean(dim=0)
        initial = float(result.distance[0, 0] ** 2)
        bound = error_bound(c, eta=eta, theta=theta, initial=initial, steps=steps)[result.steps]
        assert (measured[name] <= bound).all(), (name, measured[name], bound)
    assert float(measured["adversarial"][-1]) > 5 * float(measured["random"][-1])
