"""One view of every model an attack can target (private).

Three kinds, chosen by `as_objective`:
- `TwoLayerNet`: outputs and input gradients in closed form, fused so that one step costs two
  matrix products (W x, then coefficients times W); DESIGN.md principle 3.
- ensemble models (an integer `ensemble` attribute, inputs (n, d) or (E, n, d), outputs (E, n)
  or (E, n, K)): their own `input_grad(x, direction)` when they have one, else autograd.
- any other callable or `torch.nn.Module` mapping (N, *shape) to (N,), (N, 1) or (N, K), outputs
  independent across samples: autograd of <direction, outputs>, one backward pass.

Inputs are always laid out (E, N, *shape) here (E = 1 for a generic model). The model's
parameters and gradients are never touched. A module is evaluated in eval mode (dropout off,
batch norm on its running statistics) and every submodule's mode is restored after each call;
`train_mode=True` keeps the mode it is in.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from robustlab.models.generic import evaluation_mode, has_ensemble_axis
from robustlab.models.two_layer import TwoLayerNet

Model = nn.Module | Callable[[Tensor], Tensor]
Direction = Callable[[Tensor], Tensor]


@runtime_checkable
class EnsembleModel(Protocol):
    """A model with a leading ensemble axis, like `TwoLayerNet` or `LinearModel`."""

    @property
    def ensemble(self) -> int: ...

    def __call__(self, x: Tensor) -> Tensor: ...


class Objective(ABC):
    """A model seen by an attack: x (E, N, *shape) -> outputs (E, N) or (E, N, K)."""

    ensemble: int
    has_ensemble_axis: bool

    @abstractmethod
    def outputs(self, x: Tensor) -> Tensor:
        """Model outputs, no gradient: (E, N) for one logit, (E, N, K) otherwise."""

    @abstractmethod
    def outputs_and_grad(self, x: Tensor, direction: Direction) -> tuple[Tensor, Tensor]:
        """Outputs and grad_x <direction(outputs), outputs> per sample: (E, N, *shape)."""


def _as_logits(out: Tensor, ensemble: int, count: int) -> Tensor:
    """Shape outputs (E, N), (E, N, 1) or (E, N, K) as (E, N) or (E, N, K); raise otherwise."""
    if out.ndim == 3 and out.shape[-1] == 1:
        out = out.squeeze(-1)
    if out.ndim not in (2, 3) or tuple(out.shape[:2]) != (ensemble, count):
        raise ValueError(
            f"the model must return (E, N) or (E, N, K) outputs for E = {ensemble}, "
            f"N = {count} inputs; got shape {tuple(out.shape)}"
        )
    return out


class TwoLayerObjective(Objective):
    """Closed-form outputs and input gradients of a `TwoLayerNet` (fused: two matmuls)."""

    def __init__(self, net: TwoLayerNet) -> None:
        self.net = net
        self.ensemble = net.ensemble
        self.has_ensemble_axis = True
        self.W = net.W.detach()
        self.Wt = self.W.transpose(1, 2)
        self.a = net.a.detach()
        self.b = None if net.b is None else net.b.detach()
        self.scale = net.scale
        self.activation = net.activation
        if self.a.ndim == 2:
            # One logit: grad_i = w_i * sigma'(pre_i) @ (scale * a * W), so fold a and the
            # scale into W once and scale rows by the loss derivative w_i afterwards.
            self.a_scaled = self.a * self.scale
            self.aW = self.W * self.a_scaled.unsqueeze(-1)

    def preactivation(self, x: Tensor) -> Tensor:
        pre = torch.matmul(x, self.Wt)
        if self.b is not None:
            pre = pre + self.b.unsqueeze(1)
        return pre

    def readout(self, hidden: Tensor) -> Tensor:
        if self.a.ndim == 2:
            return torch.matmul(hidden, self.a.unsqueeze(-1)).squeeze(-1) * self.scale
        return torch.matmul(hidden, self.a.transpose(1, 2)) * self.scale

    def outputs(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            return self.readout(self.activation(self.preactivation(x)))

    def outputs_and_grad(self, x: Tensor, direction: Direction) -> tuple[Tensor, Tensor]:
        with torch.no_grad():
            pre = self.preactivation(x)
            if self.a.ndim == 2:
                if self.activation.name == "relu":
                    hidden = torch.relu_(pre)
                    slope = hidden.sign()
                else:
                    slope = self.activation.derivative(pre)
                    hidden = self.activation(pre)
                out = torch.matmul(hidden, self.a_scaled.unsqueeze(-1)).squeeze(-1)
                grad = torch.matmul(slope, self.aW).mul_(direction(out).unsqueeze(-1))
                return out, grad
            out = self.readout(self.activation(pre))
            coef = torch.matmul(direction(out), self.a).mul_(self.activation.derivative(pre))
            grad = torch.matmul(coef, self.W)
            if self.scale != 1.0:
                grad.mul_(self.scale)
            return out, grad


class EnsembleObjective(Objective):
    """An ensemble model: its `input_grad(x, direction)` if it has one, else autograd."""

    def __init__(self, model: EnsembleModel, train_mode: bool = False) -> None:
        self.model = model
        self.train_mode = train_mode
        self.ensemble = int(model.ensemble)
        self.has_ensemble_axis = True
        self.closed_form = callable(getattr(model, "input_grad", None))

    def outputs(self, x: Tensor) -> Tensor:
        with torch.no_grad(), evaluation_mode(self.model, keep_mode=self.train_mode):
            return _as_logits(self.model(x), self.ensemble, x.shape[1])

    def outputs_and_grad(self, x: Tensor, direction: Direction) -> tuple[Tensor, Tensor]:
        mode = evaluation_mode(self.model, keep_mode=self.train_mode)
        if self.closed_form:
            with torch.no_grad(), mode:
                out = _as_logits(self.model(x), self.ensemble, x.shape[1])
                grad: Tensor = self.model.input_grad(x, direction(out))  # type: ignore[attr-defined]
            return out, grad
        with torch.enable_grad(), mode:
            leaf = x.detach().requires_grad_(True)
            out = _as_logits(self.model(leaf), self.ensemble, x.shape[1])
            (grad,) = torch.autograd.grad(out, leaf, grad_outputs=direction(out.detach()))
        return out.detach(), grad


class CallableObjective(Objective):
    """Any callable on (N, *shape) with per-sample outputs; gradients by autograd."""

    def __init__(self, model: Callable[[Tensor], Tensor], train_mode: bool = False) -> None:
        self.model = model
        self.train_mode = train_mode
        self.ensemble = 1
        self.has_ensemble_axis = False

    def _call(self, x: Tensor) -> Tensor:
        E, N = x.shape[:2]
        out = self.model(x.reshape(E * N, *x.shape[2:]))
        if not isinstance(out, Tensor):
            raise TypeError(f"the model must return a Tensor, got {type(out).__name__}")
        if out.ndim == 0 or out.shape[0] != E * N:
            raise ValueError(
                f"the model must return one output row per input: (N,), (N, 1) or (N, K) "
                f"for N = {E * N}; got shape {tuple(out.shape)}"
            )
        return _as_logits(out.reshape(E, N, *out.shape[1:]), E, N)

    def outputs(self, x: Tensor) -> Tensor:
        with torch.no_grad(), evaluation_mode(self.model, keep_mode=self.train_mode):
            return self._call(x)

    def outputs_and_grad(self, x: Tensor, direction: Direction) -> tuple[Tensor, Tensor]:
        with torch.enable_grad(), evaluation_mode(self.model, keep_mode=self.train_mode):
            leaf = x.detach().requires_grad_(True)
            out = self._call(leaf)
            (grad,) = torch.autograd.grad(out, leaf, grad_outputs=direction(out.detach()))
        return out.detach(), grad


def as_objective(model: Model, *, train_mode: bool = False) -> Objective:
    """Wrap a model for the attacks (see the module docstring for the three kinds).

    `train_mode=True` evaluates a module in the mode it is in instead of eval mode.
    """
    if isinstance(model, TwoLayerNet):
        return TwoLayerObjective(model)
    if has_ensemble_axis(model):
        return EnsembleObjective(model, train_mode)  # type: ignore[arg-type]
    if callable(model):
        return CallableObjective(model, train_mode)
    raise TypeError(f"model must be a torch.nn.Module or a callable, got {type(model).__name__}")


def model_inputs(objective: Objective, x: Tensor) -> Tensor:
    """Lay x out as (E, n, *shape): shared inputs (n, *shape) are broadcast (a view)."""
    if not x.is_floating_point():
        raise ValueError(f"x must be a floating-point tensor, got dtype {x.dtype}")
    if x.ndim == 0:
        raise ValueError("x must have a leading sample axis, got a 0-d tensor")
    x = x.detach()
    if not objective.has_ensemble_axis:
        return x.unsqueeze(0)
    E = objective.ensemble
    if x.ndim == 3 and x.shape[0] == E:
        return x
    if x.ndim == 2:
        return x.unsqueeze(0).expand(E, *x.shape)
    raise ValueError(
        f"x must be (n, d) or (E, n, d) with E = {E} for an ensemble model; "
        f"got shape {tuple(x.shape)}"
    )
