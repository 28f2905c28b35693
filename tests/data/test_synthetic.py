"""Synthetic generators: shapes, dtypes, exact reproducibility, and their distributions."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from robustlab.data import Dataset, SchmidtDataset, SeparableDataset
from robustlab.data.synthetic import (
    gaussian,
    make_generator,
    random_labels_sphere,
    schmidt_bernoulli,
    schmidt_gaussian,
    separable,
    sphere,
)

GENERATORS: dict[str, Callable[..., Dataset]] = {
    "gaussian": lambda n, d, **kw: gaussian(n, d, sigma=2.0, **kw),
    "sphere": lambda n, d, **kw: sphere(n, d, radius="sqrt_d", **kw),
    "random_labels_sphere": lambda n, d, **kw: random_labels_sphere(n, d, **kw),
    "separable": lambda n, d, **kw: separable(n, d, margin=0.2, radius=2.0, **kw),
    "schmidt_gaussian": lambda n, d, **kw: schmidt_gaussian(n, d, sigma=0.5, **kw),
    "schmidt_bernoulli": lambda n, d, **kw: schmidt_bernoulli(n, d, tau=0.3, **kw),
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_shapes_dtypes_and_labels(name: str) -> None:
    make = GENERATORS[name]
    ds = make(37, 6, seed=0)
    assert ds.x.shape == (37, 6) and ds.y.shape == (37,)
    assert ds.x.dtype == torch.float32 and ds.y.dtype == torch.float32
    assert set(ds.y.tolist()) <= {-1.0, 1.0}
    assert len(ds) == ds.n == 37 and ds.d == 6
    wide = make(5, 3, seed=0, dtype=torch.float64)
    assert wide.x.dtype == torch.float64 and wide.y.dtype == torch.float64


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_seed_reproduces_exactly_and_generator_matches_seed(name: str) -> None:
    make = GENERATORS[name]
    first, again = make(50, 7, seed=11), make(50, 7, seed=11)
    assert torch.equal(first.x, again.x) and torch.equal(first.y, again.y)
    via_generator = make(50, 7, generator=torch.Generator().manual_seed(11))
    assert torch.equal(first.x, via_generator.x) and torch.equal(first.y, via_generator.y)
    other = make(50, 7, seed=12)
    assert not torch.equal(first.x, other.x)
    # Drawn in float64 then cast: float32 is the float64 sample rounded (separable narrows its
    # range by a dtype-dependent rounding slack, so it agrees only to that slack).
    wide = make(50, 7, seed=11, dtype=torch.float64)
    if name == "separable":
        assert torch.allclose(wide.x.to(torch.float32), first.x, atol=1e-3)
    else:
        assert torch.equal(wide.x.to(torch.float32), first.x)
    assert torch.equal(wide.y.to(torch.float32), first.y)


def test_a_shared_generator_advances() -> None:
    g = torch.Generator().manual_seed(3)
    first, second = gaussian(10, 4, generator=g), gaussian(10, 4, generator=g)
    assert not torch.equal(first.x, second.x)


def test_randomness_must_be_explicit() -> None:
    with pytest.raises(ValueError, match=r"seed= .* or generator="):
        gaussian(3, 2)
    with pytest.raises(ValueError, match="not both"):
        gaussian(3, 2, seed=1, generator=torch.Generator())
    with pytest.raises(ValueError, match="seed must be an int"):
        make_generator(seed=1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: gaussian(0, 3, seed=0), "n must be >= 1, got 0"),
        (lambda: gaussian(3, 0, seed=0), "d must be >= 1, got 0"),
        (lambda: gaussian(3, 2, sigma=0.0, seed=0), "sigma must be > 0"),
        (lambda: gaussian(3, 2, seed=0, dtype=torch.int64), "floating dtype"),
        (lambda: sphere(3, 2, radius=-1.0, seed=0), "positive float or 'sqrt_d'"),
        (lambda: sphere(3, 2, radius="d", seed=0), "positive float or 'sqrt_d'"),  # type: ignore[arg-type]
        (lambda: separable(3, 2, margin=1.0, radius=1.0, seed=0), "margin must be < radius"),
        (lambda: separable(3, 2, margin=0.0, seed=0), "must be > 0"),
        (
            lambda: separable(3, 2, margin=0.1, direction=torch.zeros(2), seed=0),
            "nonzero",
        ),
        (
            lambda: separable(3, 2, margin=0.1, direction=torch.ones(3), seed=0),
            r"shape \(2,\)",
        ),
        (lambda: schmidt_gaussian(3, 2, sigma=-1.0, seed=0), "sigma must be > 0"),
        (
            lambda: schmidt_gaussian(3, 2, sigma=1.0, theta=torch.ones(3), seed=0),
            r"shape \(2,\)",
        ),
        (lambda: schmidt_bernoulli(3, 2, tau=0.0, seed=0), r"tau must be in \(0, 1\]"),
        (lambda: schmidt_bernoulli(3, 2, tau=1.5, seed=0), r"tau must be in \(0, 1\]"),
        (
            lambda: schmidt_bernoulli(3, 2, tau=0.5, theta=torch.tensor([1.0, 0.5]), seed=0),
            r"\{-1, \+1\}",
        ),
    ],
)
def test_invalid_arguments_name_what_is_allowed(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_gaussian_mean_and_covariance() -> None:
    n, d, sigma = 40_000, 4, 1.5
    ds = gaussian(n, d, sigma=sigma, seed=5, dtype=torch.float64)
    x = ds.x
    # Mean zero within 5 standard errors; covariance sigma^2 I within 5% (entry std ~ 1/sqrt(n)).
    assert x.mean(0).abs().max() < 5 * sigma / math.sqrt(n)
    cov = x.T @ x / n
    assert torch.allclose(cov, sigma**2 * torch.eye(d, dtype=torch.float64), atol=0.05 * sigma**2)
    # Symmetric about the origin: odd moments vanish.
    assert (x**3).mean(0).abs().max() < 5 * math.sqrt(15) * sigma**3 / math.sqrt(n)
    assert abs(float(ds.y.mean())) < 5 / math.sqrt(n)


@pytest.mark.parametrize(("radius", "expected"), [(1.0, 1.0), (2.5, 2.5), ("sqrt_d", 3.0)])
def test_sphere_norms_exact(radius: float | str, expected: float) -> None:
    for dtype, tol in ((torch.float32, 1e-6), (torch.float64, 1e-14)):
        x = sphere(500, 9, radius=radius, seed=1, dtype=dtype).x  # type: ignore[arg-type]
        norms = x.to(torch.float64).norm(dim=1)
        assert torch.allclose(norms, torch.full_like(norms, expected), rtol=tol, atol=0)


def test_sphere_is_uniform_second_moments() -> None:
    n, d = 40_000, 5
    x = sphere(n, d, radius=2.0, seed=2, dtype=torch.float64).x
    assert x.mean(0).abs().max() < 5 * (2.0 / math.sqrt(d)) / math.sqrt(n)
    # E[x x^T] = r^2 / d I for the uniform distribution on the sphere of radius r.
    second = x.T @ x / n
    eye = torch.eye(d, dtype=torch.float64)
    assert torch.allclose(second, 4.0 / d * eye, atol=0.04 * 4.0 / d)


@pytest.mark.parametrize("n", [10, 11, 1])
def test_random_labels_sphere_balanced_and_same_inputs_as_sphere(n: int) -> None:
    d = 16
    ds = random_labels_sphere(n, d, seed=4)
    assert int((ds.y == -1).sum()) == n // 2
    assert int((ds.y == 1).sum()) == n - n // 2
    assert torch.equal(ds.x, sphere(n, d, radius="sqrt_d", seed=4).x)
    norms = ds.x.double().norm(dim=1)
    assert torch.allclose(norms, torch.full_like(norms, 4.0), rtol=1e-6)


def test_random_labels_sphere_orders_and_unbalanced() -> None:
    orders = {tuple(random_labels_sphere(8, 3, seed=s).y.tolist()) for s in range(20)}
    assert len(orders) > 5  # the balanced labels are shuffled, not a fixed pattern
    y = random_labels_sphere(20_000, 3, balanced=False, seed=0).y
    assert set(y.tolist()) == {-1.0, 1.0}
    assert abs(float(y.mean())) < 5 / math.sqrt(20_000)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("d", [1, 2, 30, 784])
def test_separable_margin_and_norm_hold_exactly(dtype: torch.dtype, d: int) -> None:
    ds = separable(2000, d, margin=0.1, radius=3.0, seed=d, dtype=dtype)
    assert isinstance(ds, SeparableDataset)
    v = ds.direction
    assert v.shape == (d,) and v.dtype == dtype
    assert abs(float(v.double().norm()) - 1) < 10 * torch.finfo(dtype).eps
    margins = ds.y * (ds.x @ v)
    assert float(margins.min()) >= 0.1
    assert float(ds.x.norm(dim=1).max()) <= 3.0
    # The margins fill [gamma, R]: the bound is attained up to sampling, not just respected.
    assert float(margins.min()) < 0.2 and float(margins.max()) > 2.8
    assert ds.margin == 0.1 and ds.radius == 3.0


@pytest.mark.parametrize(("dtype", "margin"), [(torch.float32, 0.9995), (torch.float64, 1 - 1e-12)])
def test_separable_tight_margin_survives_rounding(dtype: torch.dtype, margin: float) -> None:
    # margin ~ radius in high dimension puts every ||x|| within rounding of R and every margin
    # within rounding of gamma: without the rounding slack about 1% of float64 norms exceed R.
    for seed in range(3):
        ds = separable(4000, 500, margin=margin, radius=1.0, seed=seed, dtype=dtype)
        assert bool((ds.y * (ds.x @ ds.direction) >= margin).all())
        assert bool((ds.x.norm(dim=1) <= 1.0).all())


def test_separable_orthogonal_part_spreads_and_uses_given_direction() -> None:
    d = 5
    direction = torch.tensor([0.0, 3.0, 0.0, 0.0, 4.0])
    ds = separable(
        4000, d, margin=0.5, radius=1.0, direction=direction, seed=0, dtype=torch.float64
    )
    v = direction.double() / 5
    assert torch.allclose(ds.direction, v)
    orthogonal = ds.x - (ds.x @ v)[:, None] * v
    # Symmetric orthogonal component: mean ~ 0, and not degenerate.
    assert orthogonal.mean(0).abs().max() < 0.05
    assert float(orthogonal.norm(dim=1).max()) > 0.5
    assert abs(float(ds.y.mean())) < 5 / math.sqrt(4000)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 50),
    d=st.integers(1, 300),
    ratio=st.floats(0.01, 0.95),
    radius=st.floats(1e-3, 1e3),
    seed=st.integers(0, 2**31),
    wide=st.booleans(),
)
def test_separable_property(
    n: int, d: int, ratio: float, radius: float, seed: int, wide: bool
) -> None:
    dtype = torch.float64 if wide else torch.float32
    ds = separable(n, d, margin=ratio * radius, radius=radius, seed=seed, dtype=dtype)
    assert bool((ds.y * (ds.x @ ds.direction) >= ratio * radius).all())
    assert bool((ds.x.norm(dim=1) <= radius).all())


def test_schmidt_gaussian_class_means_and_noise() -> None:
    n, d, sigma = 20_000, 6, 0.7
    theta = torch.linspace(-1.0, 2.0, d, dtype=torch.float64)
    ds = schmidt_gaussian(n, d, sigma=sigma, theta=theta, seed=9, dtype=torch.float64)
    assert isinstance(ds, SchmidtDataset)
    assert torch.equal(ds.theta, theta) and ds.noise == sigma
    for label in (1.0, -1.0):
        rows = ds.x[ds.y == label]
        standard_error = sigma / math.sqrt(rows.shape[0])
        assert (rows.mean(0) - label * theta).abs().max() < 5 * standard_error
    residual = ds.x - ds.y[:, None] * theta
    expected = torch.full((d,), sigma**2, dtype=torch.float64)
    assert torch.allclose(residual.var(0), expected, rtol=0.05)
    assert abs(float(ds.y.mean())) < 5 / math.sqrt(n)


def test_schmidt_gaussian_default_theta_is_standard_normal() -> None:
    d = 4000
    theta = schmidt_gaussian(3, d, sigma=1.0, seed=0, dtype=torch.float64).theta
    assert abs(float(theta.mean())) < 5 / math.sqrt(d)
    assert abs(float(theta.norm()) / math.sqrt(d) - 1) < 0.05


def test_schmidt_bernoulli_agreement_rate() -> None:
    n, d, tau = 20_000, 8, 0.3
    theta = torch.tensor([1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, -1.0])
    ds = schmidt_bernoulli(n, d, tau=tau, theta=theta, seed=2, dtype=torch.float64)
    assert set(ds.x.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(ds.theta, theta.double()) and ds.noise == tau
    # x_i = y theta_i with probability (1 + tau) / 2, so E[y theta_i x_i] = tau per coordinate.
    agreement = ds.y[:, None] * ds.x * ds.theta
    assert (agreement.mean(0) - tau).abs().max() < 5 * math.sqrt(1 - tau**2) / math.sqrt(n)
    for label in (1.0, -1.0):
        rows = ds.x[ds.y == label]
        assert (rows.mean(0) - label * tau * ds.theta).abs().max() < 5 / math.sqrt(rows.shape[0])


def test_schmidt_bernoulli_tau_one_is_noiseless_and_theta_is_signs() -> None:
    ds = schmidt_bernoulli(100, 12, tau=1.0, seed=0)
    assert torch.equal(ds.x, ds.y[:, None] * ds.theta)
    assert set(ds.theta.tolist()) <= {-1.0, 1.0}


def test_dataset_helpers() -> None:
    ds = separable(10, 3, margin=0.1, seed=0)
    part = ds.subset(ds.y > 0)
    assert isinstance(part, SeparableDataset) and torch.equal(part.direction, ds.direction)
    assert bool((part.y > 0).all()) and part.n == int((ds.y > 0).sum())
    assert "n=10" in repr(ds) and "separable" in repr(ds)
    assert ds.to("cpu").x.device.type == "cpu"
    with pytest.raises(ValueError, match=r"y must be \(n,\)"):
        Dataset(torch.zeros(3, 2), torch.zeros(4), "bad")
    with pytest.raises(ValueError, match=r"x must be \(n, d\)"):
        Dataset(torch.zeros(3), torch.zeros(3), "bad")
