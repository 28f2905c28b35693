"""Two-layer networks with a leading ensemble axis.

f(x) = scale * sum_s a_s sigma(w_s . x + b_s), evaluated for E independent members at once:
W is (E, m, d), a is (E, m) (or (E, K, m) for K outputs), b is (E, m) or absent.
The closed-form input gradient is scale * W^T (a * sigma'(W x + b))  (DESIGN.md, principle 3).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from robustlab import _checks
from robustlab.models.activations import ACTIVATIONS, Activation, get_activation
from robustlab.models.io import register_model

INIT_SCHEMES = ("ntk", "bubeck", "vardi", "leaky")


def _normal(
    shape: tuple[int, ...], generator: torch.Generator | None, dtype: torch.dtype
) -> Tensor:
    return torch.randn(shape, generator=generator, dtype=dtype)


def _signs(shape: tuple[int, ...], generator: torch.Generator | None, dtype: torch.dtype) -> Tensor:
    return torch.randint(0, 2, shape, generator=generator).to(dtype) * 2 - 1


def _check_sizes(ensemble: int, width: int, dim: int, outputs: int) -> None:
    for name, value in (
        ("ensemble", ensemble),
        ("width", width),
        ("dim", dim),
        ("outputs", outputs),
    ):
        _checks.integer(name, value, low=1)


@register_model
class TwoLayerNet(nn.Module):
    """An ensemble of E two-layer networks sharing architecture, each with its own weights.

    Shapes: W (E, m, d); a (E, m) when K = 1 or (E, K, m); b (E, m) or None.
    Calling the net on x of shape (n, d) (shared by all members) or (E, n, d) returns (E, n)
    when K = 1 (the scalar margin case of all the theorems) and (E, n, K) otherwise.

    The initial first layer (W0, b0) is kept as a buffer for the lazy-regime diagnostics of
    paper 002 (Definition 2.1, Lemma 4.3).
    """

    W: nn.Parameter
    a: nn.Parameter
    b: nn.Parameter | None
    W0: Tensor
    b0: Tensor | None

    def __init__(
        self,
        W: Tensor,
        a: Tensor,
        b: Tensor | None = None,
        *,
        activation: str | Activation = "relu",
        alpha: float = 0.0,
        scale: float = 1.0,
        train_top: bool = False,
        scheme: str = "custom",
    ) -> None:
        super().__init__()
        _check_parameters(W, a, b, scale=scale, alpha=alpha, train_top=train_top)
        if W.ndim != 3:
            raise ValueError(f"W must be (E, m, d), got shape {tuple(W.shape)}")
        E, m, _ = W.shape
        if a.shape not in ((E, m),) and not (a.ndim == 3 and a.shape[0] == E and a.shape[2] == m):
            raise ValueError(f"a must be (E, m) = {(E, m)} or (E, K, m), got {tuple(a.shape)}")
        if b is not None and b.shape != (E, m):
            raise ValueError(f"b must be (E, m) = {(E, m)}, got {tuple(b.shape)}")
        self.activation = get_activation(activation, alpha)
        self.scale = float(scale)
        self.scheme = scheme
        self.W = nn.Parameter(W.clone())
        self.a = nn.Parameter(a.clone(), requires_grad=train_top)
        self.b = None if b is None else nn.Parameter(b.clone())
        self.register_buffer("W0", W.detach().clone())
        self.register_buffer("b0", None if b is None else b.detach().clone())

    # ----------------------------------------------------------------- constructors
    @classmethod
    def ntk(
        cls,
        ensemble: int,
        width: int,
        dim: int,
        *,
        outputs: int = 1,
        activation: str = "relu",
        alpha: float = 0.0,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> TwoLayerNet:
        """NTK/lazy parametrization (paper 001 section 3; paper 002 Definition 2.1).

        a_s ~ unif{-1, +1} (fixed), w_s ~ N(0, I_d), f = (1/sqrt m) sum_s a_s relu(w_s . x).
        """
        _check_sizes(ensemble, width, dim, outputs)
        _checks.dtype("dtype", dtype)
        W = _normal((ensemble, width, dim), generator, dtype)
        a_shape = (ensemble, width) if outputs == 1 else (ensemble, outputs, width)
        a = _signs(a_shape, generator, dtype)
        return cls(
            W, a, activation=activation, alpha=alpha, scale=1 / math.sqrt(width), scheme="ntk"
        )

    @classmethod
    def bubeck(
        cls,
        ensemble: int,
        width: int,
        dim: int,
        *,
        activation: str = "relu",
        alpha: float = 0.0,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> TwoLayerNet:
        """Random net of Bubeck et al. 2021 (paper 003, eq. (1)).

        w_l ~ N(0, I_d / d), a_l ~ unif{-1, +1}, f = (1/sqrt k) sum_l a_l sigma(w_l . x).
        """
        _check_sizes(ensemble, width, dim, 1)
        _checks.dtype("dtype", dtype)
        W = _normal((ensemble, width, dim), generator, dtype) / math.sqrt(dim)
        a = _signs((ensemble, width), generator, dtype)
        return cls(
            W, a, activation=activation, alpha=alpha, scale=1 / math.sqrt(width), scheme="bubeck"
        )

    @classmethod
    def vardi(
        cls,
        ensemble: int,
        width: int,
        dim: int,
        *,
        init_scale: float = 1e-2,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> TwoLayerNet:
        """Net of Vardi, Yehudai & Shamir 2022 (paper 003, eq. (11)), small initialization.

        f = sum_l a_l relu(w_l . x + b_l) with w, b and a all trainable; w_l ~ N(0, s^2 I/d),
        b_l ~ N(0, s^2), a_l ~ N(0, s^2 / k) with s = `init_scale`, so that gradient flow starts
        near the origin and converges in direction to a KKT point of the max-margin problem.
        """
        _check_sizes(ensemble, width, dim, 1)
        _checks.dtype("dtype", dtype)
        _checks.real("init_scale", init_scale, low=0.0, low_open=True)
        W = _normal((ensemble, width, dim), generator, dtype) * (init_scale / math.sqrt(dim))
        b = _normal((ensemble, width), generator, dtype) * init_scale
        a = _normal((ensemble, width), generator, dtype) * (init_scale / math.sqrt(width))
        return cls(W, a, b, activation="relu", scale=1.0, train_top=True, scheme="vardi")

    @classmethod
    def leaky(
        cls,
        ensemble: int,
        width: int,
        dim: int,
        *,
        alpha: float = 0.1,
        kappa: float | None = None,
        omega: float = 1.0,
        outputs: int = 1,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> TwoLayerNet:
        """Leaky-ReLU net of paper 004 section 2: f = a^T sigma(W x), top layer fixed.

        a_s = kappa * unif{-1, +1} so ||a||_inf = kappa (default 1/sqrt(m), the paper's
        "proper initialization"); W Gaussian rescaled so that ||W||_F = omega for each member.
        """
        _check_sizes(ensemble, width, dim, outputs)
        _checks.dtype("dtype", dtype)
        kappa = 1 / math.sqrt(width) if kappa is None else kappa
        _checks.real("kappa", kappa, low=0.0, low_open=True)
        _checks.real("omega", omega, low=0.0, low_open=True)
        W = _normal((ensemble, width, dim), generator, dtype)
        W = W * (omega / W.flatten(1).norm(dim=1)).view(ensemble, 1, 1)
        a_shape = (ensemble, width) if outputs == 1 else (ensemble, outputs, width)
        a = kappa * _signs(a_shape, generator, dtype)
        return cls(W, a, activation="leaky_relu", alpha=alpha, scale=1.0, scheme="leaky")

    @classmethod
    def from_scheme(
        cls, scheme: str, ensemble: int, width: int, dim: int, **kwargs: Any
    ) -> TwoLayerNet:
        """Build by scheme name: one of ntk | bubeck | vardi | leaky."""
        builders: dict[str, Callable[..., TwoLayerNet]] = {
            "ntk": cls.ntk,
            "bubeck": cls.bubeck,
            "vardi": cls.vardi,
            "leaky": cls.leaky,
        }
        if scheme not in builders:
            raise ValueError(f"unknown init scheme {scheme!r}; allowed: {', '.join(INIT_SCHEMES)}")
        net: TwoLayerNet = builders[scheme](ensemble, width, dim, **kwargs)
        return net

    # ----------------------------------------------------------------- sizes
    @property
    def ensemble(self) -> int:
        return int(self.W.shape[0])

    @property
    def width(self) -> int:
        return int(self.W.shape[1])

    @property
    def dim(self) -> int:
        return int(self.W.shape[2])

    @property
    def outputs(self) -> int:
        return 1 if self.a.ndim == 2 else int(self.a.shape[1])

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

    def preactivation(self, x: Tensor) -> Tensor:
        """W x + b for every member and sample: (E, n, m)."""
        self._check_input(x)
        pre = torch.matmul(x, self.W.transpose(1, 2))
        if self.b is not None:
            pre = pre + self.b.unsqueeze(1)
        return pre

    def _readout(self, hidden: Tensor) -> Tensor:
        """scale * a^T h: (E, n, m) -> (E, n) or (E, n, K)."""
        if self.a.ndim == 2:
            return torch.matmul(hidden, self.a.unsqueeze(-1)).squeeze(-1) * self.scale
        return torch.matmul(hidden, self.a.transpose(1, 2)) * self.scale

    def forward(self, x: Tensor) -> Tensor:
        """Outputs (E, n) for K = 1, else (E, n, K)."""
        return self._readout(self.activation(self.preactivation(x)))

    def _output_weights(self, direction: Tensor | None, n: int) -> Tensor:
        """Per-neuron output weights a (or direction^T a for K outputs) shaped (E, n|1, m)."""
        if self.a.ndim == 2:
            weights = self.a.unsqueeze(1)
            if direction is not None:
                weights = weights * _as_en(direction, self.ensemble, n).unsqueeze(-1)
            return weights
        if direction is None:
            raise ValueError("a K-output net needs `direction` (n, K) or (E, n, K) for gradients")
        E, K = self.ensemble, self.outputs
        if direction.shape not in ((n, K), (E, n, K)):
            raise ValueError(
                f"direction must have shape (n, K) = {(n, K)} or (E, n, K) = {(E, n, K)}, "
                f"got {tuple(direction.shape)}"
            )
        if direction.ndim == 2:
            direction = direction.unsqueeze(0).expand(self.ensemble, -1, -1)
        return torch.matmul(direction, self.a)

    def input_grad(self, x: Tensor, direction: Tensor | None = None) -> Tensor:
        """Closed-form gradient of <direction, f(x_i)> with respect to x_i: (E, n, d).

        For K = 1 and no direction this is grad_x f(x) = scale * W^T (a * sigma'(Wx + b))
        (paper 003 eq. (6); paper 002 section 4). `direction` (n,) / (E, n) weights each
        sample's output, and for K outputs (n, K) / (E, n, K) picks the combination of logits.
        """
        pre = self.preactivation(x)
        coef = self.activation.derivative(pre) * self._output_weights(direction, pre.shape[1])
        return torch.matmul(coef, self.W) * self.scale

    def param_grad(
        self, x: Tensor, weights: Tensor | None = None, *, preactivation: Tensor | None = None
    ) -> Tensor:
        """Closed-form gradient of sum_i weights_i f(x_i) with respect to W: (E, m, d).

        `weights` (n,) / (E, n), or (n, K) / (E, n, K) for K outputs; default all ones (K = 1).
        This is the whole first-layer update of SGD on a margin loss (weights = y l'(y f) / n).
        `preactivation`: W x + b (E, n, m) already computed for this x (saves one product).
        """
        coef = self.step_coefficients(x, weights, preactivation=preactivation)
        xe = x if x.ndim == 3 else x.unsqueeze(0).expand(self.ensemble, -1, -1)
        return torch.matmul(coef.transpose(1, 2), xe) * self.scale

    def step_coefficients(
        self, x: Tensor, weights: Tensor | None = None, *, preactivation: Tensor | None = None
    ) -> Tensor:
        """Per-neuron coefficients c (E, n, m) with param_grad(x, weights) = scale c^T x."""
        pre = self.preactivation(x) if preactivation is None else preactivation
        out_weights = self._output_weights(weights, pre.shape[1])
        if self.activation.name in ("relu", "leaky_relu"):  # sigma' in {slope, 1}: one select
            slope = self.activation.negative_slope
            return torch.where(pre > 0, out_weights, out_weights * slope if slope else 0.0)
        return self.activation.derivative(pre) * out_weights

    def sgd_update_(self, x: Tensor, coef: Tensor, *, lr: float, weight_decay: float = 0.0) -> None:
        """W <- (1 - lr wd) W - lr scale c^T x in place: one fused product, no W-sized temporary.

        `coef` from `step_coefficients`; equal to W - lr (param_grad + wd W) up to rounding.
        """
        W = self.W.detach()
        E, m, d = W.shape
        beta, alpha = 1.0 - lr * weight_decay, -lr * self.scale
        if x.ndim == 2:  # one (E m, n) x (n, d) product for all members
            lhs = coef.transpose(1, 2).reshape(E * m, x.shape[0])
            W.view(E * m, d).addmm_(lhs, x, beta=beta, alpha=alpha)
        else:
            W.baddbmm_(coef.transpose(1, 2), x, beta=beta, alpha=alpha)

    # ----------------------------------------------------------------- lazy regime
    def distance_from_init(self) -> Tensor:
        """(2, inf) distance max_s ||w_s - w_s0||_2 per member: (E,) (paper 002 Def. 2.1)."""
        distance: Tensor = (self.W.detach() - self.W0).norm(dim=2).amax(dim=1)
        return distance

    def sign_changes(self, x: Tensor) -> Tensor:
        """Neurons whose activation pattern at x differs from init: (E, n) (paper 002 Lemma 4.3)."""
        with torch.no_grad():
            now = self.preactivation(x) > 0
            pre0 = torch.matmul(x, self.W0.transpose(1, 2))
            if self.b0 is not None:
                pre0 = pre0 + self.b0.unsqueeze(1)
            changed: Tensor = (now != (pre0 > 0)).sum(dim=2)
            return changed

    def project_to_ball(self, radius: float) -> None:
        """Clip each ||w_s - w_s0|| to radius in place: B_{2,inf}(W0, R), paper 002 Alg. 1."""
        from robustlab.geometry import project_weight_ball

        with torch.no_grad():
            self.W.copy_(project_weight_ball(self.W, self.W0, radius))

    def reset_init(self) -> None:
        """Make the current weights the reference point of the lazy diagnostics."""
        with torch.no_grad():
            self.W0.copy_(self.W)
            if self.b is not None and self.b0 is not None:
                self.b0.copy_(self.b)

    def member(self, index: int | slice | Tensor) -> TwoLayerNet:
        """A new net holding a subset of the ensemble members (copies)."""
        idx = torch.as_tensor(range(self.ensemble))[index]
        idx = idx.reshape(-1)
        net = TwoLayerNet(
            self.W.detach()[idx],
            self.a.detach()[idx],
            None if self.b is None else self.b.detach()[idx],
            activation=self.activation,
            scale=self.scale,
            train_top=self.a.requires_grad,
            scheme=self.scheme,
        )
        with torch.no_grad():
            net.W0.copy_(self.W0[idx])
            if self.b0 is not None and net.b0 is not None:
                net.b0.copy_(self.b0[idx])
        return net

    # ----------------------------------------------------------------- persistence
    def saved_state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        tensors = {"W": self.W.detach(), "a": self.a.detach(), "W0": self.W0}
        if self.b is not None and self.b0 is not None:
            tensors |= {"b": self.b.detach(), "b0": self.b0}
        meta = {
            "activation": self.activation.name,
            "alpha": self.activation.alpha,
            "scale": self.scale,
            "scheme": self.scheme,
            "train_top": bool(self.a.requires_grad),
        }
        return tensors, meta

    @classmethod
    def from_saved(cls, tensors: dict[str, Tensor], meta: dict[str, Any]) -> TwoLayerNet:
        for key in ("W0", "b0"):
            if key in tensors and tensors[key].shape != tensors[key[0]].shape:
                raise ValueError(f"saved {key} must be shaped like {key[0]}")
            _checks.optional_tensor(f"saved {key}", tensors.get(key))
        net = cls(
            tensors["W"],
            tensors["a"],
            tensors.get("b"),
            activation=_checks.choice("metadata activation", meta["activation"], ACTIVATIONS),
            alpha=_checks.real("metadata alpha", meta["alpha"]),
            scale=_checks.real("metadata scale", meta["scale"]),
            train_top=_checks.flag("metadata train_top", meta["train_top"]),
            scheme=str(meta["scheme"]),
        )
        with torch.no_grad():
            net.W0.copy_(tensors["W0"])
            if net.b0 is not None:
                net.b0.copy_(tensors["b0"])
        return net

    def extra_repr(self) -> str:
        return (
            f"scheme={self.scheme}, E={self.ensemble}, m={self.width}, d={self.dim}, "
            f"K={self.outputs}, activation={self.activation.name}, scale={self.scale:.4g}"
        )


def _check_parameters(
    W: object, a: object, b: object, *, scale: object, alpha: object, train_top: object
) -> None:
    """Entry checks of the constructor: floating, finite tensors of one dtype; finite scale."""
    first = _checks.tensor("W", W, floating=True)
    for name, t in (("a", a), ("b", b)):
        other = _checks.optional_tensor(name, t, floating=True)
        if other is not None and other.dtype != first.dtype:
            raise TypeError(f"{name} has dtype {other.dtype} (W: {first.dtype}); pass one dtype")
    _checks.real("scale", scale)
    _checks.real("alpha", alpha)
    _checks.flag("train_top", train_top)


def _as_en(t: Tensor, ensemble: int, n: int) -> Tensor:
    """Broadcast a per-sample tensor (n,) or (E, n) to (E, n)."""
    if t.shape == (n,):
        return t.unsqueeze(0).expand(ensemble, n)
    if t.shape == (ensemble, n):
        return t
    raise ValueError(f"expected shape (n,) or (E, n) = {(ensemble, n)}, got {tuple(t.shape)}")
