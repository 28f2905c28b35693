"""Universal perturbation delta = eta * sum_i y_i x_i (Vardi et al.): exact event sweep against a
dense float64 scan of eta, the simultaneous-flip semantics, fractions, bounds, generic models."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from robustlab import TwoLayerNet
from robustlab.attacks import universal_perturbation

F64 = torch.float64


def _setup(
    generator: torch.Generator, activation: str = "relu"
) -> tuple[TwoLayerNet, Tensor, Tensor]:
    net = TwoLayerNet.vardi(3, 30, 12, init_scale=1.0, generator=generator, dtype=F64)
    if activation != "relu":
        net = TwoLayerNet(
            net.W.detach(), net.a.detach(), net.b.detach(), activation=activation, alpha=0.2
        )
    X = torch.randn(10, 12, generator=generator, dtype=F64)
    y = torch.sign(net(X)[0])  # member 0 classifies every point correctly
    return net, X, y


def _flipped_count(net: TwoLayerNet, X: Tensor, y: Tensor, eta: Tensor) -> Tensor:
    """(S, E) number of points with sign f(x_i - y_i eta v) = -y_i, for etas (S, E)."""
    v = (y.unsqueeze(-1) * X).sum(dim=0)
    points = X - y.unsqueeze(-1) * v * eta.reshape(*eta.shape, 1, 1)  # (S, E, n, d)
    out = torch.stack([net(points[:, e].reshape(-1, X.shape[1]))[e] for e in range(net.ensemble)])
    out = out.reshape(net.ensemble, eta.shape[0], -1).transpose(0, 1)  # (S, E, n)
    return (y * out < 0).sum(dim=-1)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
@pytest.mark.parametrize("fraction", [1.0, 0.6])
def test_exact_matches_dense_scan(
    activation: str, fraction: float, generator: torch.Generator
) -> None:
    net, X, y = _setup(generator, activation)
    result = universal_perturbation(net, X, y, fraction=fraction)
    needed = math.ceil(fraction * 10)
    assert torch.isfinite(result.eta[0])
    finite = torch.isfinite(result.eta)
    top = torch.where(finite, 2 * result.eta, 20.0)
    points = 4000
    levels = torch.arange(1, points + 1, dtype=F64) / points
    counts = _flipped_count(net, X, y, levels.unsqueeze(-1) * top)  # (S, E)
    reached = counts >= needed
    first = torch.where(reached.any(0), levels[reached.int().argmax(0)] * top, torch.inf)
    assert torch.equal(torch.isfinite(first), finite)
    gap = first[finite] - result.eta[finite]
    assert torch.all(gap >= -1e-12) and torch.all(gap <= top[finite] / points + 1e-12)
    # At eta the requested fraction is flipped at once; just below it, not.
    assert torch.all(result.fraction[finite] >= needed / 10)
    below = _flipped_count(net, X, y, ((1 - 1e-6) * torch.where(finite, result.eta, 0.0))[None])
    positive = finite & (result.eta > 0)
    assert torch.all(below[0][positive] < needed)
    v = result.direction[0]
    assert torch.allclose(v, (y.unsqueeze(-1) * X).sum(0))
    assert torch.allclose(result.delta[finite], result.eta[finite].unsqueeze(-1) * v)


def test_thresholds_are_first_flips(generator: torch.Generator) -> None:
    net, X, y = _setup(generator)
    result = universal_perturbation(net, X, y)
    v = (y.unsqueeze(-1) * X).sum(dim=0)
    t = result.thresholds[0]
    assert torch.all(torch.isfinite(t))
    assert torch.all(
        y * net.member(0)(X - y.unsqueeze(-1) * (t * (1 + 1e-9)).unsqueeze(-1) * v)[0] < 0
    )
    assert torch.all(
        y * net.member(0)(X - y.unsqueeze(-1) * (t * (1 - 1e-6)).unsqueeze(-1) * v)[0] > 0
    )
    # The simultaneous eta is at least the largest first flip (points may flip back).
    assert result.eta[0] >= t.max() * (1 - 1e-12)


def test_bound_and_generic_scan(generator: torch.Generator) -> None:
    net, X, y = _setup(generator)
    exact = universal_perturbation(net, X, y)
    bounded = universal_perturbation(net, X, y, max_eta=float(exact.eta[0]) * 0.5)
    assert torch.isinf(bounded.eta[0]) and bounded.delta_norm[0] == torch.inf
    assert torch.all(bounded.delta[0] == 0)
    member = net.member(0)
    generic = universal_perturbation(lambda z: member(z)[0], X, y, rtol=1e-10)
    assert generic.eta.shape == () and generic.thresholds.shape == (10,)
    assert torch.allclose(generic.eta, exact.eta[0], rtol=1e-6)
    assert torch.allclose(generic.thresholds, exact.thresholds[0], rtol=1e-6)
    assert generic.fraction == 1.0


def test_already_flipped_points_and_errors(generator: torch.Generator) -> None:
    net, X, y = _setup(generator)
    y_wrong = y.clone()
    y_wrong[:6] = -y_wrong[:6]  # 6 of 10 misclassified from the start
    result = universal_perturbation(net, X, y_wrong, fraction=0.5)
    assert result.eta[0] == 0 and result.fraction[0] >= 0.6
    assert torch.all(result.thresholds[0][:6] == 0)
    with pytest.raises(ValueError, match="fraction"):
        universal_perturbation(net, X, y, fraction=0.0)
    with pytest.raises(ValueError, match=r"\{-1, \+1\}"):
        universal_perturbation(net, X, (y > 0).long(), fraction=1.0)
    multi = TwoLayerNet.ntk(1, 5, 12, outputs=3, generator=generator, dtype=F64)
    with pytest.raises(ValueError, match="one-logit"):
        universal_perturbation(multi, X, y)
