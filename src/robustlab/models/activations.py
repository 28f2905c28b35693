"""Activations with closed-form derivatives.

Piecewise-linear ones (ReLU, leaky ReLU) expose their negative slope so that exact ray searches
(the minimal flipping step of paper 002) can treat the network as piecewise linear.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

ACTIVATIONS = ("relu", "leaky_relu", "softplus", "gelu", "tanh", "identity")

_SQRT_2PI = math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Activation:
    """A scalar activation sigma with its derivative sigma'.

    `alpha` is the negative slope of the leaky ReLU (0 for ReLU); it is ignored by smooth ones.
    """

    name: str
    alpha: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, numbers.Real):
            raise TypeError(f"alpha must be a real number, got {self.alpha!r}")
        if self.name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.name!r}; allowed: {', '.join(ACTIVATIONS)}")
        if not math.isfinite(self.alpha):
            raise ValueError(f"alpha must be a finite number, got {self.alpha}")
        if self.name == "leaky_relu" and not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"leaky_relu alpha must be in [0, 1], got {self.alpha}")

    @property
    def piecewise_linear(self) -> bool:
        """True for ReLU, leaky ReLU and identity: linear between the breakpoints z = 0."""
        return self.name in ("relu", "leaky_relu", "identity")

    @property
    def negative_slope(self) -> float:
        """Slope on z < 0 for piecewise-linear activations."""
        if self.name == "relu":
            return 0.0
        if self.name == "leaky_relu":
            return self.alpha
        if self.name == "identity":
            return 1.0
        raise ValueError(f"{self.name} is not piecewise linear")

    def __call__(self, z: Tensor) -> Tensor:
        if self.name == "relu":
            return torch.relu(z)
        if self.name == "leaky_relu":
            return F.leaky_relu(z, self.alpha)
        if self.name == "softplus":
            return F.softplus(z)
        if self.name == "gelu":
            return F.gelu(z)
        if self.name == "tanh":
            return torch.tanh(z)
        return z

    def derivative(self, z: Tensor) -> Tensor:
        """sigma'(z); at the kink z = 0 ReLU-type ones take the left slope, as torch autograd."""
        if self.name in ("relu", "leaky_relu"):
            slope = self.negative_slope
            return torch.where(z > 0, torch.ones_like(z), torch.full_like(z, slope))
        if self.name == "softplus":
            return torch.sigmoid(z)
        if self.name == "gelu":
            cdf = 0.5 * (1.0 + torch.erf(z / math.sqrt(2.0)))
            return cdf + z * torch.exp(-0.5 * z * z) / _SQRT_2PI
        if self.name == "tanh":
            return 1.0 - torch.tanh(z) ** 2
        return torch.ones_like(z)


def get_activation(activation: str | Activation, alpha: float = 0.0) -> Activation:
    """Normalize a name or an Activation into an Activation."""
    if isinstance(activation, Activation):
        return activation
    if activation == "relu":
        return Activation("relu")
    return Activation(activation, alpha)
