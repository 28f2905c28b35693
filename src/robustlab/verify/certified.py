"""Certified lower bounds on the smallest flipping perturbation of a two-layer (leaky-)ReLU net.

For a ball ||delta|| <= eps the pre-activations are known exactly to lie in
[p_k - eps ||w_k||_*, p_k + eps ||w_k||_*] (one linear layer; ||.||_* the dual norm). Each margin
g(x + delta) = sum_k c_k sigma(z_k) is bounded below by replacing every unstable ReLU with a
linear function: the adaptive lower line lambda z (lambda in {0, 1}) where c_k >= 0 and the chord
through (l, 0) and (u, u) where c_k < 0 (Zhang et al. 2018, CROWN, Theorem 3.2, specialised to
one hidden layer; DeepPoly, Singh et al. 2019, uses the same lines). The lower bound is then
A . p + B - eps ||W^T A||_*, in closed form. A radius is certified where every margin's bound is
positive; balls are nested, so bisection on eps returns a sound radius: the bound was checked
at the returned value.
"""

from __future__ import annotations

import torch
from torch import Tensor

from robustlab.models.two_layer import TwoLayerNet
from robustlab.verify._problem import MarginProblem, check_norm, dual_norm, margin_problem

_CHUNK_ELEMENTS = 1 << 22  # (E, chunk, T, m) float64 entries per block
_MAX_DOUBLINGS = 60


def margin_lower_bound(problem: MarginProblem, eps: Tensor, norm: str) -> Tensor:
    """Linear-relaxation lower bound of every margin over the ball of radius eps: (E, n, T).

    eps: (E, n) radii. Sound: g_t(x + delta) >= the bound for every ||delta|| <= eps.
    """
    rho = dual_norm(problem.W, norm).unsqueeze(1)  # (E, 1, m)
    spread = eps.unsqueeze(-1) * rho
    low, high = problem.pre - spread, problem.pre + spread
    active, inactive = low >= 0, high <= 0
    unstable = ~(active | inactive)
    width = torch.where(unstable, high - low, 1.0)
    lower_slope = torch.where(active | (unstable & (high >= -low)), 1.0, 0.0)
    upper_slope = torch.where(active, 1.0, torch.where(unstable, high / width, 0.0))
    upper_offset = torch.where(unstable, -low * high / width, 0.0)
    gamma = problem.coef * (1.0 - problem.alpha)  # (E, n, T, m)
    positive = gamma >= 0
    slope = torch.where(positive, lower_slope.unsqueeze(2), upper_slope.unsqueeze(2))
    offset = torch.where(positive, 0.0, gamma * upper_offset.unsqueeze(2)).sum(dim=-1)
    A = problem.coef * problem.alpha + gamma * slope  # (E, n, T, m)
    E, n, T, m = A.shape
    direction = torch.matmul(A.reshape(E, n * T, m), problem.W).reshape(E, n, T, -1)
    linear = (A * problem.pre.unsqueeze(2)).sum(dim=-1)
    return linear + offset - eps.unsqueeze(-1) * dual_norm(direction, norm)


def _certified(problem: MarginProblem, eps: Tensor, norm: str) -> Tensor:
    bound = margin_lower_bound(problem, eps, norm)
    return ((bound > 0) | ~problem.valid).all(dim=-1)


def _slice(problem: MarginProblem, start: int, stop: int) -> MarginProblem:
    return MarginProblem(
        problem.W,
        problem.b,
        problem.x[:, start:stop],
        problem.pre[:, start:stop],
        problem.coef[:, start:stop],
        problem.g0[:, start:stop],
        problem.valid[:, start:stop],
        problem.correct[:, start:stop],
        problem.alpha,
    )


def _radius(problem: MarginProblem, norm: str, iterations: int) -> Tensor:
    """Doubling from the linearized radius until the bound fails, then bisection: (E, n)."""
    E, n = problem.correct.shape
    T, m = problem.coef.shape[2:]
    slope = torch.where(problem.pre > 0, 1.0, problem.alpha).unsqueeze(2)
    grad = torch.matmul((problem.coef * slope).reshape(E, n * T, m), problem.W)
    linearized = problem.g0 / dual_norm(grad, norm).reshape(E, n, T)
    linearized = torch.where(problem.valid & (linearized > 0), linearized, torch.inf)
    start = linearized.amin(dim=-1)
    start = torch.where(torch.isfinite(start), start, 1.0)
    lo = torch.zeros(E, n, dtype=torch.float64)
    hi = start.clone()
    open_ = problem.correct.clone()
    for _ in range(_MAX_DOUBLINGS):
        ok = _certified(problem, hi, norm) & open_
        if not bool(ok.any()):
            break
        lo = torch.where(ok, hi, lo)
        hi = torch.where(ok, 2 * hi, hi)
        open_ = ok
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        ok = _certified(problem, mid, norm)
        lo = torch.where(ok, mid, lo)
        hi = torch.where(ok, hi, mid)
    return torch.where(problem.correct, lo, 0.0)


def certified_radius(
    model: TwoLayerNet,
    x: Tensor,
    y: Tensor | None = None,
    *,
    norm: str = "l2",
    iterations: int = 20,
) -> Tensor:
    """A sound lower bound on the smallest perturbation that changes the prediction: (E, n).

    model: a ReLU / leaky-ReLU `TwoLayerNet` (one or K logits, with or without bias); x: (n, d)
    or (E, n, d); y: labels ({-1, +1} or 0..K-1) or None (the model's own prediction);
    norm: "linf" | "l1" | "l2". Closed-form linear relaxation (CROWN, one hidden layer) and
    bisection on the radius (`iterations` halvings after a doubling search), batched over
    members and points. No perturbation of norm <= the returned radius changes the prediction;
    0 for points already misclassified (or on the decision boundary).
    Raises TypeError / ValueError for another model, a smooth activation or a bad norm.
    """
    check_norm(norm)
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0, got {iterations}")
    problem = margin_problem(model, x, y)
    E, n = problem.correct.shape
    T, m = problem.coef.shape[2], problem.coef.shape[3]
    chunk = max(1, _CHUNK_ELEMENTS // max(1, E * T * m))
    with torch.no_grad():
        pieces = [
            _radius(_slice(problem, start, min(n, start + chunk)), norm, iterations)
            for start in range(0, n, chunk)
        ]
    return torch.cat(pieces, dim=1) if pieces else torch.zeros(E, 0, dtype=torch.float64)
