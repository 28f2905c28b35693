"""Linear models with a leading ensemble axis: the convex warm-up of paper 001.

f(x) = <w, x> + b for E independent members at once (paper 001 section 2, Proposition 2.1 and
Theorem 2.2; the MNIST linear model of section 5, Figures 1-2). Binary models hold `weight`
(E, d) and `bias` (E,) and output (E, n); K-class models hold `weight` (E, K, d) and `bias`
(E, K) and output (E, n, K). Inputs are (n, d) (shared by all members) or (E, n, d), as for
`TwoLayerNet`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from robustlab import _checks
from robustlab.models.io import register_model


@dataclass(frozen=True)
class LinearGrad:
    """Gradient of a linear model's weighted output with respect to its parameters.

    weight: (E, d) or (E, K, d); bias: (E,) or (E, K), None when the model has no bias.
    """

    weight: Tensor
    bias: Tensor | None


def _check_sizes(ensemble: int, dim: int, outputs: int) -> None:
    for name, value in (("ensemble", ensemble), ("dim", dim), ("outputs", outputs)):
        _checks.integer(name, value, low=1)


@register_model
class LinearModel(nn.Module):
    """An ensemble of E linear (affine) models f(x) = <w, x> + b (paper 001 section 2).

    Shapes: weight (E, d) and bias (E,) for a binary model (one logit, output (E, n)), or
    weight (E, K, d) and bias (E, K) for K classes (output (E, n, K)); bias may be None.
    Raises ValueError for inconsistent shapes or non-finite parameters.
    """

    weight: nn.Parameter
    bias: nn.Parameter | None

    def __init__(self, weight: Tensor, bias: Tensor | None = None) -> None:
        super().__init__()
        _checks.tensor("weight", weight, floating=True)
        _checks.optional_tensor("bias", bias, floating=True)
        if weight.ndim not in (2, 3):
            raise ValueError(
                f"weight must be (E, d) (binary) or (E, K, d) (K classes), "
                f"got shape {tuple(weight.shape)}"
            )
        expected_bias = tuple(weight.shape[:-1])
        if bias is not None and tuple(bias.shape) != expected_bias:
            raise ValueError(f"bias must have shape {expected_bias}, got {tuple(bias.shape)}")
        self.weight = nn.Parameter(weight.detach().clone())
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone())

    # ----------------------------------------------------------------- constructors
    @classmethod
    def zeros(
        cls,
        ensemble: int,
        dim: int,
        *,
        outputs: int = 1,
        bias: bool = True,
        dtype: torch.dtype = torch.float32,
    ) -> LinearModel:
        """All-zero weights: the usual w_0 = 0 start of projected SGD (paper 001 Theorem 2.2)."""
        _check_sizes(ensemble, dim, outputs)
        _checks.dtype("dtype", dtype)
        lead = (ensemble,) if outputs == 1 else (ensemble, outputs)
        return cls(
            torch.zeros((*lead, dim), dtype=dtype),
            torch.zeros(lead, dtype=dtype) if bias else None,
        )

    @classmethod
    def pytorch_init(
        cls,
        ensemble: int,
        dim: int,
        *,
        outputs: int = 1,
        bias: bool = True,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> LinearModel:
        """PyTorch's default `nn.Linear` initialization, U(-1/sqrt(d), 1/sqrt(d)) for w and b.

        Paper 001 section 5 ("we initialize the networks using Pytorch initialization").
        """
        _check_sizes(ensemble, dim, outputs)
        _checks.dtype("dtype", dtype)
        lead = (ensemble,) if outputs == 1 else (ensemble, outputs)
        bound = 1.0 / math.sqrt(dim)
        weight = (torch.rand((*lead, dim), generator=generator, dtype=dtype) * 2 - 1) * bound
        b = (torch.rand(lead, generator=generator, dtype=dtype) * 2 - 1) * bound if bias else None
        return cls(weight, b)

    # ----------------------------------------------------------------- sizes
    @property
    def ensemble(self) -> int:
        return int(self.weight.shape[0])

    @property
    def dim(self) -> int:
        return int(self.weight.shape[-1])

    @property
    def outputs(self) -> int:
        """1 for a binary model, K for a K-class one."""
        return 1 if self.weight.ndim == 2 else int(self.weight.shape[1])

    # ----------------------------------------------------------------- forward
    def _check_input(self, x: Tensor) -> None:
        # dtype, device and shape only: a forward pass sits in every hot loop, so finiteness
        # is checked once at the entry of the library functions that call it.
        _checks.tensor("x", x, floating=True, finite=False)
        _checks.matches_model("x", x, self)
        if x.ndim == 2 and x.shape[1] == self.dim:
            return
        if x.ndim == 3 and x.shape[0] == self.ensemble and x.shape[2] == self.dim:
            return
        raise ValueError(
            f"x must be (n, d) or (E, n, d) with E={self.ensemble}, d={self.dim}; "
            f"got shape {tuple(x.shape)}"
        )

    def _weight_matrix(self) -> Tensor:
        """weight as (E, K, d) for both kinds (K = 1 for binary)."""
        return self.weight.unsqueeze(1) if self.weight.ndim == 2 else self.weight

    def forward(self, x: Tensor) -> Tensor:
        """Logits <w, x> + b: (E, n) for a binary model, (E, n, K) for K classes."""
        self._check_input(x)
        out = torch.matmul(x, self._weight_matrix().transpose(1, 2))  # (E, n, K)
        if self.bias is not None:
            bias = self.bias.unsqueeze(-1) if self.bias.ndim == 1 else self.bias
            out = out + bias.unsqueeze(1)
        return out.squeeze(-1) if self.weight.ndim == 2 else out

    def _per_sample(self, t: Tensor | None, n: int, name: str) -> Tensor:
        """Broadcast per-sample coefficients to (E, n, K); None means all ones (binary only)."""
        E, K = self.ensemble, self.outputs
        if self.weight.ndim == 2:
            if t is None:
                return torch.ones((E, n, 1), dtype=self.weight.dtype, device=self.weight.device)
            if t.shape == (n,):
                return t.reshape(1, n, 1).expand(E, n, 1)
            if t.shape == (E, n):
                return t.unsqueeze(-1)
            raise ValueError(f"{name} must be (n,) or (E, n) = {(E, n)}, got {tuple(t.shape)}")
        if t is None:
            raise ValueError(f"a {K}-class model needs `{name}` of shape (n, K) or (E, n, K)")
        if t.shape == (n, K):
            return t.unsqueeze(0).expand(E, n, K)
        if t.shape == (E, n, K):
            return t
        raise ValueError(
            f"{name} must be (n, K) = {(n, K)} or (E, n, K) = {(E, n, K)}, got {tuple(t.shape)}"
        )

    def input_grad(self, x: Tensor, direction: Tensor | None = None) -> Tensor:
        """Closed-form gradient of <direction, f(x_i)> with respect to x_i: (E, n, d).

        For a binary model and no direction this is w itself for every sample (paper 001
        Proposition 2.1); `direction` (n,) / (E, n) weights each sample's logit, and for K classes
        (n, K) / (E, n, K) picks the combination of logits, giving direction_i^T W.
        Raises ValueError for a bad x or direction shape.
        """
        self._check_input(x)
        coef = self._per_sample(direction, x.shape[-2], "direction")
        return torch.matmul(coef, self._weight_matrix())

    def param_grad(self, x: Tensor, weights: Tensor | None = None) -> LinearGrad:
        """Closed-form gradient of sum_i <weights_i, f(x_i)> with respect to (w, b).

        `weights` (n,) / (E, n) for binary (default all ones), (n, K) / (E, n, K) for K classes.
        With weights = y_i l'(y_i f(x_i)) / n this is the full-batch gradient of the empirical
        margin loss, the g_t of paper 001 Theorem 2.2. Shapes as `weight` and `bias`.
        """
        self._check_input(x)
        coef = self._per_sample(weights, x.shape[-2], "weights")  # (E, n, K)
        xe = x if x.ndim == 3 else x.unsqueeze(0).expand(self.ensemble, -1, -1)
        grad_w = torch.matmul(coef.transpose(1, 2), xe)  # (E, K, d)
        grad_b = coef.sum(dim=1)  # (E, K)
        if self.weight.ndim == 2:
            grad_w, grad_b = grad_w.squeeze(1), grad_b.squeeze(1)
        return LinearGrad(weight=grad_w, bias=None if self.bias is None else grad_b)

    # ----------------------------------------------------------------- constraint set
    def parameter_norm(self) -> Tensor:
        """l2 norm of each member's whole parameter vector (w, b): (E,)."""
        sq = self.weight.detach().flatten(1).pow(2).sum(dim=1)
        if self.bias is not None:
            sq = sq + self.bias.detach().reshape(self.ensemble, -1).pow(2).sum(dim=1)
        norm: Tensor = sq.sqrt()
        return norm

    def project_to_ball(self, radius: float | Tensor) -> None:
        """Rescale each member's (w, b) in place onto {||(w, b)||_2 <= D}.

        The projection Pi_W of projected SGD in paper 001 Theorem 2.2. `radius` is a scalar or
        an (E,) tensor. Raises ValueError for a negative or NaN radius.
        """
        from robustlab.geometry import project_l2_ball

        with torch.no_grad():
            params = [self.weight.flatten(1)]
            if self.bias is not None:
                params.append(self.bias.reshape(self.ensemble, -1))
            flat = torch.cat(params, dim=1)
            projected = project_l2_ball(flat, radius)
            self.weight.copy_(projected[:, : self.weight[0].numel()].reshape(self.weight.shape))
            if self.bias is not None:
                tail = projected[:, self.weight[0].numel() :]
                self.bias.copy_(tail.reshape(self.bias.shape))

    def member(self, index: int | slice | Tensor) -> LinearModel:
        """A new model holding a subset of the ensemble members (copies)."""
        idx = torch.arange(self.ensemble)[index].reshape(-1)
        return LinearModel(
            self.weight.detach()[idx], None if self.bias is None else self.bias.detach()[idx]
        )

    # ----------------------------------------------------------------- persistence
    def saved_state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        tensors = {"weight": self.weight.detach()}
        if self.bias is not None:
            tensors["bias"] = self.bias.detach()
        return tensors, {"outputs": self.outputs, "bias": self.bias is not None}

    @classmethod
    def from_saved(cls, tensors: dict[str, Tensor], meta: dict[str, Any]) -> LinearModel:
        if "weight" not in tensors:
            raise ValueError(f"a saved LinearModel needs a 'weight' tensor, got {sorted(tensors)}")
        announced = _checks.flag("metadata bias", meta.get("bias", "bias" in tensors))
        if announced and "bias" not in tensors:
            raise ValueError("the saved LinearModel metadata announces a bias but none is stored")
        return cls(tensors["weight"], tensors.get("bias"))

    def extra_repr(self) -> str:
        return f"E={self.ensemble}, d={self.dim}, K={self.outputs}, bias={self.bias is not None}"
