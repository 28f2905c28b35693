"""Label-flip poisoning (paper 001 regime C).

Binary labels y in {-1, +1} are negated with probability beta; K-class labels move from class i to
(i + 1) mod K with probability beta (paper 001 section 5, "from the true class i to (i+1) mod 10").
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from robustlab import _checks
from robustlab.geometry import draw_device


@dataclass(frozen=True)
class LabelFlipResult:
    """Poisoned labels y (n,) (same dtype as given) and the flipped mask (n,) bool."""

    y: Tensor
    flipped: Tensor

    @property
    def rate(self) -> float:
        """Fraction of labels flipped."""
        return float(self.flipped.float().mean()) if self.flipped.numel() else 0.0


def resolve_generator(
    generator: torch.Generator | None, seed: int | None
) -> torch.Generator | None:
    """One source of randomness: an explicit generator, or a fresh one seeded with `seed`."""
    if generator is not None and seed is not None:
        raise ValueError("pass either generator or seed, not both")
    if seed is not None:
        return torch.Generator().manual_seed(int(seed))
    return generator


def label_flip(
    y: Tensor,
    beta: float,
    *,
    num_classes: int | None = None,
    seed: int | None = None,
    generator: torch.Generator | None = None,
) -> LabelFlipResult:
    """Flip each label independently with probability beta; returns labels and flip mask.

    y: (n,). Binary (num_classes None or 2 with labels in {-1, +1}): y -> -y. Multiclass
    (integer labels in 0..K-1, num_classes=K): i -> (i + 1) mod K (paper 001 section 5). The
    draws come from `generator` or from a fresh generator seeded with `seed` (torch's global
    generator when neither is given). Raises ValueError for beta outside [0, 1] or labels that do
    not fit the stated kind.
    """
    _checks.labels("y", y)
    _checks.real("beta", beta)
    _checks.optional_integer("num_classes", num_classes)
    _checks.optional_integer("seed", seed)
    _checks.generator_(generator)
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must be in [0, 1], got {beta}")
    if y.ndim != 1:
        raise ValueError(f"y must be (n,), got shape {tuple(y.shape)}")
    gen = resolve_generator(generator, seed)
    draw = torch.rand(y.shape, generator=gen, dtype=torch.float64, device=draw_device(gen, y))
    flipped = (draw < beta).to(y.device)
    signed = bool(((y == 1) | (y == -1)).all())
    if num_classes is None or (num_classes == 2 and signed and y.numel() > 0):
        if not signed:
            raise ValueError(
                "binary label flips need labels in {-1, +1}; for classes 0..K-1 pass num_classes"
            )
        return LabelFlipResult(torch.where(flipped, -y, y), flipped)
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    if y.is_floating_point() and not bool((y == y.round()).all()):
        raise ValueError("multiclass labels must be whole numbers 0..K-1")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(
            f"class labels must lie in 0..{num_classes - 1}, got range "
            f"{int(y.min())}..{int(y.max())}"
        )
    shifted = torch.remainder(y + 1, num_classes).to(y.dtype)
    return LabelFlipResult(torch.where(flipped, shifted, y), flipped)
