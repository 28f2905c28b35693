"""The smallest step along a direction that changes the argmax of a K-logit model (private).

For x with predicted class c and runner-up j, the default direction is the gradient of the
top-2 margin g(x) = f_c(x) - f_j(x), and the ray x - tau v (tau > 0) lowers g to first order.
The search returns the smallest tau at which some class k != c strictly beats c.

Exact for K-output (leaky-)ReLU `TwoLayerNet`s: along the ray every logit f_k(tau) =
sum_s scale a_ks sigma(p_s + tau q_s) is piecewise linear with the neurons' shared breakpoints
tau_s = -p_s / q_s, so each difference f_c - f_k is linear on every segment between sorted
breakpoints and its first zero is solved in closed form (`_ray.ray_profile`, float64); the
smallest root over k and segments is the first change of the argmax. Other models: a scan of
the ray and bisection (`_ray.scan_first`, `_ray.bisect`), bracketing to a relative width.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F

from robustlab.attacks._model import Objective
from robustlab.attacks._ray import bisect, ray_profile, scan_first
from robustlab.models.two_layer import TwoLayerNet

_CHUNK_ELEMENTS = 1 << 21  # (E, chunk, K, m) float64 entries per block of the exact search
_SCAN_BYTES = 1 << 26  # inputs materialized at once by the scan


def _lift(t: Tensor, sample_dims: int) -> Tensor:
    return t.reshape(*t.shape, *([1] * sample_dims))


def top_two(outputs: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Predicted class c, runner-up j (E, n) and the top-2 margin f_c - f_j (E, n)."""
    values, classes = outputs.topk(2, dim=-1)
    return classes[..., 0], classes[..., 1], values[..., 0] - values[..., 1]


def argmax_margin(outputs: Tensor, c: Tensor) -> Tensor:
    """f_c - max_{k != c} f_k: < 0 exactly where some other class strictly beats c."""
    picked = outputs.gather(-1, c.unsqueeze(-1)).squeeze(-1)
    rest = outputs.scatter(-1, c.unsqueeze(-1), float("-inf")).amax(dim=-1)
    return picked - rest


def margin_gradient(objective: Objective, xe: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Outputs (E, n, K), the predicted class c (E, n) and grad_x (f_c - f_j) (E, n, *shape)."""
    out = objective.outputs(xe)
    c, j, _ = top_two(out)
    K = out.shape[-1]

    def direction(logits: Tensor) -> Tensor:
        return (F.one_hot(c, K) - F.one_hot(j, K)).to(logits.dtype)

    _, grad = objective.outputs_and_grad(xe, direction)
    return out, c, grad


def exact_taus(net: TwoLayerNet, xe: Tensor, ray: Tensor, c: Tensor) -> Tensor:
    """First tau > 0 where argmax f(x + tau ray) != c, for a piecewise-linear K-output net.

    xe, ray: (E, n, d); c: (E, n). Returns (E, n) float64, inf where the argmax never changes.
    """
    E, n = c.shape
    m, K = net.width, net.outputs
    alpha = net.activation.negative_slope
    weight = (net.a.detach() * net.scale).unsqueeze(1)  # (E, 1, K, m)
    Wt = net.W.detach().transpose(1, 2)
    chunk = max(1, _CHUNK_ELEMENTS // max(1, E * m * K))
    taus = []
    with torch.no_grad():
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            p = net.preactivation(xe[:, start:stop]).unsqueeze(2)
            q = torch.matmul(ray[:, start:stop], Wt).unsqueeze(2)
            shape = (E, stop - start, K, m)
            profile = ray_profile(p.expand(shape), q.expand(shape), weight, alpha)
            index = c[:, start:stop].reshape(E, -1, 1, 1).expand(E, stop - start, 1, m + 1)
            gap = profile.value.gather(2, index) - profile.value  # (E, b, K, m + 1)
            slope = profile.slope.gather(2, index) - profile.slope
            noise = profile.noise.gather(2, index) + profile.noise
            slope_noise = profile.slope_noise.gather(2, index[..., 0]) + profile.slope_noise
            falling = slope < -slope_noise.unsqueeze(-1)
            start_ok = gap > -noise
            root = profile.tau + gap.clamp_min(0.0) / (-slope).clamp_min(1e-300)
            end = torch.cat([profile.tau[..., 1:], torch.full_like(root[..., :1], math.inf)], -1)
            valid = falling & start_ok & (root <= end) & torch.isfinite(profile.tau)
            roots = torch.where(valid, root, math.inf)
            own = F.one_hot(c[:, start:stop], K).bool().unsqueeze(-1)
            roots = torch.where(own, math.inf, roots)
            taus.append(roots.flatten(2).amin(dim=-1))
    if not taus:
        return torch.zeros(E, 0, dtype=torch.float64)
    return torch.cat(taus, dim=1)


def scan_taus(
    objective: Objective,
    xe: Tensor,
    ray: Tensor,
    c: Tensor,
    bound: Tensor,
    *,
    scan_points: int,
    rtol: float,
) -> Tensor:
    """First tau in (0, bound] where argmax f(x + tau ray) != c: scan, then bisection."""
    E, n = c.shape
    shape = tuple(xe.shape[2:])
    sample_dims = len(shape)
    per_point = max(1, math.prod(shape) * xe.element_size() * E * n)
    block = max(1, min(scan_points, _SCAN_BYTES // per_point))

    def changed_at(tau: Tensor) -> Tensor:
        S = tau.shape[-1]
        steps = tau.to(xe.dtype).reshape(E, n, S, *([1] * sample_dims))
        points = xe.unsqueeze(2) + steps * ray.unsqueeze(2)
        out = objective.outputs(points.reshape(E, n * S, *shape)).reshape(E, n, S, -1)
        result: Tensor = argmax_margin(out, c.unsqueeze(-1).expand(E, n, S)) < 0
        return result

    found, lo, hi = scan_first(
        changed_at, bound.to(torch.float64), scan_points=scan_points, block=block
    )
    hi = bisect(changed_at, lo, hi, found, rtol)
    return torch.where(found, hi, torch.inf)


def nudge(objective: Objective, xe: Tensor, ray: Tensor, c: Tensor, tau: Tensor) -> Tensor:
    """Push exact roots past the crossing until the model, in its own precision, predicts a
    class other than c: relative steps of 16, 64, ... machine epsilons, at most 1e-3."""
    sample_dims = ray.ndim - 2
    eps = torch.finfo(xe.dtype).eps
    factor = 16.0
    while True:
        finite = torch.isfinite(tau)
        step = torch.where(finite, tau, 0.0).to(xe.dtype)
        out = objective.outputs(xe + ray * _lift(step, sample_dims))
        short = finite & ~(argmax_margin(out, c) < 0)
        if not bool(short.any()) or factor * eps > 1e-3:
            return tau
        tau = torch.where(short, tau * (1.0 + factor * eps), tau)
        factor *= 4.0
