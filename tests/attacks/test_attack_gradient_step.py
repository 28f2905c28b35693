"""Single gradient-step attacks: closed forms against autograd, exactness of the minimal step
against a dense float64 line search, bounds and the generic (scan + bisection) path."""

from __future__ import annotations

import importlib

import pytest
import torch
from torch import Tensor, nn

from robustlab import TwoLayerNet
from robustlab.attacks import gradient_step, minimal_gradient_step
from robustlab.models.linear import LinearModel

F64 = torch.float64
gradient_step_module = importlib.import_module("robustlab.attacks.gradient_step")


def _net(activation: str, generator: torch.Generator, *, alpha: float = 0.0) -> TwoLayerNet:
    return TwoLayerNet.ntk(
        3, 40, 8, activation=activation, alpha=alpha, generator=generator, dtype=F64
    )


def _dense_first_flip(f_along: callable, f0: Tensor, top: Tensor, points: int) -> Tensor:  # type: ignore[valid-type]
    """First of `points` equally spaced |eta| in (0, top] where the sign flips, inf if none."""
    best = torch.full_like(f0, torch.inf)
    for level in torch.linspace(1.0, 1.0 / points, points, dtype=F64):
        tau = level * top
        best = torch.where(f_along(tau) * f0 < 0, tau, best)
    return best


def test_gradient_step_matches_autograd(generator: torch.Generator) -> None:
    net = _net("leaky_relu", generator, alpha=0.1)
    x = torch.randn(6, 8, generator=generator, dtype=F64)
    eta = torch.linspace(-0.5, 0.5, 6, dtype=F64)
    result = gradient_step(net, x, eta)
    leaf = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(net(leaf).sum(), leaf)  # members share x: sum over E
    per_member = torch.stack(
        [torch.autograd.grad(net.member(e)(leaf)[0].sum(), leaf)[0] for e in range(3)]
    )
    assert torch.allclose(per_member.sum(0), grad)
    assert torch.allclose(result.delta, eta.view(1, -1, 1) * per_member, atol=1e-12)
    assert torch.allclose(result.grad_norm, per_member.norm(dim=-1))
    assert torch.allclose(result.f_adv, net(x.unsqueeze(0) + result.delta))
    assert torch.equal(result.flipped, result.f_clean * result.f_adv < 0)
    scalar = gradient_step(net, x, 0.25)
    assert torch.allclose(scalar.eta, torch.full((3, 6), 0.25, dtype=F64))


@pytest.mark.parametrize(
    ("activation", "alpha"), [("relu", 0.0), ("leaky_relu", 0.2), ("identity", 0.0)]
)
def test_minimal_step_is_exact(activation: str, alpha: float, generator: torch.Generator) -> None:
    net = _net(activation, generator, alpha=alpha)
    x = torch.randn(40, 8, generator=generator, dtype=F64)
    result = minimal_gradient_step(net, x)
    grad = net.input_grad(x)
    f0 = net(x)
    finite = torch.isfinite(result.eta)
    assert finite.float().mean() > 0.5
    assert torch.equal(result.flipped, finite)
    assert torch.all(torch.sign(result.eta[finite]) == -torch.sign(f0[finite]))
    eta = torch.where(finite, result.eta, 0.0).unsqueeze(-1)
    after = net(x + eta * grad)
    before = net(x + (1 - 1e-6) * eta * grad)
    assert torch.all(after[finite] * f0[finite] < 0)
    assert torch.all(before[finite] * f0[finite] > 0)
    # Dense float64 line search on [0, 2 |eta|] (and far out where no flip was found).
    top = torch.where(finite, 2 * result.eta.abs(), 50.0)
    points = 2000
    dense = _dense_first_flip(
        lambda tau: net(x - (f0.sign() * tau).unsqueeze(-1) * grad), f0, top, points
    )
    assert torch.all(torch.isfinite(dense) == finite)
    gap = dense[finite] - result.eta.abs()[finite]
    assert torch.all(gap >= -1e-12)
    assert torch.all(gap <= top[finite] / points + 1e-12)


def test_minimal_step_linear_closed_form(generator: torch.Generator) -> None:
    """For a linear net f = w.x the minimal l2 flip is |f| / ||w||, reached by the gradient step."""
    net = _net("identity", generator)
    x = torch.randn(20, 8, generator=generator, dtype=F64)
    w = (net.a.unsqueeze(-1) * net.W).sum(dim=1) * net.scale  # (E, d)
    f = net(x)
    result = minimal_gradient_step(net, x)
    assert torch.allclose(result.delta_norm, f.abs() / w.norm(dim=-1, keepdim=True), rtol=1e-9)
    model = LinearModel(w, torch.zeros(3, dtype=F64))
    generic = minimal_gradient_step(model, x)  # ensemble path with its own input_grad: scan
    assert torch.allclose(generic.delta_norm, result.delta_norm, rtol=1e-6)


def test_no_flip_gives_inf(generator: torch.Generator) -> None:
    """A ReLU net with positive output weights is >= 0 everywhere: no step flips it."""
    W = torch.randn(1, 5, 4, generator=generator, dtype=F64)
    net = TwoLayerNet(W, torch.ones(1, 5, dtype=F64), scale=1.0)
    x = torch.randn(10, 4, generator=generator, dtype=F64) + 3 * W[0, 0]
    result = minimal_gradient_step(net, x)
    positive = result.f_clean > 0
    assert positive.any()
    assert torch.all(torch.isinf(result.eta[positive]))
    assert not result.flipped[positive].any()
    assert torch.all(torch.isinf(result.delta_norm[positive]))
    assert torch.all(result.delta[positive] == 0)


def test_bound_and_chunks(generator: torch.Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    net = _net("relu", generator)
    x = torch.randn(30, 8, generator=generator, dtype=F64)
    full = minimal_gradient_step(net, x)
    monkeypatch.setattr(gradient_step_module, "_CHUNK_ELEMENTS", 100)
    chunked = minimal_gradient_step(net, x)
    assert torch.allclose(full.eta, chunked.eta, rtol=1e-12)
    cap = full.eta.abs().nan_to_num(posinf=0).median()
    bounded = minimal_gradient_step(net, x, max_eta=cap)
    inside = full.eta.abs() <= cap
    assert torch.allclose(bounded.eta[inside], full.eta[inside], rtol=1e-12)
    assert torch.all(torch.isinf(bounded.eta[~inside]))
    assert not bounded.flipped[~inside].any()


def test_per_member_inputs(generator: torch.Generator) -> None:
    net = _net("relu", generator)
    x = torch.randn(3, 7, 8, generator=generator, dtype=F64)
    result = minimal_gradient_step(net, x)
    for e in range(3):
        alone = minimal_gradient_step(net.member(e), x[e])
        assert torch.allclose(alone.eta[0], result.eta[e], rtol=1e-12)


@pytest.mark.parametrize("activation", ["softplus", "tanh"])
def test_smooth_scan_and_bisection(activation: str, generator: torch.Generator) -> None:
    net = _net(activation, generator)
    x = torch.randn(30, 8, generator=generator, dtype=F64)
    result = minimal_gradient_step(net, x, rtol=1e-9)
    grad = net.input_grad(x)
    f0 = net(x)
    finite = torch.isfinite(result.eta)
    assert finite.float().mean() > 0.5
    eta = torch.where(finite, result.eta, 0.0).unsqueeze(-1)
    assert torch.all((net(x + eta * grad) * f0)[finite] < 0)
    assert torch.all((net(x + (1 - 1e-6) * eta * grad) * f0)[finite] > 0)
    top = torch.where(finite, 2 * result.eta.abs(), 0.0)
    dense = _dense_first_flip(
        lambda tau: net(x - (f0.sign() * tau).unsqueeze(-1) * grad), f0, top, 1000
    )
    assert torch.allclose(dense[finite], result.eta.abs()[finite], rtol=2e-3)


def test_generic_module_matches_exact(generator: torch.Generator) -> None:
    """An nn.Module twin of a one-member ReLU net, through autograd, scan and bisection."""
    net = _net("relu", generator).member(0)
    module = nn.Sequential(nn.Linear(8, 40, bias=False), nn.ReLU(), nn.Linear(40, 1, bias=False))
    module = module.to(F64)
    with torch.no_grad():
        module[0].weight.copy_(net.W[0])
        module[2].weight.copy_(net.a[0].unsqueeze(0) * net.scale)
    x = torch.randn(25, 8, generator=generator, dtype=F64)
    exact = minimal_gradient_step(net, x)
    generic = minimal_gradient_step(module, x, rtol=1e-10, scan_points=512)
    both = torch.isfinite(exact.eta[0]) & torch.isfinite(generic.eta)
    assert both.float().mean() > 0.8
    assert torch.allclose(generic.eta[both], exact.eta[0][both], rtol=1e-8)
    assert generic.eta.shape == (25,)
    assert module[0].weight.grad is None


def test_errors(generator: torch.Generator) -> None:
    multi = TwoLayerNet.ntk(1, 10, 4, outputs=3, generator=generator, dtype=F64)
    x = torch.randn(5, 4, generator=generator, dtype=F64)
    with pytest.raises(ValueError, match="one-logit"):
        gradient_step(multi, x, 0.1)  # minimal_gradient_step handles K logits, this does not
    net = _net("relu", generator)
    with pytest.raises(ValueError, match="eta must be"):
        gradient_step(net, torch.randn(5, 8, dtype=F64), torch.ones(4, dtype=F64))
    with pytest.raises(ValueError, match="max_eta"):
        minimal_gradient_step(net, torch.randn(5, 8, dtype=F64), max_eta=-1.0)
    with pytest.raises(ValueError, match="rtol"):
        minimal_gradient_step(net, torch.randn(5, 8, dtype=F64), rtol=0.0)
