"""Helpers for any `torch.nn.Module` or callable model: ensemble axis and train/eval mode.

robustlab's ensemble models carry an integer `ensemble` attribute and take inputs (n, d) or
(E, n, d); every other module or callable maps a batch (n, *shape) to outputs (n,), (n, 1) or
(n, K). Attacks and evaluations run a module in eval mode (dropout off, batch norm on its
running statistics) and restore each submodule's own mode afterwards, as torchattacks does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn


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
