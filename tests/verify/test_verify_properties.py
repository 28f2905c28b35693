"""Soundness as properties: certified <= exact <= every attack's radius, on every point."""

from __future__ import annotations

import functools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from robustlab.attacks import minimal_gradient_step, minimal_perturbation, pgd
from robustlab.models import TwoLayerNet
from robustlab.verify import certified_radius, exact_minimal_perturbation
from robustlab.verify._problem import margin_problem, vector_norm
from robustlab.verify.certified import margin_lower_bound

RTOL = 1e-4  # the exact radius asks the margin to reach -1e-5 |margin at x|


@st.composite
def nets(draw: st.DrawFn) -> tuple[TwoLayerNet, torch.Tensor]:
    seed = draw(st.integers(0, 2**31 - 1))
    m, d = draw(st.integers(2, 8)), draw(st.integers(1, 4))
    outputs = draw(st.sampled_from([1, 1, 3]))
    alpha = draw(st.sampled_from([0.0, 0.1, 0.3]))
    bias = draw(st.booleans())
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(1, m, d, generator=g, dtype=torch.float64)
    a = torch.randn((1, m) if outputs == 1 else (1, outputs, m), generator=g, dtype=torch.float64)
    b = torch.randn(1, m, generator=g, dtype=torch.float64) if bias else None
    net = TwoLayerNet(
        W, a, b, activation="leaky_relu" if alpha else "relu", alpha=alpha, scale=m**-0.5
    )
    x = torch.randn(2, d, generator=g, dtype=torch.float64)
    return net, x


@settings(max_examples=25, deadline=None)
@given(case=nets(), norm=st.sampled_from(["linf", "l1", "l2"]))
def test_certified_below_exact_and_delta_valid(
    case: tuple[TwoLayerNet, torch.Tensor], norm: str
) -> None:
    net, x = case
    exact = exact_minimal_perturbation(net, x, norm=norm)
    certified = certified_radius(net, x, norm=norm)
    assert bool((certified <= exact.radius * (1 + 1e-9) + 1e-12).all())
    assert bool((exact.lower <= exact.radius).all())
    found = (exact.status == 0) & (exact.radius > 0)
    assert bool(exact.flipped[found].all())
    lengths = vector_norm(exact.delta, norm)
    torch.testing.assert_close(lengths[found], exact.radius[found])


@settings(max_examples=8, deadline=None)
@given(case=nets())
def test_exact_below_every_attack(case: tuple[TwoLayerNet, torch.Tensor]) -> None:
    net, x = case
    f = net(x).detach()
    for norm in ("l2", "linf"):
        exact = exact_minimal_perturbation(net, x, norm=norm).radius
        if net.outputs == 1:
            step = minimal_gradient_step(net, x)
            lengths = vector_norm(step.delta.to(torch.float64), norm)
            flipped = step.flipped
            assert bool((exact[flipped] <= lengths[flipped] * (1 + RTOL)).all())
            y = torch.where(f[0] >= 0, 1.0, -1.0).to(torch.float64)
        else:
            y = f[0].argmax(dim=-1)
        if net.activation.alpha == 0.0:
            continue  # PGD counts a zero margin (a flat dead region of a ReLU net) as a success
        attack = functools.partial(pgd, norm=norm, steps=40, early_stop=True, loss="margin")
        budget = 4 * float(torch.where(torch.isfinite(exact), exact, 1.0).max()) + 1.0
        found = minimal_perturbation(
            net, x, y, method="pgd", norm=norm, max_eps=budget, attack=attack
        ).norms
        assert bool((exact <= found * (1 + RTOL) + 1e-9).all())


@settings(max_examples=25, deadline=None)
@given(case=nets(), norm=st.sampled_from(["linf", "l1", "l2"]), scale=st.floats(0.01, 3.0))
def test_relaxation_bounds_every_sampled_margin(
    case: tuple[TwoLayerNet, torch.Tensor], norm: str, scale: float
) -> None:
    """The linear-relaxation bound lies below the margin at random points of the ball."""
    net, x = case
    problem = margin_problem(net, x, None)
    eps = torch.full((1, 2), scale, dtype=torch.float64)
    bound = margin_lower_bound(problem, eps, norm)
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        direction = torch.randn(1, 2, net.dim, generator=g, dtype=torch.float64)
        delta = direction / vector_norm(direction, norm).unsqueeze(-1) * scale
        margins = problem.margins(delta)
        assert bool((bound <= margins + 1e-9).all())


def test_minimal_perturbation_delegates() -> None:
    g = torch.Generator().manual_seed(0)
    net = TwoLayerNet.bubeck(1, 6, 3, generator=g, dtype=torch.float64)
    x = torch.randn(4, 3, generator=g, dtype=torch.float64)
    exact = minimal_perturbation(net, x, method="exact", norm="linf")
    certified = minimal_perturbation(net, x, method="certified", norm="linf")
    direct = exact_minimal_perturbation(net, x, norm="linf").radius
    torch.testing.assert_close(exact.norms, direct)
    assert exact.method == "exact"
    assert bool((certified.norms <= exact.norms).all())
    with pytest.raises(TypeError, match="TwoLayerNet"):
        minimal_perturbation(lambda v: v.sum(-1), x, method="exact")
    assert math.isfinite(float(exact.quantiles[0, 0]))
