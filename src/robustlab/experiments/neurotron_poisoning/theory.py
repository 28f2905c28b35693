"""neurotron-poisoning's theory: Theorem II.1's constants, vacuity and bound per law and seed."""

from __future__ import annotations

import functools
import math
from typing import Any

import torch

from robustlab.experiments.neurotron_poisoning.cells import draw_network
from robustlab.experiments.neurotron_poisoning.config import F64, Config, InputLaw
from robustlab.theory.neurotron import (
    InputMoments,
    NeurotronConstants,
    error_bound,
    input_moments,
    monte_carlo_moments,
    neurotron_constants,
    realizable_gamma_min,
    realizable_rate,
    realizable_step_size,
    recursion,
)

_F64 = F64


# --------------------------------------------------------------------------- theory
def _student_t_moments(law: InputLaw, samples: int, generator: torch.Generator) -> InputMoments:
    """Moments of i.i.d. Student-t(df) inputs for any df > 2: E||x||^p = inf for p >= df."""
    assert law.df is not None
    nu, n = law.df, law.dim
    if nu > 4:
        return input_moments(law.sampler(), samples=samples, generator=generator)
    estimate = monte_carlo_moments(law.sampler(), samples=samples, generator=generator)
    second = nu / (nu - 2)
    return InputMoments(
        covariance=second * torch.eye(n, dtype=_F64),
        m1=estimate.m1,
        m2=n * second,
        m3=estimate.m3 if nu > 3 else math.inf,
        m4=math.inf,
        stderr=(estimate.stderr[0], 0.0, estimate.stderr[2] if nu > 3 else math.inf, math.inf),
        covariance_stderr=0.0,
        method=f"Sigma, m2 closed form; m1, m3 by {estimate.method}; m4 = inf (df = {nu} <= 4)",
    )


def _moments(law: InputLaw, samples: int, seed: int) -> InputMoments:
    generator = torch.Generator().manual_seed(seed)
    if law.family == "student_t":
        assert law.df is not None
        if law.df <= 2:
            raise ValueError(f"{law.name}: Student-t with df = {law.df} <= 2 has Sigma = inf")
        return _student_t_moments(law, samples, generator)
    return input_moments(law.sampler(), samples=samples, generator=generator)


@functools.lru_cache(maxsize=64)
def _constants(
    law_json: str, seed: int, filter_size: int, width: int, alpha: float, samples: int
) -> tuple[NeurotronConstants | None, str]:
    """Theorem II.1's constants for one law and seed's net (M = mean of the A_i), and a note."""
    law = InputLaw.model_validate_json(law_json)
    family = draw_network(
        law, filter_size=filter_size, width=width, generator=torch.Generator().manual_seed(seed)
    )
    try:
        moments = _moments(law, samples, seed)
    except ValueError as error:
        return None, str(error)
    constants = neurotron_constants(family.sensing, family.mean, alpha=alpha, moments=moments)
    return constants, moments.method


def _law_theory(config: Config, law: InputLaw, seed: int) -> dict[str, Any]:
    """Constants, vacuity and the Theorem II.1 bound at the run's eta, for one law and seed."""
    constants, method = _constants(
        law.model_dump_json(),
        seed,
        config.filter_size,
        config.width,
        config.alpha,
        config.moment_samples,
    )
    initial = config.filter_size * (config.w0**2 + 1.0)  # E||w_1 - w*||^2 for w* ~ N(0, I_r)
    if constants is None:
        return {"defined": False, "reason": method, "initial_sq": initial}
    c = constants
    heavy = not math.isfinite(c.m4) or not math.isfinite(c.m3)
    reasons = [c.reason]
    if heavy:
        reasons.append(
            f"m_3 = {c.m3:.4g}, m_4 = {c.m4:.4g}: E||x||^4 is infinite, so Assumption 1.2 fails "
            "and the step size, the recursion and T of Theorem II.1 are undefined"
        )
    out: dict[str, Any] = {
        "defined": True,
        "moments": method,
        "lambda1": c.lambda1,
        "lambda2": c.lambda2,
        "lambda3": c.lambda3,
        "m1": c.m1,
        "m2": c.m2,
        "m3": c.m3,
        "m4": c.m4,
        "moment_stderr": list(c.moment_stderr),
        "c_tradeoff": c.c_tradeoff,
        "vacuous": c.vacuous or heavy,
        "reason": "; ".join(reasons),
        "initial_sq": initial,
        "eta": law.eta,
    }
    if c.c_tradeoff > 0:
        # eq. (1) with eta -> 0, t -> inf: E||w - w*||^2 <= theta^2 / c_trade-off.
        out["asymptotic_slope"] = 1.0 / math.sqrt(c.c_tradeoff)
    if heavy or not c.realizable:
        return out
    kappa = realizable_rate(c, eta=law.eta)
    gamma = 2.0 * realizable_gamma_min(c)
    eta_theorem = realizable_step_size(c, gamma=gamma)
    kappa_theorem = realizable_rate(c, eta=eta_theorem)
    out["case1_contraction_at_eta"] = kappa
    out["case1_theorem_eta"] = eta_theorem
    out["case1_theorem_steps_to_halve"] = math.log(0.5) / math.log(kappa_theorem)
    thetas = sorted({*config.thetas, config.beta_sweep_theta})
    bounds: dict[str, Any] = {}
    for theta in thetas:
        step = recursion(c, eta=law.eta, theta=theta)
        final = float(
            error_bound(c, eta=law.eta, theta=theta, initial=initial, steps=config.steps)[-1]
        )
        bounds[repr(theta)] = {
            "contraction": step.contraction,
            "bound_sq_at_T": final,
            "informative": bool(math.isfinite(final) and final < initial),
        }
    out["bound_at_eta"] = bounds
    return out


def theory(config: Config) -> dict[str, Any]:
    """Theorem II.1 per input law and seed: constants, c_trade-off, vacuity, bound at eta."""
    laws = {
        law.name: {str(seed): _law_theory(config, law, seed) for seed in config.seeds}
        for law in config.distributions
    }
    return {
        "theorem": "paper 000, Theorem II.1: ||w_T - w*|| <= eps w.p. 1 - delta when "
        "theta^2 <= eps^2 delta c_trade-off (eq. (1)); c_trade-off <= 0 makes it vacuous",
        "M": "M = [M_X | M_Y], the mean of the A_i = M + c_i C (the published code's choice)",
        "lower_bound": "section II-A: labels realized by w_adv with |xi| <= theta force error "
        ">= ||w_adv - w*|| = theta / G on any learner that recovers realizable filters",
        "paper_claim": "the later version reports that Neuro-Tron outperforms SGD on every input "
        "law (its SGD used the first sample's gradient for the whole minibatch); no table of "
        "numbers is given in the text, only figures",
        "distributions": laws,
    }
