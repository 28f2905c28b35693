"""Shared pieces of the attacks (private): attack losses, labels, budgets, boxes.

Attack losses are functions to *maximize* of the model outputs and the labels (paper 004):
"ce" is the logistic / cross-entropy loss (an upper bound on the 0-1 loss), "reflected" is
l_-(z) = -log(1 + e^z) (paper 004 Algorithm 1; for K > 2 the greedy multiclass version of
section 4.3, the log-likelihood of the most likely wrong class), "margin" is minus the margin.

Targeted attacks (labels = the target classes t) maximize the log-likelihood of t: the reflected
loss of section 4.3 with the wrong class fixed to t instead of chosen greedily. For a target this
is log softmax(f)_t = -CE(f, t), the usual targeted cross-entropy objective, so "ce" and
"reflected" coincide; "margin" maximizes f_t - max_{j != t} f_j. One logit: the target t in
{-1, +1} is the untargeted attack on the label -t with the reflected (or margin) loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from robustlab.losses import get_margin_loss, margin_derivative, most_likely_wrong_class

ATTACK_LOSSES = ("ce", "reflected", "margin")

Budget = float | Sequence[float] | Sequence[Tensor] | Tensor
"""A budget: a float; a sequence of B floats (a curve, evaluated in one pass) or of B per-sample
tensors; a tensor that is
0-d (scalar), (n,) (one budget per sample), (B, n) or (B, 1) (B budgets, per sample or not), or
for an ensemble (B, E, n) with 1 allowed for E or n."""

Box = tuple[float | Tensor, float | Tensor]
"""Box constraint (low, high) on the perturbed input, floats or tensors broadcastable to one
sample's shape."""


def check_loss(loss: str) -> str:
    if loss not in ATTACK_LOSSES:
        raise ValueError(f"unknown attack loss {loss!r}; allowed: {', '.join(ATTACK_LOSSES)}")
    return loss


def check_labels(y: Tensor, outputs: Tensor, n: int) -> Tensor:
    """Validate labels against the model's outputs: {-1, +1} for one logit, 0..K-1 for K."""
    if y.shape != (n,):
        raise ValueError(f"y must have shape (n,) = ({n},), got {tuple(y.shape)}")
    y = y.detach()
    if outputs.ndim == 2:
        if not bool(((y == 1) | (y == -1)).all()):
            raise ValueError(
                "a one-logit model needs labels y in {-1, +1}; got values "
                f"{sorted({float(v) for v in y.flatten()[:1000].tolist()})[:5]}"
            )
        return y.to(outputs.dtype)
    K = outputs.shape[-1]
    if y.is_floating_point() and not bool((y == y.round()).all()):
        raise ValueError("a K-class model needs integer labels y in 0..K-1, got fractions")
    labels = y.long()
    if n and (int(labels.min()) < 0 or int(labels.max()) >= K):
        raise ValueError(
            f"labels y must lie in 0..{K - 1} for a {K}-output model, "
            f"got range {int(labels.min())}..{int(labels.max())}"
        )
    return labels


def _binary_target(y: Tensor, loss: str) -> tuple[Tensor, str]:
    """A one-logit target t as the untargeted label -t and its loss (see the module docstring)."""
    return -y, ("margin" if loss == "margin" else "reflected")


def loss_and_margin(
    outputs: Tensor, y: Tensor, loss: str, targeted: bool = False
) -> tuple[Tensor, Tensor]:
    """The attack loss (to maximize) and the margin (<= 0: success), both (E, N).

    outputs (E, N) with y in {-1, +1} (N,), or (E, N, K) with y in 0..K-1 (N,). `targeted`: y
    holds the targets and the margin is max_{j != t} f_j - f_t (<= 0 once t is predicted).
    """
    if targeted and outputs.ndim == 2:
        y, loss = _binary_target(y, loss)
    if outputs.ndim == 2:
        z = y * outputs
        return get_margin_loss(loss)(z), z
    labels = y.expand(outputs.shape[:-1]).unsqueeze(-1)
    wrong = most_likely_wrong_class(outputs, labels.squeeze(-1)).unsqueeze(-1)
    picked = outputs.gather(-1, labels).squeeze(-1)
    other = outputs.gather(-1, wrong).squeeze(-1)
    margin = picked - other
    if targeted:
        if loss == "margin":
            return margin, -margin
        return picked - torch.logsumexp(outputs, dim=-1), -margin
    if loss == "margin":
        return -margin, margin
    log_norm = torch.logsumexp(outputs, dim=-1)
    if loss == "ce":
        return log_norm - picked, margin
    return other - log_norm, margin


def loss_direction(outputs: Tensor, y: Tensor, loss: str, targeted: bool = False) -> Tensor:
    """d loss / d outputs in closed form: (E, N) or (E, N, K).

    One logit: y * l'(y f) (`losses.margin_derivative`). K classes: softmax - onehot(y) for "ce";
    onehot(j*) - softmax for "reflected" (j* the most likely wrong class, held fixed, as in
    paper 004 section 4.3); onehot(j*) - onehot(y) for "margin". Targeted (y = t): onehot(t) -
    softmax for "ce" and "reflected", onehot(t) - onehot(j*) for "margin" (j* = argmax_{j != t}).
    """
    if targeted and outputs.ndim == 2:
        y, loss = _binary_target(y, loss)
    if outputs.ndim == 2:
        name = "logistic" if loss == "ce" else loss
        return y * margin_derivative(name, y * outputs)
    labels = y.expand(outputs.shape[:-1]).unsqueeze(-1)
    if targeted:
        ones = torch.ones(labels.shape, dtype=outputs.dtype, device=outputs.device)
        if loss == "margin":
            wrong = most_likely_wrong_class(outputs, labels.squeeze(-1)).unsqueeze(-1)
            direction = torch.zeros_like(outputs).scatter_add_(-1, labels, ones)
            return direction.scatter_add_(-1, wrong, -ones)
        return (-F.softmax(outputs, dim=-1)).scatter_add_(-1, labels, ones)
    if loss == "ce":
        return F.softmax(outputs, dim=-1).scatter_add_(
            -1, labels, torch.full_like(labels, -1.0, dtype=outputs.dtype)
        )
    wrong = most_likely_wrong_class(outputs, labels.squeeze(-1)).unsqueeze(-1)
    ones = torch.ones(wrong.shape, dtype=outputs.dtype, device=outputs.device)
    if loss == "reflected":
        return (-F.softmax(outputs, dim=-1)).scatter_add_(-1, wrong, ones)
    direction = torch.zeros_like(outputs).scatter_add_(-1, wrong, ones)
    return direction.scatter_add_(-1, labels, -ones)


def budget_grid(
    eps: Budget, *, n: int, ensemble: int, dtype: torch.dtype, device: torch.device
) -> Tensor:
    """Normalize a `Budget` to a (B, E, n) tensor; raise on bad shapes or values."""
    if isinstance(eps, Tensor):
        t = eps.detach().to(dtype=dtype, device=device)
        if t.ndim == 0:
            t = t.reshape(1, 1, 1)
        elif t.ndim == 1:
            if t.shape[0] != n:
                raise ValueError(
                    f"a 1-d budget tensor holds one budget per sample and needs length n = {n}, "
                    f"got {t.shape[0]}; for a curve of B budgets pass a list or a (B, 1) tensor"
                )
            t = t.reshape(1, 1, n)
        elif t.ndim == 2:
            if t.shape[1] not in (1, n):
                raise ValueError(
                    f"a (B, n) budget tensor needs n = {n} or 1 columns, got {t.shape}"
                )
            t = t.unsqueeze(1)
        elif t.ndim == 3:
            if t.shape[1] not in (1, ensemble) or t.shape[2] not in (1, n):
                raise ValueError(
                    f"a (B, E, n) budget tensor needs E in (1, {ensemble}) and n in (1, {n}), "
                    f"got {tuple(t.shape)}"
                )
        else:
            raise ValueError(f"budget tensors have at most 3 axes (B, E, n), got {t.ndim}")
    elif isinstance(eps, int | float):
        t = torch.tensor(float(eps), dtype=dtype, device=device).reshape(1, 1, 1)
    else:
        items: list[float | Tensor] = list(eps)
        if not items:
            raise ValueError("the list of budgets is empty")
        if any(isinstance(v, Tensor) and v.ndim > 0 for v in items):
            # A list of per-sample budgets: each entry is one budget of the curve.
            grids = [
                budget_grid(v, n=n, ensemble=ensemble, dtype=dtype, device=device) for v in items
            ]
            return torch.cat(grids, dim=0)
        values = [float(v) for v in items]
        t = torch.tensor(values, dtype=dtype, device=device).reshape(-1, 1, 1)
    if not bool(torch.isfinite(t).all()) or bool((t < 0).any()):
        raise ValueError(f"budgets must be finite and >= 0, got min {float(t.min())}")
    return t.expand(t.shape[0], ensemble, n)


def box_bounds(box: Box | None, x: Tensor, sample_dims: int) -> tuple[Tensor, Tensor] | None:
    """Box bounds as tensors broadcastable to x; raise if x lies outside or low > high."""
    if box is None:
        return None
    if len(box) != 2:
        raise ValueError(f"box must be a pair (low, high), got {box!r}")
    low = torch.as_tensor(box[0], dtype=x.dtype, device=x.device)
    high = torch.as_tensor(box[1], dtype=x.dtype, device=x.device)
    if low.ndim > sample_dims or high.ndim > sample_dims:
        raise ValueError(
            f"box bounds must broadcast to one sample's shape {tuple(x.shape[-sample_dims:])}"
        )
    if bool((low > high).any()):
        raise ValueError("box needs low <= high")
    if bool(((x < low) | (x > high)).any()):
        raise ValueError(
            f"x lies outside the box [{float(low.min())}, {float(high.max())}]; "
            "an attack cannot start outside its own box"
        )
    return low, high
