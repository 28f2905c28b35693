"""Full-batch gradient descent toward a KKT point of the max-margin problem (paper 003, Vardi).

The net of Vardi, Yehudai & Shamir (paper 003 eq. (11), `TwoLayerNet.vardi`) has all of W, b and a
trainable; it is positively 2-homogeneous in theta = (W, b, a) (biases included:
f(c theta) = c^2 f(theta) for c > 0). Gradient flow on the empirical loss
L(theta) = sum_i l(y_i f(x_i)) with l(z) = e^{-z} or log(1 + e^{-z}) (paper 003 eqs. (12)-(13))
converges in direction to a KKT point of min ||theta||^2 / 2 s.t. y_i f(x_i) >= 1 (eq. (14), Lyu
and Li 2019, Ji and Telgarsky 2020), and L -> 0 while the normalized margin
min_i y_i f(x_i) / ||theta||^2 increases.

The loss underflows long before it is small enough (e^{-z} is 0 in float32 once z > 104), so the
iteration works in log space: it descends phi(theta) = log L(theta) = logsumexp_i log l(z_i).
grad phi = grad L / L, so a step eta on phi is a step eta / L(theta) on L: the same flow lines,
reparametrized in time, with a step that grows as the loss shrinks (loss-normalized GD).
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass
from typing import Literal, TypeVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from robustlab import _checks, losses
from robustlab.learners.trace import ensemble_logits
from robustlab.models.two_layer import TwoLayerNet

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=nn.Module)
FLOW_LOSSES = ("exp", "exponential", "logistic")
ARMIJO = 0.5
"""Sufficient-decrease constant: with c = 1/2, a step eta is accepted iff it is at most the
inverse of the local smoothness of phi along the gradient (a beta-smooth phi accepts 1/beta)."""
MAX_BACKTRACKS = 60


@dataclass(frozen=True)
class FlowTrace:
    """Record of a gradient-flow run: R records of E members.

    step: (R,) int64. log_loss: (R, E) log sum_i l(y_i f(x_i)). normalized_margin: (R, E)
    min_i y_i f(x_i) / ||theta||^h with h = `homogeneity` (2 for the Vardi net: W, b and a
    trained). smoothed_margin: (R, E) log(1/L) / ||theta||^h, the smoothed normalized margin of
    Lyu & Li (2019), non-decreasing along gradient flow once L < 1. parameter_norm: (R, E)
    ||theta||_2 of the trained parameters. accuracy: (R, E). step_size: (R, E) the step eta on
    log L in effect. converged: (E,) loss below the threshold. steps: (E,) steps per member.
    """

    step: Tensor
    log_loss: Tensor
    normalized_margin: Tensor
    smoothed_margin: Tensor
    parameter_norm: Tensor
    accuracy: Tensor
    step_size: Tensor
    converged: Tensor
    steps: Tensor
    homogeneity: int
    log_threshold: float


def gradient_flow(
    model: ModelT,
    X: Tensor,
    y: Tensor,
    *,
    loss: Literal["exp", "exponential", "logistic"] = "exp",
    step_size: float | None = None,
    loss_threshold: float = 1e-30,
    max_steps: int = 20_000,
    max_relative_step: float = 0.01,
    record_every: int = 100,
    homogeneity: int | None = None,
    dtype: torch.dtype | None = None,
    inplace: bool = False,
) -> tuple[ModelT, FlowTrace]:
    """Full-batch GD of all trainable parameters on the exponential or logistic loss.

    X: (n, d), or (E, n, d) to give each ensemble member its own data set; y: (n,) floats in
    {-1, +1}; the model outputs one logit per member ((E, n) for a
    `TwoLayerNet`, gradients in closed form; any other module through autograd). Each member
    descends phi = log L (see the module docstring) until L <= `loss_threshold` (checked as
    log L <= log threshold, so 1e-30 is reachable in float32 too) or `max_steps`.

    Step rule. With `step_size` given: theta <- theta - step_size grad phi (GD on L with step
    step_size / L). Automatic (None): per member, try eta = min(2 eta_prev,
    max_relative_step * ||theta|| / ||grad phi||) and halve it until the Armijo condition
    phi(theta - eta g) <= phi(theta) - eta ||g||^2 / 2 holds, i.e. eta is at most the inverse of the
    local smoothness of phi along g, so phi decreases monotonically; the cap keeps each step
    within a fraction of ||theta|| so the discrete path follows the flow's direction (with the
    default 1% the smoothed margin increases monotonically once L < 1, as along the flow). The
    step thus grows as the loss shrinks, as in normalized GD. `dtype` (e.g. torch.float64)
    converts a copy of the model and the data. `homogeneity` h is inferred for a `TwoLayerNet`
    (2 with a trainable top layer, else 1) and needed for other modules.
    Raises ValueError for bad shapes, labels, loss or settings.
    """
    _checks.module("model", model)
    _checks.labels("y", y)
    _checks.tensor("X", X, floating=True)
    if dtype is None:
        _checks.matches_model("X", X, model)
    _checks.positives(step_size=step_size, loss_threshold=loss_threshold)
    _checks.positives(max_relative_step=max_relative_step)
    _checks.integer("max_steps", max_steps, low=0)
    _checks.counts(record_every=record_every)
    _checks.optional_integer("homogeneity", homogeneity, low=1)
    if loss not in FLOW_LOSSES:
        raise ValueError(f"unknown loss {loss!r}; allowed: {', '.join(FLOW_LOSSES)}")
    if X.ndim not in (2, 3) or y.shape != (X.shape[-2],) or X.shape[-2] == 0:
        raise ValueError(
            f"need X (n, d) or (E, n, d) and y (n,), got {tuple(X.shape)} and {tuple(y.shape)}"
        )
    if not y.is_floating_point() or not bool(((y == 1) | (y == -1)).all()):
        raise ValueError("gradient_flow is binary: y must be floats in {-1, +1}")
    if not loss_threshold > 0:
        raise ValueError(f"loss_threshold must be > 0, got {loss_threshold}")
    if step_size is not None and not step_size > 0:
        raise ValueError(f"step_size must be > 0 or None, got {step_size}")
    if max_steps < 0 or record_every < 1 or not max_relative_step > 0:
        raise ValueError(
            f"need max_steps >= 0, record_every >= 1, max_relative_step > 0; got {max_steps}, "
            f"{record_every}, {max_relative_step}"
        )
    net = model if inplace else copy.deepcopy(model)
    if dtype is not None:
        net = net.to(dtype)
        X = X.to(dtype)
    params = [p for p in net.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no parameter that requires grad: nothing to train")
    h = _homogeneity(net, homogeneity)
    closed = isinstance(net, TwoLayerNet) and net.outputs == 1
    yd = y.to(X.dtype)
    with torch.no_grad():
        E = ensemble_logits(net(X[..., :1, :]), 1, binary=True).shape[0]
    log_threshold = math.log(loss_threshold)

    records: dict[str, list[Tensor]] = {
        key: [] for key in ("step", "log_loss", "margin", "smoothed", "norm", "accuracy", "eta")
    }
    device = X.device
    active = torch.ones(E, dtype=torch.bool, device=device)
    steps = torch.zeros(E, dtype=torch.int64, device=device)
    eta = torch.full(
        (E,), step_size if step_size is not None else 1.0, dtype=torch.float64, device=device
    )

    def record(step: int, phi: Tensor, z: Tensor) -> None:
        norm = _norms(params, E)
        records["step"].append(torch.tensor(step))
        records["log_loss"].append(phi.detach().to(torch.float64))
        records["margin"].append(z.amin(dim=1).to(torch.float64) / norm**h)
        records["smoothed"].append(-phi.detach().to(torch.float64) / norm**h)
        records["norm"].append(norm)
        records["accuracy"].append((z > 0).to(torch.float64).mean(dim=1))
        records["eta"].append(eta.clone())

    step = 0
    phi, z, grads = _value_and_grad(net, params, X, yd, loss, closed)
    record(step, phi, z)
    active &= phi > log_threshold
    while step < max_steps and bool(active.any()):
        old = [p.detach().clone() for p in params]
        gnorm2 = torch.stack([_flat(g, E).pow(2).sum(dim=1) for g in grads]).sum(dim=0)
        gnorm2 = gnorm2.to(torch.float64)
        if step_size is None:
            cap = max_relative_step * _norms(old, E) / gnorm2.sqrt().clamp_min(1e-300)
            eta = torch.minimum(2 * eta, cap)
            eta = _armijo(net, params, old, grads, X, yd, loss, phi, gnorm2, eta, active, E)
        else:
            _set(params, old, grads, eta, E)
        with torch.no_grad():
            for p, o in zip(params, old, strict=True):
                p.copy_(torch.where(_mask(active, p, E), p, o))
        steps += active.to(torch.int64)
        step += 1
        phi, z, grads = _value_and_grad(net, params, X, yd, loss, closed)
        active &= phi > log_threshold
        if not bool(torch.isfinite(phi).all()):
            raise FloatingPointError(f"log-loss became {phi.tolist()} at step {step}")
        if step % record_every == 0 or not bool(active.any()) or step == max_steps:
            record(step, phi, z)
    logger.debug("gradient_flow: %d steps, final log-loss %s", step, phi.tolist())
    trace = FlowTrace(
        step=torch.stack(records["step"]),
        log_loss=torch.stack(records["log_loss"]),
        normalized_margin=torch.stack(records["margin"]),
        smoothed_margin=torch.stack(records["smoothed"]),
        parameter_norm=torch.stack(records["norm"]),
        accuracy=torch.stack(records["accuracy"]),
        step_size=torch.stack(records["eta"]),
        converged=phi.detach() <= log_threshold,
        steps=steps,
        homogeneity=h,
        log_threshold=log_threshold,
    )
    return net, trace


def _homogeneity(model: nn.Module, given: int | None) -> int:
    if given is not None:
        if given < 1:
            raise ValueError(f"homogeneity must be >= 1, got {given}")
        return given
    if isinstance(model, TwoLayerNet):
        if not model.activation.piecewise_linear:
            logger.warning("%s is not positively homogeneous", model.activation.name)
        return 2 if model.a.requires_grad else 1
    raise ValueError(
        f"pass homogeneity (the degree L of f(c theta) = c^L f(theta)) for {type(model)}"
    )


def log_logistic(z: Tensor) -> Tensor:
    """log(log(1 + e^{-z})) without underflow: -z - e^{-z}/2 + O(e^{-2z}) for z > 15."""
    large = z > 15
    small = torch.log(losses.logistic(torch.clamp(z, max=15.0)))
    return torch.where(large, -z - torch.exp(-z) / 2, small)


def log_total_loss(z: Tensor, loss: str) -> Tensor:
    """log sum_i l(z_i) over the last axis, for margins z (E, n): (E,)."""
    if loss == "logistic":
        return torch.logsumexp(log_logistic(z), dim=-1)
    return torch.logsumexp(-z, dim=-1)


def _margins(model: nn.Module, X: Tensor, y: Tensor) -> Tensor:
    return y * ensemble_logits(model(X), X.shape[-2], binary=True)


def _value_and_grad(
    model: nn.Module, params: list[nn.Parameter], X: Tensor, y: Tensor, loss: str, closed: bool
) -> tuple[Tensor, Tensor, list[Tensor]]:
    """phi = log L (E,), margins z (E, n) and grad phi for each trainable parameter."""
    if not closed:
        with torch.enable_grad():
            z = _margins(model, X, y)
            phi = log_total_loss(z, loss)
            grads = torch.autograd.grad(phi.sum(), params, allow_unused=True)
        pairs = zip(grads, params, strict=True)
        return phi.detach(), z.detach(), [torch.zeros_like(p) if g is None else g for g, p in pairs]
    assert isinstance(model, TwoLayerNet)
    with torch.no_grad():
        pre = model.preactivation(X)  # (E, n, m)
        hidden = model.activation(pre)
        f = torch.matmul(hidden, model.a.unsqueeze(-1)).squeeze(-1) * model.scale
        z = y * f
        phi = log_total_loss(z, loss)
        if loss == "logistic":
            # d phi / d z_i = l'(z_i) / L = -sigmoid(-z_i) / L, in log space.
            dz = -torch.exp(F.logsigmoid(-z) - phi.unsqueeze(1))
        else:
            dz = -torch.softmax(-z, dim=1)
        c = dz * y  # d phi / d f_i: (E, n)
        scale = model.scale
        coef = model.activation.derivative(pre) * model.a.unsqueeze(1) * c.unsqueeze(-1) * scale
        by_param = {
            id(model.W): torch.matmul(coef.transpose(1, 2), X),
            id(model.a): torch.matmul(c.unsqueeze(1), hidden).squeeze(1) * scale,
        }
        if model.b is not None:
            by_param[id(model.b)] = coef.sum(dim=1)
        return phi, z, [by_param[id(p)] for p in params]


def _flat(t: Tensor, ensemble: int) -> Tensor:
    return t.reshape(ensemble, -1) if ensemble > 1 else t.reshape(1, -1)


def _norms(tensors: list[Tensor] | list[nn.Parameter], ensemble: int) -> Tensor:
    """||theta||_2 per member over a list of parameter tensors: (E,) float64."""
    squares = torch.stack([_flat(t.detach(), ensemble).pow(2).sum(dim=1) for t in tensors])
    norms: Tensor = squares.sum(dim=0).to(torch.float64).sqrt()
    return norms


def _mask(mask: Tensor, p: Tensor, ensemble: int) -> Tensor:
    if ensemble == 1:
        return mask.reshape(())
    return mask.reshape(ensemble, *([1] * (p.ndim - 1)))


@torch.no_grad()
def _set(
    params: list[nn.Parameter], old: list[Tensor], grads: list[Tensor], eta: Tensor, E: int
) -> None:
    """theta <- old - eta grad, eta per member."""
    for p, o, g in zip(params, old, grads, strict=True):
        p.copy_(o - _mask(eta, p, E).to(p.dtype) * g)


@torch.no_grad()
def _armijo(
    model: nn.Module,
    params: list[nn.Parameter],
    old: list[Tensor],
    grads: list[Tensor],
    X: Tensor,
    y: Tensor,
    loss: str,
    phi: Tensor,
    gnorm2: Tensor,
    eta: Tensor,
    active: Tensor,
    E: int,
) -> Tensor:
    """Halve each member's eta until phi decreases by eta ||g||^2 / 2; leaves params stepped."""
    phi64 = phi.to(torch.float64)
    for _ in range(MAX_BACKTRACKS):
        _set(params, old, grads, eta, E)
        phi_new = log_total_loss(_margins(model, X, y), loss).to(torch.float64)
        accepted = (phi_new <= phi64 - ARMIJO * eta * gnorm2) | ~active | (gnorm2 == 0)
        if bool(accepted.all()):
            return eta
        eta = torch.where(accepted, eta, eta / 2)
    # No sufficient decrease at any tried step (a kink or roundoff): keep only improving steps.
    _set(params, old, grads, eta, E)
    phi_new = log_total_loss(_margins(model, X, y), loss).to(torch.float64)
    worse = ~(phi_new <= phi64)
    for p, o in zip(params, old, strict=True):
        p.copy_(torch.where(_mask(worse, p, E), o, p))
    return eta
