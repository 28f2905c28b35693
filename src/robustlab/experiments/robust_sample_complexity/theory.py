"""robust-sample-complexity: the bounds of eqs. (16)-(18) from the settings alone."""

from __future__ import annotations

from typing import Any

from robustlab.experiments.robust_sample_complexity.config import Config, _tau
from robustlab.theory.schmidt import (
    SAMPLE_COMPLEXITY_EXPONENT_D,
    SAMPLE_COMPLEXITY_EXPONENT_EPS,
    TARGET_ERROR,
    bernoulli_linear_lower_bound_samples,
    predicted_n_half,
    robust_error_lower_bound,
    robust_sample_complexity_lower,
    robust_sample_complexity_upper,
)


def _upper(eps: float, d: float, c: float) -> float | None:
    """c' eps^2 sqrt(d) (1 below d^{-1/4}/4); None outside the theorem's eps <= 1/4."""
    if eps > 0.25:
        return None
    return robust_sample_complexity_upper(eps, d, c2=c)


def _lower(eps: float, d: float, c: float) -> float:
    return robust_sample_complexity_lower(eps, d, c=c)


def theory(config: Config) -> dict[str, Any]:
    """Bounds of eqs. (16)-(18) per (d, eps), the predicted exponents, the paper's statements."""
    gaussian = {}
    for d in config.gaussian_dims:
        gaussian[str(d)] = {
            "sigma": config.sigma_coef * d**0.25,
            "eps_threshold_single_sample": 0.25 * d**-0.25,
            "robust_error_lower_bound": robust_error_lower_bound(d),
            "n_upper": {str(e): _upper(e, d, config.c_upper) for e in config.eps},
            "n_lower": {str(e): _lower(e, d, config.c_lower) for e in config.eps},
            "n_half_closed_form": {
                str(e): predicted_n_half(e, d, config.sigma_coef) for e in config.eps
            },
        }
    bernoulli = {
        str(d): {
            "tau": _tau(config.tau_coef, d),
            "eps": [r * _tau(config.tau_coef, d) for r in config.bernoulli_eps_over_tau],
            "n_linear_fails_below": bernoulli_linear_lower_bound_samples(d, config.bernoulli_gap),
        }
        for d in config.bernoulli_dims
    }
    return {
        "exponent_n_in_d": SAMPLE_COMPLEXITY_EXPONENT_D,
        "exponent_n_in_eps": SAMPLE_COMPLEXITY_EXPONENT_EPS,
        "target_error_upper_bound": TARGET_ERROR,
        "constants": {"c_upper": config.c_upper, "c_lower": config.c_lower},
        "gaussian": gaussian,
        "bernoulli": bernoulli,
        "paper_statements": {
            "standard_error_single_sample": "<= 1% (sigma <= c d^{1/4}; tau >= c d^{-1/4})",
            "robust_error_upper": "<= 1% once n >= c' eps^2 sqrt(d) (d^{-1/4}/4 <= eps <= 1/4)",
            "robust_error_lower": "any learner >= (1 - 1/d)/2 for n <= c eps^2 sqrt(d)/log d",
            "bernoulli_linear": "robust error >= 1/2 - gamma for n in O~(gamma^2 d)",
            "bernoulli_thresholded": "f o sgn: robust error <= 1% from a single sample",
            "constants": "the slides give no numbers for c, c'; we use c_lower and c_upper",
        },
    }
