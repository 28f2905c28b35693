"""Gradient flow toward max-margin KKT points: log-space loss, closed form, margins."""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch
from torch import Tensor, nn

from robustlab.learners.gradient_flow import gradient_flow, log_logistic, log_total_loss
from robustlab.models import TwoLayerNet

F64 = torch.float64


class Wrapped(nn.Module):
    """Hides the TwoLayerNet class so that gradient_flow takes the autograd path."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.inner(x)
        return out


def _sphere(
    n: int = 16, d: int = 60, seed: int = 0, dtype: torch.dtype = F64
) -> tuple[Tensor, Tensor]:
    """x uniform on sqrt(d) S^{d-1}, balanced random labels (paper 003, Vardi et al.)."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=F64)
    X = X / X.norm(dim=1, keepdim=True) * math.sqrt(d)
    y = torch.ones(n, dtype=F64)
    y[torch.randperm(n, generator=g)[: n // 2]] = -1
    return X.to(dtype), y.to(dtype)


def _vardi(E: int = 2, m: int = 30, d: int = 60, dtype: torch.dtype = F64) -> TwoLayerNet:
    return TwoLayerNet.vardi(E, m, d, generator=torch.Generator().manual_seed(1), dtype=dtype)


def test_log_losses_match_float64_references() -> None:
    z = torch.tensor([-30.0, -2.0, 0.0, 3.0, 14.9, 15.1, 40.0, 300.0, 800.0], dtype=F64)
    reference = torch.tensor(
        [math.log(math.log1p(math.exp(-v))) for v in z[:-2].tolist()], dtype=F64
    )
    # beyond exp underflow: log(log1p(e^-z)) = -z - e^-z/2 + O(e^-2z) = -z exactly in float64
    reference = torch.cat([reference, -z[-2:]])
    torch.testing.assert_close(log_logistic(z), reference, rtol=1e-13, atol=1e-13)
    margins = torch.tensor([[1.0, 2.0, 500.0], [3.0, 800.0, 900.0]], dtype=F64)
    exp_ref = torch.tensor(
        [math.log(math.exp(-1.0) + math.exp(-2.0)), -3.0], dtype=F64
    )  # the 500+ terms add < e^-497
    torch.testing.assert_close(log_total_loss(margins, "exp"), exp_ref, rtol=1e-13, atol=1e-13)
    log_ref = torch.tensor(
        [
            math.log(math.log1p(math.exp(-1.0)) + math.log1p(math.exp(-2.0))),
            math.log(math.log1p(math.exp(-3.0))),
        ],
        dtype=F64,
    )
    torch.testing.assert_close(log_total_loss(margins, "logistic"), log_ref, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("loss", ["exp", "logistic"])
def test_closed_form_equals_autograd(loss: str) -> None:
    X, y = _sphere()
    net = _vardi()
    run = partial(gradient_flow, loss=loss, step_size=0.5, max_steps=30)
    closed, t_closed = run(net, X, y)
    auto, t_auto = run(Wrapped(net), X, y, homogeneity=2)
    assert isinstance(auto.inner, TwoLayerNet)
    for name in ("W", "a", "b"):
        torch.testing.assert_close(
            getattr(closed, name), getattr(auto.inner, name), rtol=1e-9, atol=1e-12
        )
    torch.testing.assert_close(t_closed.log_loss, t_auto.log_loss, rtol=1e-9, atol=1e-12)
    assert not torch.equal(closed.a, net.a)  # all layers trained


@pytest.mark.parametrize(
    ("loss", "dtype"), [("exp", F64), ("logistic", F64), ("exp", torch.float32)]
)
def test_reaches_threshold_and_margin_increases(loss: str, dtype: torch.dtype) -> None:
    X, y = _sphere(dtype=dtype)
    net = _vardi(E=3, dtype=dtype)
    trained, trace = gradient_flow(net, X, y, loss=loss, record_every=1, max_steps=5000)  # type: ignore[arg-type]
    assert trace.converged.all()
    assert (trace.log_loss[-1] <= math.log(1e-30)).all()
    assert trace.homogeneity == 2
    assert (trace.accuracy[-1] == 1).all()
    for e in range(3):
        separated = torch.nonzero(trace.log_loss[:, e] < 0)[0, 0]
        margin = trace.normalized_margin[separated:, e]
        smoothed = trace.smoothed_margin[separated:, e]
        assert float(margin[-1]) > float(margin[0]) + 0.05
        # Lyu & Li: the smoothed margin log(1/L)/||theta||^2 does not decrease along the flow.
        assert float((smoothed[1:] - smoothed[:-1]).min()) > -1e-3 * float(smoothed.abs().max())
    # the trace's margins are those of the returned net
    z = y * trained(X)
    norm2 = sum(p.detach().pow(2).flatten(1).sum(dim=1) for p in (trained.W, trained.a, trained.b))
    torch.testing.assert_close(
        trace.normalized_margin[-1], (z.amin(dim=1) / norm2).to(F64), rtol=1e-4, atol=1e-6
    )


def test_deterministic_and_members_independent() -> None:
    X, y = _sphere()
    net = _vardi(E=3)
    joint, joint_trace = gradient_flow(net, X, y, max_steps=300)
    again, _ = gradient_flow(net, X, y, max_steps=300)
    assert torch.equal(joint.W, again.W)
    for e in range(3):
        solo, solo_trace = gradient_flow(net.member(e), X, y, max_steps=300)
        torch.testing.assert_close(joint.W[e], solo.W[0], rtol=1e-8, atol=1e-10)
        torch.testing.assert_close(joint.a[e], solo.a[0], rtol=1e-8, atol=1e-10)
        assert int(joint_trace.steps[e]) == int(solo_trace.steps[0])


def test_bad_arguments_raise() -> None:
    X, y = _sphere(n=4)
    net = _vardi()
    with pytest.raises(ValueError, match="loss"):
        gradient_flow(net, X, y, loss="hinge")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="binary"):
        gradient_flow(net, X, torch.arange(4))
    with pytest.raises(ValueError, match="homogeneity"):
        gradient_flow(Wrapped(net), X, y)
    with pytest.raises(ValueError, match="loss_threshold"):
        gradient_flow(net, X, y, loss_threshold=0.0)
