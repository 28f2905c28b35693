"""Synthetic data sets of the papers, each drawn from an explicit seed or `torch.Generator`.

Every generator draws in float64 on the generator's device and casts to `dtype` at the end, so the
float32 and float64 versions of one seed are the same sample up to rounding. Inputs are drawn
before labels, so `x` does not depend on how the labels are drawn.

- `gaussian`: x ~ N(0, sigma^2 I) (symmetric under x -> -x).
- `sphere`: x uniform on the sphere of radius r (Bubeck et al. use r = sqrt(d); paper 003).
- `separable`: linearly separable with margin gamma and ||x|| <= R (paper 004, Assumption 3.3).
- `schmidt_gaussian`, `schmidt_bernoulli`: Schmidt et al. 2018's models (paper 003, Definitions).
- `random_labels_sphere`: x uniform on sqrt(d) S^{d-1}, random (balanced) labels (Vardi et al.).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from robustlab import _checks
from robustlab.data.dataset import Dataset

__all__ = [
    "SchmidtDataset",
    "SeparableDataset",
    "gaussian",
    "make_generator",
    "random_labels_sphere",
    "schmidt_bernoulli",
    "schmidt_gaussian",
    "separable",
    "sphere",
]

_DRAW = torch.float64


@dataclass(frozen=True, eq=False, repr=False)
class SeparableDataset(Dataset):
    """A linearly separable set: y (direction . x) >= margin and ||x|| <= radius for every sample.

    direction: (d,) the unit separating vector v_* of paper 004, Assumption 3.3.
    """

    direction: Tensor
    margin: float
    radius: float


@dataclass(frozen=True, eq=False, repr=False)
class SchmidtDataset(Dataset):
    """A sample of Schmidt et al.'s Gaussian or Bernoulli model with its parameters.

    theta: (d,) the per-class mean theta^*; noise: sigma (Gaussian model) or tau (Bernoulli model).
    """

    theta: Tensor
    noise: float


def make_generator(
    seed: int | None = None, generator: torch.Generator | None = None
) -> torch.Generator:
    """The generator to draw from: `generator` as given, or a new CPU one seeded with `seed`.

    Raises ValueError unless exactly one of the two is given (robustlab never draws from the
    global random state).
    """
    if generator is not None and seed is not None:
        raise ValueError(f"pass seed= or generator=, not both (got seed={seed} and a generator)")
    if generator is not None:
        return generator
    if seed is None:
        raise ValueError(
            "pass seed= (an int) or generator= (a torch.Generator); "
            "robustlab never draws from the global random state"
        )
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    return torch.Generator().manual_seed(seed)


def _check_size(n: int, d: int) -> None:
    _checks.integer("n", n, low=1)
    _checks.integer("d", d, low=1)


def _check_dtype(dtype: torch.dtype) -> None:
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating dtype, got {dtype}")


def _normal(n: int, d: int, g: torch.Generator) -> Tensor:
    return torch.randn(n, d, generator=g, dtype=_DRAW, device=g.device)


def _random_signs(n: int, g: torch.Generator) -> Tensor:
    """n independent uniform signs in {-1, +1} (float64)."""
    return torch.randint(0, 2, (n,), generator=g, device=g.device).to(_DRAW) * 2 - 1


def _balanced_signs(n: int, g: torch.Generator) -> Tensor:
    """A uniformly random arrangement of n // 2 labels -1 and n - n // 2 labels +1 (float64)."""
    order = torch.randperm(n, generator=g, device=g.device)
    return torch.where(order < n // 2, -1.0, 1.0).to(_DRAW)


def _unit_rows(z: Tensor) -> Tensor:
    # A Gaussian row is zero with probability 0; the clamp only keeps such a draw finite.
    return z.div(z.norm(dim=1, keepdim=True).clamp_min(torch.finfo(z.dtype).tiny))


def _sphere_radius(radius: float | Literal["sqrt_d"], d: int) -> float:
    if radius == "sqrt_d":
        return math.sqrt(d)
    if isinstance(radius, str) or not _checks.real("radius", radius) > 0:
        raise ValueError(f"radius must be a positive float or 'sqrt_d', got {radius!r}")
    return float(radius)


def gaussian(
    n: int,
    d: int,
    *,
    sigma: float = 1.0,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> Dataset:
    """n points x ~ N(0, sigma^2 I_d), with independent uniform labels y in {-1, +1}.

    x: (n, d), y: (n,) in `dtype`. The labels carry no information about x (noise labels);
    ignore them when only inputs are needed. Raises ValueError for n, d < 1 or sigma <= 0.
    """
    _check_size(n, d)
    _check_dtype(dtype)
    _checks.real("sigma", sigma, low=0.0, low_open=True)
    g = make_generator(seed, generator)
    x = sigma * _normal(n, d, g)
    y = _random_signs(n, g)
    return Dataset(x.to(dtype), y.to(dtype), f"gaussian(d={d}, sigma={sigma:g})")


def sphere(
    n: int,
    d: int,
    *,
    radius: float | Literal["sqrt_d"] = 1.0,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> Dataset:
    """n points uniform on the sphere r S^{d-1}, with independent uniform labels y in {-1, +1}.

    `radius` is a float r > 0 or "sqrt_d" for r = sqrt(d) (Bubeck et al. 2021, paper 003: x on
    sqrt(d) S^{d-1}). Drawn as r g / ||g|| with g ~ N(0, I_d). x: (n, d), y: (n,).
    Raises ValueError for n, d < 1 or a radius that is neither.
    """
    _check_size(n, d)
    _check_dtype(dtype)
    r = _sphere_radius(radius, d)
    g = make_generator(seed, generator)
    x = r * _unit_rows(_normal(n, d, g))
    y = _random_signs(n, g)
    label = "sqrt_d" if radius == "sqrt_d" else f"{r:g}"
    return Dataset(x.to(dtype), y.to(dtype), f"sphere(d={d}, radius={label})")


def random_labels_sphere(
    n: int,
    d: int,
    *,
    balanced: bool = True,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> Dataset:
    """x uniform on sqrt(d) S^{d-1} with random labels (Vardi et al. 2022, paper 003 experiments).

    balanced=True: exactly n // 2 labels -1 and n - n // 2 labels +1 in random order (the theorem
    asks for balanced classes); balanced=False: independent uniform labels. x equals
    `sphere(n, d, radius="sqrt_d")` for the same seed. x: (n, d), y: (n,) in {-1, +1}.
    """
    _check_size(n, d)
    _check_dtype(dtype)
    g = make_generator(seed, generator)
    x = math.sqrt(d) * _unit_rows(_normal(n, d, g))
    y = _balanced_signs(n, g) if balanced else _random_signs(n, g)
    return Dataset(x.to(dtype), y.to(dtype), f"random_labels_sphere(d={d}, balanced={balanced})")


def separable(
    n: int,
    d: int,
    *,
    margin: float,
    radius: float = 1.0,
    direction: Tensor | None = None,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> SeparableDataset:
    """Linearly separable data with margin gamma and norm bound R (paper 004, Assumption 3.3).

    With v the unit `direction` (drawn uniformly from the sphere when None): y is uniform in
    {-1, +1}; the component along v is y s with s ~ Uniform[gamma, R]; the component orthogonal
    to v is uniform in the (d-1)-ball of radius sqrt(R^2 - s^2). Hence y (v . x) >= gamma and
    ||x|| <= R for every sample. Both hold exactly in `dtype` arithmetic: s and the ball are
    narrowed by a slack of 4 (d + 2) eps(dtype) R, the worst-case rounding error of a dot product.
    x: (n, d), y: (n,), direction: (d,).
    Raises ValueError unless 0 < margin < radius (with room for the slack) and direction is a
    nonzero (d,) vector.
    """
    _check_size(n, d)
    _check_dtype(dtype)
    _checks.real("margin", margin)
    _checks.real("radius", radius)
    _checks.optional_tensor("direction", direction, floating=True)
    if not (margin > 0 and radius > 0):
        raise ValueError(f"margin and radius must be > 0, got margin={margin}, radius={radius}")
    slack = 4 * (d + 2) * torch.finfo(dtype).eps * radius
    low, high = margin + slack, radius - slack
    if not low < high:
        raise ValueError(
            f"margin must be < radius (with rounding slack {slack:.2g}), got margin={margin}, "
            f"radius={radius}"
        )
    g = make_generator(seed, generator)
    if direction is None:
        v = _unit_rows(_normal(1, d, g))[0]
    else:
        if direction.shape != (d,):
            raise ValueError(f"direction must have shape ({d},), got {tuple(direction.shape)}")
        v = direction.to(dtype=_DRAW, device=g.device)
        if not v.norm() > 0:
            raise ValueError("direction must be nonzero")
        v = v / v.norm()
    y = _random_signs(n, g)
    s = low + (high - low) * torch.rand(n, generator=g, dtype=_DRAW, device=g.device)
    # Uniform point of the unit (d-1)-ball inside the hyperplane v^perp: a Gaussian projected onto
    # v^perp, normalized, times U^{1/(d-1)}.
    z = _normal(n, d, g)
    z = z - (z @ v)[:, None] * v
    u = torch.rand(n, generator=g, dtype=_DRAW, device=g.device)
    ball = _unit_rows(z) * u[:, None] ** (1.0 / max(d - 1, 1)) if d > 1 else torch.zeros_like(z)
    x = (y * s)[:, None] * v + torch.sqrt((high**2 - s**2).clamp_min(0))[:, None] * ball
    name = f"separable(d={d}, margin={margin:g}, radius={radius:g})"
    return SeparableDataset(
        x.to(dtype), y.to(dtype), name, direction=v.to(dtype), margin=margin, radius=radius
    )


def schmidt_gaussian(
    n: int,
    d: int,
    *,
    sigma: float,
    theta: Tensor | None = None,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> SchmidtDataset:
    """Schmidt et al. 2018's (theta*, sigma)-Gaussian model (paper 003, Gaussian Model).

    y uniform in {-1, +1}, then x ~ N(y theta*, sigma^2 I_d). `theta` is theta* (d,); when None it
    is drawn theta* ~ N(0, I_d) from the same generator (the prior of their lower bound, so
    ||theta*|| ~ sqrt(d)). x: (n, d), y: (n,). Raises ValueError for sigma <= 0 or a theta of
    the wrong shape.
    """
    _check_size(n, d)
    _check_dtype(dtype)
    _checks.real("sigma", sigma, low=0.0, low_open=True)
    _checks.optional_tensor("theta", theta, floating=True)
    g = make_generator(seed, generator)
    if theta is None:
        mean = torch.randn(d, generator=g, dtype=_DRAW, device=g.device)
    else:
        if theta.shape != (d,):
            raise ValueError(f"theta must have shape ({d},), got {tuple(theta.shape)}")
        mean = theta.to(dtype=_DRAW, device=g.device)
    y = _random_signs(n, g)
    x = y[:, None] * mean + sigma * _normal(n, d, g)
    return SchmidtDataset(
        x.to(dtype),
        y.to(dtype),
        f"schmidt_gaussian(d={d}, sigma={sigma:g})",
        theta=mean.to(dtype),
        noise=sigma,
    )


def schmidt_bernoulli(
    n: int,
    d: int,
    *,
    tau: float,
    theta: Tensor | None = None,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> SchmidtDataset:
    """Schmidt et al. 2018's (theta*, tau)-Bernoulli model (paper 003, Bernoulli Model).

    y uniform in {-1, +1}; each coordinate x_i = y theta*_i with probability (1 + tau)/2 and
    -y theta*_i otherwise, independently, so E[y x] = tau theta*. This is the original paper's
    parametrization; the slides of paper 003 write 1/2 + tau, which is ours with tau halved.
    `theta` is theta* in {-1, +1}^d; when None it is drawn uniformly from the same generator.
    x: (n, d) in {-1, +1}, y: (n,). Raises ValueError unless 0 < tau <= 1 and theta is a
    (d,) sign vector.
    """
    _check_size(n, d)
    _check_dtype(dtype)
    _checks.real("tau", tau)
    _checks.optional_tensor("theta", theta)
    if not 0 < tau <= 1:
        raise ValueError(f"tau must be in (0, 1], got {tau}")
    g = make_generator(seed, generator)
    if theta is None:
        signs = _random_signs(d, g)
    else:
        if theta.shape != (d,):
            raise ValueError(f"theta must have shape ({d},), got {tuple(theta.shape)}")
        signs = theta.to(dtype=_DRAW, device=g.device)
        if not bool(((signs == 1) | (signs == -1)).all()):
            raise ValueError("theta must have entries in {-1, +1} for the Bernoulli model")
    y = _random_signs(n, g)
    agree = torch.rand(n, d, generator=g, dtype=_DRAW, device=g.device) < (1 + tau) / 2
    x = torch.where(agree, 1.0, -1.0).to(_DRAW) * y[:, None] * signs
    return SchmidtDataset(
        x.to(dtype),
        y.to(dtype),
        f"schmidt_bernoulli(d={d}, tau={tau:g})",
        theta=signs.to(dtype),
        noise=tau,
    )
