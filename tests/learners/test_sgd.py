"""SGD with a fixed top layer: closed form vs autograd, lazy ball, determinism, ensembles."""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch
from torch import Tensor, nn

from robustlab.learners.sgd import sgd
from robustlab.models import LinearModel, TwoLayerNet

F64 = torch.float64


class Wrapped(nn.Module):
    """Hides a model's class so that sgd takes the generic autograd path."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.inner(x)
        return out


def _data(
    n: int = 64, d: int = 5, seed: int = 0, dtype: torch.dtype = F64
) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=dtype)
    teacher = torch.randn(d, generator=g, dtype=dtype)
    y = torch.sign(X @ teacher)
    y[y == 0] = 1
    return X, y


def _net(E: int = 2, m: int = 16, d: int = 5, seed: int = 1, outputs: int = 1) -> TwoLayerNet:
    g = torch.Generator().manual_seed(seed)
    return TwoLayerNet.ntk(E, m, d, outputs=outputs, generator=g, dtype=F64)


def test_one_step_matches_hand_computed_autograd_update() -> None:
    X, y = _data(n=8)
    net = _net(E=2)
    lr, wd = 0.3, 0.01
    trained, _ = sgd(net, X, y, lr=lr, batch_size=8, epochs=1, weight_decay=wd)
    W = net.W.detach().clone().requires_grad_(True)
    pre = torch.einsum("nd,emd->enm", X, W)
    f = torch.relu(pre) @ net.a.detach().unsqueeze(-1) / math.sqrt(net.width)
    loss = torch.log1p(torch.exp(-y * f.squeeze(-1))).mean(dim=1).sum()
    (grad,) = torch.autograd.grad(loss, W)
    expected = net.W.detach() - lr * (grad + wd * net.W.detach())
    torch.testing.assert_close(trained.W.detach(), expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(trained.a, net.a)  # the top layer stays fixed


@pytest.mark.parametrize("outputs", [1, 3])
def test_closed_form_equals_autograd_two_layer(outputs: int) -> None:
    X, y = _data(n=40)
    if outputs > 1:
        y = torch.remainder(torch.arange(40), outputs)
    net = _net(E=3, outputs=outputs)
    g = torch.Generator
    closed, t_closed = sgd(net, X, y, lr=0.5, batch_size=7, epochs=3, generator=g().manual_seed(5))
    auto, t_auto = sgd(
        Wrapped(net), X, y, lr=0.5, batch_size=7, epochs=3, generator=g().manual_seed(5)
    )
    assert isinstance(auto.inner, TwoLayerNet)
    torch.testing.assert_close(closed.W, auto.inner.W, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(t_closed.loss, t_auto.loss, rtol=1e-10, atol=1e-12)
    assert not torch.equal(closed.W, net.W)


def test_closed_form_equals_autograd_linear_model() -> None:
    X, y = _data(n=30)
    model = LinearModel.pytorch_init(2, 5, generator=torch.Generator().manual_seed(3), dtype=F64)
    closed, _ = sgd(model, X, y, lr=0.2, batch_size=4, epochs=2)
    auto, _ = sgd(Wrapped(model), X, y, lr=0.2, batch_size=4, epochs=2)
    assert isinstance(auto.inner, LinearModel)
    torch.testing.assert_close(closed.weight, auto.inner.weight, rtol=1e-10, atol=1e-12)
    assert closed.bias is not None and auto.inner.bias is not None
    torch.testing.assert_close(closed.bias, auto.inner.bias, rtol=1e-10, atol=1e-12)


def test_plain_module_trains_through_autograd() -> None:
    X, y = _data(n=200, dtype=torch.float32)
    torch.manual_seed(0)
    model = nn.Linear(5, 1)
    before = model.weight.detach().clone()
    trained, trace = sgd(model, X, y, lr=0.5, batch_size=16, epochs=5)
    assert trace.accuracy.shape == (6, 1)
    assert float(trace.accuracy[-1, 0]) > 0.95
    assert float(trace.loss[-1, 0]) < float(trace.loss[0, 0])
    assert torch.isnan(trace.sign_changes).all()
    assert float(trace.distance_from_init[-1, 0]) > 0
    assert trained is not model and torch.equal(model.weight, before)


def test_online_sgd_one_pass_takes_n_steps_and_learns() -> None:
    X, y = _data(n=300)
    net = _net(E=2, m=64)
    _, trace = sgd(net, X, y, lr=1.0, batch_size=1, epochs=1)
    assert trace.steps == 300
    assert trace.updates.tolist() == [300, 300]
    assert (trace.accuracy[-1] > trace.accuracy[0]).all()
    assert (trace.accuracy[-1] > 0.85).all()


def test_stop_mode_returns_last_iterate_inside_ball_per_member() -> None:
    X, y = _data(n=100)
    net = _net(E=4, m=32)
    radius = 0.35
    trained, trace = sgd(
        net, X, y, lr=2.0, batch_size=5, epochs=4, lazy_radius=radius, lazy_mode="stop",
        generator=torch.Generator().manual_seed(2), record_every=1,
    )  # fmt: skip
    assert (trained.distance_from_init() <= radius).all()
    assert (trace.distance_from_init <= radius).all()
    assert trace.stopped.any()
    for e in range(4):
        solo = net.member(e)
        updates = int(trace.updates[e])
        kept, _ = sgd(
            solo, X, y, lr=2.0, batch_size=5, epochs=4, max_steps=updates,
            generator=torch.Generator().manual_seed(2),
        )  # fmt: skip
        torch.testing.assert_close(trained.W[e], kept.W[0], rtol=1e-10, atol=1e-12)
        if trace.stopped[e]:
            one_more, _ = sgd(
                solo, X, y, lr=2.0, batch_size=5, epochs=4, max_steps=updates + 1,
                generator=torch.Generator().manual_seed(2),
            )  # fmt: skip
            assert float(one_more.distance_from_init()[0]) > radius


def test_stop_mode_freezes_some_members_while_others_continue() -> None:
    X, y = _data(n=100)
    net = _net(E=6, m=32)
    # Member-specific radii are not an option, so pick a radius between the members' final
    # distances of an unconstrained run: some cross it, some do not.
    free, free_trace = sgd(net, X, y, lr=1.0, batch_size=10, epochs=2)
    final = free.distance_from_init()
    radius = float(final.median())
    _, trace = sgd(net, X, y, lr=1.0, batch_size=10, epochs=2, lazy_radius=radius, lazy_mode="stop")
    assert trace.stopped.any() and not trace.stopped.all()
    assert (trace.updates[~trace.stopped] == free_trace.steps).all()
    assert (trace.updates[trace.stopped] < free_trace.steps).all()


def test_project_mode_stays_in_ball() -> None:
    X, y = _data(n=80)
    net = _net(E=3, m=32)
    radius = 0.2
    _, trace = sgd(
        net, X, y, lr=3.0, batch_size=4, epochs=3, lazy_radius=radius, lazy_mode="project",
        record_every=1,
    )  # fmt: skip
    assert (trace.distance_from_init <= radius * (1 + 1e-12)).all()
    assert float(trace.distance_from_init.max()) > 0.9 * radius  # the constraint was active
    assert not trace.stopped.any()
    assert trace.updates.tolist() == [trace.steps] * 3


def test_deterministic_given_generator_and_order_matters() -> None:
    X, y = _data(n=50)
    net = _net(E=2)
    runs = [
        sgd(net, X, y, lr=0.5, batch_size=3, epochs=2, generator=torch.Generator().manual_seed(s))
        for s in (7, 7, 8)
    ]
    assert torch.equal(runs[0][0].W, runs[1][0].W)
    assert torch.equal(runs[0][1].loss, runs[1][1].loss)
    assert not torch.equal(runs[0][0].W, runs[2][0].W)


def test_ensemble_members_independent() -> None:
    X, y = _data(n=60)
    net = _net(E=3, m=24)
    run = partial(sgd, lr=0.7, batch_size=6, epochs=2, lazy_radius=0.3, lazy_mode="stop")
    joint, joint_trace = run(net, X, y, generator=torch.Generator().manual_seed(4))
    for e in range(3):
        solo, solo_trace = run(net.member(e), X, y, generator=torch.Generator().manual_seed(4))
        torch.testing.assert_close(joint.W[e], solo.W[0], rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(joint_trace.loss[:, e], solo_trace.loss[:, 0])
        assert int(joint_trace.updates[e]) == int(solo_trace.updates[0])


def test_per_member_order_differs_from_shared_order() -> None:
    X, y = _data(n=40)
    net = _net(E=2)
    shared, _ = sgd(net, X, y, lr=0.5, batch_size=4, generator=torch.Generator().manual_seed(1))
    own, _ = sgd(
        net, X, y, lr=0.5, batch_size=4, generator=torch.Generator().manual_seed(1),
        shared_order=False,
    )  # fmt: skip
    assert not torch.allclose(shared.W, own.W)
    with pytest.raises(ValueError, match="generator"):
        sgd(net, X, y, lr=0.5, shared_order=False)


def test_trace_records_eval_data_iterates_and_sign_changes() -> None:
    X, y = _data(n=40)
    Xt, yt = _data(n=30, seed=9)
    net = _net(E=2)
    _, trace = sgd(
        net, X, y, lr=0.5, batch_size=8, epochs=2, record_every=2, eval_data=(Xt, yt),
        record_iterates=True,
    )  # fmt: skip
    assert trace.step.tolist() == [0, 2, 4, 6, 8, 10]
    assert trace.eval_accuracy is not None and trace.eval_accuracy.shape == (6, 2)
    assert trace.iterates is not None and trace.iterates.shape == (6, 2, 16, 5)
    torch.testing.assert_close(trace.iterates[0], net.W.detach())
    assert trace.sign_changes[0].eq(0).all() and (trace.sign_changes[-1] > 0).any()
    assert torch.isnan(trace.batch_loss[0]).all() and torch.isfinite(trace.batch_loss[1:]).all()


def test_input_model_untouched_unless_inplace() -> None:
    X, y = _data(n=20)
    net = _net()
    before = net.W.detach().clone()
    sgd(net, X, y, lr=0.5, batch_size=4)
    assert torch.equal(net.W, before)
    out, _ = sgd(net, X, y, lr=0.5, batch_size=4, inplace=True)
    assert out is net and not torch.equal(net.W, before)


def test_bad_arguments_raise() -> None:
    X, y = _data(n=10)
    net = _net()
    with pytest.raises(ValueError, match="lr"):
        sgd(net, X, y, lr=0.0)
    with pytest.raises(ValueError, match="batch_size"):
        sgd(net, X, y, lr=0.1, batch_size=0)
    with pytest.raises(ValueError, match="lazy_mode"):
        sgd(net, X, y, lr=0.1, lazy_radius=1.0, lazy_mode="clip")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="TwoLayerNet"):
        sgd(nn.Linear(5, 1).double(), X, y, lr=0.1, lazy_radius=1.0)
    with pytest.raises(ValueError, match="-1, \\+1"):
        sgd(net, X, y * 2, lr=0.1)
    with pytest.raises(ValueError, match="loss"):
        sgd(net, X, y, lr=0.1, loss="hinge")
