"""Paper 002 (adversarial robustness is at odds with lazy training) and Bubeck et al. 2021.

Two parametrizations of the same random two-layer net, related by x -> sqrt(d) x, w -> w/sqrt(d):

* Paper 002 (Sec. 2-3): f(x) = (1/sqrt m) sum_s a_s relu(w_s.x), w_s0 ~ N(0, I_d),
  a_s ~ unif{-1, +1}, x on the unit sphere (||x|| = 1), W in the lazy ball
  B_{2,inf}(W0, C0/sqrt m) (Definition 2.1). Then |f| = O(1) (Lemma 4.1), ||grad_x f|| =
  Omega(sqrt d) (Lemma 4.2), and one gradient step of size |eta| = O(1/d), i.e. a perturbation
  ||delta|| = O(1/sqrt d), flips the sign (Theorem 3.1). Section 5.1 (Figs. 2-3) uses MNIST
  without normalization and reports the perturbation "normalized by the input norm",
  ||delta|| / ||x||; Appendix A (Figs. 5-6) normalizes ||x|| = 1. For a bias-free ReLU net,
  ||delta|| / ||x|| and ||grad_x f|| do not change when x is rescaled, while eta scales with ||x||,
  so the scale-free statements are: ||delta||/||x|| ~ d^-1/2, ||grad f|| ~ d^1/2, eta/||x|| ~ d^-1.
* Bubeck et al. 2021 (paper 003, "Main Theorem"): f(x) = (1/sqrt k) sum_l a_l sigma(w_l.x),
  w_l ~ N(0, I_d/d), x on sqrt(d) S^{d-1}. Then |f| = Theta(1), ||grad f|| = Theta(1), the step
  |eta| = C3 sqrt(log(1/gamma)) ||grad f||^-2 = Theta(1) and ||delta|| <= C4 sqrt(log(1/gamma)) =
  O(1), which relative to ||x|| = sqrt(d) is again d^-1/2.

Constants the papers leave unnamed are keyword arguments; defaults are 1 unless stated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import torch

from robustlab.models.activations import get_activation
from robustlab.theory.fitting import (
    as_float64,
    require_nonnegative,
    require_open_unit,
    require_positive,
)
from robustlab.theory.poisoning import WidthRange

Parametrization = Literal["lazy", "bubeck"]


@dataclass(frozen=True)
class ScalingLaw:
    """A predicted power law quantity ~ prefactor * variable^exponent, with its source."""

    quantity: str
    variable: str
    exponent: float
    normalization: str
    source: str

    def predict(self, x: npt.ArrayLike, *, prefactor: float = 1.0) -> npt.NDArray[np.float64]:
        """prefactor * x^exponent (x > 0). Raises ValueError for non-positive x."""
        xs = as_float64(x, name=self.variable)
        if np.any(xs <= 0):
            raise ValueError(f"{self.variable} must be > 0 for a power law")
        return np.asarray(prefactor * xs**self.exponent, dtype=np.float64)


#: Paper 002's predicted exponents in the input dimension d (x on the unit sphere, NTK init).
LAZY_SCALINGS: dict[str, ScalingLaw] = {
    "function_value": ScalingLaw(
        "|f(x)|", "d", 0.0, "||x|| = 1", "paper 002, Lemma 4.1 (|f| <= 2 sqrt(log(2/g)) + C0)"
    ),
    "gradient_norm": ScalingLaw(
        "||grad_x f(x)||",
        "d",
        0.5,
        "||x|| = 1 (invariant to rescaling x)",
        "paper 002, Lemma 4.2; Sec. 5.1, Fig. 2 middle",
    ),
    "step_size": ScalingLaw(
        "|eta| of the minimal flipping gradient step",
        "d",
        -1.0,
        "||x|| = 1 (otherwise |eta| / ||x||)",
        "paper 002, Theorem 3.1 (step size O(1/d)); Sec. 5.1, Fig. 2 right",
    ),
    "perturbation": ScalingLaw(
        "||delta|| of the minimal flipping gradient step",
        "d",
        -0.5,
        "||x|| = 1",
        "paper 002, Theorem 3.1 (||delta|| = O(1/sqrt d)); App. A, Fig. 5 left",
    ),
    "perturbation_relative": ScalingLaw(
        "||delta|| / ||x|| of the minimal flipping gradient step",
        "d",
        -0.5,
        "any ||x|| (scale-free)",
        "paper 002, Sec. 5.1, Fig. 2 left (perturbation normalized by the input norm)",
    ),
}

#: Bubeck et al. 2021's exponents in d (w ~ N(0, I/d), x on sqrt(d) S^{d-1}); paper 003 slides.
BUBECK_SCALINGS: dict[str, ScalingLaw] = {
    "function_value": ScalingLaw(
        "|f(x)|", "d", 0.0, "||x|| = sqrt(d)", "Bubeck et al. 2021, eq. (2): |f| = Theta(1)"
    ),
    "gradient_norm": ScalingLaw(
        "||grad_x f(x)||",
        "d",
        0.0,
        "||x|| = sqrt(d)",
        "Bubeck et al. 2021, eq. (3): ||grad f|| = Omega(1), Theta(1) at this scale",
    ),
    "step_size": ScalingLaw(
        "|eta| = C3 sqrt(log(1/g)) ||grad f||^-2",
        "d",
        0.0,
        "||x|| = sqrt(d)",
        "Bubeck et al. 2021, Main Theorem",
    ),
    "perturbation": ScalingLaw(
        "||delta|| = ||eta grad f||",
        "d",
        0.0,
        "||x|| = sqrt(d)",
        "Bubeck et al. 2021, Main Theorem (||delta|| <= C4 sqrt(log(1/g)))",
    ),
    "perturbation_relative": ScalingLaw(
        "||delta|| / ||x||",
        "d",
        -0.5,
        "any ||x|| (scale-free)",
        "Bubeck et al. 2021, Main Theorem with ||x|| = sqrt(d)",
    ),
}


def predicted_scalings(parametrization: Parametrization = "lazy") -> dict[str, ScalingLaw]:
    """The predicted exponents in d for "lazy" (paper 002) or "bubeck" (Bubeck et al. 2021).

    Raises ValueError for another name.
    """
    if parametrization == "lazy":
        return dict(LAZY_SCALINGS)
    if parametrization == "bubeck":
        return dict(BUBECK_SCALINGS)
    raise ValueError(f"parametrization must be 'lazy' or 'bubeck', got {parametrization!r}")


# --------------------------------------------------------------------------- paper 002


def lazy_radius(m: float, *, C0: float) -> float:
    """Radius C0 / sqrt(m) of the lazy ball B_{2,inf}(W0, C0/sqrt m) (paper 002, Definition 2.1).

    Raises ValueError for non-positive m or negative C0.
    """
    return require_nonnegative("C0", C0) / math.sqrt(require_positive("m", m))


def function_value_bound(gamma: float, *, C0: float) -> float:
    """|f(x; a, W)| <= 2 sqrt(log(2/gamma)) + C0 over the whole lazy ball, w.p. >= 1 - gamma.

    Paper 002, Lemma 4.1 / Lemma B.5 (for m >= C' log(2/gamma)). Raises ValueError for gamma
    outside (0, 1) or negative C0.
    """
    gamma = require_open_unit("gamma", gamma)
    return 2.0 * math.sqrt(math.log(2.0 / gamma)) + require_nonnegative("C0", C0)


def linearized_flip_step(
    f_value: npt.ArrayLike, grad_norm: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """eta = -f(x) / ||grad f(x)||^2: the step along grad f that zeroes the first-order model.

    Exact minimal flipping step for a linear f; for a locally linear net (paper 002 Sec. 3,
    Bubeck et al.) the measured minimal step should track it. Shapes broadcast.
    Raises ValueError for a non-positive gradient norm.
    """
    f = as_float64(f_value, name="f_value")
    g = as_float64(grad_norm, name="grad_norm")
    if np.any(g <= 0):
        raise ValueError("grad_norm must be > 0")
    return np.asarray(-f / g**2, dtype=np.float64)


def flip_step(
    f_value: npt.ArrayLike,
    grad_norm: npt.ArrayLike,
    *,
    gradient_variation: float = 0.0,
) -> npt.NDArray[np.float64]:
    """The step of the proof of Theorem 3.1 (paper 002, Appendix B): eta = eta~ / ||grad f||^2.

    eta~ = -2 f(x) / (1 - r), with r = sup_{||delta|| <= |eta| ||grad f||} ||grad f(x + delta) -
    grad f(x)|| / ||grad f(x)|| in [0, 1) (`gradient_variation`); then f(x + eta grad f) <= -f(x)
    for f(x) > 0 (and symmetrically), so the sign flips. With r = 0 it is twice the linearized step.
    Shapes broadcast. Raises ValueError for r outside [0, 1) or a non-positive gradient norm.
    """
    r = float(gradient_variation)
    if not 0.0 <= r < 1.0:
        raise ValueError(f"gradient_variation must be in [0, 1), got {gradient_variation}")
    return np.asarray(2.0 * linearized_flip_step(f_value, grad_norm) / (1.0 - r))


@dataclass(frozen=True)
class FlipStepBound:
    """Theorem 3.1 (paper 002): |eta| <= step and ||delta|| = |eta| ||grad f|| <= perturbation."""

    step: float
    perturbation: float


def theorem31_step_bound(
    d: float,
    *,
    C1: float = 1.0,
    C2: float = 1.0,
    gradient_variation: float = 0.0,
) -> FlipStepBound:
    """|eta| <= 2 C2 / ((1 - r) C1^2 d) and ||delta|| <= 2 C2 / ((1 - r) C1 sqrt d).

    From the proof of Theorem 3.1 (paper 002, Appendix B) with ||grad f|| >= C1 sqrt(d)
    (Lemma B.7), |f| <= C2 (Lemma B.5) and gradient variation r (Lemma B.9 makes it o(1)):
    the O(1/d) step and O(1/sqrt d) perturbation of the theorem. The statement's step-size line
    is illegible in the shared text copy; this is the explicit form the proof yields.
    Raises ValueError for non-positive d, C1, C2 or r outside [0, 1).
    """
    d_ = require_positive("d", d)
    C1 = require_positive("C1", C1)
    C2 = require_positive("C2", C2)
    r = float(gradient_variation)
    if not 0.0 <= r < 1.0:
        raise ValueError(f"gradient_variation must be in [0, 1), got {gradient_variation}")
    step = 2.0 * C2 / ((1.0 - r) * C1**2 * d_)
    return FlipStepBound(step=step, perturbation=step * C1 * math.sqrt(d_))


def theorem31_width_range(
    d: float,
    *,
    gamma: float,
    C3: float = 1.0,
    C4: float = 1.0,
    low_exponent: float = 2.4,
    high_exponent: float = 0.24,
) -> WidthRange:
    """max{d^2.4, C3 log(1/gamma)} <= m <= C4 exp(d^0.24): Theorem 3.1's width (paper 002).

    The exponents are read from the shared text copy, where they are partly garbled
    (Lemma 4.4: "d^{2.4} < m < O(exp(d^{0.24}))"); they are parameters so a reader can change
    them. `high` is inf when exp overflows. Raises ValueError for invalid arguments.
    """
    d_ = require_positive("d", d)
    gamma = require_open_unit("gamma", gamma)
    low = max(d_**low_exponent, require_positive("C3", C3) * math.log(1.0 / gamma))
    try:
        high = require_positive("C4", C4) * math.exp(d_**high_exponent)
    except OverflowError:
        high = math.inf
    return WidthRange(low=low, high=high)


def corollary32_radius(d: float, *, constant: float = 1.0) -> float:
    """R = constant / sqrt(d): the attack radius of Corollary 3.2 (paper 002).

    With this radius every network in the lazy ball has robust error >= 0.9 w.p. >= 1 - 10 gamma
    (see ROBUST_ERROR_FLOOR). Section 5.2 / Fig. 4 left sees the drop near 5/sqrt(d)
    (FIGURE4_RADIUS_CONSTANT). Raises ValueError for non-positive d or constant.
    """
    return require_positive("constant", constant) / math.sqrt(require_positive("d", d))


#: Corollary 3.2 (paper 002): robust error >= 0.9 for all W in the lazy ball, w.p. >= 1 - 10 gamma.
ROBUST_ERROR_FLOOR = 0.9
#: Paper 002, Sec. 5.2, Fig. 4 left: robust accuracy drops sharply near ||delta|| = 5 / sqrt(d).
FIGURE4_RADIUS_CONSTANT = 5.0
#: Paper 002, Sec. 5.2, Fig. 4 left: lazy radius V = C0 / sqrt(m) = 10 / sqrt(1000) = 0.316.
FIGURE4_C0 = 10.0


# --------------------------------------------------------------------------- Bubeck et al.


def bubeck_step(
    f_value: npt.ArrayLike,
    grad_norm: npt.ArrayLike,
    *,
    gamma: float,
    C3: float = 1.0,
) -> npt.NDArray[np.float64]:
    """eta with |eta| = C3 sqrt(log(1/gamma)) ||grad f||^-2 and sign(eta) = -sign(f(x)).

    Bubeck et al. 2021, Main Theorem (paper 003 slides); x on sqrt(d) S^{d-1}, w ~ N(0, I/d).
    Shapes broadcast; eta = 0 where f(x) = 0. Raises ValueError for gamma outside (0, 1),
    non-positive C3 or gradient norm.
    """
    gamma = require_open_unit("gamma", gamma)
    C3 = require_positive("C3", C3)
    f = as_float64(f_value, name="f_value")
    g = as_float64(grad_norm, name="grad_norm")
    if np.any(g <= 0):
        raise ValueError("grad_norm must be > 0")
    return np.asarray(-np.sign(f) * C3 * math.sqrt(math.log(1.0 / gamma)) / g**2)


def bubeck_perturbation_bound(gamma: float, *, C4: float = 1.0) -> float:
    """||eta grad f(x)|| <= C4 sqrt(log(1/gamma)) (Bubeck et al. 2021, Main Theorem).

    O(1) against ||x|| = sqrt(d). Raises ValueError for gamma outside (0, 1) or C4 <= 0.
    """
    gamma = require_open_unit("gamma", gamma)
    return require_positive("C4", C4) * math.sqrt(math.log(1.0 / gamma))


def activation_moments(name: str) -> tuple[float, float]:
    """E sigma(g)^2 and E sigma'(g)^2 for g ~ N(0, 1) (Gauss-Hermite, 200 nodes, float64)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(200)
    weights = weights / weights.sum()
    activation = get_activation(name)
    z = torch.tensor(nodes, dtype=torch.float64)
    second = float((weights * activation(z).numpy() ** 2).sum())
    slope = float((weights * activation.derivative(z).numpy() ** 2).sum())
    return second, slope


def limit_medians(name: str) -> dict[str, float]:
    """Large-k, large-d limits of the median |eta| and median ||delta|| of the minimal flipping
    single step on random nets (Bubeck et al. 2021, paper 003 slides), for one activation.

    f(x) -> N(0, E sigma^2) (CLT over the k neurons) and ||grad f||^2 -> E sigma'^2, and the
    minimal step approaches the linearized one |f| / ||grad f||^2 (the gradient is stable on
    the scale of the step, slides "Stability of Gradient"); so median |eta| -> q sqrt(E sigma^2)
    / E sigma'^2 and median ||delta|| -> q sqrt(E sigma^2 / E sigma'^2), q = Phi^-1(3/4).
    """
    second, slope = activation_moments(name)
    quartile = 0.6744897501960817
    return {
        "median_abs_eta": quartile * math.sqrt(second) / slope,
        "median_delta_norm": quartile * math.sqrt(second / slope),
    }


def bubeck_conditions(
    k: float, d: float, *, gamma: float, C1: float = 1.0, C2: float = 1.0
) -> bool:
    """Whether k >= C1 log^3(1/gamma) and d >= C2 log(k/gamma) log(1/gamma) hold.

    The width and dimension assumptions of Bubeck et al. 2021's Main Theorem (paper 003).
    Raises ValueError for invalid arguments.
    """
    k_ = require_positive("k", k)
    d_ = require_positive("d", d)
    gamma = require_open_unit("gamma", gamma)
    log_inv = math.log(1.0 / gamma)
    return bool(
        k_ >= require_positive("C1", C1) * log_inv**3
        and d_ >= require_positive("C2", C2) * math.log(k_ / gamma) * log_inv
    )
