"""Finite-width margin of paper 001 Assumption 1: certified bounds against an exact LP."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import linprog

from robustlab.theory.margin import finite_width_margin

F64 = torch.float64


def _problem(n: int, m: int, d: int, seed: int, noise: float) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=F64)
    X = X / X.norm(dim=1, keepdim=True)
    y = torch.sign(X[:, 0] + noise * torch.randn(n, generator=g, dtype=F64))
    return X, y, torch.randn(m, d, generator=g, dtype=F64)


def _lp_margin(
    X: torch.Tensor, y: torch.Tensor, W0: torch.Tensor, sides: int, inner: bool
) -> float:
    """gamma_m with each ||v_s|| <= 1 replaced by a regular polygon (d = 2): the polygon inscribed
    in the disc gives a lower bound, the circumscribed one an upper bound; solved exactly."""
    n, m = X.shape[0], W0.shape[0]
    active = (W0 @ X.T >= 0).double().numpy()
    Xn, yn = X.numpy(), y.numpy()
    angles = np.arange(sides) * 2 * np.pi / sides
    faces = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    reach = np.cos(np.pi / sides) if inner else 1.0
    nv = 2 * m + 1
    rows = np.zeros((n + m * sides, nv))
    # -y_i (1/m) sum_s active_si <v_s, x_i> + t <= 0
    for s in range(m):
        rows[:n, 2 * s : 2 * s + 2] = -(yn * active[s])[:, None] * Xn / m
        rows[n + s * sides : n + (s + 1) * sides, 2 * s : 2 * s + 2] = faces
    rows[:n, -1] = 1.0
    rhs = np.concatenate([np.zeros(n), np.full(m * sides, reach)])
    cost = np.zeros(nv)
    cost[-1] = -1.0
    res = linprog(cost, A_ub=rows, b_ub=rhs, bounds=[(None, None)] * nv)
    assert res.success
    return float(-res.fun)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bounds_bracket_the_exact_margin_and_close_in(seed: int) -> None:
    X, y, W0 = _problem(15, 12, 2, seed, noise=0.3)
    inner = _lp_margin(X, y, W0, 256, inner=True)
    outer = _lp_margin(X, y, W0, 256, inner=False)
    assert outer - inner < 1e-4  # the polygons pin the exact value
    coarse = finite_width_margin(X, y, W0, steps=200)
    fine = finite_width_margin(X, y, W0, steps=4000)
    for est in (coarse, fine):
        assert est.lower <= inner + 1e-9 and est.upper >= outer - 1e-9
    assert fine.gap < coarse.gap
    if outer > 0:
        assert fine.gap < 0.25 * abs(outer) + 5e-3


def test_no_margin_when_one_input_has_both_labels() -> None:
    X, y, W0 = _problem(10, 20, 3, 4, noise=0.0)
    X = torch.cat([X, X[:1]])
    y = torch.cat([y, -y[:1]])
    est = finite_width_margin(X, y, W0, steps=500)
    assert est.lower <= 0.0 < est.upper < 0.01  # converges to 0 at rate 1/sqrt(steps)
    assert (est.width, est.samples, est.steps) == (20, 11, 500)


def test_separable_data_has_a_positive_certified_margin() -> None:
    X, y, W0 = _problem(40, 50, 5, 5, noise=0.0)  # labels = sign of the first coordinate
    est = finite_width_margin(X, y, W0, steps=2000)
    assert est.lower > 0 and est.lower <= est.upper


def test_bad_arguments_raise() -> None:
    X, y, W0 = _problem(5, 4, 3, 0, noise=0.0)
    with pytest.raises(ValueError, match="y must"):
        finite_width_margin(X, y * 2, W0)
    with pytest.raises(ValueError, match="W0"):
        finite_width_margin(X, y, W0[:, :2])
    with pytest.raises(ValueError, match="steps"):
        finite_width_margin(X, y, W0, steps=0)
    with pytest.raises(ValueError, match="X must"):
        finite_width_margin(X[0], y, W0)
