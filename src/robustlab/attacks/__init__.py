"""Attacks at inference time: gradient steps, FGSM/BIM/PGD, universal and grid search."""

from robustlab.attacks.iterative import (
    bim,
    constant_schedule,
    cosine_schedule,
    fgsm,
    pgd,
    step_decay,
)
from robustlab.attacks.result import AttackResult

__all__ = [
    "AttackResult",
    "bim",
    "constant_schedule",
    "cosine_schedule",
    "fgsm",
    "pgd",
    "step_decay",
]
