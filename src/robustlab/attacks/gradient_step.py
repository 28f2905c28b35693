"""Single gradient-step attacks: delta = eta * grad_x f(x) (K-logit: along the top-2 margin).

Paper 003 (Bubeck et al. 2021, eq. (5)): for a random two-layer net one step with
sign(eta) = -sign(f(x)) flips the sign of f. Paper 002 (section 5.1, Figs. 2, 3, 7): for each
test point, the smallest such step, its size |eta| ||grad f(x)|| and the gradient norm.

`minimal_gradient_step` is exact for (leaky-)ReLU `TwoLayerNet`s: along the ray the net is
piecewise linear, so the breakpoints of all neurons are sorted and the first zero crossing is
solved in closed form, batched over samples and ensemble members. Other models (smooth
activations, any callable) use a scan of the ray followed by bisection to a stated tolerance.
K-logit models: the smallest step that changes the argmax (`multiclass_step`), exact for
piecewise-linear K-output `TwoLayerNet`s, bracketing otherwise.
"""

from __future__ import annotations

import logging
import math

import torch
from torch import Tensor

from robustlab import _checks
from robustlab.attacks import multiclass_step as multiclass
from robustlab.attacks._model import Model, Objective, as_objective, model_inputs
from robustlab.attacks._ray import bisect, first_sign_change, ray_profile, scan_first
from robustlab.attacks.result import GradientStepResult
from robustlab.models.two_layer import TwoLayerNet

logger = logging.getLogger(__name__)

_CHUNK_ELEMENTS = 1 << 22  # (E, chunk, m) float64 entries per block of the exact search
_SCAN_BYTES = 1 << 26  # inputs materialized at once by the scan of the smooth search


def _grad_f(objective: Objective, xe: Tensor) -> tuple[Tensor, Tensor]:
    """f(x) (E, n) and grad_x f(x) (E, n, *shape); raise unless the model has one logit."""
    f, grad = objective.outputs_and_grad(xe, torch.ones_like)
    if f.ndim != 2:
        raise ValueError(
            f"gradient-step attacks need a one-logit model (outputs (n,) or (n, 1)); "
            f"got {f.shape[-1]} outputs per sample"
        )
    return f, grad


def _per_sample(value: float | Tensor, E: int, n: int, like: Tensor, name: str) -> Tensor:
    """A scalar, (n,) or (E, n) value as an (E, n) tensor."""
    t = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    if t.ndim == 0 or t.shape == (n,) or t.shape == (E, n):
        return t.expand(E, n)
    raise ValueError(f"{name} must be a scalar, (n,) or (E, n) = {(E, n)}; got {tuple(t.shape)}")


def _lift(t: Tensor, sample_dims: int) -> Tensor:
    return t.reshape(*t.shape, *([1] * sample_dims))


def _finish(
    objective: Objective,
    xe: Tensor,
    f: Tensor,
    grad: Tensor,
    eta: Tensor,
    f_adv: Tensor | None = None,
    along: Tensor | None = None,
) -> GradientStepResult:
    """Assemble the result; `along` is the step direction when it is not `grad` itself."""
    along = grad if along is None else along
    sample_dims = grad.ndim - 2
    finite = torch.isfinite(eta)
    step = torch.where(finite, eta, 0.0)
    delta = along * _lift(step, sample_dims)
    if f_adv is None:
        f_adv = objective.outputs(xe + delta)
    grad_norm = grad.flatten(2).norm(dim=-1)
    along_norm = along.flatten(2).norm(dim=-1)
    delta_norm = torch.where(finite, step.abs() * along_norm, torch.inf)
    flipped = finite & (f * f_adv < 0)

    def out(t: Tensor) -> Tensor:
        return t if objective.has_ensemble_axis else t[0]

    return GradientStepResult(
        eta=out(eta),
        delta=out(delta),
        delta_norm=out(delta_norm),
        grad_norm=out(grad_norm),
        f_clean=out(f),
        f_adv=out(f_adv),
        flipped=out(flipped),
    )


def gradient_step(
    model: Model, x: Tensor, eta: float | Tensor, *, train_mode: bool = False
) -> GradientStepResult:
    """One step delta = eta * grad_x f(x) per sample (paper 003 eq. (5); paper 002 Thm 3.1).

    x: (n, *shape), or (E, n, d) for an ensemble; eta: a scalar, (n,) or (E, n), used as given
    (the papers take sign(eta) = -sign(f(x))). Returns a `GradientStepResult`; `flipped` marks
    strictly opposite signs of f(x) and f(x + delta). A module runs in eval mode (restored
    afterwards) unless `train_mode`.
    Raises ValueError for a model with more than one output or a badly shaped eta.
    """
    _checks.attack_inputs(model, x)
    _checks.finite("eta", eta)
    objective = as_objective(model, train_mode=train_mode)
    xe = model_inputs(objective, x)
    f, grad = _grad_f(objective, xe)
    E, n = f.shape
    return _finish(objective, xe, f, grad, _per_sample(eta, E, n, f, "eta"))


def _exact_taus(
    net: TwoLayerNet, xe: Tensor, along: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """f(x), grad f(x) and the exact first crossing tau along x - sign(f) tau v, v = grad f(x)
    or `along` (E, n, d).

    For a (leaky-)ReLU net, in blocks of samples. Also returns sum_s |scale a_s sigma(p_s)|, the
    size of the terms summed into f(x), which sets the rounding noise of f.
    """
    E, n = xe.shape[:2]
    m = net.width
    alpha = net.activation.negative_slope
    weight = (net.a.detach() * net.scale).unsqueeze(1)
    W = net.W.detach()
    Wt = W.transpose(1, 2)
    chunk = max(1, _CHUNK_ELEMENTS // max(1, E * m))
    fs, grads, taus, sizes = [], [], [], []
    with torch.no_grad():
        for start in range(0, n, chunk):
            p = net.preactivation(xe[:, start : start + chunk])
            terms = weight * net.activation(p)
            f = terms.sum(dim=-1)
            grad = torch.matmul(weight * net.activation.derivative(p), W)
            sign = f.sign()
            v = grad if along is None else along[:, start : start + chunk]
            q = torch.matmul(-sign.unsqueeze(-1) * v, Wt)
            profile = ray_profile(p, q, weight, alpha)
            fs.append(f)
            grads.append(grad)
            taus.append(first_sign_change(profile, sign.to(torch.float64)))
            sizes.append(terms.abs().sum(dim=-1).to(torch.float64))
    if not fs:
        empty = torch.zeros(E, 0, dtype=torch.float64, device=xe.device)
        return (
            torch.zeros(E, 0, dtype=xe.dtype, device=xe.device),
            torch.zeros_like(xe),
            empty,
            empty,
        )
    return torch.cat(fs, 1), torch.cat(grads, 1), torch.cat(taus, 1), torch.cat(sizes, 1)


def _scan_taus(
    objective: Objective,
    xe: Tensor,
    f: Tensor,
    along: Tensor,
    bound: Tensor,
    *,
    scan_points: int,
    rtol: float,
) -> Tensor:
    """First sign flip along x - sign(f) tau v (v = `along`) on (0, bound]: scan, bisection.

    The ray is evaluated at `scan_points` equally spaced steps; in the first interval whose end
    flips the sign, bisection runs until (hi - lo) <= rtol * hi and returns hi (a flipping step).
    Two crossings closer than bound / scan_points can be missed.
    """
    E, n = f.shape
    shape = tuple(xe.shape[2:])
    sample_dims = len(shape)
    sign = f.sign()
    ray = -_lift(sign, sample_dims) * along
    per_point = max(1, math.prod(shape) * xe.element_size() * E * n)
    block = max(1, min(scan_points, _SCAN_BYTES // per_point))

    def flipped_at(tau: Tensor) -> Tensor:
        """tau (E, n, S) -> (E, n, S) bool: sign f(x + tau ray) = -sign f(x)."""
        S = tau.shape[-1]
        points = xe.unsqueeze(2) + tau.to(xe.dtype).reshape(E, n, S, *([1] * sample_dims)) * (
            ray.unsqueeze(2)
        )
        out = objective.outputs(points.reshape(E, n * S, *shape)).reshape(E, n, S)
        result: Tensor = out * sign.unsqueeze(-1) < 0
        return result

    bound64 = torch.where(sign != 0, bound.to(torch.float64), 0.0)
    found, lo, hi = scan_first(flipped_at, bound64, scan_points=scan_points, block=block)
    hi = bisect(flipped_at, lo, hi, found, rtol)
    return torch.where(found, hi, torch.inf)


def minimal_gradient_step(
    model: Model,
    x: Tensor,
    *,
    max_eta: float | Tensor | None = None,
    rtol: float = 1e-7,
    scan_points: int = 256,
    direction: Tensor | None = None,
    train_mode: bool = False,
) -> GradientStepResult:
    """Smallest step along the gradient (or `direction`) that changes the prediction.

    One logit: smallest |eta| with sign(eta) = -sign f(x) such that f(x + eta v) flips sign,
    v = grad f(x) (paper 002 section 5.1, Figs. 2, 3, 7; paper 003, Bubeck et al., eq. (5)).
    K logits: smallest tau > 0 such that argmax f(x - tau v) is no longer the predicted class
    c, v = grad (f_c - f_j) the gradient of the top-2 margin (j the runner-up); eta = -tau,
    `f_clean` is the top-2 margin f_c - f_j at x and `f_adv` is f_c - max_{k != c} f_k at
    x + delta (negative where the argmax changed). Per sample and ensemble member. x: (n,
    *shape), or (E, n, d) for an ensemble; `direction` (same shape as the layout of x, or
    (n, *shape)) replaces v. Exact for ReLU / leaky-ReLU / identity `TwoLayerNet`s (every logit
    is piecewise linear along the ray with the neurons' shared breakpoints: the first crossing
    is solved in closed form, no bound needed; the root is then pushed past it by a few machine
    epsilons, relative, until the model's own evaluation shows the change beyond rounding
    noise). Otherwise a scan of `scan_points` steps on (0, bound] and bisection to relative
    width `rtol`; the bound is `max_eta` or, when None, 100 times the linearized step
    |g(x)| / |<grad g(x), v>| (g = f or the top-2 margin). Where no change exists within the
    bound (or f(x) = 0, a tie, or v = 0): eta = inf (with the sign of the attempted direction),
    flipped = False. `max_eta`: scalar, (n,) or (E, n). A module runs in eval mode (restored
    afterwards) unless `train_mode`.
    Raises ValueError for bad arguments.
    """
    _checks.attack_inputs(model, x)
    _checks.real("rtol", rtol)
    _checks.counts(scan_points=scan_points)
    if max_eta is not None:
        _checks.radius("max_eta", max_eta)
    if not 0 < rtol < 1:
        raise ValueError(f"rtol must lie in (0, 1), got {rtol}")
    if scan_points < 1:
        raise ValueError(f"scan_points must be >= 1, got {scan_points}")
    objective = as_objective(model, train_mode=train_mode)
    xe = model_inputs(objective, x)
    along = None if direction is None else _direction_layout(direction, xe)
    if _is_multiclass(model, objective, xe):
        return _minimal_multiclass(
            model, objective, xe, along, max_eta, rtol=rtol, scan_points=scan_points
        )
    exact = (
        isinstance(model, TwoLayerNet) and model.outputs == 1 and model.activation.piecewise_linear
    )
    if exact:
        assert isinstance(model, TwoLayerNet)
        f, grad, tau, size = _exact_taus(model, xe, along)
    else:
        f, grad = _grad_f(objective, xe)
    v = grad if along is None else along
    E, n = f.shape
    bound = None if max_eta is None else _per_sample(max_eta, E, n, f, "max_eta")
    if bound is not None and bool((bound < 0).any()):
        raise ValueError(f"max_eta must be >= 0, got min {float(bound.min())}")
    sign = f.sign()
    f_adv = None
    if exact:
        if bound is not None:
            tau = torch.where(tau <= bound.to(torch.float64), tau, torch.inf)
        tau = torch.where(sign == 0, torch.inf, tau)
        tau, f_adv = _nudge(objective, xe, f, v, tau, size)
    else:
        if bound is None:
            bound = _linearized_bound(f.abs(), _inner(grad, v))
        tau = _scan_taus(objective, xe, f, v, bound, scan_points=scan_points, rtol=rtol)
    eta = (-sign.to(torch.float64) * tau).to(f.dtype)
    eta = torch.where(sign == 0, torch.inf, eta)
    logger.debug("minimal_gradient_step: %d of %d flipped", int(torch.isfinite(eta).sum()), E * n)
    return _finish(objective, xe, f, grad, eta, f_adv, along)


def _inner(a: Tensor, b: Tensor) -> Tensor:
    """Per-sample inner product of (E, n, *shape) tensors: (E, n)."""
    return (a * b).flatten(2).sum(dim=-1)


def _linearized_bound(value: Tensor, rate: Tensor) -> Tensor:
    """100 times the linearized step value / rate where the ray descends (rate > 0), else 0."""
    return torch.where(rate > 0, 100.0 * value / rate.clamp_min(torch.finfo(rate.dtype).tiny), 0.0)


def _direction_layout(direction: Tensor, xe: Tensor) -> Tensor:
    """`direction` laid out like the inputs (E, n, *shape); raise on a shape mismatch."""
    if direction.shape == xe.shape:
        return direction.detach().to(xe.dtype)
    if direction.shape == xe.shape[1:]:
        return direction.detach().to(xe.dtype).unsqueeze(0).expand(xe.shape)
    raise ValueError(
        f"direction must be shaped like x, {tuple(xe.shape[1:])} or {tuple(xe.shape)}; "
        f"got {tuple(direction.shape)}"
    )


def _is_multiclass(model: Model, objective: Objective, xe: Tensor) -> bool:
    """Whether the model has K > 1 outputs (probed on one sample unless it is a TwoLayerNet)."""
    if isinstance(model, TwoLayerNet):
        return model.outputs > 1
    if xe.shape[1] == 0:
        return False
    return objective.outputs(xe[:, :1]).ndim == 3


def _minimal_multiclass(
    model: Model,
    objective: Objective,
    xe: Tensor,
    along: Tensor | None,
    max_eta: float | Tensor | None,
    *,
    rtol: float,
    scan_points: int,
) -> GradientStepResult:
    """`minimal_gradient_step` for K logits (see its docstring and `multiclass_step`)."""
    out, c, grad = multiclass.margin_gradient(objective, xe)
    _, _, margin = multiclass.top_two(out)
    v = grad if along is None else along
    E, n = c.shape
    ray = -v
    tie = margin <= 0
    exact = isinstance(model, TwoLayerNet) and model.activation.piecewise_linear
    if exact:
        assert isinstance(model, TwoLayerNet)
        tau = multiclass.exact_taus(model, xe, ray, c)
        if max_eta is not None:
            bound = _per_sample(max_eta, E, n, margin, "max_eta")
            if bool((bound < 0).any()):
                raise ValueError(f"max_eta must be >= 0, got min {float(bound.min())}")
            tau = torch.where(tau <= bound.to(torch.float64), tau, torch.inf)
        tau = torch.where(tie, torch.inf, tau)
        tau = multiclass.nudge(objective, xe, ray, c, tau)
    else:
        if max_eta is None:
            bound = _linearized_bound(margin, _inner(grad, v))
        else:
            bound = _per_sample(max_eta, E, n, margin, "max_eta")
            if bool((bound < 0).any()):
                raise ValueError(f"max_eta must be >= 0, got min {float(bound.min())}")
        bound = torch.where(tie, 0.0, bound)
        tau = multiclass.scan_taus(objective, xe, ray, c, bound, scan_points=scan_points, rtol=rtol)
    eta = (-tau).to(margin.dtype)
    finite = torch.isfinite(eta)
    step = torch.where(finite, eta, 0.0)
    delta = v * _lift(step, v.ndim - 2)
    f_adv = multiclass.argmax_margin(objective.outputs(xe + delta), c)
    along_norm = v.flatten(2).norm(dim=-1)

    def strip(t: Tensor) -> Tensor:
        return t if objective.has_ensemble_axis else t[0]

    logger.debug("minimal_gradient_step (K logits): %d of %d changed", int(finite.sum()), E * n)
    return GradientStepResult(
        eta=strip(eta),
        delta=strip(delta),
        delta_norm=strip(torch.where(finite, step.abs() * along_norm, torch.inf)),
        grad_norm=strip(grad.flatten(2).norm(dim=-1)),
        f_clean=strip(margin),
        f_adv=strip(f_adv),
        flipped=strip(finite & (f_adv < 0)),
    )


def _nudge(
    objective: Objective, xe: Tensor, f: Tensor, grad: Tensor, tau: Tensor, size: Tensor
) -> tuple[Tensor, Tensor]:
    """Push exact roots just past zero until the model itself, in its own precision, gives
    the opposite sign by more than its rounding noise (64 eps times the size of the terms of
    f): relative steps of 16, 64, ... machine epsilons, at most 1e-3. Returns tau and f there."""
    sample_dims = grad.ndim - 2
    sign = f.sign()
    eps = torch.finfo(f.dtype).eps
    noise = 64 * eps * (size + f.abs().to(torch.float64))
    factor = 16.0
    while True:
        finite = torch.isfinite(tau)
        step = torch.where(finite, -sign.to(torch.float64) * tau, 0.0).to(f.dtype)
        f_adv = objective.outputs(xe + grad * _lift(step, sample_dims))
        short = finite & ~((f * f_adv).to(torch.float64) < -noise * f.abs())
        if not bool(short.any()) or factor * eps > 1e-3:
            return tau, f_adv
        tau = torch.where(short, tau * (1.0 + factor * eps), tau)
        factor *= 4.0
