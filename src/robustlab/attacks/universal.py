"""The universal perturbation of Vardi, Yehudai & Shamir (2022): delta = eta * sum_i y_i x_i.

Paper 003 (Vardi et al., universal-perturbation theorem): for a KKT point of the max-margin
problem there is an eta > 0 with sign f(x_i - y_i delta) = -y_i for every training point; the
experiments report the smallest such eta ("the maximum eta_min over all n samples").

For (leaky-)ReLU `TwoLayerNet`s the search is exact: each point's ray x_i - y_i eta v is
piecewise linear, so every sign change of y_i f along it is found in closed form; sweeping all
these events in order of eta gives the smallest eta at which the requested fraction of points is
flipped *simultaneously* (not just the largest per-point threshold, which can differ when a
point flips back). Other models use a scan of eta and bisection to a stated tolerance.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from robustlab import _checks
from robustlab.attacks._common import check_labels
from robustlab.attacks._model import Model, Objective, as_objective, model_inputs
from robustlab.attacks._ray import bisect, first_sign_change, ray_profile, scan_first
from robustlab.attacks.result import UniversalResult
from robustlab.models.two_layer import TwoLayerNet

_SCAN_BYTES = 1 << 26


def _lift(t: Tensor, sample_dims: int) -> Tensor:
    return t.reshape(*t.shape, *([1] * sample_dims))


def _exact(
    net: TwoLayerNet, xe: Tensor, y: Tensor, direction: Tensor, needed: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Exact smallest eta (E,), per-point thresholds (E, n) and term sizes (E, n)."""
    alpha = net.activation.negative_slope
    weight = (net.a.detach() * net.scale).unsqueeze(1)
    with torch.no_grad():
        p = net.preactivation(xe)
        size = (weight * net.activation(p)).abs().sum(dim=-1).to(torch.float64)
        along = torch.matmul(direction.unsqueeze(1), net.W.detach().transpose(1, 2))  # (E, 1, m)
        q = -y.view(1, -1, 1) * along
        profile = ray_profile(p, q, weight, alpha)
    y64 = y.to(torch.float64)
    phi = profile.value * y64.view(1, -1, 1)
    kappa = profile.slope * y64.view(1, -1, 1)
    tau = profile.tau
    negative = profile.negative(y64.expand_as(phi[..., 0]))
    thresholds = torch.where(
        negative[..., 0], 0.0, first_sign_change(profile, y64.expand_as(phi[..., 0]))
    )
    # Sign changes of y f inside the segments between consecutive breakpoints.
    change = torch.isfinite(tau[..., 1:]) & (negative[..., :-1] != negative[..., 1:])
    t0, t1 = tau[..., :-1], torch.nan_to_num(tau[..., 1:], posinf=0.0)
    p0, p1 = phi[..., :-1], phi[..., 1:]
    share = (p0 / torch.where(change, p0 - p1, 1.0)).clamp(0.0, 1.0)
    inner = torch.where(change, t0 + (t1 - t0) * share, torch.inf)
    inner_sign = torch.where(change, torch.where(negative[..., 1:], 1, -1), 0)
    # ... and on the unbounded segment after the last breakpoint.
    last = profile.count.unsqueeze(-1)
    tl, pl, kl = (t.gather(-1, last).squeeze(-1) for t in (tau, phi, kappa))
    was_negative = negative.gather(-1, last).squeeze(-1)
    up = ~was_negative & (kl < -profile.slope_noise)
    down = was_negative & (kl > profile.slope_noise)
    rise = torch.where(down, (-pl).clamp_min(0.0) / torch.where(down, kl, 1.0), torch.inf)
    tail = torch.where(up, tl + pl.clamp_min(0.0) / torch.where(up, -kl, 1.0), tl + rise)
    tail_sign = torch.where(up, 1, torch.where(down, -1, 0))
    E = tau.shape[0]
    times = torch.cat([inner.reshape(E, -1), tail.reshape(E, -1)], dim=1)
    signs = torch.cat([inner_sign.reshape(E, -1), tail_sign.reshape(E, -1)], dim=1)
    # Order by time, a point leaving the flipped set before one entering it at equal times.
    order = torch.argsort(signs, dim=1, stable=True)
    times, signs = times.gather(1, order), signs.gather(1, order)
    order = torch.argsort(times, dim=1, stable=True)
    times, signs = times.gather(1, order), signs.gather(1, order)
    start = negative[..., 0].sum(dim=-1)
    counts = start.unsqueeze(-1) + signs.cumsum(dim=1)
    reach = (counts >= needed) & torch.isfinite(times) & (signs > 0)
    first = reach.to(torch.int8).argmax(dim=1, keepdim=True)
    eta = torch.where(reach.any(dim=1), times.gather(1, first).squeeze(1), torch.inf)
    eta = torch.where(start >= needed, 0.0, eta)
    return eta, thresholds, size


def _scanned(
    objective: Objective,
    xe: Tensor,
    y: Tensor,
    direction: Tensor,
    needed: int,
    bound: Tensor,
    *,
    scan_points: int,
    rtol: float,
) -> tuple[Tensor, Tensor]:
    """Smallest eta (E,) and thresholds (E, n) by a scan on (0, bound] and bisection."""
    E, n = xe.shape[:2]
    shape = tuple(xe.shape[2:])
    sample_dims = len(shape)
    ray = -_lift(y, sample_dims) * direction.unsqueeze(1)  # (E, n, *shape)
    block = max(1, min(scan_points, _SCAN_BYTES // max(1, math.prod(shape) * 8 * E * n)))

    def flipped(tau: Tensor) -> Tensor:
        """tau (E, n, S) -> (E, n, S): y_i f(x_i - y_i tau v) < 0."""
        S = tau.shape[-1]
        steps = tau.to(xe.dtype).reshape(E, n, S, *([1] * sample_dims))
        points = xe.unsqueeze(2) + steps * ray.unsqueeze(2)
        out = objective.outputs(points.reshape(E, n * S, *shape)).reshape(E, n, S)
        result: Tensor = out * y.view(1, n, 1) < 0
        return result

    def enough(tau: Tensor) -> Tensor:
        """tau (E, S) -> (E, S): at least `needed` points flipped at once."""
        S = tau.shape[-1]
        hits = flipped(tau.unsqueeze(1).expand(E, n, S))
        result: Tensor = hits.sum(dim=1) >= needed
        return result

    bound = bound.to(torch.float64)
    clean = flipped(torch.zeros(E, n, 1, dtype=torch.float64, device=xe.device)).squeeze(-1)
    found, lo, hi = scan_first(enough, bound, scan_points=scan_points, block=max(1, block // n))
    eta = torch.where(found, bisect(enough, lo, hi, found, rtol), torch.inf)
    eta = torch.where(clean.sum(dim=1) >= needed, 0.0, eta)
    per_point = bound.unsqueeze(1).expand(E, n)
    found, lo, hi = scan_first(flipped, per_point, scan_points=scan_points, block=block)
    thresholds = torch.where(found, bisect(flipped, lo, hi, found, rtol), torch.inf)
    return eta, torch.where(clean, 0.0, thresholds)


def universal_perturbation(
    model: Model,
    X: Tensor,
    y: Tensor,
    *,
    fraction: float = 1.0,
    max_eta: float | None = None,
    rtol: float = 1e-7,
    scan_points: int = 256,
) -> UniversalResult:
    """Smallest eta > 0 such that delta = eta * sum_i y_i x_i flips a fraction of the points.

    Paper 003 (Vardi et al. 2022): flipped means sign f(x_i - y_i delta) = -y_i. X: (n, *shape),
    or (E, n, d) for an ensemble; y: (n,) in {-1, +1}; one-logit models only. `fraction` in
    (0, 1]: at least ceil(fraction * n) points flipped at the same eta (1: all of them).
    Exact for ReLU / leaky-ReLU / identity `TwoLayerNet`s (memory O(E n m)); otherwise a scan of
    `scan_points` values of eta on (0, bound] and bisection to relative width `rtol`, where the
    bound is `max_eta` or, when None, 100 times the largest linearized per-point threshold.
    eta = inf (per member) where no such step exists within the bound.
    Raises ValueError for bad labels, shapes, fraction or a model with more than one output.
    """
    _checks.attack_inputs(model, X, y, x_name="X")
    _checks.counts(scan_points=scan_points)
    _checks.real("fraction", fraction)
    _checks.optional_real("max_eta", max_eta, low=0.0)
    _checks.real("rtol", rtol, low=0.0, high=1.0, low_open=True, high_open=True)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
    if max_eta is not None and not max_eta >= 0:
        raise ValueError(f"max_eta must be >= 0, got {max_eta}")
    objective = as_objective(model)
    xe = model_inputs(objective, X)
    E, n = xe.shape[:2]
    if n == 0:
        raise ValueError("universal_perturbation needs at least one point")
    sample_dims = xe.ndim - 2
    clean = objective.outputs(xe)
    if clean.ndim != 2:
        raise ValueError(
            f"universal_perturbation needs a one-logit model; got {clean.shape[-1]} outputs"
        )
    labels = check_labels(y, clean, n)
    needed = max(1, math.ceil(fraction * n - 1e-9))
    direction = (_lift(labels, sample_dims) * xe).sum(dim=1)  # (E, *shape)
    if isinstance(model, TwoLayerNet) and model.activation.piecewise_linear:
        eta, thresholds, size = _exact(model, xe, labels, direction, needed)
        if max_eta is not None:
            eta = torch.where(eta <= max_eta, eta, torch.inf)
            thresholds = torch.where(thresholds <= max_eta, thresholds, torch.inf)
        eta = _nudge(objective, xe, labels, direction, eta, needed, size, clean)
    else:
        if max_eta is None:
            _, grad = objective.outputs_and_grad(xe, torch.ones_like)
            rate = (grad * direction.unsqueeze(1)).flatten(2).sum(dim=-1)  # -d(y f)/d eta
            margin = labels * clean
            linear = torch.where((rate > 0) & (margin > 0), margin / rate, 0.0)
            bound = 100.0 * linear.amax(dim=1)
        else:
            bound = torch.full((E,), float(max_eta), dtype=xe.dtype, device=xe.device)
        eta, thresholds = _scanned(
            objective, xe, labels, direction, needed, bound, scan_points=scan_points, rtol=rtol
        )
    finite = torch.isfinite(eta)
    step = torch.where(finite, eta, 0.0).to(xe.dtype)
    delta = direction * _lift(step, sample_dims)
    out = objective.outputs(xe - _lift(labels, sample_dims) * delta.unsqueeze(1))
    flipped = labels * out < 0
    fraction_flipped = flipped.to(torch.float64).mean(dim=1)
    delta_norm = torch.where(finite, delta.flatten(1).norm(dim=1).to(torch.float64), torch.inf)

    def strip(t: Tensor) -> Tensor:
        return t if objective.has_ensemble_axis else t[0]

    return UniversalResult(
        eta=strip(eta.to(xe.dtype)),
        direction=strip(direction),
        delta=strip(delta),
        delta_norm=strip(delta_norm.to(xe.dtype)),
        thresholds=strip(thresholds.to(xe.dtype)),
        flipped=strip(flipped),
        fraction=strip(fraction_flipped),
    )


def _nudge(
    objective: Objective,
    xe: Tensor,
    y: Tensor,
    direction: Tensor,
    eta: Tensor,
    needed: int,
    size: Tensor,
    clean: Tensor,
) -> Tensor:
    """Push exact event times just past the event until the model, in its own precision,
    flips `needed` points by more than their rounding noise (see gradient_step._nudge)."""
    sample_dims = xe.ndim - 2
    eps = torch.finfo(xe.dtype).eps
    noise = 64 * eps * (size + clean.abs().to(torch.float64))
    factor = 16.0
    while True:
        pending = torch.isfinite(eta) & (eta > 0)
        step = torch.where(pending, eta, 0.0).to(xe.dtype)
        shift = _lift(y, sample_dims) * (direction * _lift(step, sample_dims)).unsqueeze(1)
        out = objective.outputs(xe - shift)
        robust = ((y * out).to(torch.float64) < -noise).sum(dim=1) >= needed
        short = pending & ~robust
        if not bool(short.any()) or factor * eps > 1e-3:
            return eta
        eta = torch.where(short, eta * (1.0 + factor * eps), eta)
        factor *= 4.0
