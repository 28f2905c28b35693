"""Paper 004 (robustness guarantees for adversarially trained networks): iteration bounds.

Setting (Sec. 2-3): f(x; a, W) = a^T sigma(W x), leaky ReLU sigma(z) = max(alpha z, z), fixed top
layer with ||a||_inf <= kappa, initial ||W_1||_F <= omega, width m; attacks in the l2 ball of
radius nu around x; data with ||x|| <= R, linearly separable with margin gamma > nu
(Assumption 3.3). Algorithm 1 (PGD on the reflected loss -log(1 + e^z)) runs T_atk steps of
size eta_atk; Algorithm 2 (adversarial training, SGD on the logistic loss) runs T_tr steps of
size eta_tr. The target is the beta-robust error eps_beta(W) (Definition 3.1).

Printed quirks, kept visible: (i) Corollary 3.6's T_atk prints 2 (1-alpha)^2 / (beta^2
||W_t||_F^2 eps), the reciprocal of what Theorem 3.4's T_atk >= 8 nu^2 / (eta_atk eps) gives at
its eta_atk; `corollary36` returns the value Theorem 3.4 implies. (ii) The overall-cost display
after Corollary 3.5 writes 12 nu^2 T_tr / ((R + nu)^2 eps) where the sum gives 12 nu^2 T_tr
(T_tr + 1) / ((R + nu)^2 eps); its last expression (196608 = 12 * 128^2) is the squared form.
(iii) Lemma 3.7 prints sqrt(m eps) where Theorem 3.4 has sqrt(m) eps; both are implemented as
printed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from robustlab.theory.fitting import require_nonnegative, require_positive


def _alpha(alpha: float) -> float:
    a = float(alpha)
    if not 0.0 < a <= 1.0:
        raise ValueError(f"leaky ReLU slope alpha must be in (0, 1], got {alpha}")
    return a


def _margin_gap(gamma: float, nu: float) -> float:
    gamma = require_positive("gamma", gamma)
    nu = require_nonnegative("nu", nu)
    if not nu < gamma:
        raise ValueError(f"the guarantees need attack size nu < margin gamma, got {nu} >= {gamma}")
    return gamma - nu


# --------------------------------------------------------------------------- Theorem 3.2


def beta_threshold(nu: float, *, alpha: float, kappa: float, m: int) -> float:
    """beta_min = 2 nu (1 - alpha) kappa sqrt(m): the smallest margin beta the guarantees cover.

    Paper 004, Theorems 3.2 and 3.4 (beta >= 2 nu (1 - alpha) kappa sqrt(m)); zero in the
    linear case alpha = 1. Raises ValueError for invalid arguments.
    """
    return (
        2.0
        * require_nonnegative("nu", nu)
        * (1.0 - _alpha(alpha))
        * require_positive("kappa", kappa)
        * math.sqrt(require_positive("m", m))
    )


def attack_step_size_max(*, kappa: float, m: int, W_fro: float) -> float:
    """eta_atk <= 1 / (kappa^2 m ||W||_F^2): the PGD step of Theorem 3.2 (paper 004).

    Raises ValueError for non-positive arguments.
    """
    return 1.0 / (
        require_positive("kappa", kappa) ** 2
        * require_positive("m", m)
        * require_positive("W_fro", W_fro) ** 2
    )


def attack_suboptimality(nu: float, *, eta_atk: float, T_atk: float) -> float:
    """4 nu^2 / (eta_atk T_atk): the additive term of Theorem 3.2 (paper 004).

    After T_atk PGD steps, -l'(y f(delta_*)) <= -2 l'(y f(delta_atk)) + 4 nu^2 / (eta_atk T_atk)
    for a beta-effective attack delta_*. Raises ValueError for invalid arguments.
    """
    return (
        4.0
        * require_nonnegative("nu", nu) ** 2
        / (require_positive("eta_atk", eta_atk) * require_positive("T_atk", T_atk))
    )


def attack_iterations(nu: float, *, eta_atk: float, target: float) -> float:
    """T_atk = 4 nu^2 / (eta_atk target): PGD steps for Theorem 3.2's additive term <= target.

    Paper 004, Theorem 3.2 solved for T_atk (O(nu^2 / target) at eta_atk = Theta(1)).
    Raises ValueError for invalid arguments.
    """
    return (
        4.0
        * require_nonnegative("nu", nu) ** 2
        / (require_positive("eta_atk", eta_atk) * require_positive("target", target))
    )


# --------------------------------------------------------------------------- Theorem 3.4


@dataclass(frozen=True)
class AdversarialTrainingBound:
    """What Theorem 3.4 / Corollaries 3.5-3.6 of paper 004 prescribe and guarantee.

    training_iterations: the bound on T_tr; training_step_size: the largest eta_tr;
    attack_step_size: the largest eta_atk at the given ||W_t||_F; attack_iterations: the smallest
    T_atk at that eta_atk; beta_min: the smallest beta covered; robust_error: the guarantee
    2 eps on eps_beta(W_tau) (eps_rob in the linear case).
    """

    training_iterations: float
    training_step_size: float
    attack_step_size: float
    attack_iterations: float
    beta_min: float
    robust_error: float


def training_step_size_max(*, m: int, kappa: float, R: float, nu: float) -> float:
    """eta_tr <= 1 / (m kappa^2 (R + nu)^2) (paper 004, Theorem 3.4 and Lemma 3.7).

    Raises ValueError for invalid arguments.
    """
    return 1.0 / (
        require_positive("m", m)
        * require_positive("kappa", kappa) ** 2
        * require_positive("R + nu", require_positive("R", R) + require_nonnegative("nu", nu)) ** 2
    )


def training_attack_iterations(nu: float, *, eta_atk: float, eps: float) -> float:
    """T_atk >= 8 nu^2 / (eta_atk eps), the inner-loop length of Theorem 3.4 and Corollary 3.5.

    Raises ValueError for invalid arguments.
    """
    return (
        8.0
        * require_nonnegative("nu", nu) ** 2
        / (require_positive("eta_atk", eta_atk) * require_positive("eps", eps))
    )


def training_iterations(
    *,
    R: float,
    nu: float,
    gamma: float,
    alpha: float,
    kappa: float,
    m: int,
    omega: float,
    eps: float,
) -> float:
    """The bound on adversarial-training steps T_tr of Theorem 3.4 (paper 004).

    T_tr <= 64 (R + nu)^2 (1 + omega gamma alpha kappa sqrt(m) eps) / ((gamma - nu)^2 alpha^2
    eps^2).
    Raises ValueError for nu >= gamma or other invalid arguments.
    """
    gap = _margin_gap(gamma, nu)
    alpha = _alpha(alpha)
    eps = require_positive("eps", eps)
    R = require_positive("R", R)
    inner = (
        1.0
        + require_nonnegative("omega", omega)
        * gamma
        * alpha
        * require_positive("kappa", kappa)
        * math.sqrt(require_positive("m", m))
        * eps
    )
    return 64.0 * (R + nu) ** 2 * inner / (gap**2 * alpha**2 * eps**2)


def theorem34(
    *,
    R: float,
    nu: float,
    gamma: float,
    alpha: float,
    kappa: float,
    m: int,
    omega: float,
    eps: float,
    W_fro: float,
) -> AdversarialTrainingBound:
    """Theorem 3.4 (paper 004): convergence of adversarial training (Algorithm 2).

    Within T_tr <= `training_iterations(...)` steps with eta_tr <= 1/(m kappa^2 (R + nu)^2), some
    iterate has E eps_beta(W_tau) <= 2 eps for beta >= 2 nu (1 - alpha) kappa sqrt(m), provided
    eta_atk <= 1/(kappa^2 m ||W_t||_F^2) and T_atk >= 8 nu^2/(eta_atk eps); both are evaluated at
    ||W_t||_F = W_fro. Raises ValueError for nu >= gamma or other invalid arguments.
    """
    eta_atk = attack_step_size_max(kappa=kappa, m=m, W_fro=W_fro)
    return AdversarialTrainingBound(
        training_iterations=training_iterations(
            R=R, nu=nu, gamma=gamma, alpha=alpha, kappa=kappa, m=m, omega=omega, eps=eps
        ),
        training_step_size=training_step_size_max(m=m, kappa=kappa, R=R, nu=nu),
        attack_step_size=eta_atk,
        attack_iterations=training_attack_iterations(nu, eta_atk=eta_atk, eps=eps),
        beta_min=beta_threshold(nu, alpha=alpha, kappa=kappa, m=m),
        robust_error=2.0 * eps,
    )


def corollary35(
    *, R: float, nu: float, gamma: float, eps: float, W_fro: float
) -> AdversarialTrainingBound:
    """Corollary 3.5 (paper 004): robust linear halfspaces (alpha = 1).

    With kappa = 1/sqrt(m), omega = 1/gamma, eta_tr = (R + nu)^-2: T_tr <= 128 (R + nu)^2 /
    ((gamma - nu)^2 eps^2) gives E eps_rob(W_tau) <= 2 eps (beta = 0), provided
    eta_atk <= ||W_t||_F^-2 and T_atk >= 8 nu^2 / (eta_atk eps).
    Raises ValueError for nu >= gamma or other invalid arguments.
    """
    gap = _margin_gap(gamma, nu)
    eps = require_positive("eps", eps)
    R = require_positive("R", R)
    eta_atk = 1.0 / require_positive("W_fro", W_fro) ** 2
    return AdversarialTrainingBound(
        training_iterations=128.0 * (R + nu) ** 2 / (gap**2 * eps**2),
        training_step_size=(R + nu) ** -2,
        attack_step_size=eta_atk,
        attack_iterations=training_attack_iterations(nu, eta_atk=eta_atk, eps=eps),
        beta_min=0.0,
        robust_error=2.0 * eps,
    )


def corollary36(
    *,
    beta: float,
    R: float,
    nu: float,
    gamma: float,
    alpha: float,
    m: int,
    omega: float,
    eps: float,
    W_fro: float,
) -> AdversarialTrainingBound:
    """Corollary 3.6 (paper 004): any desired beta > 0 via kappa = beta / (2 nu (1 - alpha) sqrt m).

    T_tr <= 64 (R + nu)^2 (1 + omega gamma alpha beta eps / (2 nu (1 - alpha))) /
    ((gamma - nu)^2 alpha^2 eps^2), eta_tr <= 4 nu^2 (1 - alpha)^2 / (beta^2 (R + nu)^2),
    eta_atk <= 4 nu^2 (1 - alpha)^2 / (beta^2 ||W_t||_F^2). T_atk is Theorem 3.4's
    8 nu^2 / (eta_atk eps) = 2 beta^2 ||W_t||_F^2 / ((1 - alpha)^2 eps) (the printed corollary has
    the reciprocal; see the module docstring). Raises ValueError for alpha = 1, nu = 0 or
    nu >= gamma, and other invalid arguments.
    """
    beta = require_positive("beta", beta)
    alpha = _alpha(alpha)
    nu = require_positive("nu", nu)
    if alpha == 1.0:
        raise ValueError("Corollary 3.6 needs alpha < 1 (for alpha = 1 use corollary35)")
    kappa = beta / (2.0 * nu * (1.0 - alpha) * math.sqrt(require_positive("m", m)))
    bound = theorem34(
        R=R, nu=nu, gamma=gamma, alpha=alpha, kappa=kappa, m=m, omega=omega, eps=eps, W_fro=W_fro
    )
    return AdversarialTrainingBound(
        training_iterations=bound.training_iterations,
        training_step_size=bound.training_step_size,
        attack_step_size=bound.attack_step_size,
        attack_iterations=bound.attack_iterations,
        beta_min=beta,
        robust_error=bound.robust_error,
    )


def lemma37_iterations(
    *,
    eta_tr: float,
    nu: float,
    gamma: float,
    alpha: float,
    kappa: float,
    m: int,
    W1_fro: float,
    eps: float,
) -> float:
    """Steps until E_D[-l'(y f_{W_tau}(delta_atk(x)))] <= eps (paper 004, Lemma 3.7).

    T_tr <= 4 (1 + ||W_1||_F gamma alpha kappa sqrt(m eps)) / (eta_tr (gamma - nu)^2 alpha^2
    kappa^2 m eps^2), as printed (sqrt(m eps)); valid for eta_tr <= 1/(m kappa^2 (R + nu)^2)
    and any attack that stays in the nu-ball. Raises ValueError for invalid arguments.
    """
    gap = _margin_gap(gamma, nu)
    alpha = _alpha(alpha)
    eps = require_positive("eps", eps)
    kappa = require_positive("kappa", kappa)
    m_ = require_positive("m", m)
    inner = 1.0 + require_nonnegative("W1_fro", W1_fro) * gamma * alpha * kappa * math.sqrt(
        m_ * eps
    )
    return (
        4.0
        * inner
        / (require_positive("eta_tr", eta_tr) * gap**2 * alpha**2 * kappa**2 * m_ * eps**2)
    )


# --------------------------------------------------------------------------- overall cost


def weight_norm_growth(W1_fro: float, *, eta_tr: float, t: int) -> float:
    """||W_{t+1}||_F^2 <= ||W_1||_F^2 + 3 eta_tr t (paper 004, Appendix eq. (6)); the square bound.

    Raises ValueError for invalid arguments.
    """
    return require_nonnegative("W1_fro", W1_fro) ** 2 + 3.0 * require_positive(
        "eta_tr", eta_tr
    ) * require_nonnegative("t", t)


def overall_cost_sum(T_tr: int, *, nu: float, eps: float, omega: float, eta_tr: float) -> float:
    """sum_{t=1}^{T_tr} 8 nu^2 (omega^2 + 3 eta_tr (t - 1)) / eps: total PGD steps, worst case.

    The middle expression of the overall-cost display after Corollary 3.5 (paper 004): each outer
    step runs T_atk = 8 nu^2 ||W_t||_F^2 / eps at eta_atk = ||W_t||_F^-2, bounded with eq. (6).
    Closed form: 8 nu^2 (T omega^2 + 3 eta_tr T (T - 1) / 2) / eps. Raises ValueError for
    invalid arguments.
    """
    T = require_nonnegative("T_tr", T_tr)
    nu = require_nonnegative("nu", nu)
    eps = require_positive("eps", eps)
    omega = require_nonnegative("omega", omega)
    eta_tr = require_positive("eta_tr", eta_tr)
    return 8.0 * nu**2 * (T * omega**2 + 1.5 * eta_tr * T * (T - 1.0)) / eps


def overall_cost_bound(
    *, R: float, nu: float, gamma: float, eps: float, alpha: float = 1.0
) -> float:
    """196608 nu^2 (R + nu)^2 / ((gamma - nu)^4 alpha^4 eps^5): the worst-case total PGD steps.

    Paper 004, the display after Corollary 3.5 (kappa = 1/sqrt(m), omega^2 = 3/(R + nu)^2,
    eta_tr = (R + nu)^-2): O((gamma - nu)^-4 eps^-5), against the statistical O((gamma - nu)^-2
    eps^-2) of T_tr. Raises ValueError for nu >= gamma or other invalid arguments.
    """
    gap = _margin_gap(gamma, nu)
    alpha = _alpha(alpha)
    eps = require_positive("eps", eps)
    R = require_positive("R", R)
    return 196608.0 * nu**2 * (R + nu) ** 2 / (gap**4 * alpha**4 * eps**5)
