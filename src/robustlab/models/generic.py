"""Helpers for any `torch.nn.Module` or callable model: ensemble axis and train/eval mode.

robustlab's ensemble models carry an integer `ensemble` attribute and take inputs (n, d) or
(E, n, d); every other module or callable maps a batch (n, *shape) to outputs (n,), (n, 1) or
(n, K). One output means labels in {-1, +1} and a margin loss, K outputs labels 0..K-1 and
cross-entropy: the loss follows the output shape (`one_logit`, `as_labels`). Attacks and
evaluations run a module in eval mode (dropout off, batch norm on its
running statistics) and restore each submodule's own mode afterwards, as torchattacks does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn


def has_ensemble_axis(model: object) -> bool:
    """True for robustlab's ensemble models (an integer `ensemble` attribute)."""
    return isinstance(getattr(model, "ensemble", None), int)


@contextmanager
def evaluation_mode(model: object, *, keep_mode: bool = False) -> Iterator[None]:
    """Run `model` in eval mode inside the block, then restore every submodule's mode.

    A no-op for callables that are not modules and when `keep_mode` is True (the module runs in
    whatever mode it is in, e.g. training mode on purpose).
    """
    if keep_mode or not isinstance(model, nn.Module):
        yield
        return
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def one_logit(out: Tensor, n: int, model: object) -> bool:
    """Whether a model's output on n samples is one logit per sample (else K class logits).

    One logit: (n,), (n, 1), (E, n), (E, n, 1); K logits: (n, K), (E, n, K). A 2-d output
    whose both axes equal n is (E, n) for an ensemble model (integer `ensemble` attribute)
    and (n, K) for any other module.
    """
    if out.ndim == 1:
        return True
    if out.ndim == 3:
        return out.shape[-1] == 1
    if out.shape[1] == 1:
        return True
    if out.shape[0] == n and out.shape[1] == n:
        return has_ensemble_axis(model)
    return out.shape[1] == n


def as_labels(y: Tensor, binary: bool, classes: int) -> Tensor:
    """Labels for the model's output kind: floats in {-1, +1} for one logit, int64 0..K-1 else.

    The loss follows the output shape: y of any dtype is accepted when its values fit.
    Raises ValueError naming the values and what the model needs.
    """
    if binary:
        if y.numel() and not bool(((y == 1) | (y == -1)).all()):
            raise ValueError(
                "a one-output model needs labels y in {-1, +1}; got values "
                f"{sorted({float(v) for v in y.flatten()[:1000].tolist()})[:5]} "
                "(for classes 0..K-1 the model must output K logits)"
            )
        return y if y.is_floating_point() else y.to(torch.get_default_dtype())
    if y.is_floating_point() and not bool((y == y.round()).all()):
        raise ValueError(f"a {classes}-output model needs integer labels 0..{classes - 1}")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= classes):
        raise ValueError(
            f"y must lie in 0..{classes - 1} for a {classes}-output model, "
            f"got range {int(y.min())}..{int(y.max())}"
        )
    return y.long()
