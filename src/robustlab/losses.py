"""Margin losses (functions of z = y f(x)) and their multiclass versions.

All are written with softplus/logsumexp so that |z| up to 1e4 gives no overflow and no NaN.
Arguments must be floating tensors (TypeError otherwise) and class labels must lie in 0..K-1
(ValueError); being elementwise maps, they let NaN through as NaN (IEEE): the attacks and
learners that call them refuse non-finite inputs at their own entry.
Papers: 001 section 5 (negated loss -log(1+e^z)); 004 eq. (2) and section 4.3 (reflected loss,
greedy multiclass reflected loss); 003 (exponential loss of Vardi et al.).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from robustlab import _checks

MarginLoss = Callable[[Tensor], Tensor]


def _softplus(z: Tensor) -> Tensor:
    """log(1 + e^z) to full precision for every z (F.softplus turns linear past z = 20)."""
    _checks.tensor("z", z, floating=True, finite=False)
    return torch.logaddexp(z, torch.zeros_like(z))


def logistic(z: Tensor) -> Tensor:
    """log(1 + e^{-z}), the usual upper bound on the 0-1 loss (to be minimized)."""
    _checks.tensor("z", z, floating=True, finite=False)
    return _softplus(-z)


def reflected(z: Tensor) -> Tensor:
    """-log(1 + e^{z}) = -logistic(-z): the logistic loss reflected about the origin.

    Paper 004 Algorithm 1 (and paper 001's negated loss l_-(z) = -l(-z)): a concave lower bound
    on the 0-1 loss up to a constant, which an attacker *maximizes*. Its slope -sigmoid(z) does not
    vanish on correctly classified points, unlike the logistic loss.
    """
    return -_softplus(z)


negated = reflected


def exponential(z: Tensor) -> Tensor:
    """e^{-z}, saturating at the largest finite value of the dtype instead of overflowing."""
    _checks.tensor("z", z, floating=True, finite=False)
    finfo = torch.finfo(z.dtype) if z.is_floating_point() else torch.finfo()
    # exp(log(max)) can still round up to inf, hence the clamp on the output as well.
    return torch.exp(torch.clamp(-z, max=math.log(finfo.max))).clamp(max=finfo.max)


def margin(z: Tensor) -> Tensor:
    """-z: the raw margin, for attacks that push it down directly."""
    _checks.tensor("z", z, floating=True, finite=False)
    return -z


def square(prediction: Tensor, target: Tensor) -> Tensor:
    """(1/2)(prediction - target)^2, for regression (paper 000)."""
    _checks.tensor("prediction", prediction, floating=True, finite=False)
    _checks.tensor("target", target, finite=False)
    return 0.5 * (prediction - target) ** 2


def margin_derivative(name: str, z: Tensor) -> Tensor:
    """d loss / dz in closed form for the named margin loss."""
    _checks.tensor("z", z, floating=True, finite=False)
    if name in ("logistic", "ce"):
        return -torch.sigmoid(-z)
    if name in ("reflected", "negated"):
        return -torch.sigmoid(z)
    if name == "exponential":
        return -exponential(z)
    if name == "margin":
        return -torch.ones_like(z)
    raise ValueError(f"unknown margin loss {name!r}; allowed: {', '.join(MARGIN_LOSSES)}")


MARGIN_LOSSES: dict[str, MarginLoss] = {
    "logistic": logistic,
    "ce": logistic,
    "reflected": reflected,
    "negated": reflected,
    "exponential": exponential,
    "margin": margin,
}


def get_margin_loss(name: str) -> MarginLoss:
    """Look up a margin loss by name."""
    if name not in MARGIN_LOSSES:
        raise ValueError(f"unknown margin loss {name!r}; allowed: {', '.join(MARGIN_LOSSES)}")
    return MARGIN_LOSSES[name]


def _check_classes(logits: Tensor, labels: Tensor) -> None:
    """logits (..., K) floating; labels (...) whole numbers in 0..K-1."""
    _checks.tensor("logits", logits, floating=True, finite=False, ndim=tuple(range(1, 9)))
    _checks.tensor("labels", labels)
    if tuple(labels.shape) != tuple(logits.shape[:-1]):
        raise ValueError(
            f"labels must be shaped like logits without the class axis, "
            f"{tuple(logits.shape[:-1])}; got {tuple(labels.shape)}"
        )
    if labels.is_floating_point() and not bool((labels == labels.round()).all()):
        raise ValueError("labels must be whole numbers 0..K-1, got fractional values")
    _checks.class_labels("labels", labels.long(), int(logits.shape[-1]))


def cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """Per-sample multiclass cross-entropy: logsumexp(logits) - logits[y]. logits (..., K)."""
    _check_classes(logits, labels)
    picked = logits.gather(-1, labels.long().unsqueeze(-1)).squeeze(-1)
    return torch.logsumexp(logits, dim=-1) - picked


def most_likely_wrong_class(logits: Tensor, labels: Tensor) -> Tensor:
    """argmax_{j != y} logits_j (ties broken by the lowest index)."""
    _check_classes(logits, labels)
    masked = logits.scatter(-1, labels.long().unsqueeze(-1), float("-inf"))
    return masked.argmax(dim=-1)


def greedy_reflected(logits: Tensor, labels: Tensor) -> Tensor:
    """Greedy multiclass reflected loss of paper 004 section 4.3, to be maximized.

    The log-likelihood of the most likely wrong class j*: log softmax(logits)_{j*}. With two
    classes and z the margin this is exactly `reflected(z)`.
    """
    target = most_likely_wrong_class(logits, labels)
    return -cross_entropy(logits, target)


def multiclass_margin(logits: Tensor, labels: Tensor) -> Tensor:
    """logits[y] - max_{j != y} logits[j]: positive iff correctly classified."""
    _check_classes(logits, labels)
    picked = logits.gather(-1, labels.long().unsqueeze(-1)).squeeze(-1)
    wrong = logits.gather(-1, most_likely_wrong_class(logits, labels).unsqueeze(-1)).squeeze(-1)
    return picked - wrong
