"""Norms, balls and exact projections.

Per-sample balls (l2, linf) with scalar or per-sample radii; data-set budgets of paper 001
(the l_{2,1} ball sum_i ||delta_i||_2 <= S and the l_{2,inf} ball max_i ||delta_i||_2 <= B);
the lazy weight ball B_{2,inf}(W0, R) of paper 002. Box constraints are separate and optional.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from robustlab import _checks

Radius = float | Tensor


def _check_radius(radius: Radius, name: str = "radius") -> None:
    _checks.radius(name, radius)


def _per_sample(radius: Radius, x: Tensor, sample_dims: int) -> Tensor:
    """Broadcast a scalar or per-sample radius over the trailing `sample_dims` dimensions of x."""
    r = torch.as_tensor(radius, dtype=x.dtype, device=x.device)
    return r.reshape(*r.shape, *([1] * sample_dims))


def row_norms(delta: Tensor) -> Tensor:
    """l2 norm of each row (sample) of delta flattened past the leading axes: (..., n)."""
    return delta.flatten(-1).norm(dim=-1) if delta.ndim else delta.abs()


def project_l2_ball(delta: Tensor, radius: Radius, *, sample_dims: int = 1) -> Tensor:
    """Nearest point of each sample's l2 ball {||delta_i|| <= r_i}.

    delta: (..., *sample_shape) where the last `sample_dims` axes are one sample; `radius` is a
    scalar or shaped like delta's leading axes. Raises ValueError for a non-finite delta or a
    radius that is negative or not finite.
    """
    _checks.tensor("delta", delta, floating=True)
    _check_radius(radius)
    return _l2_ball(delta, radius, sample_dims)


def _l2_ball(delta: Tensor, radius: Radius, sample_dims: int) -> Tensor:
    """`project_l2_ball` without the check of delta, for the attacks' inner loops (their
    inputs and steps are checked at entry)."""
    norms = delta.flatten(-sample_dims).norm(dim=-1)
    r = torch.as_tensor(radius, dtype=delta.dtype, device=delta.device)
    factor = torch.clamp(r / norms.clamp_min(torch.finfo(delta.dtype).tiny), max=1.0)
    factor = torch.where(norms <= r, torch.ones_like(factor), factor)
    return delta * factor.reshape(*factor.shape, *([1] * sample_dims))


def project_linf_ball(delta: Tensor, radius: Radius, *, sample_dims: int = 1) -> Tensor:
    """Nearest point of each sample's linf ball {||delta_i||_inf <= r_i} (coordinate clipping)."""
    _checks.tensor("delta", delta, floating=True)
    _check_radius(radius)
    return _linf_ball(delta, radius, sample_dims)


def _linf_ball(delta: Tensor, radius: Radius, sample_dims: int) -> Tensor:
    """`project_linf_ball` without the check of delta (see `_l2_ball`)."""
    # Right-aligned with delta's leading axes, as in project_l2_ball: (n,) radii fit (E, n, d).
    r = _per_sample(radius, delta, sample_dims)
    return torch.maximum(torch.minimum(delta, r), -r)


def project_box(x: Tensor, low: float | Tensor, high: float | Tensor) -> Tensor:
    """Clip x into the box [low, high] (coordinate-wise); finite x and bounds, low <= high."""
    _checks.tensor("x", x, floating=True)
    _checks.box("box", (low, high))
    low_t = torch.as_tensor(low, dtype=x.dtype, device=x.device)
    high_t = torch.as_tensor(high, dtype=x.dtype, device=x.device)
    if (low_t > high_t).any():
        raise ValueError("box needs low <= high")
    return torch.maximum(torch.minimum(x, high_t), low_t)


def project_simplex_l1(v: Tensor, radius: Radius) -> Tensor:
    """Project nonnegative vectors v (..., n) onto {u >= 0, sum u <= S} (sort-based, O(n log n)).

    Duchi et al. 2008: if sum v <= S, v is returned; otherwise u = max(v - tau, 0) with tau from
    the sorted cumulative sums. Batched over leading axes; S is a scalar or (...,).
    """
    _checks.tensor("v", v, floating=True)
    _check_radius(radius)
    if (v < 0).any():
        raise ValueError("project_simplex_l1 needs nonnegative input (row norms)")
    S = torch.as_tensor(radius, dtype=v.dtype, device=v.device)
    S = S.expand(v.shape[:-1]) if S.ndim == 0 else S
    n = v.shape[-1]
    sorted_v, _ = torch.sort(v, dim=-1, descending=True)
    cumsum = sorted_v.cumsum(dim=-1)
    k = torch.arange(1, n + 1, dtype=v.dtype, device=v.device)
    candidate = (cumsum - S.unsqueeze(-1)) / k
    # rho = last index where sorted_v > candidate (always >= 1 when S >= 0 and sum > S).
    active = sorted_v > candidate
    rho = active.to(torch.int64).cumsum(dim=-1).argmax(dim=-1, keepdim=True)
    tau = candidate.gather(-1, rho).clamp_min(0.0)
    projected = (v - tau).clamp_min(0.0)
    inside = v.sum(dim=-1, keepdim=True) <= S.unsqueeze(-1)
    result: Tensor = torch.where(inside, v, projected)
    return result


def project_l21_ball(delta: Tensor, budget: Radius) -> Tensor:
    """Exact projection onto {Delta : sum_i ||delta_i||_2 <= S} (paper 001, regime A).

    delta: (..., n, d). The row norms are projected onto the l1 ball (sort-based), then each row
    is rescaled to its new norm; rows whose norm becomes 0 are zeroed. O(n log n).
    """
    _checks.tensor("delta", delta, floating=True)
    return _l21_ball(delta, budget)


def _l21_ball(delta: Tensor, budget: Radius) -> Tensor:
    """`project_l21_ball` without the check of delta, for the poisoners' inner loops."""
    if delta.ndim < 2:
        raise ValueError(f"delta must be (..., n, d), got shape {tuple(delta.shape)}")
    norms = delta.norm(dim=-1)
    new_norms = project_simplex_l1(norms, budget)
    factor = torch.where(norms > 0, new_norms / norms.clamp_min(torch.finfo(delta.dtype).tiny), 0.0)
    return delta * factor.unsqueeze(-1)


def project_l2inf_ball(delta: Tensor, budget: Radius) -> Tensor:
    """Projection onto {Delta : max_i ||delta_i||_2 <= B} (paper 001, regime B): clip each row."""
    return project_l2_ball(delta, budget, sample_dims=1)


def project_weight_ball(W: Tensor, W0: Tensor, radius: Radius) -> Tensor:
    """Projection onto B_{2,inf}(W0, R) = {W : ||w_s - w_s0||_2 <= R for every neuron s}.

    W, W0: (..., m, d); paper 002 Definition 2.1 and appendix Algorithm 1.
    """
    _checks.tensor("W", W, floating=True)
    _checks.tensor("W0", W0, floating=True)
    if W.shape != W0.shape:
        raise ValueError(f"W {tuple(W.shape)} and W0 {tuple(W0.shape)} differ in shape")
    return W0 + project_l2_ball(W - W0, radius, sample_dims=1)


# --------------------------------------------------------------------- norm objects
@dataclass(frozen=True)
class L2:
    """The l2 norm per sample: steps are normalized gradients; projection rescales."""

    name: str = "l2"

    def norm(self, delta: Tensor, sample_dims: int = 1) -> Tensor:
        norms: Tensor = delta.flatten(-sample_dims).norm(dim=-1)
        return norms

    def project(self, delta: Tensor, radius: Radius, sample_dims: int = 1) -> Tensor:
        _check_radius(radius)
        return _l2_ball(delta, radius, sample_dims)

    def normalize(self, grad: Tensor, sample_dims: int = 1) -> Tensor:
        """grad / ||grad||_2 per sample (0 where the gradient vanishes)."""
        norms = grad.flatten(-sample_dims).norm(dim=-1)
        norms = norms.reshape(*norms.shape, *([1] * sample_dims))
        return torch.where(norms > 0, grad / norms.clamp_min(torch.finfo(grad.dtype).tiny), 0.0)

    def random_start(
        self,
        shape: tuple[int, ...],
        radius: Tensor,
        generator: torch.Generator | None,
        dtype: torch.dtype,
        sample_dims: int = 1,
    ) -> Tensor:
        """A uniform draw in each sample's l2 ball (direction uniform, radius r U^{1/d})."""
        at = draw_device(generator, radius)
        g = torch.randn(shape, generator=generator, dtype=dtype, device=at).to(radius.device)
        direction = self.normalize(g, sample_dims)
        dim = int(torch.tensor(shape[-sample_dims:]).prod())
        u = torch.rand(shape[:-sample_dims], generator=generator, dtype=dtype, device=at)
        u = u.to(radius.device) ** (1.0 / dim)
        scale = (u * radius.to(dtype)).reshape(*shape[:-sample_dims], *([1] * sample_dims))
        return direction * scale


@dataclass(frozen=True)
class Linf:
    """The linf norm per sample: steps are gradient signs; projection clips coordinates."""

    name: str = "linf"

    def norm(self, delta: Tensor, sample_dims: int = 1) -> Tensor:
        return delta.flatten(-sample_dims).abs().amax(dim=-1)

    def project(self, delta: Tensor, radius: Radius, sample_dims: int = 1) -> Tensor:
        _check_radius(radius)
        return _linf_ball(delta, radius, sample_dims)

    def normalize(self, grad: Tensor, sample_dims: int = 1) -> Tensor:
        return grad.sign()

    def random_start(
        self,
        shape: tuple[int, ...],
        radius: Tensor,
        generator: torch.Generator | None,
        dtype: torch.dtype,
        sample_dims: int = 1,
    ) -> Tensor:
        """A uniform draw in each sample's linf ball."""
        at = draw_device(generator, radius)
        u = torch.rand(shape, generator=generator, dtype=dtype, device=at).to(radius.device) * 2 - 1
        return u * _per_sample(radius, u, sample_dims)


def draw_device(generator: torch.Generator | None, like: Tensor) -> torch.device:
    """Where a random start is drawn: on the generator's device (a seeded CPU generator gives the
    same start on every device), else on ``like``'s; the draw is then moved to ``like``'s."""
    return generator.device if generator is not None else like.device


NORMS: dict[str, L2 | Linf] = {"l2": L2(), "linf": Linf()}


def get_norm(name: str) -> L2 | Linf:
    """Look up a norm object by name: 'l2' or 'linf'."""
    if name not in NORMS:
        raise ValueError(f"unknown norm {name!r}; allowed: {', '.join(NORMS)}")
    return NORMS[name]


# --------------------------------------------------------------------- data-set budgets
@dataclass(frozen=True)
class L21:
    """Whole-data-set budget sum_i ||delta_i||_2 <= S (paper 001 regime A; S = C sqrt(n))."""

    S: float

    def __post_init__(self) -> None:
        _checks.real("S", self.S, low=0.0)

    @classmethod
    def from_C(cls, C: float, n: int) -> L21:
        """S = C sqrt(n), the paper's parametrization."""
        _checks.real("C", C, low=0.0)
        _checks.integer("n", n, low=1)
        return cls(C * n**0.5)

    def project(self, delta: Tensor) -> Tensor:
        return _l21_ball(delta, self.S)

    def spent(self, delta: Tensor) -> float:
        return float(delta.norm(dim=-1).sum())


@dataclass(frozen=True)
class L2Inf:
    """Per-sample budget ||delta_i||_2 <= B for every i (paper 001 regime B)."""

    B: float

    def __post_init__(self) -> None:
        _checks.real("B", self.B, low=0.0)

    def project(self, delta: Tensor) -> Tensor:
        return _l2_ball(delta, self.B, 1)

    def spent(self, delta: Tensor) -> float:
        return float(delta.norm(dim=-1).amax()) if delta.numel() else 0.0


DataBudget = L21 | L2Inf
