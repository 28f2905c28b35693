"""The in-place TwoLayerNet SGD step (issue 10) against the step it replaced, in float64.

The reference below is the former `_apply` path written out: candidate W - lr (param_grad + wd W),
projected onto B_{2,inf}(W0, R) or checked against it, then copied. The new step must give the
same weights, updates and stop decisions in every mode.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from robustlab import losses
from robustlab.geometry import project_weight_ball
from robustlab.learners.sgd import sgd
from robustlab.learners.two_layer_step import TwoLayerStepper, _step_norms
from robustlab.models import TwoLayerNet

F64 = torch.float64


def _data(n: int, d: int, K: int = 1, seed: int = 0) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=F64)
    if K > 1:
        return X, (X @ torch.randn(d, K, generator=g, dtype=F64)).argmax(dim=1)
    y = torch.sign(X @ torch.randn(d, generator=g, dtype=F64))
    y[y == 0] = 1
    return X, y


def _reference(
    net: TwoLayerNet,
    X: Tensor,
    y: Tensor,
    *,
    lr: float,
    batch_size: int,
    epochs: int,
    seed: int,
    radius: float | None,
    mode: str,
    weight_decay: float,
) -> tuple[Tensor, Tensor]:
    """The pre-issue-10 step, sample order as sgd's shared order; returns (W, updates)."""
    net = TwoLayerNet(net.W.detach(), net.a.detach(), scale=net.scale)
    W0, E, n = net.W0, net.ensemble, X.shape[0]
    active = torch.ones(E, dtype=torch.bool)
    updates = torch.zeros(E, dtype=torch.int64)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _ in range(epochs):
            order = torch.randperm(n, generator=g)
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                xb, yb, b = X[idx], y[idx], len(idx)
                out = net(xb)
                if out.ndim == 2:
                    z = yb * out
                    weights = losses.margin_derivative("logistic", z) * yb / b
                else:
                    onehot = torch.nn.functional.one_hot(yb, out.shape[-1]).to(F64)
                    weights = (torch.softmax(out, dim=-1) - onehot) / b
                grad = net.param_grad(xb, weights)
                candidate = net.W - lr * (grad + weight_decay * net.W)
                if radius is not None and mode == "project":
                    candidate = project_weight_ball(candidate, W0, radius)
                elif radius is not None:
                    active &= (candidate - W0).norm(dim=2).amax(dim=1) <= radius
                net.W.copy_(torch.where(active.reshape(-1, 1, 1), candidate, net.W))
                updates += active.to(torch.int64)
    return net.W.detach(), updates


CASES = [
    # (E, m, K, mode, radius, weight_decay)
    (1, 7, 1, None, None, 0.0),
    (3, 9, 1, None, None, 0.05),
    (2, 6, 3, None, None, 0.0),
    (4, 8, 1, "stop", 0.45, 0.0),
    (4, 8, 1, "stop", 0.45, 0.1),
    (3, 8, 1, "stop", 10.0, 0.0),
    (3, 8, 1, "project", 0.2, 0.0),
    (3, 8, 1, "project", 0.3, 0.05),
    (2, 5, 3, "project", 0.25, 0.0),
]


@pytest.mark.parametrize(("E", "m", "K", "mode", "radius", "wd"), CASES)
def test_inplace_step_equals_former_step(
    E: int, m: int, K: int, mode: str | None, radius: float | None, wd: float
) -> None:
    X, y = _data(60, 5, K)
    net = TwoLayerNet.ntk(E, m, 5, outputs=K, generator=torch.Generator().manual_seed(1), dtype=F64)
    kwargs = dict(lr=1.5, batch_size=4, epochs=3)
    W_ref, updates_ref = _reference(
        net, X, y, seed=5, radius=radius, mode=mode or "stop", weight_decay=wd, **kwargs
    )
    trained, trace = sgd(
        net, X, y, lazy_radius=radius, lazy_mode=mode or "stop", weight_decay=wd,
        generator=torch.Generator().manual_seed(5), **kwargs,
    )  # fmt: skip
    torch.testing.assert_close(trained.W.detach(), W_ref, rtol=1e-12, atol=1e-12)
    assert torch.equal(trace.updates, updates_ref)
    if mode == "stop" and radius == 0.45:
        assert trace.stopped.any()  # the check was exercised, not vacuous
    if mode == "project":
        assert float(trace.distance_from_init.max()) > 0.99 * radius  # the ball was active


def test_far_from_boundary_skips_the_distance_pass() -> None:
    """With the ball far away the bound spares the whole-weight pass on most steps."""
    X, y = _data(64, 5)
    net = TwoLayerNet.ntk(2, 16, 5, generator=torch.Generator().manual_seed(0), dtype=F64)
    for mode in ("stop", "project"):
        copy = TwoLayerNet(net.W.detach(), net.a.detach(), scale=net.scale)
        stepper = TwoLayerStepper(copy, 5.0, mode)
        active = torch.ones(2, dtype=torch.bool)
        for start in range(0, 64, 8):
            xb, yb = X[start : start + 8], y[start : start + 8]
            pre = copy.preactivation(xb)
            z = yb * copy(xb)
            weights = losses.margin_derivative("logistic", z) * yb / 8
            stepper.step(xb, weights, pre, 0.5, 0.0, active)
        assert stepper.exact_passes == 0
        assert active.all()
        assert stepper.bound is not None
        exact = (copy.W - copy.W0).norm(dim=2)
        assert (stepper.bound >= exact).all()


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 12),
    d=st.integers(1, 9),
    m=st.integers(1, 6),
    shared=st.booleans(),
    dtype=st.sampled_from([torch.float32, F64]),
    seed=st.integers(0, 2**16),
    cancel=st.booleans(),
)
def test_step_norm_bound_is_an_upper_bound(
    n: int, d: int, m: int, shared: bool, dtype: torch.dtype, seed: int, cancel: bool
) -> None:
    """_step_norms >= ||sum_i c_is x_i|| (float64 truth), and tight within 1e-3 + rounding."""
    g = torch.Generator().manual_seed(seed)
    E = 2
    x = torch.randn((n, d) if shared else (E, n, d), generator=g, dtype=dtype)
    coef = torch.randn(E, n, m, generator=g, dtype=dtype)
    if cancel and n >= 2:  # two samples that nearly cancel: the Gram form loses precision
        x[..., 1, :] = -x[..., 0, :] * (1 + 1e-7)
        coef[:, 1, :] = coef[:, 0, :]
    xe = x.to(F64) if x.ndim == 3 else x.to(F64).expand(E, n, d)
    truth = torch.matmul(coef.to(F64).transpose(1, 2), xe).norm(dim=2)
    bound = _step_norms(x, coef)
    assert bound.dtype == F64 and bound.shape == (E, m)
    assert (bound >= truth * (1 - 1e-12)).all()
    loose = coef.to(F64).norm(dim=1) * xe.norm(dim=2).norm(dim=1, keepdim=True)
    scale = float(torch.finfo(dtype).eps) * (n + d + 2)
    assert (bound <= truth + 2 * (scale**0.5) * loose + 1e-300).all()
