"""The closed-form SGD step of a TwoLayerNet (fixed top layer), in place and allocation-lean.

One fused product writes each step into W (`TwoLayerNet.sgd_update_`). The lazy ball
B_{2,inf}(W0, R) of paper 002 (section 5.1 stop, appendix Algorithm 1 projection) needs
||w_s - w_s0|| every step; a whole-weight pass is memory-bound and costs as much as the step.
Instead each neuron keeps an upper bound r_s >= ||w_s - w_s0|| (triangle inequality):
r_s <- |1 - lr wd| r_s + lr wd ||w_s0|| + lr ||g_s||, where ||g_s||^2 = scale^2 c_s^T (x x^T) c_s
comes from the (n, n) Gram matrix of the minibatch (E m n^2 flops, a few percent of the step).
The exact distance pass runs only on steps where some bound reaches the radius; it then resets
the bounds to the exact distances. Decisions equal the plain per-step check up to rounding.

With `low=True` (precision "bf16-mixed", issue 10) the two products W x and c^T x take bfloat16
operands (W rounded into a buffer kept across steps) and accumulate in float32; the gradient
comes out in bfloat16 and is added to the float32 W. The lazy-ball bound then takes the step
norms of the rounded operands, grown by 2^-7 for the rounding of the result; distances and
projections stay in W's dtype.
"""

from __future__ import annotations

import torch
from torch import Tensor

from robustlab.learners.precision import bf16
from robustlab.models.two_layer import TwoLayerNet

SLACK = 1e-3
"""Relative safety margin of the bound against rounding (far above float32's 6e-8 per op)."""
LOW_ROUNDING = 2.0**-7
"""Relative growth of a gradient row's norm by rounding its entries to bfloat16 (2^-8), doubled."""


class TwoLayerStepper:
    """Applies SGD steps to `net.W` in place, optionally confined to the lazy ball."""

    def __init__(
        self, net: TwoLayerNet, lazy_radius: float | None, lazy_mode: str, *, low: bool = False
    ) -> None:
        self.net, self.radius, self.mode, self.low = net, lazy_radius, lazy_mode, low
        self.bound: Tensor | None = None
        self.w0_norm: Tensor | None = None
        if lazy_radius is not None:
            with torch.no_grad():
                self.bound = _row_distance(net).to(torch.float64)
                self.w0_norm = net.W0.norm(dim=2).to(torch.float64)
        self.exact_passes = 0  # steps that needed the whole-weight distance pass
        self.buffer: Tensor | None = None  # W - W0 of the projection, kept across steps
        self.low_w: Tensor | None = None  # bfloat16 copy of W (low precision), kept across steps
        self.low_grad: Tensor | None = None  # the bfloat16 gradient, kept across steps

    @torch.no_grad()
    def preactivation(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(W x + b (E, n, m) in W's dtype, the x the step takes: x, or x in bfloat16)."""
        net = self.net
        if not self.low:
            return net.preactivation(x), x
        net._check_input(x)
        if self.low_w is None:
            self.low_w = torch.empty_like(net.W, dtype=torch.bfloat16)
        low_w = self.low_w.copy_(net.W.detach())
        low_x = bf16(x)
        if x.ndim == 2:  # one (n, d) x (d, E m) product: bfloat16 bmm of a broadcast x is slow
            E, m, d = low_w.shape
            flat = torch.mm(low_x, low_w.view(E * m, d).t()).to(net.W.dtype)
            pre = flat.view(x.shape[0], E, m).transpose(0, 1)
        else:
            pre = torch.bmm(low_x, low_w.transpose(1, 2)).to(net.W.dtype)
        if net.b is not None:
            pre = pre + net.b.unsqueeze(1)
        return pre, low_x

    @torch.no_grad()
    def step(
        self,
        x: Tensor,
        weights: Tensor,
        pre: Tensor,
        lr: float,
        weight_decay: float,
        active: Tensor,
    ) -> None:
        """One step on every active member; clears `active` entries in the lazy stop mode.

        `x` as `preactivation` returned it (bfloat16 with `low`)."""
        net = self.net
        coef = net.step_coefficients(x, weights, preactivation=pre)
        if x.ndim == 2:  # (E, m, n) memory: the update's (E m, n) operand without a copy
            coef = coef.transpose(1, 2).contiguous().transpose(1, 2)
        low_coef = bf16(coef) if self.low else None  # keeps coef's (E, m, n) memory
        grad = None if low_coef is None else self._low_gradient(x, low_coef)
        if self.radius is None or self.bound is None or self.w0_norm is None:
            self._update(x, coef, grad, lr, weight_decay)
            return
        beta = abs(1.0 - lr * weight_decay)
        if low_coef is None:
            norms = _step_norms(x, coef)
        else:  # the rounded operands' exact product, then at most 2^-8 more per entry
            norms = _step_norms(x.float(), low_coef.float()) * (1.0 + LOW_ROUNDING)
        grown = beta * self.bound + lr * abs(net.scale) * norms
        if weight_decay:
            grown += lr * weight_decay * self.w0_norm
        grown *= 1.0 + SLACK
        # NaN (a diverging step) counts as risky: the exact check then decides, as before.
        risky = ~(grown.amax(dim=1) <= self._check_radius() * (1.0 - SLACK))
        if self.mode == "stop":
            self._stop(x, coef, grad, lr, weight_decay, active, grown, bool((risky & active).any()))
        else:
            self._update(x, coef, grad, lr, weight_decay)
            self.bound = grown
            # On an accelerator, project every step rather than read `risky` back to the host.
            if x.device.type != "cpu" or bool(risky.any()):
                self._project()

    def _low_gradient(self, x: Tensor, coef: Tensor) -> Tensor:
        """`_low_gradient` into a buffer kept across steps (no W-sized allocation per step)."""
        E, m, d = self.net.W.shape
        shape = (E * m, d) if x.ndim == 2 else (E, m, d)
        if self.low_grad is None or self.low_grad.shape != shape:
            self.low_grad = torch.empty(shape, dtype=torch.bfloat16, device=x.device)
        return _low_gradient(x, coef, out=self.low_grad)

    def _update(
        self, x: Tensor, coef: Tensor, grad: Tensor | None, lr: float, weight_decay: float
    ) -> None:
        """W <- (1 - lr wd) W - lr scale c^T x, from the bfloat16 gradient when there is one."""
        if grad is None:
            self.net.sgd_update_(x, coef, lr=lr, weight_decay=weight_decay)
            return
        W = self.net.W.detach()
        if weight_decay:
            W.mul_(1.0 - lr * weight_decay)
        W.add_(grad.view(W.shape), alpha=-lr * self.net.scale)

    def _stop(
        self,
        x: Tensor,
        coef: Tensor,
        grad: Tensor | None,
        lr: float,
        weight_decay: float,
        active: Tensor,
        grown: Tensor,
        risky: bool,
    ) -> None:
        net, W = self.net, self.net.W.detach()
        assert self.bound is not None and self.radius is not None
        all_active = bool(active.all())
        if not risky and (all_active or not weight_decay):
            if not all_active:  # frozen members take a zero step (beta = 1 without decay)
                coef = coef * active.to(coef.dtype).reshape(-1, 1, 1)
                if grad is not None:
                    grad.view(W.shape).mul_(active.to(grad.dtype).reshape(-1, 1, 1))
            self._update(x, coef, grad, lr, weight_decay)
            self.bound = torch.where(active.unsqueeze(1), grown, self.bound)
            return
        # Exact check of the candidate, as paper 002 section 5.1: freeze members that would leave.
        self.exact_passes += 1
        old = W.clone()
        self._update(x, coef, grad, lr, weight_decay)
        distance = _row_distance(net)
        self._exact_checked(old, distance.amax(dim=1), active)
        active &= distance.amax(dim=1) <= self.radius
        W.copy_(torch.where(active.reshape(-1, 1, 1), W, old))
        self.bound = torch.where(active.unsqueeze(1), distance.to(torch.float64), self.bound)

    def _check_radius(self) -> float | Tensor:
        """The radius a member's distance bound is checked against: the lazy radius (`lazy_path`
        checks each member against the smallest radius it has not left yet)."""
        assert self.radius is not None
        return self.radius

    def _exact_checked(self, old: Tensor, distance: Tensor, active: Tensor) -> None:
        """Called by an exact check before it freezes members: `old` the weights before the
        step, `distance` (E,) each candidate's largest row distance, `active` the members that
        stepped. Nothing here; `lazy_path` records each radius's crossing."""

    def _project(self) -> None:
        """Exact projection onto B_{2,inf}(W0, R) (paper 002 Algorithm 1); resets the bounds.

        W0 + f (W - W0) is written as W - (1 - f)(W - W0) in place, rows inside the ball
        untouched, with W - W0 in a buffer kept across steps (no W-sized allocation per step).
        """
        net, W = self.net, self.net.W.detach()
        assert self.radius is not None
        self.exact_passes += 1
        if self.buffer is None:
            self.buffer = torch.empty_like(W)
        delta = torch.sub(W, net.W0, out=self.buffer)
        norms = torch.linalg.vector_norm(delta, dim=2)
        over = norms > self.radius
        if W.device.type != "cpu" or bool(over.any()):
            factor = torch.where(over, self.radius / norms.clamp_min(_tiny(W)), 1.0)
            W.sub_(delta.mul_((1.0 - factor).unsqueeze(-1)))
        self.bound = torch.where(over, self.radius, norms).to(torch.float64)


def _row_distance(net: TwoLayerNet) -> Tensor:
    """||w_s - w_s0|| per member and neuron: (E, m)."""
    distance: Tensor = (net.W.detach() - net.W0).norm(dim=2)
    return distance


def _tiny(t: Tensor) -> float:
    return float(torch.finfo(t.dtype).tiny)


def _low_gradient(x: Tensor, coef: Tensor, *, out: Tensor | None = None) -> Tensor:
    """sum_i c_is x_i per member and neuron from bfloat16 operands x, coef (float32
    accumulation in the kernel, bfloat16 result): (E m, d) for a shared x (n, d), (E, m, d)
    for x (E, n, d)."""
    lhs = coef.transpose(1, 2)
    low_x = bf16(x)
    if x.ndim == 2:
        E, n, m = coef.shape
        return torch.mm(lhs.reshape(E * m, n), low_x, out=out)
    return torch.bmm(lhs, low_x, out=out)


def _step_norms(x: Tensor, coef: Tensor) -> Tensor:
    """Upper bound on ||sum_i c_is x_i|| per member and neuron, (E, m) float64.

    ||.||^2 = c_s^T G c_s with the Gram matrix G = x x^T (n, n) or (E, n, n); its rounding
    error is below (n + d + 2) eps L_s^2 with L_s = sum_i |c_is| ||x_i||; this term, L_s bounded by
    ||c_s|| (sum_i ||x_i||^2)^(1/2), is added.
    """
    gram = torch.matmul(x, x.transpose(-1, -2))  # symmetric: c^T G = (G c)^T
    coef_t = coef.transpose(1, 2)  # (E, m, n); contiguous as the stepper lays it out
    squares = torch.linalg.vecdot(torch.matmul(coef_t, gram), coef_t, dim=-1)
    # L_s <= ||c_s|| ||(||x_i||)_i|| (Cauchy-Schwarz), without a temporary of coef's size.
    lengths = x.norm(dim=-1).norm(dim=-1)
    loose = torch.linalg.vector_norm(coef_t, dim=-1) * (
        lengths.unsqueeze(-1) if x.ndim == 3 else lengths
    )
    eps = float(torch.finfo(coef.dtype).eps) * (x.shape[-2] + x.shape[-1] + 2)
    total = squares.to(torch.float64).clamp_min(0.0) + eps * loose.to(torch.float64) ** 2
    norms: Tensor = total.sqrt()
    return norms
