"""Projections, norm objects and budgets: hypothesis properties against float64 references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.typing import NDArray
from torch.overrides import TorchFunctionMode

from robustlab import geometry
from robustlab.geometry import (
    L2,
    L21,
    L2Inf,
    Linf,
    get_norm,
    project_box,
    project_l2_ball,
    project_l2inf_ball,
    project_l21_ball,
    project_linf_ball,
    project_simplex_l1,
    project_weight_ball,
    row_norms,
)

F64 = torch.float64
SETTINGS = settings(max_examples=50, deadline=None)
Array = NDArray[np.float64]

# Entries whose squares underflow (|x| < 1e-150) make every norm 0 and are left out.
values = st.floats(-100, 100, allow_nan=False, allow_infinity=False, width=64).map(
    lambda x: 0.0 if abs(x) < 1e-100 else x
)
radii = st.one_of(st.just(0.0), st.floats(0, 200, allow_nan=False, width=64))


@st.composite
def per_sample_case(draw: st.DrawFn) -> tuple[Array, Array | float, int]:
    """(delta, radius, sample_dims): lead axes 0-2, sample axes 1-2, radius scalar or tensor.

    A tensor radius is shaped like the lead axes or a right-aligned suffix of them.
    """
    lead = tuple(draw(st.lists(st.integers(1, 4), max_size=2)))
    sample = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=2)))
    delta = draw(arrays(np.float64, lead + sample, elements=values))
    if draw(st.booleans()) or not lead:
        radius: Array | float = draw(radii)
    else:
        suffix = lead[draw(st.integers(0, len(lead) - 1)) :]
        radius = draw(arrays(np.float64, suffix, elements=radii))
    return delta, radius, len(sample)


def _broadcast_radius(radius: Array | float, delta: Array, sample_dims: int) -> Array:
    r = np.asarray(radius, dtype=np.float64)
    return r.reshape(r.shape + (1,) * sample_dims)


def _t(a: Array | float) -> torch.Tensor | float:
    return torch.as_tensor(a, dtype=F64) if isinstance(a, np.ndarray) else a


# --------------------------------------------------------------------------- l2 ball
def _l2_reference(delta: Array, radius: Array | float, sample_dims: int) -> Array:
    axes = tuple(range(delta.ndim - sample_dims, delta.ndim))
    norms = np.sqrt((delta**2).sum(axis=axes, keepdims=True))
    r = _broadcast_radius(radius, delta, sample_dims)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(norms > r, r / np.where(norms > 0, norms, 1.0), 1.0)
    return delta * factor


@SETTINGS
@given(per_sample_case())
def test_l2_projection_properties(case: tuple[Array, Array | float, int]) -> None:
    delta, radius, sample_dims = case
    v = torch.as_tensor(delta)
    p = project_l2_ball(v, _t(radius), sample_dims=sample_dims)
    assert p.shape == v.shape and p.dtype == F64
    norms = p.flatten(-sample_dims).norm(dim=-1).numpy() if p.ndim else abs(p.numpy())
    r = np.broadcast_to(np.asarray(radius), norms.shape)
    assert np.all(norms <= r * (1 + 1e-12))
    # nearest point: the direct formula r v / ||v|| outside, v inside
    np.testing.assert_allclose(p.numpy(), _l2_reference(delta, radius, sample_dims), rtol=1e-12)
    v_norms = v.flatten(-sample_dims).norm(dim=-1).numpy()
    inside = v_norms <= r
    np.testing.assert_array_equal(p.numpy()[inside], delta[inside])
    again = project_l2_ball(p, _t(radius), sample_dims=sample_dims)
    torch.testing.assert_close(again, p, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(arrays(np.float64, st.integers(1, 6), elements=values), radii, st.integers(0, 2**31))
def test_l2_projection_is_the_nearest_point(delta: Array, radius: float, seed: int) -> None:
    """Variational inequality <v - p, q - p> <= 0 for every q in the ball (checked on draws)."""
    p = project_l2_ball(torch.as_tensor(delta), radius).numpy()
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((64, delta.size))
    q *= radius * rng.random((64, 1)) / np.linalg.norm(q, axis=1, keepdims=True)
    q = np.vstack([q, np.zeros(delta.size)])
    assert np.all((q - p) @ (delta - p) <= 1e-9 * (1 + radius * np.abs(delta).sum()))
    dist = np.linalg.norm(delta - p)
    assert np.all(np.linalg.norm(delta - q, axis=1) >= dist - 1e-9)


# --------------------------------------------------------------------------- linf ball
@SETTINGS
@given(per_sample_case())
def test_linf_projection_is_coordinatewise_clipping(case: tuple[Array, Array | float, int]) -> None:
    delta, radius, sample_dims = case
    p = project_linf_ball(torch.as_tensor(delta), _t(radius), sample_dims=sample_dims)
    r = _broadcast_radius(radius, delta, sample_dims)
    expected = np.clip(delta, -r, r)  # coordinatewise optimal: the linf ball is a box
    np.testing.assert_array_equal(p.numpy(), expected)
    assert np.all(np.abs(p.numpy()) <= r)
    inside = np.abs(delta) <= r
    np.testing.assert_array_equal(p.numpy()[inside], delta[inside])
    again = project_linf_ball(p, _t(radius), sample_dims=sample_dims)
    torch.testing.assert_close(again, p, rtol=0, atol=0)


def test_per_sample_radius_aligns_with_the_sample_axis() -> None:
    """A radius (n,) fits delta (E, n, d) in both balls: sample i gets r_i in every member."""
    delta = torch.full((3, 4, 5), 10.0, dtype=F64)
    r = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=F64)
    l2 = project_l2_ball(delta, r).norm(dim=-1)
    linf = project_linf_ball(delta, r).abs().amax(dim=-1)
    torch.testing.assert_close(l2, r.expand(3, 4))
    torch.testing.assert_close(linf, r.expand(3, 4))


# --------------------------------------------------------------------------- l_{2,1} ball
def _l21_reference(delta: Array, budget: float) -> Array:
    """Independent bisection on the threshold tau: sum_i max(||d_i|| - tau, 0) = S."""
    norms = np.linalg.norm(delta, axis=-1)
    if norms.sum() <= budget:
        return delta
    low, high = 0.0, float(norms.max())
    for _ in range(200):
        mid = 0.5 * (low + high)
        if np.maximum(norms - mid, 0.0).sum() > budget:
            low = mid
        else:
            high = mid
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(norms > 0, np.maximum(norms - high, 0.0) / norms, 0.0)
    return delta * scale[..., None]


@st.composite
def l21_case(draw: st.DrawFn) -> tuple[Array, Array | float]:
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=1)))
    n, d = draw(st.integers(1, 12)), draw(st.integers(1, 4))
    delta = draw(arrays(np.float64, (*batch, n, d), elements=values))
    if draw(st.booleans()):  # a handful of exactly zero rows
        delta[..., : draw(st.integers(0, n)), :] = 0.0
    if batch and draw(st.booleans()):
        return delta, draw(arrays(np.float64, batch, elements=radii))
    return delta, draw(radii)


@SETTINGS
@given(l21_case())
def test_l21_projection_properties(case: tuple[Array, Array | float]) -> None:
    delta, budget = case
    v = torch.as_tensor(delta)
    p = project_l21_ball(v, _t(budget))
    assert p.shape == v.shape
    spent = p.norm(dim=-1).sum(dim=-1).numpy()
    S = np.broadcast_to(np.asarray(budget), spent.shape)
    scale = 1 + np.abs(delta).max()
    assert np.all(spent <= S + 1e-9 * scale)
    # nearest point: against the bisection reference, batch element by batch element
    flat = delta.reshape(-1, *delta.shape[-2:])
    flat_S = np.broadcast_to(np.asarray(budget), delta.shape[:-2]).reshape(-1)
    expected = np.stack([_l21_reference(x, float(s)) for x, s in zip(flat, flat_S, strict=True)])
    np.testing.assert_allclose(p.numpy(), expected.reshape(delta.shape), atol=1e-9 * scale)
    # identity inside (bit for bit), idempotent
    inside = v.norm(dim=-1).sum(dim=-1).numpy() <= S
    np.testing.assert_array_equal(p.numpy()[inside], delta[inside])
    again = project_l21_ball(p, _t(budget))
    torch.testing.assert_close(again, p, rtol=1e-9, atol=1e-9 * scale)
    # rows are only shrunk, never turned
    cos = (p * v).sum(-1) - p.norm(dim=-1) * v.norm(dim=-1)
    assert bool((cos.abs() <= 1e-9 * scale**2).all())


class _CountOps(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        self.calls += 1
        return func(*args, **(kwargs or {}))


def test_l21_projection_has_no_loop_over_rows() -> None:
    """The number of torch operations does not grow with n: batched, sort-based O(n log n)."""
    counts = []
    for n in (10, 1000, 20000):
        delta = torch.randn(n, 8, generator=torch.Generator().manual_seed(n), dtype=F64)
        with _CountOps() as mode:
            project_l21_ball(delta, 0.1 * n)
        counts.append(mode.calls)
    assert counts[0] == counts[1] == counts[2]


def test_simplex_projection_rejects_negative_input() -> None:
    with pytest.raises(ValueError, match="nonnegative"):
        project_simplex_l1(torch.tensor([1.0, -0.5]), 1.0)


def test_l21_needs_rows() -> None:
    with pytest.raises(ValueError, match=r"delta must be \(..., n, d\)"):
        project_l21_ball(torch.ones(5), 1.0)


# --------------------------------------------------------------------------- l_{2,inf}, weights
@SETTINGS
@given(
    arrays(np.float64, st.tuples(st.integers(1, 8), st.integers(1, 5)), elements=values),
    radii,
)
def test_l2inf_projection_clips_every_row(delta: Array, budget: float) -> None:
    p = project_l2inf_ball(torch.as_tensor(delta), budget)
    np.testing.assert_allclose(p.numpy(), _l2_reference(delta, budget, 1), rtol=1e-12)
    assert float(p.norm(dim=-1).max()) <= budget * (1 + 1e-12)
    assert L2Inf(budget).spent(p) <= budget * (1 + 1e-12)
    torch.testing.assert_close(L2Inf(budget).project(torch.as_tensor(delta)), p)


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 6), st.integers(1, 4), radii, st.integers(0, 2**31))
def test_weight_ball_projection(E: int, m: int, d: int, radius: float, seed: int) -> None:
    """B_{2,inf}(W0, R): every neuron within R of its initial weights (paper 002 Def. 2.1)."""
    g = torch.Generator().manual_seed(seed)
    W0 = torch.randn(E, m, d, generator=g, dtype=F64)
    W = W0 + torch.randn(E, m, d, generator=g, dtype=F64) * 3 * torch.rand(E, m, 1, generator=g)
    P = project_weight_ball(W, W0, radius)
    shift = (W - W0).numpy()
    expected = W0.numpy() + _l2_reference(shift, radius, 1)
    np.testing.assert_allclose(P.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert float((P - W0).norm(dim=-1).max()) <= radius * (1 + 1e-12) + 1e-12
    inside = (W - W0).norm(dim=-1) <= radius
    torch.testing.assert_close(P[inside], W[inside], rtol=0, atol=0)
    torch.testing.assert_close(project_weight_ball(P, W0, radius), P)


def test_weight_ball_shape_mismatch() -> None:
    with pytest.raises(ValueError, match=r"W \(2, 3, 4\) and W0 \(2, 3, 5\) differ in shape"):
        project_weight_ball(torch.ones(2, 3, 4), torch.ones(2, 3, 5), 1.0)


# --------------------------------------------------------------------------- box
@SETTINGS
@given(arrays(np.float64, st.integers(1, 10), elements=values), values, values)
def test_box_projection(x: Array, a: float, b: float) -> None:
    low, high = min(a, b), max(a, b)
    p = project_box(torch.as_tensor(x), low, high)
    np.testing.assert_array_equal(p.numpy(), np.clip(x, low, high))
    torch.testing.assert_close(project_box(p, low, high), p, rtol=0, atol=0)


def test_box_with_tensor_bounds_and_bad_bounds() -> None:
    x = torch.tensor([[-2.0, 0.5, 3.0]])
    low, high = torch.tensor([-1.0, 0.0, 0.0]), torch.tensor([1.0, 0.2, 5.0])
    torch.testing.assert_close(project_box(x, low, high), torch.tensor([[-1.0, 0.2, 3.0]]))
    with pytest.raises(ValueError, match="low <= high"):
        project_box(x, 1.0, 0.0)


# --------------------------------------------------------------------------- norm objects
@SETTINGS
@given(
    st.sampled_from(["l2", "linf"]),
    st.lists(st.integers(1, 4), min_size=1, max_size=2),
    st.lists(st.integers(1, 5), min_size=1, max_size=2),
    st.booleans(),
    st.integers(0, 2**31),
)
def test_random_start_stays_in_the_ball(
    name: str, lead: list[int], sample: list[int], scalar: bool, seed: int
) -> None:
    norm = get_norm(name)
    g = torch.Generator().manual_seed(seed)
    shape = (*lead, *sample)
    if scalar:
        radius = torch.tensor(0.7, dtype=F64)
    else:
        radius = torch.rand(lead, generator=g, dtype=F64)
        radius.view(-1)[0] = 0.0  # a zero radius gives a zero start
    start = norm.random_start(shape, radius, g, F64, sample_dims=len(sample))
    assert start.shape == shape and start.dtype == F64
    sizes = norm.norm(start, sample_dims=len(sample))
    assert bool((sizes <= radius * (1 + 1e-12)).all())
    if not scalar:
        assert float(sizes.view(-1)[0]) == 0.0
    torch.testing.assert_close(norm.project(start, radius, len(sample)), start, rtol=0, atol=0)


def test_l2_random_start_is_uniform_in_the_ball() -> None:
    """In dimension d, P(||u|| <= r/2) = 2^-d for the uniform law on the ball."""
    start = L2().random_start((20000, 2), torch.tensor(1.0), torch.Generator(), F64)
    inner = float((start.norm(dim=-1) <= 0.5).double().mean())
    assert inner == pytest.approx(0.25, abs=0.02)


@SETTINGS
@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 6)), elements=values))
def test_normalize(grad: Array) -> None:
    g = torch.as_tensor(grad)
    unit = L2().normalize(g)
    norms = g.norm(dim=-1)
    torch.testing.assert_close(
        unit.norm(dim=-1)[norms > 0], torch.ones_like(norms)[norms > 0], rtol=1e-12, atol=0
    )
    assert bool((unit[norms == 0] == 0).all())
    # same direction as the gradient
    torch.testing.assert_close(unit * norms.unsqueeze(-1), g, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(Linf().normalize(g).numpy(), np.sign(grad))


def test_norm_values_and_lookup() -> None:
    x = torch.tensor([[3.0, -4.0], [0.0, 0.5]])
    torch.testing.assert_close(L2().norm(x), torch.tensor([5.0, 0.5]))
    torch.testing.assert_close(Linf().norm(x), torch.tensor([4.0, 0.5]))
    torch.testing.assert_close(row_norms(x), torch.tensor([5.0, 0.5]))
    assert get_norm("l2") == L2() and get_norm("linf") == Linf()
    with pytest.raises(ValueError, match="unknown norm 'l1'; allowed: l2, linf"):
        get_norm("l1")


# --------------------------------------------------------------------------- budgets
@SETTINGS
@given(st.floats(0, 1e3, allow_nan=False), st.integers(1, 10**6))
def test_l21_from_C(C: float, n: int) -> None:
    """Paper 001 regime A: S = C sqrt(n)."""
    assert math.isclose(L21.from_C(C, n).S, C * math.sqrt(n), rel_tol=1e-12)


@SETTINGS
@given(l21_case())
def test_budget_spent_and_project(case: tuple[Array, Array | float]) -> None:
    delta, _ = case
    delta = delta.reshape(-1, delta.shape[-1])
    v = torch.as_tensor(delta)
    row = np.linalg.norm(delta, axis=1)
    assert L21(1.0).spent(v) == pytest.approx(row.sum(), rel=1e-12, abs=1e-12)
    assert L2Inf(1.0).spent(v) == pytest.approx(row.max(), rel=1e-12)
    budget = L21(0.5 * float(row.sum()))
    assert budget.spent(budget.project(v)) <= budget.S * (1 + 1e-9) + 1e-12


def test_empty_spent() -> None:
    assert L2Inf(1.0).spent(torch.zeros(0, 3)) == 0.0
    assert L21(1.0).spent(torch.zeros(0, 3)) == 0.0


# --------------------------------------------------------------------------- bad radii
BAD = [-1.0, float("nan"), torch.tensor([1.0, -0.1]), torch.tensor([0.5, float("nan")])]


@pytest.mark.parametrize("radius", BAD, ids=["negative", "nan", "neg-entry", "nan-entry"])
def test_bad_radii_raise(radius: float | torch.Tensor) -> None:
    delta = torch.ones(2, 3)
    match = "radius must be|radius contains NaN"
    for call in (
        lambda: project_l2_ball(delta, radius),
        lambda: project_linf_ball(delta, radius),
        lambda: project_l2inf_ball(delta, radius),
        lambda: project_weight_ball(delta, delta, radius),
        lambda: project_simplex_l1(torch.ones(3), radius),
        lambda: project_l21_ball(delta.unsqueeze(0).expand(2, 2, 3), radius),
    ):
        with pytest.raises(ValueError, match=match):
            call()


@pytest.mark.parametrize("bad", [-1.0, float("nan")])
def test_bad_budgets_raise(bad: float) -> None:
    with pytest.raises(ValueError, match="S must be"):
        L21(bad)
    with pytest.raises(ValueError, match="B must be"):
        L2Inf(bad)
    with pytest.raises(ValueError, match="C must be"):
        L21.from_C(bad, 10)


def test_module_exports() -> None:
    assert geometry.NORMS.keys() == {"l2", "linf"}
