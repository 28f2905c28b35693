"""Theorem II.1 of paper 000 (Neuro-Tron under bounded label noise): constants and bounds.

Notation of paper 000 (section I-A): A-bar = (1/k) sum_i A_i, Sigma = E[x x^T],
lambda_1 = lambda_min(A-bar Sigma M^T), lambda_2 = sqrt(lambda_max(M^T M)),
lambda_3 = (1/k) sum_i lambda_max(A_i A_i^T), m_p = E||x||^p for p = 1..4 (Assumption 1.2) and
c_trade-off = -1 + (1 + alpha) lambda_1 / (m_1 lambda_2). With eta' = eta lambda_2 the proof
(section III, eq. (6) and the AM-GM step after it) gives the recursion of Lemma A.1

    Delta_{t+1} <= (1 - eta' b + eta'^2 c_1) Delta_t + eta'^2 c_2 + eta' c_3,
    b = (1 + alpha) lambda_1 / lambda_2 - m_1,   c_1 = (1 + alpha)^2 lambda_3 (m_3 + m_4),
    c_2 = theta^2 (m_2 + m_3),                   c_3 = theta^2 m_1,

for Delta_t = E||w_t - w*||^2, and for theta = 0 the tighter eq. (7),
Delta_{t+1} <= (1 + eta^2 lambda_2^2 (1 + alpha)^2 lambda_3 m_4 - eta lambda_1 (1 + alpha)) Delta_t.
Both hold for any eta > 0 and any oracle with |xi| <= theta, adaptive or not, and for
minibatches (averaging b directions only lowers E||g||^2, by Jensen).

Everything here is float64 and pure. Input moments come in closed form where one exists
(Gaussian: Lemma II.2's E||x||^p = sigma^p 2^{p/2} Gamma((n+p)/2) / Gamma(n/2); uniform ball;
the even moments of Laplace and Student-t inputs) and otherwise from a Monte Carlo estimate
whose standard error is recorded next to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from robustlab.learners.neurotron import (
    BallInputs,
    GaussianInputs,
    LaplaceInputs,
    Sampler,
    StudentTInputs,
)

_F64 = torch.float64


# --------------------------------------------------------------------------- input moments
@dataclass(frozen=True)
class InputMoments:
    """Moments of D_in that Theorem II.1 uses (paper 000, Assumption 1.2).

    covariance: Sigma = E[x x^T] (n, n) float64; m1..m4: E||x||^p; stderr: Monte Carlo standard
    errors of (m1, m2, m3, m4), 0 for a closed form; covariance_stderr: largest standard error
    of an entry of Sigma (0 in closed form); method: how each was obtained.
    """

    covariance: Tensor
    m1: float
    m2: float
    m3: float
    m4: float
    stderr: tuple[float, float, float, float]
    covariance_stderr: float
    method: str

    @property
    def dim(self) -> int:
        return int(self.covariance.shape[0])


def gaussian_norm_moment(dim: int, sigma: float, power: float) -> float:
    """E||x||^p for x ~ N(0, sigma^2 I_n): sigma^p 2^{p/2} Gamma((n+p)/2) / Gamma(n/2).

    Paper 000, proof of Lemma II.2; via lgamma so that large n does not overflow.
    Raises ValueError unless n >= 1, sigma > 0 and p > -n.
    """
    if dim < 1 or not sigma > 0 or not power > -dim:
        raise ValueError(f"need dim >= 1, sigma > 0, power > -dim; got {dim}, {sigma}, {power}")
    log_value = (
        power * math.log(sigma)
        + 0.5 * power * math.log(2.0)
        + math.lgamma((dim + power) / 2)
        - math.lgamma(dim / 2)
    )
    return math.exp(log_value)


def gaussian_moments(dim: int, sigma: float = 1.0) -> InputMoments:
    """Closed-form moments of N(0, sigma^2 I_n) (paper 000, Lemma II.2)."""
    m = [gaussian_norm_moment(dim, sigma, p) for p in (1, 2, 3, 4)]
    return InputMoments(
        covariance=sigma**2 * torch.eye(dim, dtype=_F64),
        m1=m[0],
        m2=m[1],
        m3=m[2],
        m4=m[3],
        stderr=(0.0, 0.0, 0.0, 0.0),
        covariance_stderr=0.0,
        method="closed form (Gaussian)",
    )


def ball_moments(dim: int, radius: float = 1.0) -> InputMoments:
    """Closed-form moments of the uniform ball: E||x||^p = R^p n / (n + p), Sigma = R^2/(n+2) I."""
    if dim < 1 or not radius > 0:
        raise ValueError(f"need dim >= 1 and radius > 0, got {dim}, {radius}")
    m = [radius**p * dim / (dim + p) for p in (1, 2, 3, 4)]
    return InputMoments(
        covariance=radius**2 / (dim + 2) * torch.eye(dim, dtype=_F64),
        m1=m[0],
        m2=m[1],
        m3=m[2],
        m4=m[3],
        stderr=(0.0, 0.0, 0.0, 0.0),
        covariance_stderr=0.0,
        method="closed form (uniform ball)",
    )


def monte_carlo_moments(
    sampler: Sampler,
    *,
    samples: int,
    generator: torch.Generator | None = None,
    chunk: int = 65_536,
) -> InputMoments:
    """Monte Carlo estimate of Sigma and m1..m4 from `samples` draws, with standard errors.

    The standard error of m_p is std(||x||^p) / sqrt(samples); it is meaningful only when
    E||x||^{2p} is finite (for Student-t inputs: df > 2p). Raises ValueError if samples < 2.
    """
    if samples < 2:
        raise ValueError(f"samples must be >= 2, got {samples}")
    sums = torch.zeros(4, dtype=_F64)
    squares = torch.zeros(4, dtype=_F64)
    second: Tensor | None = None
    second_sq: Tensor | None = None
    powers = torch.arange(1, 5, dtype=_F64)
    done = 0
    while done < samples:
        size = min(chunk, samples - done)
        x = sampler(size, generator).to(_F64)
        norms = x.norm(dim=1, keepdim=True) ** powers
        sums += norms.sum(dim=0)
        squares += (norms**2).sum(dim=0)
        outer = x.T @ x
        outer_sq = (x**2).T @ (x**2)
        second = outer if second is None else second + outer
        second_sq = outer_sq if second_sq is None else second_sq + outer_sq
        done += size
    assert second is not None and second_sq is not None
    mean = sums / samples
    var = (squares / samples - mean**2).clamp_min(0) * samples / (samples - 1)
    err = torch.sqrt(var / samples)
    cov = second / samples
    cov_var = (second_sq / samples - cov**2).clamp_min(0) * samples / (samples - 1)
    return InputMoments(
        covariance=cov,
        m1=float(mean[0]),
        m2=float(mean[1]),
        m3=float(mean[2]),
        m4=float(mean[3]),
        stderr=(float(err[0]), float(err[1]), float(err[2]), float(err[3])),
        covariance_stderr=float(torch.sqrt(cov_var / samples).max()),
        method=f"Monte Carlo ({samples} samples)",
    )


def _coordinatewise(
    estimate: InputMoments, dim: int, second: float, fourth: float, name: str
) -> InputMoments:
    """Replace Sigma, m2, m4 by the closed forms for i.i.d. coordinates with E x^2, E x^4."""
    m4 = dim * fourth + dim * (dim - 1) * second**2
    return InputMoments(
        covariance=second * torch.eye(dim, dtype=_F64),
        m1=estimate.m1,
        m2=dim * second,
        m3=estimate.m3,
        m4=m4,
        stderr=(estimate.stderr[0], 0.0, estimate.stderr[2], 0.0),
        covariance_stderr=0.0,
        method=f"closed form Sigma, m2, m4 ({name}); m1, m3 by {estimate.method}",
    )


def input_moments(
    inputs: Sampler, *, samples: int = 200_000, generator: torch.Generator | None = None
) -> InputMoments:
    """Moments of an input distribution: closed forms where they exist, else Monte Carlo.

    GaussianInputs and BallInputs: all closed form. LaplaceInputs(b): Sigma = 2 b^2 I,
    m2 = 2 n b^2, m4 = 24 n b^4 + 4 n (n-1) b^4 closed form, m1 and m3 by Monte Carlo.
    StudentTInputs(df): Sigma = df/(df-2) I, m2 and m4 closed form (needs df > 4, else m4 is
    infinite and Theorem II.1 does not apply: ValueError), m1 and m3 by Monte Carlo (their
    standard errors are reliable only for df > 6). Any other sampler: Monte Carlo throughout.
    Without a generator the Monte Carlo draws use seed 0, so the result is reproducible.
    """
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    if isinstance(inputs, GaussianInputs):
        return gaussian_moments(inputs.dim, inputs.sigma)
    if isinstance(inputs, BallInputs):
        return ball_moments(inputs.dim, inputs.radius)
    estimate = monte_carlo_moments(inputs, samples=samples, generator=generator)
    if isinstance(inputs, LaplaceInputs):
        b = inputs.scale
        return _coordinatewise(estimate, inputs.dim, 2 * b**2, 24 * b**4, "Laplace")
    if isinstance(inputs, StudentTInputs):
        nu = inputs.df
        if nu <= 4:
            raise ValueError(
                f"Student-t inputs with df={nu} have E||x||^4 = inf; Theorem II.1 needs df > 4"
            )
        second = nu / (nu - 2)
        fourth = 3 * nu**2 / ((nu - 2) * (nu - 4))
        return _coordinatewise(estimate, inputs.dim, second, fourth, "Student-t")
    return estimate


# --------------------------------------------------------------------------- constants
@dataclass(frozen=True)
class NeurotronConstants:
    """The constants of Theorem II.1 (paper 000) for one net, input law and matrix M.

    lambda1 = lambda_min of the symmetric part of A-bar Sigma M^T (only the quadratic form
    v^T A-bar Sigma M^T v enters the proof, so this is the quantity it needs; it equals the
    paper's lambda_min when the matrix is symmetric), lambda2 = ||M||_op,
    lambda3 = mean_i ||A_i||_op^2, m1..m4 = E||x||^p, c_tradeoff = -1 + (1+alpha) lambda1 /
    (m1 lambda2), moment_stderr = Monte Carlo standard errors of m1..m4 (0 if closed form).
    """

    alpha: float
    lambda1: float
    lambda2: float
    lambda3: float
    m1: float
    m2: float
    m3: float
    m4: float
    c_tradeoff: float
    moment_stderr: tuple[float, float, float, float]

    @property
    def realizable(self) -> bool:
        """Case I (theta = 0) applies: lambda1 > 0."""
        return self.lambda1 > 0

    @property
    def vacuous(self) -> bool:
        """Case II (theta > 0) says nothing: lambda1 <= 0 or c_trade-off <= 0."""
        return not (self.lambda1 > 0 and self.c_tradeoff > 0)

    @property
    def reason(self) -> str:
        """Why the bound is or is not vacuous, in words."""
        if self.lambda1 <= 0:
            return (
                f"lambda_1 = {self.lambda1:.4g} <= 0: Theorem II.1 needs lambda_min(A-bar Sigma "
                "M^T) > 0 (choose M = A-bar Sigma or M = A-bar with Sigma positive definite)"
            )
        if self.c_tradeoff <= 0:
            return (
                f"c_trade-off = {self.c_tradeoff:.4g} <= 0: (1+alpha) lambda_1 = "
                f"{(1 + self.alpha) * self.lambda1:.4g} <= m_1 lambda_2 = "
                f"{self.m1 * self.lambda2:.4g}, so no noise level theta > 0 is covered "
                "(Case I, theta = 0, still applies)"
            )
        return (
            f"non-vacuous: c_trade-off = {self.c_tradeoff:.4g} > 0, noise up to "
            "theta* = sqrt(eps^2 delta c_trade-off) is covered"
        )


def neurotron_constants(
    sensing: Tensor, M: Tensor, *, alpha: float, moments: InputMoments
) -> NeurotronConstants:
    """lambda_1..3, m_1..m_4 and c_trade-off of paper 000 (section I-A, Theorem II.1).

    sensing: (k, r, n); M: (r, n); moments of D_in (see `input_moments`).
    Raises ValueError for inconsistent shapes or alpha outside [0, 1].
    """
    if sensing.ndim != 3:
        raise ValueError(f"sensing must be (k, r, n), got shape {tuple(sensing.shape)}")
    _, r, n = sensing.shape
    if M.shape != (r, n):
        raise ValueError(f"M must be (r, n) = {(r, n)}, got {tuple(M.shape)}")
    if moments.dim != n:
        raise ValueError(f"moments are for dimension {moments.dim}, the net's input is {n}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    A = sensing.to(_F64)
    M64 = M.to(_F64)
    quadratic = A.mean(dim=0) @ moments.covariance @ M64.T
    lambda1 = float(torch.linalg.eigvalsh(0.5 * (quadratic + quadratic.T))[0])
    lambda2 = float(torch.linalg.matrix_norm(M64, ord=2))
    lambda3 = float((torch.linalg.matrix_norm(A, ord=2) ** 2).mean())
    c_tradeoff = -1.0 + (1 + alpha) * lambda1 / (moments.m1 * lambda2)
    return NeurotronConstants(
        alpha=float(alpha),
        lambda1=lambda1,
        lambda2=lambda2,
        lambda3=lambda3,
        m1=moments.m1,
        m2=moments.m2,
        m3=moments.m3,
        m4=moments.m4,
        c_tradeoff=c_tradeoff,
        moment_stderr=moments.stderr,
    )


@dataclass(frozen=True)
class GaussianReluTradeoff:
    """c_trade-off of a single ReLU gate on N(0, sigma^2 I_n) with M = I (paper 000, eq. (2))."""

    value: float
    vacuous: bool
    reason: str

    def __float__(self) -> float:
        return self.value


def gaussian_relu_tradeoff(dim: int, sigma: float) -> GaussianReluTradeoff:
    """theta*^2 / (eps^2 delta) = (sigma / sqrt 2) Gamma(n/2) / Gamma((n+1)/2) - 1 (Lemma II.2).

    Computed with lgamma, so any n works; for large n it is about sigma / sqrt(n) - 1, so the
    guarantee is vacuous unless sigma grows like sqrt(n). Raises ValueError for n < 1, sigma <= 0.
    """
    if dim < 1 or not sigma > 0:
        raise ValueError(f"need dim >= 1 and sigma > 0, got {dim}, {sigma}")
    ratio = math.exp(math.lgamma(dim / 2) - math.lgamma((dim + 1) / 2))
    value = sigma / math.sqrt(2) * ratio - 1
    if value > 0:
        reason = f"non-vacuous: c_trade-off = {value:.4g} > 0"
    else:
        needed = math.sqrt(2) / ratio
        reason = (
            f"vacuous: c_trade-off = {value:.4g} <= 0 for n = {dim}, sigma = {sigma:.4g}; "
            f"it needs sigma > {needed:.4g}"
        )
    return GaussianReluTradeoff(value=value, vacuous=value <= 0, reason=reason)


# --------------------------------------------------------------------------- Case I (theta = 0)
def realizable_gamma_min(constants: NeurotronConstants) -> float:
    """gamma must exceed max(lambda_1^2 / (lambda_2^2 lambda_3 m_4), 1) (Theorem II.1, Case I)."""
    c = constants
    return max(c.lambda1**2 / (c.lambda2**2 * c.lambda3 * c.m4), 1.0)


def realizable_step_size(constants: NeurotronConstants, *, gamma: float) -> float:
    """eta = lambda_1 / (gamma (1+alpha) lambda_2^2 lambda_3 m_4) (Theorem II.1, Case I).

    Raises ValueError if lambda_1 <= 0 or gamma is not above `realizable_gamma_min`.
    """
    c = constants
    if not c.realizable:
        raise ValueError(c.reason)
    low = realizable_gamma_min(c)
    if not gamma > low:
        raise ValueError(f"gamma must be > {low:.6g} (Theorem II.1, Case I), got {gamma}")
    return c.lambda1 / (gamma * (1 + c.alpha) * c.lambda2**2 * c.lambda3 * c.m4)


def realizable_rate(constants: NeurotronConstants, *, eta: float) -> float:
    """kappa = 1 + eta^2 lambda_2^2 (1+alpha)^2 lambda_3 m_4 - eta lambda_1 (1+alpha), eq. (7).

    E||w_{t+1} - w*||^2 <= kappa E||w_t - w*||^2 when theta = 0.
    """
    c = constants
    a1 = 1 + c.alpha
    return 1 + eta**2 * c.lambda2**2 * a1**2 * c.lambda3 * c.m4 - eta * c.lambda1 * a1


# --------------------------------------------------------------------------- Case II (theta > 0)
def _check_target(epsilon: float, delta: float) -> float:
    if not epsilon > 0 or not 0 < delta <= 1:
        raise ValueError(f"need epsilon > 0 and delta in (0, 1], got {epsilon}, {delta}")
    return epsilon**2 * delta


def noise_ceiling(constants: NeurotronConstants, *, epsilon: float, delta: float) -> float:
    """theta* = sqrt(eps^2 delta c_trade-off), eq. (1): the largest noise Case II covers.

    Raises ValueError when the bound is vacuous (the message says why).
    """
    target = _check_target(epsilon, delta)
    if constants.vacuous:
        raise ValueError(constants.reason)
    return math.sqrt(target * constants.c_tradeoff)


def noisy_gamma_min(
    constants: NeurotronConstants, *, theta: float, epsilon: float, delta: float
) -> float:
    """Lower end of gamma in Theorem II.1, Case II (the step size needs gamma above it).

    max{ (m_1 c)^2 / ((1+alpha)^2 lambda_3 (m_3+m_4)),
         (eps^2 delta + theta^2 (m_2+m_3) / ((1+alpha)^2 lambda_3 (m_3+m_4)))
         / (eps^2 delta - theta^2 / c) },   c = c_trade-off.
    Raises ValueError when vacuous or theta >= theta* (eq. (1)).
    """
    c = constants
    target = _check_target(epsilon, delta)
    ceiling = noise_ceiling(c, epsilon=epsilon, delta=delta)
    if not 0 <= theta < ceiling:
        raise ValueError(f"theta must be in [0, theta* = {ceiling:.6g}), got {theta}")
    scale = (1 + c.alpha) ** 2 * c.lambda3 * (c.m3 + c.m4)
    first = (c.m1 * c.c_tradeoff) ** 2 / scale
    second = (target + theta**2 * (c.m2 + c.m3) / scale) / (target - theta**2 / c.c_tradeoff)
    return max(first, second)


def noisy_step_size(constants: NeurotronConstants, *, gamma: float) -> float:
    """eta = m_1 c / (gamma (1+alpha)^2 lambda_2 lambda_3 (m_4 + m_3)) (Theorem II.1, Case II).

    Raises ValueError when vacuous or gamma <= 1.
    """
    c = constants
    if c.vacuous:
        raise ValueError(c.reason)
    if not gamma > 1:
        raise ValueError(f"gamma must be > 1, got {gamma}")
    scale = (1 + c.alpha) ** 2 * c.lambda2 * c.lambda3 * (c.m4 + c.m3)
    return c.m1 * c.c_tradeoff / (gamma * scale)


def c_rate(constants: NeurotronConstants, *, gamma: float) -> float:
    """c_rate = (gamma - 1) / ((m_2+m_3) / ((1+alpha)^2 lambda_3 (m_3+m_4)) + gamma / c).

    Theorem II.1, Case II: the iterates approach E||w - w*||^2 <= theta^2 / c_rate.
    """
    c = constants
    if c.vacuous:
        raise ValueError(c.reason)
    scale = (1 + c.alpha) ** 2 * c.lambda3 * (c.m3 + c.m4)
    return (gamma - 1) / ((c.m2 + c.m3) / scale + gamma / c.c_tradeoff)


@dataclass(frozen=True)
class Recursion:
    """Delta_{t+1} <= contraction * Delta_t + offset: one step of the bound (Lemma A.1).

    For theta > 0: contraction = 1 - eta' b + eta'^2 c_1, offset = eta'^2 c_2 + eta' c_3
    (eta' = eta lambda_2); for theta = 0: contraction = kappa of eq. (7), offset = 0.
    """

    contraction: float
    offset: float

    @property
    def fixed_point(self) -> float:
        """offset / (1 - contraction), the limit of the bound; inf if it does not contract."""
        if self.contraction >= 1:
            return math.inf if self.offset > 0 or self.contraction > 1 else 0.0
        return self.offset / (1 - max(self.contraction, 0.0))


def recursion(constants: NeurotronConstants, *, eta: float, theta: float) -> Recursion:
    """The one-step bound on E||w_t - w*||^2 for step size eta and noise level theta.

    Paper 000 section III: eq. (7) for theta = 0, eq. (6) with the AM-GM step (Lemma A.1 form)
    for theta > 0. Valid for any eta > 0 (the theorem's eta is one choice).
    Raises ValueError for eta <= 0 or theta < 0.
    """
    if not eta > 0:
        raise ValueError(f"eta must be > 0, got {eta}")
    if not theta >= 0:
        raise ValueError(f"theta must be >= 0, got {theta}")
    c = constants
    if theta == 0:
        return Recursion(contraction=realizable_rate(c, eta=eta), offset=0.0)
    eta1 = eta * c.lambda2
    b = (1 + c.alpha) * c.lambda1 / c.lambda2 - c.m1
    c1 = (1 + c.alpha) ** 2 * c.lambda3 * (c.m3 + c.m4)
    c2 = theta**2 * (c.m2 + c.m3)
    c3 = theta**2 * c.m1
    return Recursion(contraction=1 - eta1 * b + eta1**2 * c1, offset=eta1**2 * c2 + eta1 * c3)


def error_bound(
    constants: NeurotronConstants, *, eta: float, theta: float, initial: float, steps: int
) -> Tensor:
    """Bound on E||w_t - w*||^2 after t = 0..steps updates, unrolled: (steps + 1,) float64.

    U_0 = initial = ||w_1 - w*||^2, U_{t+1} = max(contraction, 0) U_t + offset (Lemma A.1's
    unrolling; a negative contraction is replaced by 0, which keeps the bound valid as
    Delta_t >= 0). Raises ValueError for initial < 0 or steps < 0.
    """
    if initial < 0 or steps < 0:
        raise ValueError(f"need initial >= 0 and steps >= 0, got {initial}, {steps}")
    step = recursion(constants, eta=eta, theta=theta)
    a = max(step.contraction, 0.0)
    t = torch.arange(steps + 1, dtype=_F64)
    power = torch.tensor(a, dtype=_F64) ** t
    if a == 1.0:
        return initial + step.offset * t
    return power * initial + step.offset * (1 - power) / (1 - a)


def steps_for_accuracy(
    constants: NeurotronConstants,
    *,
    eta: float,
    theta: float,
    initial: float,
    epsilon: float,
    delta: float,
) -> float:
    """Smallest T with error bound <= eps^2 delta, so ||w_T - w*|| <= eps w.p. >= 1 - delta.

    Solves Lemma A.1's alpha^T = (eps'^2 (1-alpha) - beta) / (Delta_1 (1-alpha) - beta) exactly
    (Markov's inequality turns the bound on E||w_T - w*||^2 into the probability statement of
    Theorem II.1). Returns math.inf when the bound never gets there (its fixed point is above
    eps^2 delta, or it does not contract).
    """
    target = _check_target(epsilon, delta)
    if initial <= target:
        return 0.0
    step = recursion(constants, eta=eta, theta=theta)
    a = max(step.contraction, 0.0)
    if a >= 1:
        return math.inf
    fixed = step.offset / (1 - a)
    if fixed >= target:
        return math.inf
    if a == 0:
        return 1.0
    return float(math.ceil(math.log((target - fixed) / (initial - fixed)) / math.log(a)))
