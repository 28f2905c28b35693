"""universal-perturbation: the theorem's n per d, and what the theorem predicts."""

from __future__ import annotations

import math
from typing import Any

from robustlab.experiments.universal_perturbation.config import EXPONENT_D_MAX, EXPONENT_N, Config
from robustlab.theory.fitting import fit_loglog_slope


def theorem_n(d: int, coef: float) -> int:
    """n = max(2, round(coef sqrt(d) / ln d)): the growth of n under which ||delta|| = o(sqrt d)."""
    return max(2, round(coef * math.sqrt(d) / math.log(d)))


def theory(config: Config) -> dict[str, Any]:
    """The theorem's scale sqrt(d / (c^2 n)), its exponents, and the theorem's n per d."""
    theorem: dict[str, Any] = {}
    if config.theorem_n_coef is not None:
        ns = {d: theorem_n(d, config.theorem_n_coef) for d in config.dim}
        # Balanced labels: c = floor(n / 2) / n.
        scales = {d: math.sqrt(d * n / (n // 2) ** 2) for d, n in ns.items()}
        slope = None
        if len(config.dim) >= 2:
            slope = fit_loglog_slope(list(scales), list(scales.values())).slope
        theorem = {
            "n_per_d": {str(d): n for d, n in ns.items()},
            "bound_scale_per_d": {str(d): s for d, s in scales.items()},
            "bound_slope_in_d": slope,
        }
    return {
        "exponent_delta_in_n": EXPONENT_N,
        "exponent_delta_in_d_at_fixed_n": 0.5,
        "max_exponent_delta_in_d_theorem_regime": EXPONENT_D_MAX,
        "delta_bound": "||delta|| = O(sqrt(d / (c^2 n))), c = the smaller class fraction",
        "condition": "n <= (d + 1) / (3 (max_{i != j} |<x_i, x_j>| + 1))",
        "theorem_regime": theorem,
        "paper_statements": {
            "training": "exponential loss until L <= 1e-30; 5 networks per point (slides)",
            "result": "delta = eta sum_i y_i x_i flips every training point; the slides "
            "report no numbers and note the separation condition is probably too pessimistic",
        },
    }
