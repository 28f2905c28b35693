"""The `Dataset` record shared by the synthetic generators and the real-data loaders."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Self

import torch
from torch import Tensor

from robustlab import _checks


@dataclass(frozen=True, eq=False)
class Dataset:
    """A labelled sample: inputs `x` (n, d), labels `y` (n,), and a name for logs and tables.

    Binary sets carry float labels in {-1, +1} (ready for margins z = y f(x)); multiclass sets
    carry int64 labels in 0..K-1. Equality is identity (tensors have no single truth value).

    Raises ValueError when x is not 2-D or y is not (n,).
    """

    x: Tensor
    y: Tensor
    name: str

    def __post_init__(self) -> None:
        _checks.tensor("Dataset x", self.x, finite=False)
        _checks.tensor("Dataset y", self.y, finite=False)
        if self.x.ndim != 2:
            raise ValueError(f"Dataset x must be (n, d), got shape {tuple(self.x.shape)}")
        if self.y.shape != (self.x.shape[0],):
            raise ValueError(
                f"Dataset y must be (n,) = ({self.x.shape[0]},), got shape {tuple(self.y.shape)}"
            )

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, n={self.n}, d={self.d}, "
            f"x={self.x.dtype}, y={self.y.dtype}, device={self.x.device})"
        )

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.x.shape[0])

    @property
    def d(self) -> int:
        """Input dimension."""
        return int(self.x.shape[1])

    def subset(self, index: Tensor | slice) -> Self:
        """The samples picked by a boolean mask, an index tensor or a slice (same type, name)."""
        return replace(self, x=self.x[index], y=self.y[index])

    def to(self, device: torch.device | str) -> Self:
        """The same data on another device."""
        return replace(self, x=self.x.to(device), y=self.y.to(device))


def random_subset(
    x: Tensor, y: Tensor, n: int | None, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """A uniformly drawn subset of n samples of (x, y); all of them when n is None or >= len(x)."""
    _checks.tensor("x", x, finite=False)
    _checks.tensor("y", y, finite=False)
    _checks.optional_integer("n", n, low=0)
    _checks.generator_(generator)
    if n is None or n >= x.shape[0]:
        return x, y
    index = torch.randperm(x.shape[0], generator=generator)[:n]
    return x[index], y[index]
