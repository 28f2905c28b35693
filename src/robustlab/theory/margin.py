"""The finite-width margin of Assumption 1 (paper 001, section 3 and section 4), estimated.

Assumption 1 (Ji & Telgarsky 2019) asks for a separator v(z) with ||v(z)|| <= 1 and
y E_z <v(z), x 1[z.x >= 0]> >= gamma. With the m initial weights w_s ~ N(0, I_d) of the net in
place of z (section 4: "a finite-width estimation of the margin"), the best such gamma is

    gamma_m = max_{||v_s|| <= 1} min_i y_i (1/m) sum_s <v_s, x_i> 1[w_s.x_i >= 0].

The objective is bilinear in (v, p) for p a distribution over samples, so by the minimax theorem

    gamma_m = min_{p in simplex} g(p),   g(p) = (1/m) sum_s || sum_i p_i y_i 1[w_s.x_i >= 0] x_i ||.

Every p gives an upper bound g(p); every feasible v a lower bound (its smallest score). Mirror
descent on p (exponentiated gradient: dg/dp_i is the score of sample i under the best response
v(p)) tightens both; the bounds use the averaged iterates too (the average of the best responses
is feasible, as the ball constraint is convex; g of the averaged p is at most their mean g).
Both bounds close in at the mirror-descent rate 1 / sqrt(steps). A non-positive upper bound
certifies that the sample has no margin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class MarginEstimate:
    """Certified bounds lower <= gamma_m <= upper on the finite-width margin, and the problem size.

    lower: the smallest score of a feasible separator (<= gamma_m); upper: g(p) of the best
    sample distribution found (>= gamma_m); the gap shrinks with `steps`.
    """

    lower: float
    upper: float
    width: int
    samples: int
    steps: int

    @property
    def gap(self) -> float:
        return self.upper - self.lower


def _scores(X: Tensor, y: Tensor, active: Tensor, V: Tensor) -> Tensor:
    """y_i (1/m) sum_s active_si <v_s, x_i>: (n,) margins of the separator V (m, d)."""
    return y * (active * (V @ X.T)).mean(dim=0)


def _best_response(X: Tensor, y: Tensor, active: Tensor, p: Tensor) -> tuple[Tensor, float]:
    """v_s = G_s / ||G_s|| with G_s = sum_i p_i y_i active_si x_i, and g(p) = mean_s ||G_s||."""
    G = (active * (p * y)) @ X
    norms = G.norm(dim=1, keepdim=True)
    V = torch.where(norms > 0, G / norms.clamp_min(torch.finfo(G.dtype).tiny), 0.0)
    return V, float(norms.mean())


def finite_width_margin(
    X: Tensor, y: Tensor, W0: Tensor, *, steps: int = 300, lr: float | None = None
) -> MarginEstimate:
    """Bounds on gamma_m of the samples (X, y) at initial weights W0 (see the module docstring).

    X: (n, d) inputs (the theorems assume ||x_i|| = 1); y: (n,) labels in {-1, +1}; W0: (m, d)
    first-layer weights at initialization. Runs `steps` exponentiated-gradient steps on p
    (default rate sqrt(2 ln n / steps) / max |score|, the standard mirror-descent rate) in
    float64. Raises ValueError for bad shapes, labels or step settings.
    """
    if X.ndim != 2 or X.shape[0] < 1:
        raise ValueError(f"X must be (n, d) with n >= 1, got shape {tuple(X.shape)}")
    if y.shape != (X.shape[0],) or not bool(((y == 1) | (y == -1)).all()):
        raise ValueError(f"y must be (n,) = ({X.shape[0]},) with values in {{-1, +1}}")
    if W0.ndim != 2 or W0.shape[1] != X.shape[1]:
        raise ValueError(f"W0 must be (m, {X.shape[1]}), got shape {tuple(W0.shape)}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if lr is not None and not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    X64, y64, W64 = X.double(), y.double(), W0.double()
    active = (W64 @ X64.T >= 0).double()  # (m, n)
    n = X64.shape[0]
    scale = float(X64.norm(dim=1).max()) or 1.0  # |score_i| <= max ||x_i||
    rate = lr if lr is not None else math.sqrt(2 * math.log(max(n, 2)) / steps) / scale
    log_p = torch.full((n,), -math.log(n), dtype=torch.float64)
    V_sum = torch.zeros_like(W64)
    p_sum = torch.zeros(n, dtype=torch.float64)
    upper = math.inf
    for _ in range(steps):
        p = torch.softmax(log_p, dim=0)
        V, value = _best_response(X64, y64, active, p)
        upper = min(upper, value)
        V_sum += V
        p_sum += p
        log_p = log_p - rate * _scores(X64, y64, active, V)
    for p in (torch.softmax(log_p, dim=0), p_sum / steps):
        V, value = _best_response(X64, y64, active, p)
        upper = min(upper, value)
    lower = max(
        float(_scores(X64, y64, active, V_sum / steps).min()),
        float(_scores(X64, y64, active, V).min()),
    )
    return MarginEstimate(lower, upper, int(W0.shape[0]), n, steps)
