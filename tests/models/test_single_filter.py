"""SingleFilterNet (paper 000, Definition 1): forward, closed-form gradients, builders, io."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from robustlab.models.io import load_model, save_model
from robustlab.models.single_filter import (
    SingleFilterNet,
    conv_sensing,
    identity_sensing,
    perturbed_mean_sensing,
)

F64 = torch.float64


def _random_net(generator: torch.Generator, *, alpha: float, ensemble: int = 3) -> SingleFilterNet:
    sensing = torch.randn(4, 3, 6, generator=generator, dtype=F64)
    w = torch.randn(ensemble, 3, generator=generator, dtype=F64)
    return SingleFilterNet(sensing, w, alpha=alpha)


def _brute_force(net: SingleFilterNet, x: torch.Tensor) -> torch.Tensor:
    """(1/k) sum_i sigma(w^T A_i x) with explicit loops, for x (N, n)."""
    out = torch.zeros(net.ensemble, x.shape[0], dtype=F64)
    for e in range(net.ensemble):
        for j in range(x.shape[0]):
            total = 0.0
            for i in range(net.width):
                z = float(net.w[e] @ (net.sensing[i] @ x[j]))
                total += z if z >= 0 else net.alpha * z
            out[e, j] = total / net.width
    return out


@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_forward_matches_brute_force(generator: torch.Generator, alpha: float) -> None:
    net = _random_net(generator, alpha=alpha)
    x = torch.randn(5, 6, generator=generator, dtype=F64)
    with torch.no_grad():
        torch.testing.assert_close(net(x), _brute_force(net, x))
        xe = x.unsqueeze(0).expand(net.ensemble, -1, -1)
        torch.testing.assert_close(net(xe), net(x))


def test_relu_gate_is_single_relu(generator: torch.Generator) -> None:
    w = torch.randn(2, 4, generator=generator, dtype=F64)
    net = SingleFilterNet.relu_gate(w)
    x = torch.randn(7, 4, generator=generator, dtype=F64)
    with torch.no_grad():
        torch.testing.assert_close(net(x), torch.relu(w @ x.T))
    assert (net.width, net.filter_size, net.dim) == (1, 4, 4)


@pytest.mark.parametrize("alpha", [0.0, 0.25])
def test_input_grad_matches_autograd_and_finite_differences(
    generator: torch.Generator, alpha: float
) -> None:
    net = _random_net(generator, alpha=alpha)
    x = torch.randn(net.ensemble, 5, 6, generator=generator, dtype=F64, requires_grad=True)
    direction = torch.randn(net.ensemble, 5, generator=generator, dtype=F64)
    (auto,) = torch.autograd.grad((net(x) * direction).sum(), x)
    closed = net.input_grad(x.detach(), direction)
    torch.testing.assert_close(closed, auto)
    # central differences along a random direction (kinks have probability zero)
    v = torch.randn_like(x)
    h = 1e-6
    with torch.no_grad():
        fd = ((net(x + h * v) - net(x - h * v)) * direction).sum() / (2 * h)
    torch.testing.assert_close((closed * v).sum(), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("alpha", [0.0, 0.25])
def test_param_grad_matches_autograd_and_finite_differences(
    generator: torch.Generator, alpha: float
) -> None:
    net = _random_net(generator, alpha=alpha)
    x = torch.randn(5, 6, generator=generator, dtype=F64)
    weights = torch.randn(net.ensemble, 5, generator=generator, dtype=F64)
    (auto,) = torch.autograd.grad((net(x) * weights).sum(), net.w)
    closed = net.param_grad(x, weights)
    torch.testing.assert_close(closed, auto)
    v = torch.randn(net.ensemble, 3, generator=generator, dtype=F64)
    h = 1e-6
    with torch.no_grad():
        w = net.w.detach()
        plus = (net.output(x, w + h * v) * weights).sum()
        minus = (net.output(x, w - h * v) * weights).sum()
    torch.testing.assert_close((closed * v).sum(), (plus - minus) / (2 * h), rtol=1e-6, atol=1e-8)


def test_per_sample_param_grad_matches_autograd(generator: torch.Generator) -> None:
    net = _random_net(generator, alpha=0.1, ensemble=2)
    x = torch.randn(4, 6, generator=generator, dtype=F64)
    closed = net.per_sample_param_grad(x)
    assert closed.shape == (2, 4, 3)
    for j in range(4):
        (auto,) = torch.autograd.grad(net(x[j : j + 1]).sum(), net.w)
        torch.testing.assert_close(closed[:, j], auto)
    torch.testing.assert_close(closed.sum(dim=1), net.param_grad(x))


@settings(max_examples=40, deadline=None)
@given(
    dim=st.integers(1, 20),
    filter_size=st.integers(1, 20),
    stride=st.integers(1, 5),
)
def test_conv_sensing_structure(dim: int, filter_size: int, stride: int) -> None:
    if filter_size > dim:
        with pytest.raises(ValueError, match="filter_size"):
            conv_sensing(dim, filter_size, stride=stride)
        return
    sensing = conv_sensing(dim, filter_size, stride=stride, dtype=F64)
    k = (dim - filter_size) // stride + 1
    assert sensing.shape == (k, filter_size, dim)
    assert set(sensing.unique().tolist()) <= {0.0, 1.0}
    assert (sensing.sum(dim=2) == 1).all(), "exactly one 1 per row"
    assert (sensing.sum(dim=1) <= 1).all(), "at most one 1 per column"
    for i in range(k):
        cols = sensing[i].argmax(dim=1)
        assert cols.tolist() == list(range(i * stride, i * stride + filter_size))


def test_conv_net_is_patch_convolution(generator: torch.Generator) -> None:
    w = torch.randn(1, 3, generator=generator, dtype=F64)
    net = SingleFilterNet.convolutional(w, 8, stride=2)
    x = torch.randn(4, 8, generator=generator, dtype=F64)
    patches = x.unfold(1, 3, 2)  # (N, k, r)
    expected = torch.relu(patches @ w[0]).mean(dim=1)
    with torch.no_grad():
        torch.testing.assert_close(net(x)[0], expected)


def test_perturbed_mean_family(generator: torch.Generator) -> None:
    family = perturbed_mean_sensing(10, 5, 20, generator=generator, dtype=F64)
    assert family.sensing.shape == (10, 5, 20)
    torch.testing.assert_close(family.sensing.mean(dim=0), family.mean, rtol=0, atol=1e-12)
    # A_i - M = c_i C with c_i running over {-5..-1, 1..5}
    diffs = family.sensing - family.mean
    spread = diffs[-1] / 5
    factors = (diffs * spread).sum(dim=(1, 2)) / (spread * spread).sum()
    expected = torch.tensor([-5, -4, -3, -2, -1, 1, 2, 3, 4, 5], dtype=F64)
    torch.testing.assert_close(factors, expected)
    torch.testing.assert_close(diffs, factors.view(-1, 1, 1) * spread)
    net = SingleFilterNet(family.sensing, torch.zeros(1, 5, dtype=F64))
    torch.testing.assert_close(net.mean_sensing, family.mean, rtol=0, atol=1e-12)


def test_family_rejects_odd_width() -> None:
    with pytest.raises(ValueError, match="even"):
        perturbed_mean_sensing(3, 2, 4)


def test_identity_sensing() -> None:
    assert torch.equal(identity_sensing(3), torch.eye(3).unsqueeze(0))


def test_save_load_roundtrip(tmp_path: Path, generator: torch.Generator) -> None:
    net = _random_net(generator, alpha=0.2)
    path = save_model(net, tmp_path / "net.safetensors")
    loaded = load_model(path)
    assert isinstance(loaded, SingleFilterNet)
    assert loaded.alpha == pytest.approx(0.2)
    torch.testing.assert_close(loaded.w, net.w)
    torch.testing.assert_close(loaded.sensing, net.sensing)


def test_shape_errors(generator: torch.Generator) -> None:
    net = _random_net(generator, alpha=0.0)
    with pytest.raises(ValueError, match=r"x must be"):
        net(torch.zeros(2, 5, dtype=F64))
    with pytest.raises(ValueError, match=r"w must be"):
        SingleFilterNet(net.sensing, torch.zeros(2, 4, dtype=F64))
    with pytest.raises(ValueError, match="alpha"):
        SingleFilterNet(net.sensing, torch.zeros(2, 3, dtype=F64), alpha=1.5)
    with pytest.raises(ValueError, match="NaN"):
        SingleFilterNet(net.sensing, torch.full((2, 3), float("nan"), dtype=F64))
