"""Clean-label poisoning by projected gradient ascent on the inputs (paper 001 section 5).

A model w* trained on clean data is held fixed; the training inputs are moved (labels intact) to
maximize its training loss, and the whole perturbation Delta = X~ - X is projected after every step
onto the attacker's budget: the l_{2,1} ball sum_i ||delta_i|| <= S = C sqrt(n) (regime A) or the
l_{2,inf} ball max_i ||delta_i|| <= B (regime B). The loss is either the ordinary logistic /
cross-entropy loss ("ce") or the paper's negated loss l_--(z) = -l(-z) = -log(1 + e^z) of the
margin z = y f(x) ("negated"), which lower-bounds the 0-1 loss and so stops paying for pushing a
sample that is already misclassified; with K classes its greedy version (paper 004 section 4.3),
or ("negated-ce") the paper's recipe taken literally, -CE(-f(x), y): "flipping the sign on both
the model prediction and the cross-entropy loss" (the authors' released code does this for MNIST).

Two schedules: full-batch projected gradient ascent (`batch_size=None`, one projection per step)
and the authors' projected *stochastic* gradient ascent (`batch_size=128`): each step is an epoch
of random minibatches, every minibatch moves its own rows and is clamped to the pixel box at once,
and the budget projection follows at the end of the epoch (poison_attack.py of the authors' code).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from robustlab import _checks, losses
from robustlab.geometry import L21, DataBudget, L2Inf
from robustlab.models.generic import as_labels, evaluation_mode, one_logit

logger = logging.getLogger(__name__)

PoisonLoss = Literal["negated", "reflected", "negated-ce", "ce", "logistic"]
POISON_LOSSES = ("negated", "reflected", "negated-ce", "ce", "logistic")
_OBJECTIVE = {
    "negated": "negated",
    "reflected": "negated",
    "negated-ce": "negated-ce",
    "ce": "ce",
    "logistic": "ce",
}


@runtime_checkable
class SupportsInputGrad(Protocol):
    """A model with a closed-form input gradient of <direction, f(x_i)> (TwoLayerNet, Linear)."""

    def input_grad(self, x: Tensor, direction: Tensor | None = None) -> Tensor: ...


@dataclass(frozen=True)
class PoisonRecord:
    """What a poisoner spent: the budget given and the row norms of X~ - X actually used.

    given: S for an `L21` budget, B for `L2Inf`. spent_sum = sum_i ||delta_i||_2,
    spent_max = max_i ||delta_i||_2 (computed in float64 from the returned inputs);
    norms: (n,) per-sample ||delta_i||_2. `spent` is the one the budget constrains.
    """

    budget: DataBudget
    given: float
    spent_sum: float
    spent_max: float
    norms: Tensor

    @property
    def spent(self) -> float:
        return self.spent_sum if isinstance(self.budget, L21) else self.spent_max


@dataclass(frozen=True)
class CleanLabelResult:
    """Poisoned inputs x (n, *shape), unchanged labels y (n,), the budget record, per-step traces.

    objective: (steps + 1,) mean of the maximized loss of the fixed model on the current inputs
    (before the first step, after each step); accuracy: (steps + 1,) its accuracy on them.
    """

    x: Tensor
    y: Tensor
    record: PoisonRecord
    objective: Tensor
    accuracy: Tensor


def clean_label(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    budget: DataBudget,
    *,
    loss: PoisonLoss = "negated",
    steps: int = 50,
    step_size: float | None = None,
    normalize: bool = True,
    chunk_size: int = 4096,
    box: tuple[float | Tensor, float | Tensor] | None = None,
    closed_form: bool | None = None,
    batch_size: int | None = None,
    generator: torch.Generator | None = None,
) -> CleanLabelResult:
    """Poison X against the fixed `model` by projected gradient ascent; labels stay intact.

    X: (n, *shape) (each row delta_i is a whole sample, its norm taken over all its entries);
    y: (n,) in {-1, +1} for a one-logit model, 0..K-1 for K logits (the loss follows the output
    shape). `model` is any callable returning (n,), (n, 1), (1, n), (n, K) or (1, n, K) (a
    `TwoLayerNet` or `LinearModel` with E = 1, any module, evaluated in eval mode and its mode
    restored); its closed-form `input_grad` is used when it has one (`closed_form=None`),
    autograd otherwise. The objective sum_i l(x_i + delta_i) uses the
    negated loss -log(1 + e^{y f}) (greedy reflected for K classes; "negated-ce": -CE(-f, y) for
    K classes, the same as "negated" for one logit) or the logistic / cross-entropy loss ("ce"),
    paper 001 section 5. Each step: Delta <- Pi(Delta + step_size * D)
    where D is the gradient normalized in the budget's geometry when `normalize` (by its l_{2,1}
    norm sum_i ||g_i|| for `L21`, so the allocation across samples is kept; row by row for
    `L2Inf`, whose constraint separates), and the raw gradient otherwise. The default step_size
    is 2.5 * budget / steps (Madry et al.). Pi is the exact projection of the budget, applied to
    the whole Delta after gradients are computed chunk by chunk (`chunk_size` samples); `box`
    (lo, hi) additionally clips X + Delta, which only shrinks the rows; lo and hi are floats or
    tensors broadcasting against X (e.g. (n, 1) per-sample bounds of rescaled images). The spend
    never exceeds the budget: a last check on the returned inputs rescales Delta if rounding
    overshot.

    `batch_size` switches to stochastic gradient ascent (paper 001 section 5, the authors' code):
    each of the `steps` epochs visits the samples once in random minibatches (order from
    `generator`); a minibatch's rows move by step_size * D_b (its per-sample gradients; with
    `normalize`, row by row for `L2Inf`, divided by sum_{i in b} ||g_i|| * n / |b| for `L21` so
    that an epoch moves at most step_size in total) and are clipped to `box` at once; the budget
    projection Pi follows at the end of every epoch. The traces then hold each epoch's mean loss
    and accuracy over its minibatches before their step, and the final evaluation.
    Raises ValueError for a bad budget, loss, labels, shapes or step settings.
    """
    _checks.callable_("model", model)
    _checks.training_data(model, X, y)
    _checks.nonempty("X", X)
    _checks.integer("steps", steps, low=0)
    _checks.optional_real("step_size", step_size, low=0.0)
    _checks.counts(chunk_size=chunk_size)
    _checks.optional_box("box", box)
    _validate(model, X, y, budget, loss, steps, step_size, normalize, chunk_size, box)
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 or None (full batch), got {batch_size}")
    with torch.no_grad(), evaluation_mode(model):
        probe = model(X[:1])
    binary = one_logit(probe, 1, model)
    labels = as_labels(y, binary, probe.shape[-1])
    with evaluation_mode(model):
        result = _poison(
            model,
            X,
            labels,
            budget,
            binary,
            loss,
            steps,
            step_size,
            normalize,
            chunk_size,
            box,
            closed_form,
            batch_size,
            generator,
        )
    return CleanLabelResult(result.x, y, result.record, result.objective, result.accuracy)


def _poison(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    budget: DataBudget,
    binary: bool,
    loss: PoisonLoss,
    steps: int,
    step_size: float | None,
    normalize: bool,
    chunk_size: int,
    box: tuple[float | Tensor, float | Tensor] | None,
    closed_form: bool | None,
    batch_size: int | None,
    generator: torch.Generator | None,
) -> CleanLabelResult:
    """The ascent of `clean_label` on rows of X flattened to (n, D), labels already checked."""
    shape = X.shape
    X = X.reshape(shape[0], -1)
    given = float(budget.S) if isinstance(budget, L21) else float(budget.B)
    if step_size is None:
        step_size = 2.5 * given / steps if steps else 0.0
    mode = _OBJECTIVE[loss]
    use_closed = isinstance(model, SupportsInputGrad) if closed_form is None else closed_form
    if use_closed and not isinstance(model, SupportsInputGrad):
        raise ValueError(f"closed_form=True needs a model with input_grad, got {type(model)}")

    Xd = X.detach()
    delta = torch.zeros_like(Xd)
    objectives: list[float] = []
    accuracies: list[float] = []
    for _ in range(steps):
        if batch_size is not None:
            delta, objective, accuracy = _stochastic_epoch(
                model, Xd, shape[1:], y, delta, budget, binary, mode, use_closed, batch_size,
                step_size, normalize, box, generator,
            )  # fmt: skip
        else:
            grad, objective, accuracy = _gradient(
                model, (Xd + delta).reshape(shape), y, binary, mode, use_closed, chunk_size
            )
            grad = grad.reshape(Xd.shape)
            delta = budget.project(delta + step_size * _direction(grad, budget, normalize))
            if box is not None:
                delta = _clip(Xd + delta, box) - Xd
        objectives.append(objective)
        accuracies.append(accuracy)
    x_poisoned, norms = _within_budget(Xd, delta, budget, given, box)
    x_poisoned = x_poisoned.reshape(shape)
    with torch.no_grad():
        objective, accuracy = _evaluate(model, x_poisoned, y, binary, mode, chunk_size)
    objectives.append(objective)
    accuracies.append(accuracy)
    record = PoisonRecord(
        budget=budget,
        given=given,
        spent_sum=float(norms.sum()),
        spent_max=float(norms.max()) if norms.numel() else 0.0,
        norms=norms,
    )
    logger.debug("clean_label: loss=%s spent %.4g of %.4g", loss, record.spent, given)
    return CleanLabelResult(
        x=x_poisoned,
        y=y,
        record=record,
        objective=torch.tensor(objectives, dtype=torch.float64),
        accuracy=torch.tensor(accuracies, dtype=torch.float64),
    )


def _clip(x: Tensor, box: tuple[float | Tensor, float | Tensor]) -> Tensor:
    """x clipped into [lo, hi] (floats or tensors broadcasting against x)."""
    lo, hi = box
    lo_t = lo if isinstance(lo, Tensor) else torch.tensor(lo, dtype=x.dtype, device=x.device)
    hi_t = hi if isinstance(hi, Tensor) else torch.tensor(hi, dtype=x.dtype, device=x.device)
    return torch.clamp(x, min=lo_t.to(x.dtype), max=hi_t.to(x.dtype))


def _stochastic_epoch(
    model: nn.Module,
    X: Tensor,
    sample_shape: tuple[int, ...],
    y: Tensor,
    delta: Tensor,
    budget: DataBudget,
    binary: bool,
    mode: str,
    closed: bool,
    batch_size: int,
    step_size: float,
    normalize: bool,
    box: tuple[float | Tensor, float | Tensor] | None,
    generator: torch.Generator | None,
) -> tuple[Tensor, float, float]:
    """One epoch of minibatch gradient ascent (box clip per minibatch), then Pi (see above).

    X and delta are flattened to (n, D); the model sees rows of `sample_shape`."""
    n = X.shape[0]
    order = torch.randperm(n, generator=generator).to(X.device)
    delta = delta.clone()
    total, correct = 0.0, 0.0
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        rows = (X[idx] + delta[idx]).reshape(idx.numel(), *sample_shape)
        grad, objective, accuracy = _gradient(model, rows, y[idx], binary, mode, closed, batch_size)
        grad = grad.reshape(idx.numel(), -1)
        total += objective * idx.numel()
        correct += accuracy * idx.numel()
        if normalize and isinstance(budget, L21):
            row_sum = grad.norm(dim=-1).sum()
            scale = idx.numel() / n / row_sum if float(row_sum) > 0 else 0.0
            direction = grad * scale
        else:
            direction = _direction(grad, budget, normalize)
        moved = X[idx] + delta[idx] + step_size * direction
        if box is not None:
            moved = _clip(moved, _rows(box, idx))
        delta[idx] = moved - X[idx]
    return budget.project(delta), total / max(n, 1), correct / max(n, 1)


def _rows(
    box: tuple[float | Tensor, float | Tensor], idx: Tensor
) -> tuple[float | Tensor, float | Tensor]:
    """The box bounds of the rows `idx` (per-sample tensor bounds are indexed, others kept)."""
    return tuple(  # type: ignore[return-value]
        b[idx] if isinstance(b, Tensor) and b.ndim == 2 and b.shape[0] > 1 else b for b in box
    )


def _validate(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    budget: DataBudget,
    loss: str,
    steps: int,
    step_size: float | None,
    normalize: bool,
    chunk_size: int,
    box: tuple[float | Tensor, float | Tensor] | None,
) -> None:
    """Check the arguments (the kind of labels is checked against the model's output)."""
    if not isinstance(budget, L21 | L2Inf):
        raise ValueError(f"budget must be geometry.L21 or geometry.L2Inf, got {type(budget)}")
    if loss not in POISON_LOSSES:
        raise ValueError(f"unknown poisoning loss {loss!r}; allowed: {', '.join(POISON_LOSSES)}")
    if X.ndim < 2 or X.shape[0] == 0:
        raise ValueError(f"X must be (n, *shape) with n >= 1 samples, got shape {tuple(X.shape)}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must be (n,) = ({X.shape[0]},), got shape {tuple(y.shape)}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    if step_size is not None and not step_size >= 0:
        raise ValueError(f"step_size must be >= 0, got {step_size}")
    if not normalize and step_size is None:
        raise ValueError("normalize=False takes raw gradient steps: pass step_size")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if box is not None and not bool(torch.all(torch.as_tensor(box[0]) <= torch.as_tensor(box[1]))):
        raise ValueError(f"box must be (lo, hi) with lo <= hi, got {box}")
    if box is not None and not torch.equal(_clip(X, box), X):
        raise ValueError(f"X lies outside the box {box}: clip the clean inputs first")


def _logits(model: nn.Module, x: Tensor, binary: bool) -> Tensor:
    """The fixed model's output as (n,) margins-ready logits or (n, K) class logits."""
    out: Tensor = model(x)
    n = x.shape[0]
    if binary:
        if out.shape == (n,):
            return out
        if out.shape == (n, 1):
            return out[:, 0]
        if out.shape == (1, n):
            return out[0]
        if out.shape == (1, n, 1):
            return out[0, :, 0]
    elif out.ndim in (2, 3) and out.shape[-1] > 1:
        if out.ndim == 2 and out.shape[0] == n:
            return out
        if out.ndim == 3 and out.shape[:2] == (1, n):
            return out[0]
    kind = "binary: (n,), (n, 1), (1, n)" if binary else "multiclass: (n, K), (1, n, K)"
    raise ValueError(
        f"clean_label needs one fixed model (E = 1) with output {kind} for n={n}; "
        f"got {tuple(out.shape)}"
    )


def _objective_terms(logits: Tensor, y: Tensor, binary: bool, mode: str) -> tuple[Tensor, Tensor]:
    """Per-sample maximized loss and its derivative w.r.t. the logits ((n,) or (n, K)).

    mode: "negated" (greedy reflected for K classes), "negated-ce" (-CE(-logits, y)) or "ce".
    """
    if binary:
        z = y.to(logits.dtype) * logits
        if mode != "ce":
            return losses.reflected(z), -torch.sigmoid(z)
        return losses.logistic(z), -torch.sigmoid(-z)
    probs = torch.softmax(logits, dim=-1)
    K = logits.shape[-1]
    if mode == "negated-ce":
        # -CE(-z, y) = -z_y - logsumexp(-z); its gradient is softmax(-z) - e_y.
        value = -losses.cross_entropy(-logits, y)
        return value, torch.softmax(-logits, dim=-1) - F.one_hot(y.long(), K).to(logits.dtype)
    if mode == "negated":
        target = losses.most_likely_wrong_class(logits, y)
        value = -losses.cross_entropy(logits, target)
        return value, F.one_hot(target, K).to(logits.dtype) - probs
    value = losses.cross_entropy(logits, y)
    return value, probs - F.one_hot(y.long(), K).to(logits.dtype)


def _correct(logits: Tensor, y: Tensor, binary: bool) -> Tensor:
    if binary:
        return y.to(logits.dtype) * logits > 0
    return logits.argmax(dim=-1) == y


def _gradient(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    binary: bool,
    mode: str,
    closed: bool,
    chunk_size: int,
) -> tuple[Tensor, float, float]:
    """Gradient of sum_i loss_i w.r.t. the inputs (n, d), with the mean loss and accuracy."""
    grads: list[Tensor] = []
    total, correct = 0.0, 0
    for start in range(0, x.shape[0], chunk_size):
        xc, yc = x[start : start + chunk_size], y[start : start + chunk_size]
        if closed:
            assert isinstance(model, SupportsInputGrad)
            with torch.no_grad():
                logits = _logits(model, xc, binary)
                value, dlogits = _objective_terms(logits, yc, binary, mode)
                direction = dlogits * yc.to(logits.dtype) if binary else dlogits
                grad = model.input_grad(xc, direction)
                grads.append(grad.reshape(xc.shape))
        else:
            xg = xc.detach().requires_grad_(True)
            with torch.enable_grad():
                logits = _logits(model, xg, binary)
                value, _ = _objective_terms(logits, yc, binary, mode)
                (grad,) = torch.autograd.grad(value.sum(), xg)
            grads.append(grad.detach())
        total += float(value.detach().sum())
        correct += int(_correct(logits.detach(), yc, binary).sum())
    n = max(x.shape[0], 1)
    return torch.cat(grads), total / n, correct / n


@torch.no_grad()
def _evaluate(
    model: nn.Module, x: Tensor, y: Tensor, binary: bool, mode: str, chunk_size: int
) -> tuple[float, float]:
    total, correct = 0.0, 0
    for start in range(0, x.shape[0], chunk_size):
        xc, yc = x[start : start + chunk_size], y[start : start + chunk_size]
        logits = _logits(model, xc, binary)
        value, _ = _objective_terms(logits, yc, binary, mode)
        total += float(value.sum())
        correct += int(_correct(logits, yc, binary).sum())
    n = max(x.shape[0], 1)
    return total / n, correct / n


def _direction(grad: Tensor, budget: DataBudget, normalize: bool) -> Tensor:
    """The ascent step direction in the budget's geometry (see `clean_label`)."""
    if not normalize:
        return grad
    tiny = torch.finfo(grad.dtype).tiny
    row = grad.norm(dim=-1, keepdim=True)
    if isinstance(budget, L21):
        total = row.sum()
        return grad / total if float(total) > 0 else torch.zeros_like(grad)
    return torch.where(row > 0, grad / row.clamp_min(tiny), 0.0)


def _spend(X: Tensor, x: Tensor) -> Tensor:
    """Per-sample ||x_i - X_i||_2 in float64: (n,)."""
    norms: Tensor = (x.to(torch.float64) - X.to(torch.float64)).norm(dim=-1)
    return norms


def _within_budget(
    X: Tensor,
    delta: Tensor,
    budget: DataBudget,
    given: float,
    box: tuple[float | Tensor, float | Tensor] | None,
) -> tuple[Tensor, Tensor]:
    """X + delta (clipped to box), rescaled until the spend measured on it is within budget."""
    x = X + delta
    if box is not None:
        x = _clip(x, box)
    margin = 4 * torch.finfo(X.dtype).eps
    for _ in range(30):
        norms = _spend(X, x)
        if isinstance(budget, L21):
            spent = float(norms.sum())
            if spent <= given:
                return x, norms
            factor: float | Tensor = given / spent * (1 - margin)
        else:
            if norms.numel() == 0 or float(norms.max()) <= given:
                return x, norms
            factor = torch.clamp(given / norms.clamp_min(1e-300) * (1 - margin), max=1.0)
            factor = factor.to(X.dtype).unsqueeze(-1)
        x = X + (x - X) * factor
        if box is not None:
            x = _clip(x, box)
        margin *= 4
    raise RuntimeError(f"could not bring the spend within the budget {given}")
