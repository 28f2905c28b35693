"""Robust-accuracy curves and minimal-perturbation distributions."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest
import torch

from robustlab import TwoLayerNet
from robustlab.attacks import (
    AttackResult,
    bim,
    minimal_gradient_step,
    minimal_perturbation,
    quantiles,
    robust_accuracy,
)

F64 = torch.float64


def test_curve_matches_one_call_and_batches(generator: torch.Generator) -> None:
    net = TwoLayerNet.ntk(2, 30, 6, generator=generator, dtype=F64)
    x = torch.randn(25, 6, generator=generator, dtype=F64)
    y = torch.sign(net(x)[0])
    attack = functools.partial(bim, norm="l2", steps=10)
    budgets = [0.0, 0.1, 0.3, 1.0]
    curve = robust_accuracy(attack, net, x, y, budgets)
    direct = bim(net, x, y, eps=budgets, norm="l2", steps=10)
    assert torch.allclose(curve.accuracy, direct.robust_accuracy)
    assert curve.accuracy.shape == (4, 2)
    batched = robust_accuracy(attack, net, x, y, budgets, batch_size=7)
    assert torch.allclose(batched.accuracy, curve.accuracy)
    clean = (y * net(x) > 0).double().mean(dim=1)
    assert torch.allclose(curve.clean_accuracy, clean)
    assert torch.allclose(curve.accuracy[0], clean)  # budget 0 is the clean accuracy
    assert torch.all(curve.accuracy[1:] <= curve.accuracy[:-1] + 1e-12)
    generic = robust_accuracy(attack, lambda z: net(z)[0], x, y, budgets, batch_size=10)
    assert torch.allclose(generic.accuracy, curve.accuracy[:, 0])
    with pytest.raises(ValueError, match="budgets"):
        robust_accuracy(attack, net, x, y, [])


def test_minimal_perturbation_from_gradient_step(generator: torch.Generator) -> None:
    net = TwoLayerNet.ntk(2, 30, 6, generator=generator, dtype=F64)
    x = torch.randn(40, 6, generator=generator, dtype=F64)
    y = torch.sign(net(x)[0])
    y[:5] = -y[:5]  # misclassified by member 0: size 0
    result = minimal_perturbation(net, x, y, levels=(0.25, 0.5, 1.0))
    step = minimal_gradient_step(net, x)
    correct = y * net(x) > 0
    assert torch.equal(result.norms[correct], step.delta_norm[correct])
    assert torch.all(result.norms[~correct] == 0)
    assert result.quantiles.shape == (3, 2)
    assert torch.equal(result.quantiles, quantiles(result.norms, (0.25, 0.5, 1.0)))


def test_minimal_perturbation_by_bisection_on_a_linear_model(generator: torch.Generator) -> None:
    net = TwoLayerNet.ntk(1, 20, 6, activation="identity", generator=generator, dtype=F64)
    w = (net.a.unsqueeze(-1) * net.W).sum(dim=1)[0] * net.scale
    x = torch.randn(30, 6, generator=generator, dtype=F64)
    f = net(x)[0]
    y = torch.sign(f)
    exact = f.abs() / w.norm()
    far = exact.max().item() * 0.8  # some points cannot be flipped within max_eps
    attack = functools.partial(bim, norm="l2", steps=5)
    result = minimal_perturbation(
        net, x, y, method="pgd", max_eps=far, attack=attack, iterations=14
    )
    reach = exact[None] < far
    assert torch.all(torch.isinf(result.norms[~reach]))
    gap = result.norms[reach] - exact[None][reach]
    assert torch.all(gap >= 0) and torch.all(gap <= far / 2**14 + 1e-12)
    default = minimal_perturbation(net, x, y, method="pgd", max_eps=far, iterations=6)
    assert torch.equal(torch.isinf(default.norms), ~reach)
    with pytest.raises(ValueError, match="max_eps"):
        minimal_perturbation(net, x, y, method="pgd")
    with pytest.raises(ValueError, match="unknown method"):
        minimal_perturbation(net, x, y, method="deepfool")


def test_minimal_perturbation_brackets_an_attack_that_fails_at_large_budgets(
    generator: torch.Generator,
) -> None:
    """An attack that flips only at budgets in [r, 2 r] (PGD can land on a flat tie when its
    step is large): the bisection finds r below max_eps = 8 r, and inf past 16 halvings' reach."""
    net = TwoLayerNet.ntk(1, 20, 6, activation="identity", generator=generator, dtype=F64)
    x = torch.randn(5, 6, generator=generator, dtype=F64)
    y = torch.sign(net(x)[0])
    r = torch.tensor([0.5, 1.0, 2.0, 4.0, 100.0], dtype=F64)
    calls = []

    def window(model: object, x: torch.Tensor, y: torch.Tensor, *, eps: torch.Tensor) -> Any:
        calls.append(eps)
        success = (eps >= r) & (eps <= 2 * r)
        zeros = torch.zeros_like(eps)
        return AttackResult(x.unsqueeze(0), eps, success, eps, zeros, zeros, "l2")

    result = minimal_perturbation(
        net, x, y, method="pgd", max_eps=32.0, attack=window, iterations=20
    )
    # 32 / 2^k reaches [r, 2 r] for r = 4 (k = 2), 2 (k = 3), 1 (k = 4); not 0.5 or 100
    found = result.norms[0]
    assert torch.allclose(found[1:4], r[1:4], rtol=1e-5)
    assert torch.isinf(found[0]) and torch.isinf(found[4])
    assert len(calls) == 1 + 4 + 20


def test_quantiles_are_inverse_cdf_and_inf_aware() -> None:
    g = torch.Generator().manual_seed(0)
    values = torch.rand(3, 17, generator=g, dtype=F64)
    levels = (0.1, 0.5, 0.9, 1.0)
    expected = np.quantile(values.numpy(), levels, axis=-1, method="inverted_cdf")
    assert np.allclose(quantiles(values, levels).numpy(), expected)
    with_inf = torch.tensor([1.0, 2.0, 3.0, torch.inf], dtype=F64)
    assert quantiles(with_inf, (0.5, 0.75, 1.0)).tolist() == [2.0, 3.0, torch.inf]
    with pytest.raises(ValueError, match="levels"):
        quantiles(with_inf, (0.0,))
