"""Schmidt et al. 2018 (adversarially robust generalization requires more data), paper 003 slides.

Gaussian model: y uniform in {-1, +1}, x ~ N(y theta*, sigma^2 I_d), with ||theta*||_2 = sqrt(d)
in the upper bounds and theta* ~ N(0, I_d) in the lower bound. Bernoulli model: theta* in
{-1, +1}^d and x_i = y theta*_i with probability (1 + tau)/2, else -y theta*_i; this is the
original paper's parametrization, the one `robustlab.data.synthetic.schmidt_bernoulli` draws
(the slides write 1/2 + tau, i.e. our tau halved). Linear classifiers f_w(x) = sgn(<w, x>).

Sample complexity (constants exposed as parameters):
* standard: n = 1 suffices when sigma <= c d^{1/4} (Gaussian) or tau >= c d^{-1/4} (Bernoulli);
* l_inf-robust upper bound: w = sum_i y_i x_i has robust error <= 1% once n >= 1 for
  eps <= d^{-1/4}/4 and n >= c2 eps^2 sqrt(d) for d^{-1/4}/4 <= eps <= 1/4;
* lower bound (eq. 16): any learner has expected robust error >= (1 - 1/d)/2 when
  n <= c eps^2 sqrt(d) / log d (sigma = c1 d^{1/4}); together the range of eq. (17).

Exact errors of a given w: the l_inf (l2) adversary lowers the margin y<w, x> by exactly
eps ||w||_1 (eps ||w||_2), so the robust error is P(y<w, x> - eps ||w||_* <= 0). In the Gaussian
model y<w, x> ~ N(<w, theta*>, sigma^2 ||w||^2), which gives a closed form; in the Bernoulli model
y<w, x> = sum_i w_i theta*_i s_i with independent signs s_i, computed exactly by an FFT over the
integer lattice when w theta* is integral, else by Monte Carlo with its standard error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import special

from robustlab.theory.fitting import (
    as_float64,
    require_nonnegative,
    require_positive,
)

Norm = Literal["linf", "l2"]
BernoulliMethod = Literal["auto", "exact", "monte_carlo"]

#: Exponents of the robust sample complexity n ~ eps^2 sqrt(d) (eq. 17): in eps and in d.
SAMPLE_COMPLEXITY_EXPONENT_EPS = 2.0
SAMPLE_COMPLEXITY_EXPONENT_D = 0.5
#: Robust error level of the upper-bound theorem (at most 1%).
TARGET_ERROR = 0.01

# Integer-lattice sums are compared with a real threshold eps ||w||_1: allow rounding slack.
_TIE_SLACK = 1e-9


# --------------------------------------------------------------------------- sample complexity


def gaussian_sigma(d: float, *, c1: float = 1.0) -> float:
    """sigma = c1 d^{1/4}, the noise level of the separation theorems (Gaussian model).

    Raises ValueError for non-positive d or c1.
    """
    return require_positive("c1", c1) * math.sqrt(math.sqrt(require_positive("d", d)))


def gaussian_single_sample_suffices(sigma: float, d: float, *, c: float = 1.0) -> bool:
    """Whether sigma <= c d^{1/4}: then w = y x from one sample has standard error <= 1% w.h.p.

    Schmidt et al. 2018, Gaussian standard-error theorem (||theta*|| = sqrt(d)). Raises
    ValueError for non-positive sigma, d or c.
    """
    return require_positive("sigma", sigma) <= gaussian_sigma(d, c1=c)


def bernoulli_single_sample_suffices(tau: float, d: float, *, c: float = 1.0) -> bool:
    """Whether tau >= c d^{-1/4}: then w = y x from one sample has standard error <= 1% w.h.p.

    Schmidt et al. 2018, Bernoulli standard-error theorem. Raises ValueError for invalid input.
    """
    limit = require_positive("c", c) / math.sqrt(math.sqrt(require_positive("d", d)))
    return require_positive("tau", tau) >= limit


def robust_sample_complexity_upper(eps: float, d: float, *, c2: float = 1.0) -> float:
    """Samples after which w = sum_i y_i x_i has l_inf-robust error <= 1% (Gaussian model).

    1 for eps <= d^{-1/4}/4 and c2 eps^2 sqrt(d) for d^{-1/4}/4 <= eps <= 1/4 (Schmidt et al.
    2018, robust upper-bound theorem; sigma <= c1 d^{1/4}). Raises ValueError for eps outside
    [0, 1/4] or non-positive d, c2.
    """
    eps = require_nonnegative("eps", eps)
    d_ = require_positive("d", d)
    if eps > 0.25:
        raise ValueError(f"the theorem covers 0 <= eps <= 1/4, got eps = {eps}")
    if eps <= 0.25 * d_**-0.25:
        return 1.0
    return require_positive("c2", c2) * eps**2 * math.sqrt(d_)


def robust_sample_complexity_lower(eps: float, d: float, *, c: float = 1.0) -> float:
    """c eps^2 sqrt(d) / log(d): with at most this many samples every learner fails (eq. 16).

    Any learner's expected l_inf-robust error is then >= (1 - 1/d)/2 (`robust_error_lower_bound`),
    for sigma = c1 d^{1/4} and theta* ~ N(0, I). Raises ValueError for eps < 0, d <= 1 or c <= 0.
    """
    eps = require_nonnegative("eps", eps)
    d_ = float(d)
    if not d_ > 1.0:
        raise ValueError(f"d must be > 1 (log d in the denominator), got {d}")
    return require_positive("c", c) * eps**2 * math.sqrt(d_) / math.log(d_)


@dataclass(frozen=True)
class SampleComplexityRange:
    """Eq. (17): c eps^2 sqrt(d)/log d <= n_robust <= c' eps^2 sqrt(d) (Gaussian model)."""

    low: float
    high: float


def robust_sample_complexity_range(
    eps: float, d: float, *, c_low: float = 1.0, c_high: float = 1.0
) -> SampleComplexityRange:
    """Both ends of eq. (17), the robust sample complexity of the Gaussian model.

    Raises ValueError for eps < 0, d <= 1 or non-positive constants.
    """
    low = robust_sample_complexity_lower(eps, d, c=c_low)
    return SampleComplexityRange(low=low, high=require_positive("c_high", c_high) * eps**2 * d**0.5)


def predicted_n_half(eps: float, d: float, sigma_coef: float) -> float:
    """n at which w = sum_i y_i x_i has l_inf^eps-robust error 1/2 in the Gaussian model, large d.

    (2/pi) c1^2 eps^2 sqrt(d) / (1 - 2 eps^2 / pi) for theta* with i.i.d. Gaussian-like
    coordinates, sigma = c1 d^{1/4}; infinite when 2 eps^2 / pi >= 1. Raises ValueError for
    eps < 0 or d <= 0.
    """
    if eps < 0 or d <= 0:
        raise ValueError(f"need eps >= 0 and d > 0, got eps={eps}, d={d}")
    rho = 2.0 * eps**2 / math.pi
    if rho >= 1:
        return math.inf
    return rho * sigma_coef**2 * math.sqrt(d) / (1.0 - rho)


def robust_error_lower_bound(d: float) -> float:
    """(1 - 1/d) / 2: the expected robust error any learner suffers below eq. (16)'s n.

    Schmidt et al. 2018, Gaussian lower-bound theorem (the slides' text renders this factor as
    (1 - 1/d)^{1/2}; the original reads (1 - 1/d) * 1/2). Raises ValueError for d < 1.
    """
    d_ = float(d)
    if not d_ >= 1.0:
        raise ValueError(f"d must be >= 1, got {d}")
    return 0.5 * (1.0 - 1.0 / d_)


def bernoulli_linear_lower_bound_samples(d: float, gap: float, *, c: float = 1.0) -> float:
    """n ~ c gap^2 d: below it a linear classifier has l_inf-robust error >= 1/2 - gap.

    Schmidt et al. 2018, Bernoulli lower bound (informal in the slides, eq. (18): n in
    O~(gap^2 d), logarithmic factors hidden). Raises ValueError for invalid arguments.
    """
    return (
        require_positive("c", c) * require_nonnegative("gap", gap) ** 2 * require_positive("d", d)
    )


# --------------------------------------------------------------------------- exact errors


def _dual_norm(w: npt.NDArray[np.float64], norm: Norm) -> npt.NDArray[np.float64]:
    if norm == "linf":
        return np.asarray(np.abs(w).sum(axis=-1), dtype=np.float64)
    if norm == "l2":
        return np.asarray(np.linalg.norm(w, axis=-1), dtype=np.float64)
    raise ValueError(f"norm must be 'linf' or 'l2', got {norm!r}")


def _weights_and_mean(
    w: npt.ArrayLike, theta: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    ws = as_float64(w, name="w")
    th = as_float64(theta, name="theta")
    if ws.ndim < 1 or th.ndim != 1 or ws.shape[-1] != th.shape[0]:
        raise ValueError(
            f"w must be (..., d) and theta (d,) with the same d, got {ws.shape} and {th.shape}"
        )
    return ws, th


def gaussian_linear_error(
    w: npt.ArrayLike,
    theta: npt.ArrayLike,
    *,
    sigma: float,
    eps: float = 0.0,
    norm: Norm = "linf",
) -> npt.NDArray[np.float64]:
    """Exact (robust) error of sgn(<w, x>) in the (theta*, sigma)-Gaussian model.

    P(y<w, x> - eps ||w||_* <= 0) = Phi((eps ||w||_* - <w, theta*>) / (sigma ||w||_2)), with
    ||.||_* the dual norm of the attack (l1 for "linf", l2 for "l2"); eps = 0 gives the standard
    error. w: (..., d), theta: (d,); returns (...) (0-d for one w); w = 0 has error 1 (sgn 0 is
    never right). Schmidt et al. 2018 (paper 003), Gaussian model. Raises ValueError for shape
    mismatch, sigma <= 0, eps < 0 or an unknown norm.
    """
    ws, th = _weights_and_mean(w, theta)
    sigma = require_positive("sigma", sigma)
    eps = require_nonnegative("eps", eps)
    dual = _dual_norm(ws, norm)
    l2 = np.linalg.norm(ws, axis=-1)
    mean = ws @ th
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (eps * dual - mean) / (sigma * l2)
    error = np.where(l2 > 0, special.ndtr(z), 1.0)
    return np.asarray(error, dtype=np.float64)


@dataclass(frozen=True)
class ErrorEstimate:
    """An error probability with its standard error (0 when exact) and how it was computed."""

    value: float
    stderr: float
    method: Literal["exact", "monte_carlo"]
    samples: int = 0


def _fft_size(L: int) -> int:
    """Smallest power of two >= 2 L + 1 (the support of a sum in [-L, L])."""
    return 1 << (2 * L).bit_length()


def _bernoulli_exact(
    coefficients: npt.NDArray[np.int64], p_agree: float, threshold: float, max_support: int
) -> float:
    """P(sum_i c_i s_i <= threshold), s_i = +1 w.p. p_agree else -1, c integer, via one FFT."""
    c = coefficients[coefficients != 0]
    L = int(np.abs(c).sum())
    if L == 0:
        return 1.0 if threshold >= -_TIE_SLACK else 0.0
    size = _fft_size(L)
    if size > max_support:
        raise ValueError(
            f"exact Bernoulli error needs an FFT of size {size} > max_support = {max_support} "
            f"(||w||_1 = {L}); use method='monte_carlo' or raise max_support"
        )
    values, counts = np.unique(c, return_counts=True)
    # The characteristic function of S + L at the N-th roots of unity; a product over the
    # distinct coefficients (not over samples), each term raised to its multiplicity.
    angle = -2j * np.pi * np.arange(size) / size
    spectrum = np.exp(angle * L)
    for value, count in zip(values.tolist(), counts.tolist(), strict=True):
        phase = np.exp(angle * value)
        spectrum *= (p_agree * phase + (1.0 - p_agree) / phase) ** count
    pmf = np.clip(np.fft.ifft(spectrum).real[: 2 * L + 1], 0.0, None)
    top = math.floor(threshold + _TIE_SLACK * max(1.0, abs(threshold)))
    if top < -L:
        return 0.0
    return float(min(1.0, pmf[: min(top, L) + L + 1].sum()))


def _bernoulli_monte_carlo(
    coefficients: npt.NDArray[np.float64],
    p_agree: float,
    threshold: float,
    samples: int,
    seed: int,
) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    d = coefficients.shape[0]
    chunk = max(1, min(samples, 4_000_000 // max(d, 1)))
    slack = _TIE_SLACK * max(1.0, abs(threshold))
    hits, done = 0, 0
    while done < samples:
        rows = min(chunk, samples - done)
        signs = np.where(rng.random((rows, d)) < p_agree, 1.0, -1.0)
        hits += int(np.count_nonzero(signs @ coefficients <= threshold + slack))
        done += rows
    value = hits / samples
    return value, math.sqrt(max(value * (1.0 - value), 0.0) / samples)


def bernoulli_linear_error(
    w: npt.ArrayLike,
    theta: npt.ArrayLike,
    *,
    tau: float,
    eps: float = 0.0,
    norm: Norm = "linf",
    method: BernoulliMethod = "auto",
    samples: int = 200_000,
    seed: int = 0,
    max_support: int = 1 << 22,
) -> ErrorEstimate:
    """(Robust) error of sgn(<w, x>) in the (theta*, tau)-Bernoulli model.

    P(y<w, x> - eps ||w||_* <= 0), where y<w, x> = sum_i c_i s_i with c = w * theta* and
    independent s_i = +1 w.p. (1 + tau)/2.
    "exact": distribution of the sum by one FFT on the integer lattice (needs integral c, e.g.
    w = sum_i y_i x_i; cost O(N * #distinct c) with N ~ 2 ||w||_1); "monte_carlo": `samples`
    draws from `seed`, stderr sqrt(p(1-p)/samples); "auto": exact when c is integral and the FFT
    fits `max_support`, else Monte Carlo. w: (d,), theta: (d,) in {-1, +1}. Schmidt et al. 2018
    (paper 003), Bernoulli model. Raises ValueError for bad shapes, tau outside (0, 1], eps < 0,
    an unknown norm, or "exact" with non-integral c or too large an FFT.
    """
    ws, th = _weights_and_mean(w, theta)
    if ws.ndim != 1:
        raise ValueError(f"w must be one weight vector (d,), got shape {ws.shape}")
    if not 0.0 < tau <= 1.0:
        raise ValueError(f"tau must be in (0, 1], got {tau}")
    eps = require_nonnegative("eps", eps)
    if method not in ("auto", "exact", "monte_carlo"):
        raise ValueError(f"method must be 'auto', 'exact' or 'monte_carlo', got {method!r}")
    p_agree = 0.5 * (1.0 + float(tau))
    coefficients = ws * th
    threshold = float(eps * _dual_norm(ws, norm))
    rounded = np.rint(coefficients)
    integral = bool(
        np.all(np.abs(coefficients - rounded) <= 1e-9 * np.maximum(1.0, np.abs(rounded)))
    )
    if method == "exact" and not integral:
        raise ValueError("method='exact' needs w * theta integral (e.g. w = sum_i y_i x_i)")
    if method in ("auto", "exact") and integral:
        c = rounded.astype(np.int64)
        L = int(np.abs(c).sum())
        fits = L == 0 or _fft_size(L) <= max_support
        if method == "exact" or fits:
            return ErrorEstimate(_bernoulli_exact(c, p_agree, threshold, max_support), 0.0, "exact")
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    value, stderr = _bernoulli_monte_carlo(coefficients, p_agree, threshold, samples, seed)
    return ErrorEstimate(value, stderr, "monte_carlo", samples)


def bernoulli_linear_error_curve(
    w: npt.ArrayLike,
    theta: npt.ArrayLike,
    *,
    tau: float,
    eps: npt.ArrayLike,
    norm: Norm = "linf",
    tail: float = 1e-18,
) -> npt.NDArray[np.float64]:
    """Exact (robust) errors of sgn(<w, x>) in the (theta*, tau)-Bernoulli model at many eps.

    The same probability as `bernoulli_linear_error` with method="exact",
    P(y<w, x> - eps ||w||_* <= 0) (ties are errors), for every eps of `eps` (k,) from one FFT:
    the sum y<w, x> = sum_i c_i s_i (c = w * theta* integral) lies within
    sqrt(2 ln(2/tail) sum_i c_i^2) of its mean except with probability `tail` (Hoeffding), so
    the FFT runs on that window only (the mass outside it, at most `tail`, aliases into the
    window), not on all of [-||c||_1, ||c||_1]. w: (d,), theta: (d,) in {-1, +1}; returns (k,).
    Schmidt et al. 2018 (paper 003), Bernoulli model. Raises ValueError for bad shapes, tau
    outside (0, 1], a negative or non-finite eps, an unknown norm, non-integral c, or tail
    outside (0, 1).
    """
    ws, th = _weights_and_mean(w, theta)
    if ws.ndim != 1:
        raise ValueError(f"w must be one weight vector (d,), got shape {ws.shape}")
    if not 0.0 < tau <= 1.0:
        raise ValueError(f"tau must be in (0, 1], got {tau}")
    if not 0.0 < tail < 1.0:
        raise ValueError(f"tail must be in (0, 1), got {tail}")
    budgets = as_float64(eps, name="eps").reshape(-1)
    if not bool(np.all(np.isfinite(budgets) & (budgets >= 0))):
        raise ValueError(f"eps must be finite and >= 0, got {budgets.tolist()}")
    thresholds = budgets * float(_dual_norm(ws, norm))
    coefficients = ws * th
    rounded = np.rint(coefficients)
    if not np.all(np.abs(coefficients - rounded) <= 1e-9 * np.maximum(1.0, np.abs(rounded))):
        raise ValueError("bernoulli_linear_error_curve needs w * theta integral")
    c = rounded.astype(np.int64)
    c = c[c != 0]
    tops = np.floor(thresholds + _TIE_SLACK * np.maximum(1.0, np.abs(thresholds)))
    if c.size == 0:  # y<w, x> = 0: an error exactly when the threshold is >= 0
        return np.asarray(tops >= 0, dtype=np.float64)
    p_agree = 0.5 * (1.0 + float(tau))
    total = int(np.abs(c).sum())
    mean = (2.0 * p_agree - 1.0) * float(c.sum())
    half = math.sqrt(2.0 * math.log(2.0 / tail) * float((c.astype(np.float64) ** 2).sum()))
    low = max(-total, math.floor(mean - half))
    high = min(total, math.ceil(mean + half))
    size = 1 << max(1, (high - low).bit_length())
    values, counts = np.unique(c, return_counts=True)
    angle = -2j * np.pi * np.arange(size) / size
    spectrum = np.exp(-angle * low)  # the FFT of S - low, S = sum_i c_i s_i
    for value, count in zip(values.tolist(), counts.tolist(), strict=True):
        phase = np.exp(angle * value)
        spectrum *= (p_agree * phase + (1.0 - p_agree) / phase) ** count
    pmf = np.clip(np.fft.ifft(spectrum).real[: high - low + 1], 0.0, None)
    cdf = np.minimum(np.cumsum(pmf), 1.0)
    index = tops - low
    inside = np.clip(index, 0, high - low).astype(np.int64)
    error = np.where(index < 0, 0.0, np.where(index > high - low, 1.0, cdf[inside]))
    return np.asarray(error, dtype=np.float64)
