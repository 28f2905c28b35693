"""The margin problems that exact and certified verification share (private).

A (leaky-)ReLU `TwoLayerNet` keeps its prediction at x + delta as long as every margin
g_t(x + delta) = sum_k c_tk sigma(w_k . (x + delta) + b_k) stays positive: for one logit
g = s f with s = sign f(x) (or the label y), for K logits g_t = f_y - f_t for every t != y.
sigma(z) = alpha z + (1 - alpha) relu(z), with alpha the negative slope (0 for ReLU).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from robustlab.attacks._common import check_labels
from robustlab.models.two_layer import TwoLayerNet

NORMS = ("linf", "l1", "l2")


def check_norm(norm: str) -> str:
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; allowed: {', '.join(NORMS)}")
    return norm


def dual_norm(v: Tensor, norm: str) -> Tensor:
    """||v||_* over the last axis, the dual of `norm`: sup_{||u|| <= 1} u . v."""
    result: Tensor
    if norm == "linf":
        result = v.abs().sum(dim=-1)
    elif norm == "l1":
        result = v.abs().amax(dim=-1)
    else:
        result = v.norm(dim=-1)
    return result


def vector_norm(v: Tensor, norm: str) -> Tensor:
    """||v|| over the last axis in `norm`."""
    result: Tensor
    if norm == "linf":
        result = v.abs().amax(dim=-1) if v.shape[-1] else v.sum(dim=-1)
    elif norm == "l1":
        result = v.abs().sum(dim=-1)
    else:
        result = v.norm(dim=-1)
    return result


@dataclass(frozen=True)
class MarginProblem:
    """Everything a verifier needs, in float64, for E members, n points and T margins each.

    W: (E, m, d); b: (E, m) (zeros without bias); x: (E, n, d); pre: W x + b (E, n, m);
    coef: c (E, n, T, m), the output weights of each margin; g0: the margins at x (E, n, T);
    valid: (E, n, T), False for the padding margin t = y of K-logit nets; correct: (E, n),
    False where the point is already misclassified (then radius 0); alpha: negative slope.
    """

    W: Tensor
    b: Tensor
    x: Tensor
    pre: Tensor
    coef: Tensor
    g0: Tensor
    valid: Tensor
    correct: Tensor
    alpha: float

    def margins(self, delta: Tensor) -> Tensor:
        """g_t(x + delta) for delta (E, n, d): (E, n, T), in float64."""
        pre = torch.matmul(self.x + delta, self.W.transpose(1, 2)) + self.b.unsqueeze(1)
        hidden = torch.where(pre > 0, pre, self.alpha * pre)
        return torch.matmul(self.coef, hidden.unsqueeze(-1)).squeeze(-1)

    def flipped(self, delta: Tensor) -> Tensor:
        """(E, n): some valid margin is strictly negative at x + delta."""
        g = self.margins(delta)
        return ((g < 0) & self.valid).any(dim=-1)


def margin_problem(model: TwoLayerNet, x: Tensor, y: Tensor | None) -> MarginProblem:
    """Build the margins of `model` at x: (n, d) or (E, n, d); y: (n,) labels or None.

    With y None the margins are taken against the model's own prediction at x (sign f(x), or
    its argmax). Raises TypeError for another model and ValueError for a smooth activation or
    badly shaped inputs and labels.
    """
    if not isinstance(model, TwoLayerNet):
        raise TypeError(
            f"robustlab.verify needs a TwoLayerNet, got {type(model).__name__}; "
            "exact verification is only defined for two-layer (leaky-)ReLU nets"
        )
    if not model.activation.piecewise_linear:
        raise ValueError(
            f"robustlab.verify needs a ReLU, leaky-ReLU or identity activation, "
            f"got {model.activation.name!r}"
        )
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError("x must be a floating point tensor (n, d) or (E, n, d)")
    model._check_input(x)
    E, m = model.ensemble, model.width
    with torch.no_grad():
        W = model.W.detach().to(torch.float64)
        b = torch.zeros(E, m, dtype=torch.float64) if model.b is None else model.b.detach()
        b = b.to(W.device, torch.float64)
        xe = x.detach().to(torch.float64)
        if xe.ndim == 2:
            xe = xe.unsqueeze(0).expand(E, -1, -1)
        n = xe.shape[1]
        if not bool(torch.isfinite(xe).all()):
            raise ValueError("x contains NaN or inf")
        alpha = float(model.activation.negative_slope)
        pre = torch.matmul(xe, W.transpose(1, 2)) + b.unsqueeze(1)
        hidden = torch.where(pre > 0, pre, alpha * pre)
        a = model.a.detach().to(torch.float64) * model.scale
        if a.ndim == 2:
            f = torch.matmul(hidden, a.unsqueeze(-1)).squeeze(-1)
            if y is None:
                sign = torch.where(f >= 0, 1.0, -1.0).to(torch.float64)
            else:
                sign = check_labels(y, f, n).to(torch.float64).unsqueeze(0).expand(E, n)
            coef = (sign.unsqueeze(-1) * a.unsqueeze(1)).unsqueeze(2)
            valid = torch.ones(E, n, 1, dtype=torch.bool)
        else:
            K = a.shape[1]
            f = torch.matmul(hidden, a.transpose(1, 2))
            labels = (
                f.argmax(dim=-1)
                if y is None
                else check_labels(y, f, n).to(f.device).unsqueeze(0).expand(E, n)
            )
            a_y = torch.gather(a, 1, labels.unsqueeze(-1).expand(E, n, m))
            coef = a_y.unsqueeze(2) - a.unsqueeze(1)
            valid = torch.arange(K).view(1, 1, K) != labels.unsqueeze(-1)
        g0 = torch.matmul(coef, hidden.unsqueeze(-1)).squeeze(-1)
        correct = ((g0 > 0) | ~valid).all(dim=-1)
    return MarginProblem(W, b, xe, pre, coef, g0, valid, correct, alpha)
