"""FGSM / BIM / PGD: closed-form optima on linear models, closed-form gradients against autograd,
vectorized budgets, best iterate, restarts, early stop, boxes, schedules and errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from robustlab import TwoLayerNet
from robustlab.attacks import bim, cosine_schedule, fgsm, pgd, step_decay
from robustlab.attacks._common import loss_and_margin, loss_direction
from robustlab.models.linear import LinearModel

F64 = torch.float64
LOSSES = ("ce", "reflected", "margin")


def _linear_net(generator: torch.Generator) -> tuple[TwoLayerNet, Tensor]:
    """An identity-activation TwoLayerNet is linear: f = w . x with w = scale * a^T W."""
    net = TwoLayerNet.ntk(2, 20, 6, activation="identity", generator=generator, dtype=F64)
    w = (net.a.unsqueeze(-1) * net.W).sum(dim=1) * net.scale
    return net, w


def _thresholds(f: Tensor, w: Tensor, norm: str) -> Tensor:
    """Smallest flipping budget of a linear model: |f| / ||w||_2 (l2) or |f| / ||w||_1 (linf)."""
    dual = w.norm(dim=-1) if norm == "l2" else w.abs().sum(dim=-1)
    return f.abs() / dual.unsqueeze(-1)


@pytest.mark.parametrize("norm", ["l2", "linf"])
@pytest.mark.parametrize("loss", LOSSES)
def test_linear_models_flip_exactly_at_the_closed_form(
    norm: str, loss: str, generator: torch.Generator
) -> None:
    net, w = _linear_net(generator)
    x = torch.randn(30, 6, generator=generator, dtype=F64)
    y = torch.sign(net(x)[0])  # labels of member 0: member 1 misclassifies some points
    margin = y * net(x)
    threshold = _thresholds(net(x), w, norm)
    budgets = torch.stack([0.98 * threshold, 1.02 * threshold])  # (2, E, n)
    expected = torch.stack([margin <= 0, torch.ones_like(margin, dtype=torch.bool)])
    # From x itself every step moves along the optimal direction: exact at +-2%.
    for attack in (
        bim(net, x, y, eps=budgets, norm=norm, loss=loss, steps=20),
        fgsm(net, x, y, eps=budgets, norm=norm, loss=loss),
    ):
        assert torch.equal(attack.success, expected)
        assert torch.all(attack.norms <= budgets * (1 + 1e-12))
    # From a random start PGD-l2 needs a few steps to forget the start's orthogonal part.
    wider = torch.stack([0.98 * threshold, 1.1 * threshold])
    assert torch.equal(pgd(net, x, y, eps=wider, norm=norm, loss=loss, steps=60).success, expected)
    # The same through LinearModel's own input_grad and through autograd on an nn.Linear.
    model = LinearModel(w, torch.zeros(2, dtype=F64))
    assert torch.equal(fgsm(model, x, y, eps=budgets, norm=norm, loss=loss).success, expected)
    layer = nn.Linear(6, 1).to(F64)
    with torch.no_grad():
        layer.weight.copy_(w[:1])
        layer.bias.fill_(0.3)
    f = layer(x)[:, 0].detach()
    t = _thresholds(f.unsqueeze(0), w[:1], norm)[0]
    result = bim(layer, x, torch.sign(f), eps=[t * 0.98, t * 1.02], norm=norm, loss=loss)
    assert result.success.shape == (2, 30)
    assert not result.success[0].any() and result.success[1].all()


@pytest.mark.parametrize(("loss", "outputs"), [(name, k) for name in LOSSES for k in (1, 4)])
def test_loss_direction_matches_autograd(loss: str, outputs: int) -> None:
    g = torch.Generator().manual_seed(7)
    shape = (2, 9) if outputs == 1 else (2, 9, outputs)
    out = torch.randn(shape, generator=g, dtype=F64) * 3
    y = (
        torch.sign(torch.randn(9, generator=g, dtype=F64))
        if outputs == 1
        else (torch.randint(0, outputs, (9,), generator=g))
    )
    leaf = out.clone().requires_grad_(True)
    value, _ = loss_and_margin(leaf, y, loss)
    (grad,) = torch.autograd.grad(value.sum(), leaf)
    assert torch.allclose(loss_direction(out, y, loss), grad, atol=1e-12)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "softplus"])
@pytest.mark.parametrize("outputs", [1, 3])
@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_closed_form_matches_autograd(
    activation: str, outputs: int, norm: str, generator: torch.Generator
) -> None:
    net = TwoLayerNet.ntk(
        1,
        30,
        5,
        outputs=outputs,
        activation=activation,
        alpha=0.1,
        generator=generator,
        dtype=F64,
    )
    x = torch.randn(12, 5, generator=generator, dtype=F64)
    out = net(x)[0]
    y = torch.sign(out) if outputs == 1 else out.argmax(dim=-1)
    for loss in LOSSES:
        kwargs = {"eps": [0.1, 0.4], "norm": norm, "loss": loss, "steps": 15}
        closed = pgd(net, x, y, generator=torch.Generator().manual_seed(3), **kwargs)
        generic = pgd(
            lambda z: net(z)[0], x, y, generator=torch.Generator().manual_seed(3), **kwargs
        )
        assert torch.allclose(closed.x_adv[:, 0], generic.x_adv, atol=1e-10)
        assert torch.equal(closed.success[:, 0], generic.success)


@pytest.mark.parametrize("loss", LOSSES)
def test_two_logits_equal_one_margin(loss: str, generator: torch.Generator) -> None:
    """K = 2 (greedy reflected, CE, margin) is the binary attack on f = logit_1 - logit_0."""
    net = TwoLayerNet.ntk(1, 25, 5, outputs=2, generator=generator, dtype=F64)
    x = torch.randn(10, 5, generator=generator, dtype=F64)
    labels = torch.randint(0, 2, (10,), generator=generator)
    two = pgd(net, x, labels, eps=0.3, norm="l2", loss=loss, steps=10, random_start=False)

    def difference(z: Tensor) -> Tensor:
        logits = net(z)[0]
        return logits[:, 1] - logits[:, 0]

    one = pgd(
        difference, x, 2.0 * labels - 1, eps=0.3, norm="l2", loss=loss, steps=10, random_start=False
    )
    assert torch.allclose(two.x_adv[:, 0], one.x_adv, atol=1e-10)


def test_budget_forms_agree(generator: torch.Generator) -> None:
    net = TwoLayerNet.ntk(2, 30, 5, generator=generator, dtype=F64)
    x = torch.randn(8, 5, generator=generator, dtype=F64)
    y = torch.sign(net(x)[0])
    curve = bim(net, x, y, eps=[0.05, 0.2, 0.5], norm="linf", steps=12)
    assert curve.x_adv.shape == (3, 2, 8, 5)
    assert curve.success.shape == curve.norms.shape == curve.eps.shape == (3, 2, 8)
    for b, eps in enumerate((0.05, 0.2, 0.5)):
        alone = bim(net, x, y, eps=eps, norm="linf", steps=12)
        assert torch.allclose(curve.x_adv[b], alone.x_adv[0], atol=1e-12)
    per_sample = torch.linspace(0.05, 0.5, 8, dtype=F64)
    mixed = bim(net, x, y, eps=per_sample, norm="linf", steps=12)
    for i in (0, 3, 7):
        alone = bim(
            net, x[i : i + 1], y[i : i + 1], eps=float(per_sample[i]), norm="linf", steps=12
        )
        assert torch.allclose(mixed.x_adv[0, :, i], alone.x_adv[0, :, 0], atol=1e-12)
    assert torch.allclose(mixed.eps[0, 0], per_sample)
    assert torch.allclose(curve.robust_accuracy, 1 - curve.success.double().mean(-1))


def test_best_iterate_and_clean_candidates(generator: torch.Generator) -> None:
    net = TwoLayerNet.ntk(1, 40, 6, outputs=3, generator=generator, dtype=F64)
    x = torch.randn(40, 6, generator=generator, dtype=F64)
    y = torch.randint(0, 3, (40,), generator=generator)  # many points start misclassified
    result = pgd(net, x, y, eps=0.3, norm="linf", steps=20, step_size=0.2, loss="ce")
    loss, margin = loss_and_margin(net(result.x_adv[0]), y, "ce")
    assert torch.allclose(loss, result.loss[0])
    assert torch.allclose(margin, result.margin[0])
    assert torch.equal(result.success, result.margin <= 0)
    clean_loss, clean_margin = loss_and_margin(net(x), y, "ce")
    assert torch.all(result.success[0][clean_margin <= 0])  # misclassified stays a success
    fooled = result.success[0]
    assert torch.all(result.loss[0][~fooled] >= clean_loss[~fooled])


def test_restarts_only_attack_unfooled(generator: torch.Generator) -> None:
    net = TwoLayerNet.ntk(1, 30, 5, generator=generator, dtype=F64)
    x = torch.randn(50, 5, generator=generator, dtype=F64)
    y = torch.sign(net(x)[0])
    sizes: list[int] = []

    def model(z: Tensor) -> Tensor:
        sizes.append(int(z.shape[0]))
        return net(z)[0]

    once = pgd(model, x, y, eps=0.3, steps=5, restarts=1)
    fooled_after_one = int(once.success.sum())
    assert 0 < fooled_after_one < 50
    sizes.clear()
    twice = pgd(model, x, y, eps=0.3, steps=5, restarts=2)
    assert sizes[: 1 + 6] == [50] * 7  # the clean pass, then 5 steps + final of restart 1
    assert set(sizes[7:]) == {50 - fooled_after_one}
    assert torch.all(twice.success >= once.success)


def test_early_stop_keeps_the_success_mask(generator: torch.Generator) -> None:
    net = TwoLayerNet.ntk(3, 30, 5, generator=generator, dtype=F64)
    x = torch.randn(40, 5, generator=generator, dtype=F64)
    y = torch.sign(net(x)[1])
    budgets = [0.02, 0.1, 0.3, 1.0]
    full = pgd(net, x, y, eps=budgets, norm="l2", steps=20, restarts=2)
    early = pgd(net, x, y, eps=budgets, norm="l2", steps=20, restarts=2, early_stop=True)
    assert torch.equal(full.success, early.success)
    assert torch.all(early.norms <= early.eps * (1 + 1e-12))
    assert torch.equal(early.success, early.margin <= 0)


def test_box_is_respected(generator: torch.Generator) -> None:
    net = TwoLayerNet.ntk(1, 30, 5, generator=generator, dtype=F64)
    x = torch.rand(20, 5, generator=generator, dtype=F64)
    y = torch.sign(net(x)[0])
    for norm in ("l2", "linf"):
        result = pgd(net, x, y, eps=[0.3, 2.0], norm=norm, box=(0.0, 1.0), steps=10)
        assert result.x_adv.min() >= 0 and result.x_adv.max() <= 1
        assert torch.all(result.norms <= result.eps * (1 + 1e-12))
    with pytest.raises(ValueError, match="outside the box"):
        pgd(net, x + 1.5, y, eps=0.1, box=(0.0, 1.0))


def test_any_shape_module_untouched(generator: torch.Generator) -> None:
    """Images through a conv net: shape kept, budget kept, parameters and mode untouched."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(12, 4))
    model.train()
    before = [p.detach().clone() for p in model.parameters()]
    x = torch.rand(6, 1, 4, 4, generator=generator)
    y = torch.randint(0, 4, (6,), generator=generator)
    for norm in ("l2", "linf"):
        result = pgd(model, x, y, eps=[0.1, 0.5], norm=norm, steps=5, box=(0.0, 1.0))
        assert result.x_adv.shape == (2, 6, 1, 4, 4)
        assert torch.all(result.norms <= result.eps * (1 + 1e-6) + 1e-7)
    assert model.training
    model.eval()
    fgsm(model, x, y, eps=0.1)
    assert not model.training
    for p, q in zip(model.parameters(), before, strict=True):
        assert torch.equal(p, q) and p.grad is None


def test_schedules(generator: torch.Generator) -> None:
    decay = step_decay(0.5, 2)
    assert [decay(t, 10) for t in range(5)] == [1.0, 1.0, 0.5, 0.5, 0.25]
    assert cosine_schedule(0, 10) == 1.0 and abs(cosine_schedule(10, 10)) < 1e-12
    assert math.isclose(cosine_schedule(5, 10), 0.5)
    net = TwoLayerNet.ntk(1, 30, 5, generator=generator, dtype=F64)
    x = torch.randn(10, 5, generator=generator, dtype=F64)
    y = torch.sign(net(x)[0])
    plain = bim(net, x, y, eps=0.5, norm="l2", steps=6, step_ratio=4.0)
    decayed = bim(net, x, y, eps=0.5, norm="l2", steps=6, step_ratio=4.0, schedule=decay)
    assert not torch.allclose(plain.x_adv, decayed.x_adv)
    with pytest.raises(ValueError, match="gamma"):
        step_decay(0.0, 2)


def test_errors(generator: torch.Generator) -> None:
    net = TwoLayerNet.ntk(2, 10, 4, generator=generator, dtype=F64)
    x = torch.randn(5, 4, generator=generator, dtype=F64)
    y = torch.ones(5, dtype=F64)
    with pytest.raises(ValueError, match="unknown attack loss"):
        pgd(net, x, y, eps=0.1, loss="hinge")
    with pytest.raises(ValueError, match="unknown norm"):
        pgd(net, x, y, eps=0.1, norm="l1")
    with pytest.raises(ValueError, match=">= 0"):
        pgd(net, x, y, eps=-0.1)
    with pytest.raises(ValueError, match="length n"):
        pgd(net, x, y, eps=torch.ones(3, dtype=F64))
    with pytest.raises(ValueError, match=r"\{-1, \+1\}"):
        pgd(net, x, torch.zeros(5), eps=0.1)
    with pytest.raises(ValueError, match="random_start"):
        pgd(net, x, y, eps=0.1, restarts=2, random_start=False)
    with pytest.raises(ValueError, match=r"\(n, d\) or \(E, n, d\)"):
        pgd(net, torch.randn(3, 5, 4, dtype=F64), y, eps=0.1)
    multi = TwoLayerNet.ntk(1, 10, 4, outputs=3, generator=generator, dtype=F64)
    with pytest.raises(ValueError, match=r"0\.\.2"):
        pgd(multi, x, torch.tensor([0, 1, 2, 3, 0]), eps=0.1)
