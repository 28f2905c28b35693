"""Paper 001 (Wang, Mianjy & Arora, ICML 2021): bounds for SGD under data poisoning.

Section 2 (convex problems): Proposition 2.1 (an input perturbation moves the gradient of a
linear model by at most (alpha D R + L) ||delta||), Theorem 2.2 (projected SGD with averaging on
a poisoned stochastic first-order oracle, PSFO) and Theorem 2.3 (its optimality).

Section 3 (two-layer ReLU nets f = (1/sqrt m) sum_s a_s relu(w_s.x), ||x|| = 1, online SGD on
the logistic loss, Assumption 1 with margin gamma): Theorems 3.1-3.3 for
  regime A: clean-label attack with overall l_{2,1} budget S = sum_i ||delta_i|| = C sqrt(n),
  regime B: clean-label attack with per-sample l2 budget B = max_i ||delta_i||,
  regime C: label flips with probability beta.
Those theorems hold "up to constants" (the paper's lesssim); every hidden constant is exposed
as a keyword argument defaulting to 1, so the functions give scalings, not certified numbers.
The logarithmic factors are kept exactly as printed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from scipy import optimize

from robustlab.theory.fitting import require_nonnegative, require_open_unit, require_positive

Regime = Literal["A", "B", "C"]

#: The logistic loss log(1 + e^-z) is 1-Lipschitz and 1/4-smooth (Proposition 2.1's L, alpha).
LOGISTIC_LIPSCHITZ = 1.0
LOGISTIC_SMOOTHNESS = 0.25

#: Predicted exponent of n in the error rates of Theorems 3.1-3.3, logarithmic factors ignored.
RATE_EXPONENT: dict[Regime, float] = {"A": -0.5, "B": -1.0, "C": -0.5}

#: Predicted exponent of T in Theorem 2.2 when the cumulative poisoning is O(sqrt T).
PSFO_RATE_EXPONENT = -0.5


# --------------------------------------------------------------------------- Section 2


def psfo_step_size(D: float, G: float, B: float, T: int) -> float:
    """Step size eta = D / (sqrt(T) (G + B')) of Theorem 2.2 (paper 001).

    D: radius of the parameter set; G: second-moment bound of the clean stochastic gradient;
    B: the bound B' on each poisoning vector ||zeta_t||; T: number of oracle calls.
    Raises ValueError for D, G + B or T not positive, or a negative B.
    """
    D = require_positive("D", D)
    G = require_nonnegative("G", G)
    B = require_nonnegative("B", B)
    T_ = require_positive("T", T)
    return D / (math.sqrt(T_) * require_positive("G + B", G + B))


@dataclass(frozen=True)
class PSFOBound:
    """Theorem 2.2 (paper 001): E F(w_bar) - F(w_*) <= statistical + poisoning.

    statistical = 5 D (G + B') / (2 sqrt T); poisoning = 2 D sum_t ||zeta_t|| / T;
    step_size = D / (sqrt(T) (G + B')), the step the theorem prescribes.
    """

    statistical: float
    poisoning: float
    step_size: float

    @property
    def total(self) -> float:
        """The bound on the expected excess risk of the averaged iterate."""
        return self.statistical + self.poisoning


def psfo_bound_terms(D: float, G: float, B: float, T: int, zeta_sum: float) -> PSFOBound:
    """Both terms of Theorem 2.2 (paper 001) and its step size.

    zeta_sum: sum_{t <= T} ||zeta_t||, the cumulative poisoning of the oracle.
    Raises ValueError for D, T, G + B not positive or negative G, B, zeta_sum.
    """
    step = psfo_step_size(D, G, B, T)
    zeta_sum = require_nonnegative("zeta_sum", zeta_sum)
    T_ = float(T)
    return PSFOBound(
        statistical=5.0 * D * (G + B) / (2.0 * math.sqrt(T_)),
        poisoning=2.0 * D * zeta_sum / T_,
        step_size=step,
    )


def psfo_bound(D: float, G: float, B: float, T: int, zeta_sum: float) -> float:
    """Theorem 2.2 (paper 001): 5 D (G + B') / (2 sqrt T) + 2 D sum_t ||zeta_t|| / T.

    The excess risk bound for projected SGD with iterate averaging after T calls to a
    (G, B')-PSFO, with ||w|| <= D on the parameter set. Raises as `psfo_bound_terms`.
    """
    return psfo_bound_terms(D, G, B, T, zeta_sum).total


def psfo_lower_bound(T: int, zeta_sum: float, *, constant: float = 1.0) -> float:
    """Theorem 2.3 (paper 001): the minimax excess error is Omega(1/sqrt T + sum ||zeta_t|| / T).

    Returns constant * (1/sqrt(T) + zeta_sum / T) for the (1,1)-PSFO on [-1, 1]; the constant
    is not given by the paper. Raises ValueError for T or constant not positive, zeta_sum < 0.
    """
    T_ = require_positive("T", T)
    zeta_sum = require_nonnegative("zeta_sum", zeta_sum)
    return require_positive("constant", constant) * (1.0 / math.sqrt(T_) + zeta_sum / T_)


def clean_label_gradient_shift(
    delta_norm: float,
    *,
    D: float,
    R: float,
    lipschitz: float = LOGISTIC_LIPSCHITZ,
    smoothness: float = LOGISTIC_SMOOTHNESS,
) -> float:
    """Proposition 2.1 (paper 001): gradient shift (alpha D R + L) ||delta|| of a clean-label input.

    ||grad l(y<w, x + delta>) - grad l(y<w, x>)|| <= (alpha D R + L) ||delta|| for a linear model
    with ||w|| <= D, ||x|| <= R and an L-Lipschitz, alpha-smooth loss (defaults: logistic, L = 1,
    alpha = 1/4). Raises ValueError for negative arguments.
    """
    delta_norm = require_nonnegative("delta_norm", delta_norm)
    factor = require_nonnegative("smoothness", smoothness) * require_nonnegative(
        "D", D
    ) * require_nonnegative("R", R) + require_nonnegative("lipschitz", lipschitz)
    return factor * delta_norm


def linear_regime_a_bound(
    n: int,
    C: float,
    *,
    D: float,
    G: float,
    R: float,
    max_perturbation: float | None = None,
    lipschitz: float = LOGISTIC_LIPSCHITZ,
    smoothness: float = LOGISTIC_SMOOTHNESS,
) -> PSFOBound:
    """Theorem 2.2 with Proposition 2.1 for a linear model under an l_{2,1} budget S = C sqrt(n).

    One pass of online SGD over n poisoned samples (T = n) sees zeta_t with
    sum_t ||zeta_t|| <= (alpha D R + L) S and ||zeta_t|| <= B' = (alpha D R + L) max_i ||delta_i||;
    `max_perturbation` is max_i ||delta_i|| (default S, the worst case for an l_{2,1} budget).
    The poisoning term is 2 D (alpha D R + L) C / sqrt(n): it stays below a constant only while
    C = O(sqrt n), the Figure 2 transition (see `critical_corruption_rate`). Paper 001, Sec. 2 & 5.
    Raises ValueError for non-positive n, D, R or negative C, G.
    """
    n_ = require_positive("n", n)
    S = require_nonnegative("C", C) * math.sqrt(n_)
    per_sample = (
        S if max_perturbation is None else require_nonnegative("max_perturbation", max_perturbation)
    )
    factor = clean_label_gradient_shift(1.0, D=D, R=R, lipschitz=lipschitz, smoothness=smoothness)
    return psfo_bound_terms(D, G, factor * per_sample, n, factor * S)


def critical_corruption_rate(n: float, *, constant: float = 1.0) -> float:
    """The corruption rate C* = constant * sqrt(n) where Theorem 2.2 stops decaying in n.

    With S = C sqrt(n) the poisoning term 2 D sum||zeta|| / T is Theta(C / sqrt n); it is small
    only for C << sqrt(n). Paper 001, Section 5, Figure 2: "a phase transition ... at
    C ~ 250 ~ sqrt(n)" (n up to 60000). Raises ValueError for non-positive n or constant.
    """
    return require_positive("constant", constant) * math.sqrt(require_positive("n", n))


# --------------------------------------------------------------------------- Section 3


@dataclass(frozen=True)
class WidthRange:
    """An admissible width interval [low, high] for the network width m (may be empty)."""

    low: float
    high: float

    @property
    def nonempty(self) -> bool:
        """Whether some width satisfies both bounds."""
        return self.low <= self.high

    def contains(self, m: float) -> bool:
        """Whether width m lies in [low, high]."""
        return self.low <= m <= self.high


@dataclass(frozen=True)
class RegimeGuarantee:
    """What Theorem 3.1 / 3.2 / 3.3 of paper 001 predicts for one setting, up to constants.

    step_size: the SGD step the theorem prescribes; error_rate: its bound on the average
    misclassification error (1/n) sum_i L(W_i); width: the admissible width interval;
    budget: the attack's budget in the regime's own measure (A: S = C sqrt(n), B: per-sample B,
    C: flip probability beta) and budget_limit the largest the theorem admits; per_sample_budget
    and per_sample_limit: the per-sample condition (A: B <= c gamma / sqrt(d); B: same as budget;
    C: none, inf).
    """

    regime: Regime
    n: int
    step_size: float
    error_rate: float
    width: WidthRange
    budget: float
    budget_limit: float
    per_sample_budget: float
    per_sample_limit: float

    @property
    def budget_ok(self) -> bool:
        """Whether the attack's budgets meet the theorem's conditions."""
        return self.budget <= self.budget_limit and self.per_sample_budget <= self.per_sample_limit

    @property
    def admissible(self) -> bool:
        """Whether the theorem applies at some width: budgets ok and a non-empty width range."""
        return self.budget_ok and self.width.nonempty

    def applies_at(self, m: float) -> bool:
        """Whether the theorem applies at width m."""
        return self.budget_ok and self.width.contains(m)


def _log_terms(n: float, delta: float) -> tuple[float, float]:
    """(ln(n/delta) + ln^2 n, ln^2(sqrt(n)/4)): the factors shared by Theorems 3.1-3.3."""
    return math.log(n / delta) + math.log(n) ** 2, math.log(math.sqrt(n) / 4.0) ** 2


def width_lower_bound(n: int, *, gamma: float, delta: float, constant: float = 1.0) -> float:
    """m_low = constant (ln(n/delta) + ln^2 n) / gamma^8, the width lower bound of Thms 3.1-3.3.

    Paper 001, Theorems 3.1 (lesssim m), 3.2 and 3.3 (m = Omega(...)). Raises ValueError for
    n, gamma, constant not positive or delta outside (0, 1).
    """
    n_ = require_positive("n", n)
    delta = require_open_unit("delta", delta)
    gamma = require_positive("gamma", gamma)
    log_width, _ = _log_terms(n_, delta)
    return require_positive("constant", constant) * log_width / gamma**8


def regime_a(
    n: int,
    *,
    C: float,
    B: float,
    d: int,
    gamma: float,
    delta: float = 0.1,
    c_rate: float = 1.0,
    c_low: float = 1.0,
    c_high: float = 1.0,
    c_per_sample: float = 1.0,
) -> RegimeGuarantee:
    """Theorem 3.1 (paper 001, regime A): overall budget S = C sqrt(n), per-sample budget B.

    step eta = 1 / ((1 + B)^2 sqrt n);
    error rate c_rate (ln^2(sqrt(n)/4) + ln(24 n / delta)) / (sqrt(n) gamma^2);
    width c_low (ln(n/delta) + ln^2 n) / gamma^8 <= m <= c_high (n ln^4 n + n ln^2(n/delta)) /
    (gamma^4 S^2); per-sample condition B <= c_per_sample gamma / sqrt(d) (the paper's O~ hides
    logs). budget_limit is the largest S for which the width interval is non-empty,
    `regime_a_max_corruption_rate` * sqrt(n): the remark after Theorem 3.1's S <~ gamma^2 sqrt(n)
    with the logarithms kept. Raises ValueError for invalid arguments.
    """
    n_ = require_positive("n", n)
    delta = require_open_unit("delta", delta)
    gamma = require_positive("gamma", gamma)
    C = require_nonnegative("C", C)
    B = require_nonnegative("B", B)
    d_ = require_positive("d", d)
    S = C * math.sqrt(n_)
    _, log_rate = _log_terms(n_, delta)
    error_rate = (
        require_positive("c_rate", c_rate)
        * (log_rate + math.log(24.0 * n_ / delta))
        / (math.sqrt(n_) * gamma**2)
    )
    numerator = n_ * math.log(n_) ** 4 + n_ * math.log(n_ / delta) ** 2
    high = require_positive("c_high", c_high) * numerator / (gamma**4 * S**2) if S > 0 else math.inf
    return RegimeGuarantee(
        regime="A",
        n=int(n),
        step_size=1.0 / ((1.0 + B) ** 2 * math.sqrt(n_)),
        error_rate=error_rate,
        width=WidthRange(width_lower_bound(n, gamma=gamma, delta=delta, constant=c_low), high),
        budget=S,
        budget_limit=regime_a_max_corruption_rate(
            n, gamma=gamma, delta=delta, c_low=c_low, c_high=c_high
        )
        * math.sqrt(n_),
        per_sample_budget=B,
        per_sample_limit=require_positive("c_per_sample", c_per_sample) * gamma / math.sqrt(d_),
    )


def regime_a_max_corruption_rate(
    n: int, *, gamma: float, delta: float = 0.1, c_low: float = 1.0, c_high: float = 1.0
) -> float:
    """The largest C for which Theorem 3.1's width interval is non-empty (paper 001, regime A).

    Solves c_low (ln(n/delta) + ln^2 n) / gamma^8 = c_high (n ln^4 n + n ln^2(n/delta)) /
    (gamma^4 S^2) with S = C sqrt(n) for C:
    C_max = gamma^2 sqrt(c_high (ln^4 n + ln^2(n/delta)) / (c_low (ln(n/delta) + ln^2 n))),
    i.e. S = C sqrt(n) <~ gamma^2 sqrt(n) up to logs. Raises ValueError for invalid arguments.
    """
    n_ = require_positive("n", n)
    delta = require_open_unit("delta", delta)
    gamma = require_positive("gamma", gamma)
    log_width, _ = _log_terms(n_, delta)
    ratio = (
        require_positive("c_high", c_high)
        * (math.log(n_) ** 4 + math.log(n_ / delta) ** 2)
        / (require_positive("c_low", c_low) * log_width)
    )
    return gamma**2 * math.sqrt(ratio)


def regime_b_per_sample_limit(
    m: float, *, n: int, d: int, gamma: float, delta: float = 0.1, constant: float = 1.0
) -> float:
    """Theorem 3.2 (paper 001): B <~ min{1/(sqrt(m d) + sqrt(m ln(m/delta))),
    gamma/(gamma + sqrt(d) + sqrt(ln(m n/delta)))}, times `constant`.

    Decreasing in m, so it bounds the width from above. Raises ValueError for m < 1 or
    other invalid arguments.
    """
    m_ = float(m)
    if not m_ >= 1.0:
        raise ValueError(f"width m must be >= 1, got {m}")
    n_ = require_positive("n", n)
    d_ = require_positive("d", d)
    gamma = require_positive("gamma", gamma)
    delta = require_open_unit("delta", delta)
    first = 1.0 / (math.sqrt(m_ * d_) + math.sqrt(m_ * math.log(m_ / delta)))
    second = gamma / (gamma + math.sqrt(d_) + math.sqrt(math.log(m_ * n_ / delta)))
    return require_positive("constant", constant) * min(first, second)


def regime_b(
    n: int,
    *,
    B: float,
    d: int,
    gamma: float,
    delta: float = 0.1,
    c_rate: float = 1.0,
    c_low: float = 1.0,
    c_per_sample: float = 1.0,
) -> RegimeGuarantee:
    """Theorem 3.2 (paper 001, regime B): per-sample budget B, overall budget up to Theta(n).

    step eta = (1 + B)^-2; error rate c_rate (ln^2(sqrt(n)/4) + ln(24 n / delta)) / (n gamma^2)
    (printed with <=, i.e. c_rate = 1); width m >= c_low (ln(n/delta) + ln^2 n) / gamma^8 and
    m <= the largest m with B <= `regime_b_per_sample_limit(m)` (the implicit upper bound the
    paper notes after Theorem 3.3). budget_limit is the per-sample limit at the smallest
    admissible width. Raises ValueError for invalid arguments.
    """
    n_ = require_positive("n", n)
    B = require_nonnegative("B", B)
    gamma = require_positive("gamma", gamma)
    delta = require_open_unit("delta", delta)
    _, log_rate = _log_terms(n_, delta)
    error_rate = (
        require_positive("c_rate", c_rate)
        * (log_rate + math.log(24.0 * n_ / delta))
        / (n_ * gamma**2)
    )
    low = width_lower_bound(n, gamma=gamma, delta=delta, constant=c_low)

    def limit(m: float) -> float:
        return regime_b_per_sample_limit(
            m, n=n, d=d, gamma=gamma, delta=delta, constant=c_per_sample
        )

    high = _largest_width_below(B, limit)
    budget_limit = limit(max(low, 1.0))
    return RegimeGuarantee(
        regime="B",
        n=int(n),
        step_size=(1.0 + B) ** -2,
        error_rate=error_rate,
        width=WidthRange(low, high),
        budget=B,
        budget_limit=budget_limit,
        per_sample_budget=B,
        per_sample_limit=budget_limit,
    )


_LOG_M_MAX = 460.0  # widths up to ~1e200: far beyond any network, and m * d stays finite


def _largest_width_below(B: float, limit: Callable[[float], float]) -> float:
    """Largest m >= 1 with limit(m) >= B, for `limit` decreasing in m; 0 when none, inf when all."""
    if B <= 0.0:
        return math.inf
    if limit(1.0) < B:
        return 0.0
    if limit(math.exp(_LOG_M_MAX)) >= B:
        return math.inf
    root = optimize.brentq(
        lambda log_m: math.log(limit(math.exp(log_m))) - math.log(B),
        0.0,
        _LOG_M_MAX,
        xtol=1e-12,
        rtol=1e-12,
    )
    return math.exp(float(root))


def regime_c_flip_limit(
    n: int, *, gamma: float, delta: float = 0.1, constant: float = 1.0
) -> float:
    """Theorem 3.3 (paper 001): the admissible label-flip probability, up to `constant`.

    beta <~ (ln(n/delta) + ln^2 n) / ((sqrt(ln(n/delta)) + ln(gamma^2 sqrt(n) /
    (ln(n/delta) + ln^2 n))) gamma sqrt(n)). Returns inf when the denominator is <= 0 (small n
    or gamma: the printed condition is then vacuous). Raises ValueError for invalid arguments.
    """
    n_ = require_positive("n", n)
    gamma = require_positive("gamma", gamma)
    delta = require_open_unit("delta", delta)
    log_width, _ = _log_terms(n_, delta)
    denominator = (
        (math.sqrt(math.log(n_ / delta)) + math.log(gamma**2 * math.sqrt(n_) / log_width))
        * gamma
        * math.sqrt(n_)
    )
    if denominator <= 0.0:
        return math.inf
    return require_positive("constant", constant) * log_width / denominator


def regime_c(
    n: int,
    *,
    beta: float,
    gamma: float,
    delta: float = 0.1,
    c_rate: float = 1.0,
    c_low: float = 1.0,
    c_high: float = 1.0,
    c_flip: float = 1.0,
) -> RegimeGuarantee:
    """Theorem 3.3 (paper 001, regime C): labels flipped with probability beta.

    step eta = 1/sqrt(n); error rate c_rate (ln^2(sqrt(n)/4) + ln(16 n / delta)) /
    (sqrt(n) gamma^2); width m >= c_low (ln(n/delta) + ln^2 n)/gamma^8 and, from the remark
    after Theorem 3.3 ("we require beta <= O(1/m)"), m <= c_high / beta; beta must not exceed
    `regime_c_flip_limit`. Raises ValueError for beta outside [0, 1] or invalid arguments.
    """
    n_ = require_positive("n", n)
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must be in [0, 1], got {beta}")
    gamma = require_positive("gamma", gamma)
    delta = require_open_unit("delta", delta)
    _, log_rate = _log_terms(n_, delta)
    error_rate = (
        require_positive("c_rate", c_rate)
        * (log_rate + math.log(16.0 * n_ / delta))
        / (math.sqrt(n_) * gamma**2)
    )
    high = require_positive("c_high", c_high) / beta if beta > 0 else math.inf
    return RegimeGuarantee(
        regime="C",
        n=int(n),
        step_size=1.0 / math.sqrt(n_),
        error_rate=error_rate,
        width=WidthRange(width_lower_bound(n, gamma=gamma, delta=delta, constant=c_low), high),
        budget=float(beta),
        budget_limit=regime_c_flip_limit(n, gamma=gamma, delta=delta, constant=c_flip),
        per_sample_budget=0.0,
        per_sample_limit=math.inf,
    )
