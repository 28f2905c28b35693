"""Adversarial training: the inner attack, the update on attacked inputs, decay, lazy ball."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import torch
from torch import Tensor, nn

from robustlab.learners.adversarial import adversarial_training, from_attack
from robustlab.learners.sgd import sgd
from robustlab.models import LinearModel, TwoLayerNet

F64 = torch.float64


def fgsm(model: nn.Module, x: Tensor, y: Tensor, *, eps: float) -> Tensor:
    """Local FGSM on the logistic loss of y f(x) through autograd: x + eps sign(grad_x)."""
    xg = x.detach().clone().requires_grad_(True)
    out = model(xg)  # (E, n)
    loss = torch.log1p(torch.exp(-y * out)).sum()
    (grad,) = torch.autograd.grad(loss, xg)
    return (xg + eps * grad.sign()).detach()  # (n, d) shared, or (E, n, d)


def per_member_fgsm(model: nn.Module, x: Tensor, y: Tensor, *, eps: float) -> Tensor:
    """FGSM against each member separately: (E, n, d)."""
    E = model(x[:1]).shape[0]
    xe = x.unsqueeze(0).expand(E, -1, -1) if x.ndim == 2 else x
    return fgsm(model, xe, y, eps=eps)


def _data(n: int = 64, d: int = 5, seed: int = 0) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=F64)
    y = torch.sign(X[:, 0] + 0.1)
    return X, y


def _net(E: int = 2, m: int = 16, d: int = 5) -> TwoLayerNet:
    return TwoLayerNet.ntk(E, m, d, generator=torch.Generator().manual_seed(1), dtype=F64)


def test_identity_attack_equals_sgd() -> None:
    X, y = _data()
    net = _net()
    adv, adv_trace = adversarial_training(
        net, X, y, attack=lambda model, x, y: x, lr=0.5, epochs=2, batch_size=8,
        generator=torch.Generator().manual_seed(3),
    )  # fmt: skip
    plain, plain_trace = sgd(
        net, X, y, lr=0.5, epochs=2, batch_size=8, generator=torch.Generator().manual_seed(3)
    )
    assert torch.equal(adv.W, plain.W)
    assert torch.equal(adv_trace.loss, plain_trace.loss)


def test_one_step_is_the_gradient_at_the_attacked_points() -> None:
    X, y = _data(n=10)
    net = _net(E=2)
    eps, lr = 0.3, 0.7

    def attack(model: nn.Module, x: Tensor, yb: Tensor) -> Tensor:
        return per_member_fgsm(model, x, yb, eps=eps)

    trained, trace = adversarial_training(net, X, y, attack=attack, lr=lr, epochs=1, batch_size=10)
    x_adv = per_member_fgsm(net, X, y, eps=eps)  # attack on the initial weights
    W = net.W.detach().clone().requires_grad_(True)
    pre = torch.einsum("end,emd->enm", x_adv, W)
    f = (torch.relu(pre) @ net.a.detach().unsqueeze(-1)).squeeze(-1) / math.sqrt(net.width)
    per_member = torch.log1p(torch.exp(-y * f)).mean(dim=1)
    (grad,) = torch.autograd.grad(per_member.sum(), W)
    torch.testing.assert_close(trained.W.detach(), net.W.detach() - lr * grad)
    torch.testing.assert_close(trace.batch_loss[1], per_member.detach())


def test_lr_decay_schedule_and_lazy_projection() -> None:
    X, y = _data(n=32)
    net = _net(E=3, m=32)
    radius = 0.15
    trained, trace = adversarial_training(
        net, X, y, attack=lambda model, x, yb: fgsm(model, x, yb, eps=0.1), lr=1.0,
        epochs=7, batch_size=8, lr_decay=(0.2, 3), lazy_radius=radius,
    )  # fmt: skip
    expected = [1.0] + [0.2 ** (epoch // 3) for epoch in range(7)]
    torch.testing.assert_close(trace.lr, torch.tensor(expected, dtype=F64))
    assert (trained.distance_from_init() <= radius * (1 + 1e-12)).all()
    assert float(trained.distance_from_init().max()) > 0.9 * radius


def test_epoch_attack_sees_whole_training_set_once_per_epoch() -> None:
    X, y = _data(n=30)
    seen: list[int] = []

    def attack(model: nn.Module, x: Tensor, yb: Tensor) -> Tensor:
        seen.append(x.shape[-2])
        return per_member_fgsm(model, x, yb, eps=0.05)

    _, trace = adversarial_training(
        _net(), X, y, attack=attack, lr=0.5, epochs=3, batch_size=4, attack_every="epoch",
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    assert seen == [30, 30, 30]
    assert trace.steps == 3 * 8


def test_adversarial_training_raises_fgsm_accuracy_of_a_linear_model() -> None:
    # Tsipras et al.'s construction: one robust feature x0 = +-y (right 90% of the time) and 40
    # weak features N(0.1 y, 0.3^2) that standard training leans on; linf-FGSM of size 0.2
    # reverses every weak feature but not the robust one.
    g = torch.Generator().manual_seed(0)
    n = 1000
    y = torch.randint(0, 2, (n,), generator=g).to(F64) * 2 - 1
    right = torch.rand(n, generator=g, dtype=F64) < 0.9
    X = torch.randn(n, 41, generator=g, dtype=F64) * 0.3 + 0.1 * y.unsqueeze(1)
    X[:, 0] = torch.where(right, y, -y)
    model = LinearModel.zeros(1, 41, dtype=F64)

    def attack(m: nn.Module, x: Tensor, yb: Tensor) -> Tensor:
        return fgsm(m, x, yb, eps=0.2)

    plain, _ = sgd(model, X, y, lr=0.5, epochs=10, batch_size=32)
    robust, _ = adversarial_training(model, X, y, attack=attack, lr=0.5, epochs=10, batch_size=32)

    def accuracy(m: nn.Module, eps: float) -> float:
        x = fgsm(m, X, y, eps=eps) if eps else X
        return float((y * m(x) > 0).double().mean())

    assert accuracy(plain, 0.0) > 0.95 and accuracy(plain, 0.2) < 0.5
    assert accuracy(robust, 0.2) > 0.85


def test_from_attack_unwraps_result_objects() -> None:
    @dataclass(frozen=True)
    class Result:
        x_adv: Tensor

    def attack(model: nn.Module, x: Tensor, y: Tensor) -> Result:
        return Result(x + 1)

    perturb = from_attack(attack)
    x = torch.zeros(3, 2)
    assert torch.equal(perturb(nn.Identity(), x, torch.ones(3)), x + 1)
    # a budgets axis of size 1 in front, as robustlab.attacks returns (B, E, n, d)
    members = nn.Identity()
    members.ensemble = 4  # an ensemble model (integer `ensemble` attribute)
    stacked = from_attack(lambda m, x, y: Result(x.expand(1, 4, -1, -1)))
    assert stacked(members, x, x).shape == (4, 3, 2)
    with pytest.raises(ValueError, match="one budget"):
        from_attack(lambda m, x, y: x.expand(2, 4, -1, -1))(members, x, x)
    # a plain module has no ensemble axis: (1, n, d) is one budget, not an ensemble of 1
    assert from_attack(lambda m, x, y: x.expand(1, -1, -1))(nn.Identity(), x, x).shape == (3, 2)
    with pytest.raises(ValueError, match="one budget"):
        from_attack(lambda m, x, y: x.expand(2, -1, -1))(nn.Identity(), x, x)
    assert torch.equal(from_attack(lambda m, x, y: x * 2)(nn.Identity(), x + 1, x), x + 2)
    with pytest.raises(TypeError, match="x_adv"):
        from_attack(lambda m, x, y: 3)(nn.Identity(), x, x)


def test_bad_decay_and_bad_attack_output_raise() -> None:
    X, y = _data(n=8)
    with pytest.raises(ValueError, match="lr_decay"):
        adversarial_training(
            _net(), X, y, attack=lambda m, x, yb: x, lr=1.0, epochs=1, lr_decay=(0.0, 5)
        )
    with pytest.raises(ValueError, match="perturbation"):
        adversarial_training(
            _net(), X, y, attack=lambda m, x, yb: x[:, :2], lr=1.0, epochs=1, batch_size=4
        )
