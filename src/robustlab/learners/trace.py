"""Shared result types and evaluation helpers of the learners.

A learner returns `(model, trace)`; the trace is a frozen dataclass of tensors recorded every
`record_every` steps, with a leading record axis R and the ensemble axis E:
`loss[r, e]` is member e's mean training loss at record r. The helpers here turn the output of
any model (a `TwoLayerNet`, a `LinearModel`, a plain `nn.Module`) into ensemble-shaped logits and
evaluate losses and accuracies in chunks, so that no learner special-cases a model class for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from robustlab import losses
from robustlab.models.generic import as_labels, evaluation_mode, has_ensemble_axis, one_logit

EVAL_CHUNK = 4096
"""Samples per forward pass when a whole data set is evaluated."""

BINARY_LOSSES = ("logistic", "ce", "exponential")
MULTICLASS_LOSSES = ("logistic", "ce")


class TrainingDivergedError(ValueError):
    """Training stopped because its loss or weights stopped being finite (a learning rate too
    large for the data scale): raised instead of returning NaN weights (issue 13). A ValueError,
    since the hyper-parameters that were given cannot train this model."""


@dataclass(frozen=True)
class TrainingTrace:
    """What SGD and adversarial training record (R records, E ensemble members).

    step: (R,) int64 optimizer steps taken before each record; lr: (R,) learning rate in effect.
    loss, accuracy: (R, E) on the clean training set. batch_loss: (R, E) mean loss of the
    minibatches seen since the previous record (the perturbed ones in adversarial training; NaN at
    step 0). distance_from_init: (R, E) max_s ||w_s - w_s0||_2 for a `TwoLayerNet` (paper 002
    Definition 2.1), the l2 distance of all trainable parameters for an E = 1 module, else NaN.
    sign_changes: (R, E) mean fraction of hidden units whose activation at the training points
    differs from init (paper 002 Lemma 4.3; NaN for models other than `TwoLayerNet`).
    eval_loss, eval_accuracy: (R, E) on `eval_data`, or None. iterates: (R, E, ...) copies of the
    first-layer weights when asked, or None. updates: (E,) steps applied to each member.
    stopped: (E,) True for members frozen at the lazy-ball boundary.
    """

    step: Tensor
    lr: Tensor
    loss: Tensor
    accuracy: Tensor
    batch_loss: Tensor
    distance_from_init: Tensor
    sign_changes: Tensor
    eval_loss: Tensor | None
    eval_accuracy: Tensor | None
    iterates: Tensor | None
    updates: Tensor
    stopped: Tensor

    @property
    def steps(self) -> int:
        """Optimizer steps taken in total (by the members still moving)."""
        return int(self.step[-1])


def is_binary(y: Tensor) -> bool:
    """Floating labels are binary margins in {-1, +1}; integer labels are classes 0..K-1."""
    return bool(y.is_floating_point())


def sample_axis(model: object, X: Tensor) -> int:
    """The samples' axis of X: 0 for a generic module (n, *shape); for an ensemble model
    (n, d) or (E, n, d), the second to last."""
    return X.ndim - 2 if has_ensemble_axis(model) else 0


def check_labels(y: Tensor, n: int) -> None:
    """Raise ValueError unless y is (n,) with values in {-1, +1} (float) or >= 0 (integer)."""
    if y.shape != (n,):
        raise ValueError(f"y must be (n,) = ({n},), got shape {tuple(y.shape)}")
    if is_binary(y):
        if n and not bool(((y == 1) | (y == -1)).all()):
            raise ValueError("floating labels must be in {-1, +1}; use int64 labels for classes")
    elif n and int(y.min()) < 0:
        raise ValueError(f"integer class labels must be >= 0, got min {int(y.min())}")


def ensemble_logits(out: Tensor, n: int, *, binary: bool) -> Tensor:
    """A model's output as (E, n) margins-ready logits (binary) or (E, n, K) class logits.

    Accepted: binary (n,), (n, 1), (E, n), (E, n, 1); multiclass (n, K), (E, n, K).
    Raises ValueError for any other shape.
    """
    if binary:
        if out.ndim == 1 and out.shape[0] == n:
            return out.unsqueeze(0)
        if out.ndim == 2 and out.shape == (n, 1):
            return out.transpose(0, 1)
        if out.ndim == 2 and out.shape[1] == n:
            return out
        if out.ndim == 3 and out.shape[1] == n and out.shape[2] == 1:
            return out.squeeze(2)
        raise ValueError(
            f"a binary model must output (n,), (n, 1), (E, n) or (E, n, 1) with n={n}; "
            f"got {tuple(out.shape)} (integer labels mean multiclass)"
        )
    if out.ndim == 2 and out.shape[0] == n and out.shape[1] > 1:
        return out.unsqueeze(0)
    if out.ndim == 3 and out.shape[1] == n and out.shape[2] > 1:
        return out
    raise ValueError(
        f"a multiclass model must output (n, K) or (E, n, K) with n={n}, K > 1; "
        f"got {tuple(out.shape)} (floating labels in {{-1, +1}} mean binary)"
    )


def broadcast_labels(y: Tensor, ensemble: int) -> Tensor:
    """Labels (n,) or (E, n) as (E, n)."""
    return y.unsqueeze(0).expand(ensemble, -1) if y.ndim == 1 else y


def per_sample_loss(logits: Tensor, y: Tensor, loss: str) -> Tensor:
    """Per-sample training loss (E, n) from logits (E, n) / (E, n, K) and labels (n,) / (E, n)."""
    ye = broadcast_labels(y, logits.shape[0])
    if logits.ndim == 2:
        return losses.get_margin_loss(loss)(ye.to(logits.dtype) * logits)
    return losses.cross_entropy(logits, ye)


def per_sample_correct(logits: Tensor, y: Tensor) -> Tensor:
    """Correct predictions (E, n): y f(x) > 0 for binary, argmax = y for multiclass."""
    ye = broadcast_labels(y, logits.shape[0])
    if logits.ndim == 2:
        return ye.to(logits.dtype) * logits > 0
    return logits.argmax(dim=-1) == ye


def check_loss(loss: str, binary: bool) -> None:
    """Raise ValueError unless `loss` is a training loss for this kind of labels."""
    allowed = BINARY_LOSSES if binary else MULTICLASS_LOSSES
    if loss not in allowed:
        kind = "binary" if binary else "multiclass"
        raise ValueError(f"unknown {kind} training loss {loss!r}; allowed: {', '.join(allowed)}")


@torch.no_grad()
def evaluate(
    model: nn.Module, X: Tensor, y: Tensor, *, loss: str, chunk_size: int = EVAL_CHUNK
) -> tuple[Tensor, Tensor]:
    """Mean loss and accuracy of every member on (X, y), in chunks: two (E,) tensors.

    X: (n, *shape) for a generic module, (n, d) or (E, n, d) for an ensemble model; the loss
    and the labels follow the output shape (`one_logit`, `as_labels`). A module is evaluated
    in eval mode and its mode restored.
    """
    axis = sample_axis(model, X)
    n = X.shape[axis]
    loss_sum: Tensor | None = None
    correct: Tensor | None = None
    for start in range(0, n, chunk_size):
        xb = X.narrow(axis, start, min(chunk_size, n - start))
        yb = y[start : start + chunk_size]
        with evaluation_mode(model):
            out = model(xb)
        binary = one_logit(out, xb.shape[axis], model)
        yb = as_labels(yb, binary, out.shape[-1])
        logits = ensemble_logits(out, xb.shape[axis], binary=binary)
        chunk_loss = per_sample_loss(logits, yb, loss).sum(dim=1)
        chunk_correct = per_sample_correct(logits, yb).sum(dim=1)
        loss_sum = chunk_loss if loss_sum is None else loss_sum + chunk_loss
        correct = chunk_correct if correct is None else correct + chunk_correct
    if loss_sum is None or correct is None:
        raise ValueError("cannot evaluate on an empty data set")
    return loss_sum / n, correct.to(loss_sum.dtype) / n
