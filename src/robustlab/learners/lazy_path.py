"""One SGD trajectory for every lazy radius: the last iterate inside each ball B_{2,inf}(W0, R).

Paper 002 section 5.1 stops SGD at the last iterate inside B_{2,inf}(W0, C0/sqrt m). With the
same seed and batches, the run stopped at a radius R is a prefix of the run stopped at any
R' > R: both take the same steps until the first candidate that leaves B(R). So one run to the
largest radius records every smaller radius's result (`lazy_path`), instead of one run each.
Projection onto the ball (appendix Algorithm 1) changes the iterates once a bound is reached, so
it has no such prefix property and is not offered here.

The distance checks reuse the per-neuron bounds of `two_layer_step`: the exact whole-weight pass
runs only on steps where some member's bound reaches the next radius it has not yet left.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from robustlab import _checks
from robustlab.learners.precision import Precision, resolve_precision, uses_bf16
from robustlab.learners.sgd import (
    _apply,
    _check_divergence,
    _check_training,
    _closed_form_kind,
    _epoch_order,
    _gather,
    _gradients,
    _trainable,
    _two_layer_weights,
)
from robustlab.learners.trace import check_loss, ensemble_logits
from robustlab.learners.two_layer_step import (
    TwoLayerStepper,
)
from robustlab.models.generic import as_labels, one_logit
from robustlab.models.two_layer import TwoLayerNet


@dataclass(frozen=True)
class LazyPath:
    """The stopped iterates of one SGD run, one per lazy radius (ascending).

    ``params[name]`` is (k, *shape) for each trainable parameter (``W``: (k, E, m, d)):
    row j is each member's last iterate inside B_{2,inf}(W0, radii[j]). ``updates`` (k, E):
    the SGD steps that iterate took; ``stopped`` (k, E): whether the member stopped at that
    ball's boundary (False: the epochs ran out first); ``steps_per_epoch``: ceil(n / batch).
    """

    radii: tuple[float, ...]
    params: dict[str, Tensor]
    updates: Tensor
    stopped: Tensor
    steps_per_epoch: int

    def net(self, model: TwoLayerNet, index: int) -> TwoLayerNet:
        """A copy of ``model`` (the initial net given to `lazy_path`) at radius ``index``."""
        out = copy.deepcopy(model)
        with torch.no_grad():
            for name, value in self.params.items():
                getattr(out, name).copy_(value[index])
        return out


class _PathStepper(TwoLayerStepper):
    """`TwoLayerStepper` in stop mode at the largest radius that records each smaller one.

    Each member's bound is checked against the smallest radius it has not left yet; when an
    exact pass finds a candidate outside radii[j], the iterate before the step is radius j's.
    """

    def __init__(self, net: TwoLayerNet, path: _Radii, *, low: bool = False) -> None:
        super().__init__(net, path.radii[-1], "stop", low=low)
        self.path = path

    def _check_radius(self) -> Tensor:
        return self.path.next_radius()

    def _exact_checked(self, old: Tensor, distance: Tensor, active: Tensor) -> None:
        self.path.crossed([old], distance, active)


class _Radii:
    """Holds each radius's iterate, step count and stop flag; no host reads."""

    def __init__(self, params: list[Tensor], radii: Sequence[float], device: torch.device) -> None:
        self.radii = list(radii)
        k, E = len(self.radii), params[0].shape[0]
        self.params = params
        self.saved = [p.detach().unsqueeze(0).repeat(k, *([1] * p.ndim)) for p in params]
        self.radius = torch.tensor(self.radii, dtype=torch.float64, device=device)
        self.left = torch.zeros(k, E, dtype=torch.bool, device=device)
        self.updates = torch.zeros(E, dtype=torch.int64, device=device)
        self.at = torch.zeros(k, E, dtype=torch.int64, device=device)

    def next_radius(self) -> Tensor:
        """(E,) the smallest radius each member has not left (the largest once all are)."""
        index = self.left.sum(dim=0).clamp_max(len(self.radii) - 1)
        return self.radius[index]

    def crossed(self, before: list[Tensor], distance: Tensor, active: Tensor) -> None:
        """Record `before` for every (radius, member) whose candidate first leaves that ball."""
        radius = self.radius.to(distance.dtype)[:, None]  # compared as `sgd` does, in W's dtype
        new = active.unsqueeze(0) & ~self.left & (distance.unsqueeze(0) > radius)
        for saved, value in zip(self.saved, before, strict=True):
            mask = new.reshape(*new.shape, *([1] * (value.ndim - 1)))
            saved.copy_(torch.where(mask, value.unsqueeze(0), saved))
        self.at = torch.where(new, self.updates.unsqueeze(0), self.at)
        self.left |= new

    def finish(self) -> tuple[list[Tensor], Tensor]:
        """Members still inside a ball when training ended keep their final iterate there."""
        for saved, value in zip(self.saved, self.params, strict=True):
            mask = self.left.reshape(*self.left.shape, *([1] * (value.ndim - 1)))
            saved.copy_(torch.where(mask, saved, value.detach().unsqueeze(0)))
        return self.saved, torch.where(self.left, self.at, self.updates.unsqueeze(0))


def lazy_path(
    model: TwoLayerNet,
    X: Tensor,
    y: Tensor,
    *,
    radii: Sequence[float],
    loss: str = "logistic",
    lr: float,
    batch_size: int = 1,
    epochs: int = 1,
    weight_decay: float = 0.0,
    generator: torch.Generator | None = None,
    shared_order: bool = True,
    precision: Precision | None = None,
) -> LazyPath:
    """SGD stopped at every lazy radius in one run (paper 002 section 5.1); see the module.

    Row j of the result equals ``sgd(model, X, y, lazy_radius=radii[j], lazy_mode="stop",
    ...)`` with the same arguments and a generator in the same state (tested). ``model`` is not
    changed. A closed-form net (only W trainable) checks distances through the per-neuron bounds;
    a net with a trainable hidden bias trains by autograd with the exact check every step.
    `precision` as in `sgd` (None: the context's; "bf16-mixed" rounds the closed-form step's
    products to bfloat16, distances stay in W's dtype). Raises ValueError for radii that are
    empty, not finite, negative or not ascending, and everything `sgd` raises.
    """
    _checks.module("model", model)
    if not isinstance(model, TwoLayerNet):
        raise TypeError(f"model must be a TwoLayerNet (lazy balls bound W), got {type(model)}")
    values = [float(r) for r in radii]
    if not values or any(not (math.isfinite(r) and r >= 0) for r in values):
        raise ValueError(f"radii must be a non-empty list of finite radii >= 0, got {values}")
    if values != sorted(set(values)):
        raise ValueError(f"radii must be strictly ascending (e.g. sorted C0/sqrt m), got {values}")
    _check_training(model, X, y, lr, weight_decay, batch_size, epochs, None, values[-1])
    _checks.generator_(generator)
    if not shared_order and generator is None:
        raise ValueError("shared_order=False draws one order per member: pass a generator")

    net = copy.deepcopy(model)
    with torch.no_grad():
        probe_out = net(X[:1])
    binary = one_logit(probe_out, 1, net)
    y = as_labels(y, binary, probe_out.shape[-1])
    check_loss(loss, binary)
    E = ensemble_logits(probe_out, 1, binary=binary).shape[0]
    names, params = _trainable(net)
    closed_form = _closed_form_kind(net, names)
    path = _Radii([p.detach() for p in params], values, X.device)
    low = uses_bf16(resolve_precision(precision), params[0].dtype)
    stepper = _PathStepper(net, path, low=low) if closed_form == "two_layer" else None
    active = torch.ones(E, dtype=torch.bool, device=X.device)
    n, step = X.shape[0], 0
    for _ in range(epochs):
        order = _epoch_order(n, E, generator, shared_order).to(X.device)
        for start in range(0, n, batch_size):
            idx = order[..., start : start + batch_size]
            xb, yb = _gather(X, idx, E, X.ndim), y[idx]
            if stepper is not None:
                pre, xs = stepper.preactivation(xb)
                weights, batch_loss = _two_layer_weights(net, pre, yb, loss, binary)
                _check_divergence("the minibatch loss", batch_loss, step, lr)
                stepper.step(xs, weights, pre, lr, weight_decay, active)
            else:
                grads, batch_loss = _gradients(net, names, params, None, xb, yb, loss, binary)
                _check_divergence("the minibatch loss", batch_loss, step, lr)
                _exact_step(net, params, grads, lr, weight_decay, active, path)
            path.updates += active.to(torch.int64)
            step += 1
            if not bool(active.any()):
                break
        if not bool(active.any()):
            break
    saved, updates = path.finish()
    return LazyPath(
        radii=tuple(values),
        params=dict(zip(names, saved, strict=True)),
        updates=updates,
        stopped=path.left.clone(),
        steps_per_epoch=math.ceil(n / batch_size),
    )


@torch.no_grad()
def _exact_step(
    net: TwoLayerNet,
    params: list[torch.nn.Parameter],
    grads: list[Tensor],
    lr: float,
    weight_decay: float,
    active: Tensor,
    path: _Radii,
) -> None:
    """`sgd`'s generic stop step at the largest radius, recording the smaller ones.

    A member the step freezes left every ball; any other has its new distance checked.
    """
    before = [p.detach().clone() for p in params]
    was_active = active.clone()
    _apply(net, list(params), grads, lr, weight_decay, path.radii[-1], "stop", active, len(active))
    distance = (net.W.detach() - net.W0).norm(dim=2).amax(dim=1)
    distance = torch.where(was_active & ~active, math.inf, distance)
    path.crossed(before, distance, was_active)
