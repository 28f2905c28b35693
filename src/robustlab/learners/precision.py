"""Training precision: float32, or bfloat16 matrix products with float32 master weights.

Issue 10 section 2 ("mixed precision where it is safe"). `"bf16-mixed"` rounds the operands
of the training step's matrix products to bfloat16; the products accumulate in float32 inside
the kernel, the weights stay float32 and are updated in float32. It applies to TRAINING inner
loops only: attacks, lazy-ball distances, evaluations and theory checks keep the model's dtype.

A learner takes `precision=`; left at None it reads the context set by `training_precision`
(the runner sets it around each cell from the config's `precision` field, so
`--set precision=bf16-mixed` reaches every learner an experiment calls).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal

import torch
from torch import Tensor

from robustlab import _checks

Precision = Literal["float32", "bf16-mixed"]
PRECISIONS: tuple[str, ...] = ("float32", "bf16-mixed")
DEFAULT_PRECISION: Precision = "float32"

_CURRENT: ContextVar[Precision] = ContextVar("robustlab_precision", default=DEFAULT_PRECISION)


def check_precision(value: object, name: str = "precision") -> Precision:
    """One of PRECISIONS; raises ValueError naming the value and the allowed ones."""
    checked = _checks.choice(name, value, PRECISIONS)
    return "bf16-mixed" if checked == "bf16-mixed" else "float32"


@contextmanager
def training_precision(precision: str) -> Iterator[None]:
    """Make `precision` the default of every learner called inside the block."""
    token = _CURRENT.set(check_precision(precision))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def resolve_precision(precision: object | None) -> Precision:
    """`precision` checked, or the context's (`training_precision`) when None."""
    return _CURRENT.get() if precision is None else check_precision(precision)


def uses_bf16(precision: Precision, dtype: torch.dtype) -> bool:
    """Whether a step on `dtype` weights computes its products in bfloat16.

    Only float32 weights are rounded: a float64 run (theory checks) stays float64.
    """
    return precision == "bf16-mixed" and dtype == torch.float32


def bf16(t: Tensor) -> Tensor:
    """A bfloat16 copy of a float tensor (round to nearest even)."""
    return t.to(torch.bfloat16)
