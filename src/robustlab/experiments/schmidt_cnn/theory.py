"""schmidt-cnn's theory: the Gaussian model's exact errors at the experiment's n (eq. 17)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from robustlab.theory.schmidt import gaussian_linear_error, gaussian_sigma

if TYPE_CHECKING:
    from robustlab.experiments.schmidt_cnn import Config

#: Draws of w = sum_i y_i x_i averaged for the Gaussian model's expected errors.
GAUSSIAN_DRAWS = 200


def gaussian_curves(
    n_values: list[int], *, eps: float, c1: float, d: int = 784, seed: int = 0
) -> dict[str, list[float]]:
    """Expected standard and l_inf-robust error of w = sum_i y_i x_i in the Gaussian model, at
    each n of `n_values`.

    Schmidt et al. 2018 (paper 003): theta* = (1, ..., 1) (||theta*|| = sqrt d), sigma =
    c1 d^{1/4}; w ~ N(n theta*, n sigma^2 I) exactly, averaged over GAUSSIAN_DRAWS draws.
    """
    sigma = gaussian_sigma(d, c1=c1)
    theta = np.ones(d)
    rng = np.random.default_rng(seed)
    standard, robust = [], []
    for n in n_values:
        w = n * theta + math.sqrt(n) * sigma * rng.standard_normal((GAUSSIAN_DRAWS, d))
        standard.append(float(gaussian_linear_error(w, theta, sigma=sigma).mean()))
        robust.append(float(gaussian_linear_error(w, theta, sigma=sigma, eps=eps).mean()))
    return {"n": [float(n) for n in n_values], "standard": standard, "robust": robust}


def theory(config: Config) -> dict[str, Any]:
    """The Gaussian model at the experiment's n: its errors and its sample complexities."""
    d = 784
    top = max(config.n_train)
    grid_n = sorted({int(v) for v in np.geomspace(1, top, 25).round()})
    return {
        "gaussian_model": gaussian_curves(
            grid_n, eps=config.gaussian_eps, c1=config.gaussian_c1, d=d
        ),
        "gaussian_setting": {
            "d": d,
            "sigma": gaussian_sigma(d, c1=config.gaussian_c1),
            "eps": config.gaussian_eps,
        },
        "standard_sample_complexity": "n = 1 suffices for sigma <= c d^{1/4}",
        "robust_sample_complexity": "n ~ eps^2 sqrt(d) = "
        f"{config.gaussian_eps**2 * math.sqrt(d):.3g} up to constants and a log d factor "
        "(eq. 17)",
        "claims": [
            "the robust error of adversarially trained nets falls with n",
            "the robust-standard gap is wider at the smallest n than at the largest",
        ],
    }
