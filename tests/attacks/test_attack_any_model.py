"""Issue 11 on the attacks: eval mode restored, targeted attacks, raw steps, and the minimal
step for K-logit models (exact against a float64 line search, bracketing otherwise)."""

from __future__ import annotations

import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from robustlab import TwoLayerNet
from robustlab.attacks import bim, fgsm, minimal_gradient_step, pgd
from robustlab.attacks._common import loss_and_margin, loss_direction

F64 = torch.float64
SIDE = 8


def mlp(outputs: int) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(SIDE * SIDE, 32), nn.ReLU(), nn.Linear(32, outputs)
    ).double()


def cnn(outputs: int) -> nn.Module:
    """Conv, batch norm, dropout: a module whose training mode changes its outputs."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Linear(4 * SIDE * SIDE, outputs),
    ).double()
    with torch.no_grad():  # running statistics unlike any batch's: eval and train differ
        net[1].running_mean.fill_(0.3)
        net[1].running_var.fill_(2.0)
    return net


MODELS = {"mlp": mlp, "cnn": cnn}


def images(n: int, seed: int = 0) -> Tensor:
    return torch.rand(n, 1, SIDE, SIDE, generator=torch.Generator().manual_seed(seed), dtype=F64)


@pytest.mark.parametrize("name", list(MODELS))
def test_attacks_run_a_module_in_eval_mode_and_restore_its_mode(name: str) -> None:
    model = MODELS[name](5)
    model.train()
    model[0].eval()  # a mixed mode must come back exactly as it was
    modes = [m.training for m in model.modules()]
    x = images(40)
    reference = copy.deepcopy(model).eval()
    with torch.no_grad():
        y = reference(x).argmax(dim=1)
    for attack in (
        lambda m: pgd(m, x, y, eps=[0.05, 0.2], steps=5),
        lambda m: bim(m, x, y, eps=0.1, steps=5),
        lambda m: fgsm(m, x, y, eps=0.1, norm="l2"),
    ):
        ours, theirs = attack(model), attack(reference)
        assert [m.training for m in model.modules()] == modes
        assert torch.equal(ours.x_adv, theirs.x_adv)
        assert torch.equal(ours.success, theirs.success)
    step = minimal_gradient_step(model, x)
    assert [m.training for m in model.modules()] == modes
    assert torch.equal(step.eta, minimal_gradient_step(reference, x).eta)


def test_train_mode_keeps_the_module_in_training_mode() -> None:
    model = cnn(5).train()
    x = images(40)
    y = torch.arange(40) % 5
    kept = pgd(model, x, y, eps=0.1, steps=3, random_start=False, train_mode=True, loss="margin")
    evaluated = pgd(model, x, y, eps=0.1, steps=3, random_start=False, loss="margin")
    assert model.training
    assert not torch.equal(kept.margin, evaluated.margin)  # batch statistics, dropout on


def _autograd_direction(out: Tensor, y: Tensor, loss: str, targeted: bool) -> Tensor:
    leaf = out.detach().requires_grad_(True)
    value, _ = loss_and_margin(leaf, y, loss, targeted)
    (grad,) = torch.autograd.grad(value.sum(), leaf)
    return grad


@pytest.mark.parametrize("loss", ["ce", "reflected", "margin"])
@pytest.mark.parametrize("outputs", [1, 5])
def test_targeted_loss_directions_equal_autograd(loss: str, outputs: int) -> None:
    g = torch.Generator().manual_seed(3)
    shape = (2, 30) if outputs == 1 else (2, 30, outputs)
    out = 3 * torch.randn(*shape, generator=g, dtype=F64)
    if outputs == 1:
        target = torch.where(torch.rand(30, generator=g) < 0.5, -1.0, 1.0).to(F64)
    else:
        target = torch.randint(0, outputs, (30,), generator=g)
    closed = loss_direction(out, target, loss, targeted=True)
    torch.testing.assert_close(closed, _autograd_direction(out, target, loss, True))


def test_targeted_pgd_reaches_the_target_class() -> None:
    g = torch.Generator().manual_seed(4)
    net = TwoLayerNet.ntk(1, 64, 10, outputs=5, generator=g, dtype=F64)
    x = torch.randn(300, 10, generator=g, dtype=F64)
    y = net(x)[0].argmax(dim=1)
    target = torch.remainder(y + 1 + torch.randint(0, 4, (300,), generator=g), 5)
    budgets = [0.3, 1.0, 3.0]
    targeted = pgd(net, x, y, eps=budgets, norm="l2", steps=30, target=target)
    with torch.no_grad():
        predicted = net(targeted.x_adv.reshape(-1, 10))[0].argmax(dim=1).reshape(3, 1, 300)
    assert torch.equal(targeted.success, predicted == target)  # success means the target
    assert torch.all(targeted.norms <= torch.tensor(budgets, dtype=F64).reshape(3, 1, 1) + 1e-9)
    rates = targeted.success.double().mean(dim=(1, 2))
    assert rates[0] < rates[1] < rates[2] and rates[2] > 0.8
    untargeted = pgd(net, x, y, eps=1.0, norm="l2", steps=30)
    with torch.no_grad():
        hit = net(untargeted.x_adv.reshape(-1, 10))[0].argmax(dim=1) == target
    assert rates[1] > hit.double().mean()  # the targeted attack aims, the untargeted does not
    # for a target, log softmax_t is both the targeted CE and the reflected loss (section 4.3)
    same = pgd(net, x, y, eps=budgets, norm="l2", steps=30, target=target, loss="ce")
    again = pgd(net, x, y, eps=budgets, norm="l2", steps=30, target=target, loss="reflected")
    assert torch.equal(same.x_adv, again.x_adv)


def test_binary_target_is_the_reflected_attack_on_the_other_label() -> None:
    g = torch.Generator().manual_seed(5)
    net = TwoLayerNet.ntk(2, 32, 6, generator=g, dtype=F64)
    x = torch.randn(50, 6, generator=g, dtype=F64)
    y = torch.sign(net(x)[0])
    targeted = bim(net, x, y, eps=0.5, norm="l2", steps=10, target=-y, loss="ce")
    reflected = bim(net, x, y, eps=0.5, norm="l2", steps=10, loss="reflected")
    assert torch.equal(targeted.x_adv, reflected.x_adv)
    assert torch.equal(targeted.success, reflected.success)


def test_raw_steps_are_unnormalized_gradient_steps() -> None:
    """Paper 004 Algorithm 1: delta <- delta + eta grad l, then the projection."""
    g = torch.Generator().manual_seed(6)
    model = mlp(3)
    x = images(20)
    y = torch.arange(20) % 3
    eta = 0.01
    result = pgd(model, x, y, eps=100.0, norm="l2", steps=1, step="raw", step_size=eta,
                 random_start=False, loss="reflected")  # fmt: skip
    leaf = x.clone().requires_grad_(True)
    out = model(leaf).unsqueeze(0)
    value, _ = loss_and_margin(out, y, "reflected")
    (grad,) = torch.autograd.grad(value.sum(), leaf)
    moved = (result.loss[0] > loss_and_margin(model(x).detach().unsqueeze(0), y, "reflected")[0])[0]
    assert bool(moved.all())  # the step raised every loss, so x_adv is the stepped point
    torch.testing.assert_close(result.x_adv[0] - x, eta * grad, rtol=1e-9, atol=1e-12)
    # projection still applies: a tiny ball caps the raw step
    capped = pgd(model, x, y, eps=1e-4, norm="linf", steps=3, step="raw", step_size=10.0)
    assert float(capped.norms.max()) <= 1e-4 * (1 + 1e-9)
    with pytest.raises(ValueError, match="step_size"):
        pgd(model, x, y, eps=0.1, step="raw")
    with pytest.raises(ValueError, match="unknown step"):
        pgd(model, x, y, eps=0.1, step="sign", step_size=0.1)
    del g


def _dense_first_change(
    model: TwoLayerNet, x: Tensor, ray: Tensor, top: Tensor, points: int
) -> Tensor:
    """First tau of a dense float64 grid on (0, top] where the argmax changes: (E, n)."""
    E, n, d = ray.shape
    taus = top.unsqueeze(-1) * torch.arange(1, points + 1, dtype=F64) / points  # (E, n, S)
    path = x.unsqueeze(0).unsqueeze(2) + taus.unsqueeze(-1) * ray.unsqueeze(2)  # (E, n, S, d)
    with torch.no_grad():
        out = model(path.reshape(E, n * points, d)).reshape(E, n, points, -1)
        clean = model(x).argmax(dim=-1)
    changed = out.argmax(dim=-1) != clean.unsqueeze(-1)
    first = changed.to(torch.int8).argmax(dim=-1)
    found = changed.any(dim=-1)
    return torch.where(found, taus.gather(-1, first.unsqueeze(-1)).squeeze(-1), torch.inf)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_multiclass_minimal_step_is_exact_against_a_float64_line_search(activation: str) -> None:
    g = torch.Generator().manual_seed(7)
    init = TwoLayerNet.ntk if activation == "relu" else TwoLayerNet.leaky
    net = init(2, 40, 6, outputs=4, generator=g, dtype=F64)
    x = torch.randn(60, 6, generator=g, dtype=F64)
    result = minimal_gradient_step(net, x)
    tau = -result.eta  # eta = -tau along the top-2 margin's gradient
    finite = torch.isfinite(tau)
    assert finite.float().mean() > 0.9
    assert torch.all(result.flipped == finite) and torch.all(result.f_adv[finite] < 0)
    assert torch.all(result.f_clean > 0)
    ray = result.delta / torch.where(finite, result.eta, 1.0).unsqueeze(-1)  # grad of the margin
    top = torch.where(finite, 2 * tau, 1.0)
    points = 4000
    dense = _dense_first_change(net, x, -ray, top, points)
    # the exact step lies in the grid cell where the dense search first sees the change
    assert torch.all(torch.isfinite(dense[finite]))
    assert torch.all(tau[finite] <= dense[finite] * (1 + 1e-9))
    assert torch.all(tau[finite] > dense[finite] - top[finite] / points - 1e-12)
    # and just short of it the prediction has not changed yet
    with torch.no_grad():
        before = net(x.unsqueeze(0) + (0.999 * result.delta))
    assert torch.equal(before.argmax(-1)[finite], net(x).argmax(-1)[finite])


def test_multiclass_bracketing_agrees_with_the_exact_search() -> None:
    g = torch.Generator().manual_seed(8)
    net = TwoLayerNet.ntk(1, 40, 6, outputs=4, generator=g, dtype=F64)
    x = torch.randn(40, 6, generator=g, dtype=F64)

    class Plain(nn.Module):  # hides the class: the generic, bracketing path
        def forward(self, z: Tensor) -> Tensor:
            out: Tensor = net(z)[0]
            return out

    exact = minimal_gradient_step(net, x)
    scanned = minimal_gradient_step(Plain(), x, rtol=1e-9, scan_points=512)
    both = torch.isfinite(exact.eta[0]) & torch.isfinite(scanned.eta)
    assert both.float().mean() > 0.85
    torch.testing.assert_close(scanned.eta[both], exact.eta[0][both], rtol=1e-6, atol=0)
    assert torch.all(scanned.flipped == torch.isfinite(scanned.eta))


@pytest.mark.parametrize("name", list(MODELS))
def test_multiclass_minimal_step_on_image_models(name: str) -> None:
    model = MODELS[name](5).train()
    x = images(30)
    result = minimal_gradient_step(model, x, rtol=1e-8)
    finite = torch.isfinite(result.eta)
    assert finite.float().mean() > 0.8
    assert torch.all(result.flipped == finite)
    model.eval()
    with torch.no_grad():
        clean = model(x).argmax(dim=1)
        after = model(x + result.delta).argmax(dim=1)
        short = model(x + (1 - 1e-6) * result.delta).argmax(dim=1)
    assert torch.all(after[finite] != clean[finite])
    assert torch.all(short[finite] == clean[finite])  # minimal to the bracketing tolerance


def test_minimal_step_along_a_given_direction() -> None:
    g = torch.Generator().manual_seed(9)
    net = TwoLayerNet.ntk(1, 30, 5, outputs=3, generator=g, dtype=F64)
    x = torch.randn(20, 5, generator=g, dtype=F64)
    direction = torch.randn(20, 5, generator=g, dtype=F64)
    result = minimal_gradient_step(net, x, direction=direction)
    finite = torch.isfinite(result.eta[0])
    expected = result.eta[0].unsqueeze(-1) * direction
    torch.testing.assert_close(result.delta[0][finite], expected[finite])
    with pytest.raises(ValueError, match="direction must be shaped"):
        minimal_gradient_step(net, x, direction=direction[:, :3])


def test_beta_robust_error_uses_the_normalized_first_layer() -> None:
    """Paper 004 Definition 3.1: for a bias-free ReLU net f_{W/||W||_F} = f_W / ||W||_F."""
    from robustlab.attacks import beta_effective, beta_robust_error, normalized_margins

    g = torch.Generator().manual_seed(10)
    net = TwoLayerNet.ntk(3, 50, 8, generator=g, dtype=F64)
    with torch.no_grad():
        net.W.mul_(torch.tensor([1.0, 3.0, 10.0], dtype=F64).reshape(3, 1, 1))
    x = torch.randn(200, 8, generator=g, dtype=F64)
    y = torch.sign(net(x)[0])
    result = pgd(net, x, y, eps=[0.0, 0.5, 2.0], norm="l2", steps=20, loss="reflected")
    frobenius = net.W.detach().flatten(1).norm(dim=1).reshape(1, 3, 1)
    expected = result.margin / frobenius  # independent: the homogeneity of ReLU
    margins = normalized_margins(net, result, y)
    torch.testing.assert_close(margins, expected, rtol=1e-10, atol=1e-12)
    for beta in (0.0, 0.01, 0.05):
        error = beta_robust_error(net, result, y, beta=beta)
        torch.testing.assert_close(error, (expected < -beta).double().mean(dim=-1))
    # beta -> 0: the attack's robust error; a larger beta can only lower it
    zero = beta_robust_error(net, result, y, beta=0.0)
    torch.testing.assert_close(zero, 1 - result.robust_accuracy)
    assert torch.all(beta_robust_error(net, result, y, beta=0.05) <= zero)
    one = beta_effective(net, result.x_adv[2], y, beta=0.01)  # one set of points (E, n, d)
    assert torch.equal(one, expected[2] <= -0.01)
    with pytest.raises(ValueError, match="beta must be"):
        beta_robust_error(net, result, y, beta=-1.0)


def test_beta_robust_error_of_a_plain_module_uses_its_outputs() -> None:
    from robustlab.attacks import beta_robust_error

    model = mlp(4)
    x = images(50)
    with torch.no_grad():
        y = model(x).argmax(dim=1)
    result = pgd(model, x, y, eps=[0.05, 0.5], steps=10)
    error = beta_robust_error(model, result, y, beta=0.0)
    assert error.shape == (2,)
    torch.testing.assert_close(error, (result.margin < 0).double().mean(dim=-1))


@settings(max_examples=30, deadline=None)
@given(
    eps=st.floats(0.0, 3.0),
    norm=st.sampled_from(["l2", "linf"]),
    step=st.sampled_from(["normalized", "raw"]),
    step_size=st.floats(1e-3, 10.0),
    seed=st.integers(0, 2**16),
)
def test_targeted_and_raw_attacks_never_exceed_their_budget(
    eps: float, norm: str, step: str, step_size: float, seed: int
) -> None:
    g = torch.Generator().manual_seed(seed)
    net = TwoLayerNet.ntk(2, 16, 5, outputs=3, generator=g, dtype=F64)
    x = torch.rand(12, 5, generator=g, dtype=F64)
    y = torch.randint(0, 3, (12,), generator=g)
    target = torch.randint(0, 3, (12,), generator=g)
    result = pgd(net, x, y, eps=eps, norm=norm, steps=4, step=step, step_size=step_size,
                 target=target, box=(0.0, 1.0), generator=g)  # fmt: skip
    assert torch.all(result.norms <= eps * (1 + 1e-9) + 1e-12)
    assert torch.all((result.x_adv >= 0) & (result.x_adv <= 1))
