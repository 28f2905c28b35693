"""Single-filter depth-2 nets of paper 000 (Definition 1), with a leading ensemble axis.

f_w(x) = (1/k) sum_{i=1}^k sigma_alpha(w^T A_i x) with k sensing matrices A_i in R^{r x n}
(stacked as `sensing`, shape (k, r, n)), the alpha-leaky ReLU sigma_alpha (alpha = 0 is the
ReLU) and one filter w in R^r shared by all k gates. E independent filters are held at once:
w is (E, r); inputs are (N, n) (shared by all members) or (E, N, n); outputs are (E, N).

Sensing-matrix builders cover the instances named in the paper: the single ReLU gate
(k = 1, A_1 = I), depth-2 convolutional nets (each A_i has exactly one 1 per row and at most
one per column) and the random family A_i = M + c_i C of the later version's experiments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from robustlab import _checks
from robustlab.models.activations import Activation, get_activation
from robustlab.models.io import register_model


@dataclass(frozen=True)
class SensingFamily:
    """Sensing matrices with the matrix M of the Neuro-Tron update they were built around.

    sensing: (k, r, n); mean: (r, n), equal to (1/k) sum_i A_i up to floating-point rounding.
    """

    sensing: Tensor
    mean: Tensor


def identity_sensing(dim: int, *, dtype: torch.dtype = torch.float32) -> Tensor:
    """The single ReLU gate F_{1, 0, {I_n}, R^n} of paper 000, Definition 1 (a): (1, n, n).

    Raises ValueError if dim < 1.
    """
    _checks.integer("dim", dim, low=1)
    return torch.eye(dim, dtype=dtype).unsqueeze(0)


def conv_sensing(
    dim: int, filter_size: int, *, stride: int = 1, dtype: torch.dtype = torch.float32
) -> Tensor:
    """1-D convolution patches, paper 000 Definition 1 (b): (k, r, n) 0/1 matrices.

    Patch i reads coordinates [i * stride, i * stride + r): (A_i)_{j, i*stride + j} = 1, so each
    A_i has exactly one 1 per row and at most one per column; k = (n - r) // stride + 1.
    Raises ValueError unless 1 <= r <= n and stride >= 1.
    """
    _checks.integer("dim", dim, low=1)
    _checks.integer("filter_size", filter_size, low=1)
    _checks.integer("stride", stride, low=1)
    if not 1 <= filter_size <= dim:
        raise ValueError(f"filter_size must be in [1, dim={dim}], got {filter_size}")
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    k = (dim - filter_size) // stride + 1
    sensing = torch.zeros(k, filter_size, dim, dtype=dtype)
    patch = torch.arange(k).view(k, 1)
    row = torch.arange(filter_size).view(1, filter_size)
    sensing[patch, row, patch * stride + row] = 1.0
    return sensing


def perturbed_mean_sensing(
    width: int,
    filter_size: int,
    dim: int,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> SensingFamily:
    """A_i = M + c_i C, c_i in {-k/2, ..., -1, 1, ..., k/2}: the later version's experiments.

    M = [M_X | M_Y] with M_X (r, r) and M_Y (r, n - r), and C (r, n), all with i.i.d. N(0, 1)
    entries (drawn in the order M_X, M_Y, C). The c_i are symmetric around 0, so the mean of
    the A_i is M, the matrix the Neuro-Tron update uses. Returns sensing (k, r, n) and M (r, n).
    Raises ValueError unless k is even and >= 2 and 1 <= r <= n.
    """
    _checks.integer("width", width)
    _checks.integer("filter_size", filter_size)
    _checks.integer("dim", dim)
    if width < 2 or width % 2:
        raise ValueError(f"width k must be even and >= 2, got {width}")
    if not 1 <= filter_size <= dim:
        raise ValueError(f"filter_size must be in [1, dim={dim}], got {filter_size}")
    m_x = torch.randn(filter_size, filter_size, generator=generator, dtype=dtype)
    m_y = torch.randn(filter_size, dim - filter_size, generator=generator, dtype=dtype)
    mean = torch.cat([m_x, m_y], dim=1)
    spread = torch.randn(filter_size, dim, generator=generator, dtype=dtype)
    half = width // 2
    factors = torch.cat([torch.arange(-half, 0), torch.arange(1, half + 1)]).to(dtype)
    sensing = mean.unsqueeze(0) + factors.view(width, 1, 1) * spread.unsqueeze(0)
    return SensingFamily(sensing=sensing, mean=mean)


@register_model
class SingleFilterNet(nn.Module):
    """An ensemble of E single-filter depth-2 nets f_w(x) = (1/k) sum_i sigma(w^T A_i x).

    Paper 000, Definition 1. Shapes: sensing (k, r, n) (a buffer shared by all members),
    w (E, r). Calling the net on x (N, n) or (E, N, n) returns (E, N).
    Raises ValueError for inconsistent shapes, non-finite values or alpha outside [0, 1].
    """

    w: nn.Parameter
    sensing: Tensor

    def __init__(self, sensing: Tensor, w: Tensor, *, alpha: float = 0.0) -> None:
        super().__init__()
        _checks.tensor("sensing", sensing, floating=True)
        _checks.tensor("w", w, floating=True)
        _checks.real("alpha", alpha)
        if sensing.ndim != 3:
            raise ValueError(f"sensing must be (k, r, n), got shape {tuple(sensing.shape)}")
        if w.ndim != 2 or w.shape[1] != sensing.shape[1]:
            raise ValueError(
                f"w must be (E, r) with r={sensing.shape[1]}, got shape {tuple(w.shape)}"
            )
        self.activation: Activation = get_activation("leaky_relu", alpha)
        self.register_buffer("sensing", sensing.detach().clone().to(w.dtype))
        self.w = nn.Parameter(w.detach().clone())

    # ----------------------------------------------------------------- constructors
    @classmethod
    def relu_gate(cls, w: Tensor, *, alpha: float = 0.0) -> SingleFilterNet:
        """Single (leaky) ReLU gate sigma(w^T x): k = 1, A_1 = I_n, r = n (Definition 1 (a))."""
        w = _as_ensemble(_checks.tensor("w", w, floating=True))
        return cls(identity_sensing(w.shape[1], dtype=w.dtype), w, alpha=alpha)

    @classmethod
    def convolutional(
        cls, w: Tensor, dim: int, *, stride: int = 1, alpha: float = 0.0
    ) -> SingleFilterNet:
        """Depth-2 convolutional net with filter w (E, r) over inputs of size n (Def. 1 (b))."""
        w = _as_ensemble(_checks.tensor("w", w, floating=True))
        sensing = conv_sensing(dim, w.shape[1], stride=stride, dtype=w.dtype)
        return cls(sensing, w, alpha=alpha)

    # ----------------------------------------------------------------- sizes
    @property
    def ensemble(self) -> int:
        return int(self.w.shape[0])

    @property
    def width(self) -> int:
        """k, the number of gates (sensing matrices)."""
        return int(self.sensing.shape[0])

    @property
    def filter_size(self) -> int:
        """r, the size of the filter w."""
        return int(self.sensing.shape[1])

    @property
    def dim(self) -> int:
        """n, the input dimension."""
        return int(self.sensing.shape[2])

    @property
    def alpha(self) -> float:
        return self.activation.alpha

    @property
    def mean_sensing(self) -> Tensor:
        """A-bar = (1/k) sum_i A_i: (r, n) (paper 000, notation before Algorithm 1)."""
        return self.sensing.mean(dim=0)

    # ----------------------------------------------------------------- forward
    def _weights(self, w: Tensor | None) -> Tensor:
        if w is None:
            return self.w
        if w.ndim == 1:
            w = w.unsqueeze(0).expand(self.ensemble, -1)
        if w.shape != (self.ensemble, self.filter_size):
            raise ValueError(
                f"w must be (r,) or (E, r) = {(self.ensemble, self.filter_size)}, "
                f"got {tuple(w.shape)}"
            )
        return w

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
            f"x must be (N, n) or (E, N, n) with E={self.ensemble}, n={self.dim}; "
            f"got shape {tuple(x.shape)}"
        )

    def effective_filters(self, w: Tensor | None = None) -> Tensor:
        """A_i^T w for every member and gate: (E, k, n)."""
        return torch.einsum("er,krn->ekn", self._weights(w), self.sensing)

    def preactivation(self, x: Tensor, w: Tensor | None = None) -> Tensor:
        """w^T A_i x for every member, sample and gate: (E, N, k)."""
        self._check_input(x)
        return torch.matmul(x, self.effective_filters(w).transpose(1, 2))

    def output(self, x: Tensor, w: Tensor | None = None) -> Tensor:
        """f_w(x) for explicit filters w (r,) or (E, r) (default: the net's own): (E, N)."""
        return self.activation(self.preactivation(x, w)).mean(dim=2)

    def forward(self, x: Tensor) -> Tensor:
        """f_w(x): (E, N)."""
        return self.output(x)

    # ----------------------------------------------------------------- closed-form gradients
    def _gate_coefficients(self, x: Tensor, w: Tensor | None, weights: Tensor | None) -> Tensor:
        """weights_j * sigma'(w^T A_i x_j) / k: (E, N, k)."""
        pre = self.preactivation(x, w)
        coef = self.activation.derivative(pre) / self.width
        if weights is not None:
            coef = coef * _as_en(weights, self.ensemble, pre.shape[1]).unsqueeze(-1)
        return coef

    def input_grad(
        self, x: Tensor, direction: Tensor | None = None, *, w: Tensor | None = None
    ) -> Tensor:
        """grad_x of direction_j * f_w(x_j): (1/k) sum_i sigma'(w^T A_i x) A_i^T w, (E, N, n).

        `direction` (N,) or (E, N) weights each sample (default 1).
        """
        coef = self._gate_coefficients(x, w, direction)
        return torch.matmul(coef, self.effective_filters(w))

    def param_grad(
        self, x: Tensor, weights: Tensor | None = None, *, w: Tensor | None = None
    ) -> Tensor:
        """grad_w of sum_j weights_j f_w(x_j) = sum_j weights_j (1/k) sum_i sigma' A_i x_j: (E, r).

        `weights` (N,) or (E, N), default all ones. Each sample keeps its own activation
        pattern sigma'(w^T A_i x_j); the square-loss SGD step is weights = (f - y) / N.
        """
        coef = self._gate_coefficients(x, w, weights)
        xe = x if x.ndim == 3 else x.unsqueeze(0).expand(self.ensemble, -1, -1)
        gate_inputs = torch.matmul(coef.transpose(1, 2), xe)
        return torch.einsum("ekn,krn->er", gate_inputs, self.sensing)

    def per_sample_param_grad(self, x: Tensor, *, w: Tensor | None = None) -> Tensor:
        """grad_w f_w(x_j) for every sample separately: (E, N, r)."""
        coef = self._gate_coefficients(x, w, None)
        xe = x if x.ndim == 3 else x.unsqueeze(0).expand(self.ensemble, -1, -1)
        sensed = torch.einsum("krn,ejn->ejkr", self.sensing, xe)
        return torch.einsum("ejk,ejkr->ejr", coef, sensed)

    # ----------------------------------------------------------------- utilities
    def with_weights(self, w: Tensor) -> SingleFilterNet:
        """A new net with the same sensing matrices and filters w (E', r) or (r,)."""
        return SingleFilterNet(self.sensing, _as_ensemble(w), alpha=self.alpha)

    def saved_state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        return {"w": self.w.detach(), "sensing": self.sensing}, {"alpha": self.alpha}

    @classmethod
    def from_saved(cls, tensors: dict[str, Tensor], meta: dict[str, Any]) -> SingleFilterNet:
        return cls(tensors["sensing"], tensors["w"], alpha=_checks.real("alpha", meta["alpha"]))

    def extra_repr(self) -> str:
        return (
            f"E={self.ensemble}, k={self.width}, r={self.filter_size}, n={self.dim}, "
            f"alpha={self.alpha:.4g}"
        )


def _as_ensemble(w: Tensor) -> Tensor:
    """(r,) -> (1, r); (E, r) unchanged."""
    if w.ndim == 1:
        return w.unsqueeze(0)
    if w.ndim == 2:
        return w
    raise ValueError(f"w must be (r,) or (E, r), got shape {tuple(w.shape)}")


def _as_en(t: Tensor, ensemble: int, n: int) -> Tensor:
    """Broadcast a per-sample tensor (N,) or (E, N) to (E, N)."""
    if t.ndim == 1 and t.shape[0] == n:
        return t.unsqueeze(0).expand(ensemble, n)
    if t.shape == (ensemble, n):
        return t
    raise ValueError(f"expected shape (N,) or (E, N) = {(ensemble, n)}, got {tuple(t.shape)}")
