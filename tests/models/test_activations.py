"""Activations: closed-form derivatives against autograd and central differences (float64)."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from robustlab.models.activations import ACTIVATIONS, Activation, get_activation

F64 = torch.float64


def _points() -> torch.Tensor:
    z = torch.randn(500, generator=torch.Generator().manual_seed(0), dtype=F64) * 4
    return z[z.abs() > 1e-4]  # away from the ReLU kink


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("alpha", [0.0, 0.2])
def test_derivative_matches_autograd_and_finite_differences(name: str, alpha: float) -> None:
    act = get_activation(name, alpha)
    z = _points().requires_grad_(True)
    (auto,) = torch.autograd.grad(act(z).sum(), z)
    closed = act.derivative(z.detach())
    torch.testing.assert_close(closed, auto, rtol=1e-12, atol=1e-12)
    h = 1e-6
    with torch.no_grad():
        fd = (act(z + h) - act(z - h)) / (2 * h)
    torch.testing.assert_close(closed, fd, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("relu", torch.relu),
        ("leaky_relu", lambda z: F.leaky_relu(z, 0.2)),
        ("softplus", lambda z: torch.log1p(torch.exp(z))),
        ("gelu", lambda z: z * 0.5 * (1 + torch.erf(z / 2**0.5))),
        ("tanh", torch.tanh),
        ("identity", lambda z: z),
    ],
)
def test_values(name: str, reference: object) -> None:
    z = _points()
    torch.testing.assert_close(Activation(name, 0.2)(z), reference(z))  # type: ignore[operator]


@pytest.mark.parametrize(("name", "slope"), [("relu", 0.0), ("leaky_relu", 0.2)])
def test_kink_uses_the_autograd_convention(name: str, slope: float) -> None:
    """At z = 0 ReLU-type derivatives take the left slope, as torch autograd does."""
    act = Activation(name, 0.2)
    z = torch.zeros(3, dtype=F64, requires_grad=True)
    (auto,) = torch.autograd.grad(act(z).sum(), z)
    torch.testing.assert_close(act.derivative(z.detach()), auto)
    torch.testing.assert_close(auto, torch.full((3,), slope, dtype=F64))


def test_piecewise_linear_flags_and_slopes() -> None:
    assert Activation("relu").piecewise_linear and Activation("relu").negative_slope == 0.0
    assert Activation("leaky_relu", 0.3).negative_slope == 0.3
    assert Activation("identity").negative_slope == 1.0
    for name in ("softplus", "gelu", "tanh"):
        act = Activation(name)
        assert not act.piecewise_linear
        with pytest.raises(ValueError, match="not piecewise linear"):
            _ = act.negative_slope


def test_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match=r"unknown activation 'swish'; allowed: relu"):
        Activation("swish")
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\], got 1.5"):
        Activation("leaky_relu", 1.5)


def test_get_activation() -> None:
    act = Activation("tanh")
    assert get_activation(act) is act
    assert get_activation("leaky_relu", 0.1) == Activation("leaky_relu", 0.1)
    assert get_activation("relu", 0.5) == Activation("relu")
