"""Training precision "bf16-mixed" (issue 10), the learners' context, validate=False, one probe.

The bf16 step is checked against a float64 computation of the same rounded operands; the lazy
ball must hold exactly (distances in float32) whatever the rounding of the step.
"""

from __future__ import annotations

import importlib
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from robustlab import losses
from robustlab.learners import adversarial_training, sgd
from robustlab.learners.precision import resolve_precision, training_precision
from robustlab.learners.two_layer_step import LOW_ROUNDING, SLACK, _low_gradient, _step_norms
from robustlab.models import TwoLayerNet

BF16 = torch.bfloat16


def _data(
    n: int, d: int, seed: int = 0, dtype: torch.dtype = torch.float32
) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=dtype) / math.sqrt(d)
    y = torch.sign(X @ torch.randn(d, generator=g, dtype=dtype))
    y[y == 0] = 1
    return X, y


def _net(E: int, m: int, d: int, dtype: torch.dtype = torch.float32) -> TwoLayerNet:
    return TwoLayerNet.ntk(E, m, d, generator=torch.Generator().manual_seed(7), dtype=dtype)


def _bf16_step_reference(
    net: TwoLayerNet, X: Tensor, y: Tensor, lr: float
) -> tuple[Tensor, Tensor]:
    """One full-batch logistic step from bfloat16-rounded operands, products in float64 and
    rounded to bfloat16 (as the CPU kernels return them).

    Returns (W after the step, lr scale sum_i |c_is| |x_i| for the tolerance)."""
    W, a, s = net.W.detach(), net.a.detach().double(), net.scale
    x16 = X.to(BF16).double()
    pre = torch.matmul(x16, W.to(BF16).double().transpose(1, 2)).to(BF16).double()  # (E, n, m)
    out = (torch.relu(pre) * a.unsqueeze(1)).sum(-1) * s
    z = y.double() * out
    weights = losses.margin_derivative("logistic", z) * y.double() / X.shape[0]
    coef = torch.where(pre > 0, a.unsqueeze(1) * weights.unsqueeze(-1), 0.0)  # (E, n, m)
    c16 = coef.float().to(BF16).double().transpose(1, 2)
    grad = torch.matmul(c16, x16).to(BF16).double()  # (E, m, d), rounded once as the kernel does
    return W.double() - lr * s * grad, lr * s * torch.matmul(c16.abs(), x16.abs())


@pytest.mark.parametrize("E", [1, 3])
def test_bf16_step_equals_rounded_operands_in_float64(E: int) -> None:
    X, y = _data(48, 20)
    net = _net(E, 64, 20)
    lr = 0.5
    expected, size = _bf16_step_reference(net, X, y, lr)
    low, _ = sgd(net, X, y, lr=lr, batch_size=48, max_steps=1, precision="bf16-mixed")
    full, _ = sgd(net, X, y, lr=lr, batch_size=48, max_steps=1, precision="float32")
    assert low.W.dtype == torch.float32
    # A product or coefficient may round to the neighbouring bfloat16 value (float32 against
    # float64 accumulation): 2^-8 of the terms; then the float32 add into W.
    tolerance = size * 2.0**-7 + net.W.detach().double().abs() * 2.0**-23
    error = (low.W.detach().double() - expected).abs()
    assert bool((error <= tolerance).all())
    # ... and much closer to the rounded-operand step than the float32 step is.
    assert error.mean() < 0.01 * (full.W.detach().double() - expected).abs().mean()
    # The rounding is real, and small on average (a few neurons near zero preactivation may
    # flip their ReLU pattern, so no elementwise bound).
    gap = (low.W - full.W).detach().abs().mean()
    assert 0 < gap < 0.05 * (full.W - net.W).detach().abs().mean()


def test_bf16_training_stays_close_to_float32_and_float64_is_untouched() -> None:
    X, y = _data(256, 30, seed=1)
    net = _net(2, 200, 30)
    runs = {
        p: sgd(net, X, y, lr=0.5, batch_size=16, epochs=2, precision=p)  # type: ignore[arg-type]
        for p in ("float32", "bf16-mixed")
    }
    moved = (runs["float32"][0].W - net.W).detach().norm()
    gap = (runs["float32"][0].W - runs["bf16-mixed"][0].W).detach().norm()
    assert 0 < gap < 0.05 * moved
    acc = [runs[p][1].accuracy[-1] for p in runs]
    torch.testing.assert_close(acc[0], acc[1], atol=0.03, rtol=0)
    wide = _net(1, 50, 30, dtype=torch.float64)
    X64, y64 = _data(64, 30, seed=2, dtype=torch.float64)
    a, _ = sgd(wide, X64, y64, lr=0.5, batch_size=8, precision="bf16-mixed")
    b, _ = sgd(wide, X64, y64, lr=0.5, batch_size=8, precision="float32")
    assert torch.equal(a.W, b.W)  # float64 weights (theory checks) are never rounded


@settings(max_examples=25, deadline=None)
@given(
    c0=st.floats(0.05, 3.0),
    lr=st.floats(0.05, 5.0),
    mode=st.sampled_from(["stop", "project"]),
    wd=st.sampled_from([0.0, 0.01]),
)
def test_bf16_lazy_ball_is_never_left(c0: float, lr: float, mode: str, wd: float) -> None:
    X, y = _data(64, 12, seed=3)
    m = 40
    radius = c0 / math.sqrt(m)
    net, trace = sgd(
        _net(3, m, 12), X, y, lr=lr, batch_size=4, lazy_radius=radius, lazy_mode=mode,  # type: ignore[arg-type]
        weight_decay=wd, precision="bf16-mixed",
    )  # fmt: skip
    # The stop mode keeps iterates whose float32 distance is <= R; the projection lands on the
    # sphere up to the float32 rounding of W (as in float32 precision).
    rounding = (
        2 * torch.finfo(torch.float32).eps * float(net.W.detach().abs().max()) * math.sqrt(12)
    )
    bound = radius if mode == "stop" else radius + rounding
    assert bool((net.distance_from_init() <= bound).all())
    assert bool((trace.distance_from_init <= bound).all())


def test_bf16_lazy_stop_stops_members() -> None:
    X, y = _data(64, 12, seed=4)
    net, trace = sgd(
        _net(3, 40, 12), X, y, lr=2.0, batch_size=4, lazy_radius=0.05, lazy_mode="stop",
        precision="bf16-mixed",
    )  # fmt: skip
    assert bool(trace.stopped.all())
    assert bool((trace.updates < 16).all())
    assert bool((net.distance_from_init() <= 0.05).all())


def test_autograd_path_runs_under_autocast_with_float32_weights() -> None:
    g = torch.Generator().manual_seed(5)
    X = torch.randn(128, 24, generator=g)
    y = (X[:, 0] > 0).long() + (X[:, 1] > 0).long()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(24, 64), nn.ReLU(), nn.Linear(64, 3))
    low, low_trace = sgd(model, X, y, lr=0.2, batch_size=16, epochs=3, precision="bf16-mixed")
    full, full_trace = sgd(model, X, y, lr=0.2, batch_size=16, epochs=3, precision="float32")
    for p, q in zip(low.parameters(), full.parameters(), strict=True):
        assert p.dtype == torch.float32
        assert 0 < float((p - q).detach().abs().max()) < 0.05
    torch.testing.assert_close(low_trace.loss[-1], full_trace.loss[-1], atol=0.02, rtol=0)


def test_context_sets_the_default_and_an_argument_overrides_it() -> None:
    X, y = _data(64, 10, seed=6)
    net = _net(2, 30, 10)
    explicit, _ = sgd(net, X, y, lr=0.5, batch_size=8, precision="bf16-mixed")
    full, _ = sgd(net, X, y, lr=0.5, batch_size=8)
    assert resolve_precision(None) == "float32"
    with training_precision("bf16-mixed"):
        assert resolve_precision(None) == "bf16-mixed"
        implicit, _ = sgd(net, X, y, lr=0.5, batch_size=8)
        overridden, _ = sgd(net, X, y, lr=0.5, batch_size=8, precision="float32")
    assert resolve_precision(None) == "float32"
    assert torch.equal(implicit.W, explicit.W)
    assert torch.equal(overridden.W, full.W)
    assert not torch.equal(explicit.W, full.W)


def test_adversarial_training_takes_the_precision() -> None:
    X, y = _data(64, 10, seed=8)
    net = _net(2, 30, 10)

    def shift(model: nn.Module, x: Tensor, labels: Tensor) -> Tensor:
        return (x - 0.05 * labels.unsqueeze(-1)).unsqueeze(0).expand(2, -1, -1)  # per member

    runs = [
        adversarial_training(net, X, y, attack=shift, lr=0.5, epochs=2, batch_size=8, precision=p)  # type: ignore[arg-type]
        for p in ("float32", "bf16-mixed")
    ]
    gap = float((runs[0][0].W - runs[1][0].W).detach().abs().max())
    assert 0 < gap < 0.05 * float((runs[0][0].W - net.W).detach().abs().max())
    with training_precision("bf16-mixed"):
        implicit, _ = adversarial_training(net, X, y, attack=shift, lr=0.5, epochs=2, batch_size=8)
    assert torch.equal(implicit.W, runs[1][0].W)


def test_unknown_precision_is_refused_by_name() -> None:
    X, y = _data(8, 4)
    with pytest.raises(
        ValueError, match=r"precision must be one of float32, bf16-mixed; got 'bf16'"
    ):
        sgd(_net(1, 4, 4), X, y, lr=0.1, precision="bf16")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="precision must be one of"), training_precision("float16"):
        pass


def test_validate_false_skips_the_entry_checks_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    X, y = _data(32, 6, seed=9)
    net = _net(2, 12, 6)
    checked, _ = sgd(net, X, y, lr=0.3, batch_size=4)

    def refuse(*args: object) -> None:
        raise AssertionError("entry checks ran")

    monkeypatch.setattr(
        importlib.import_module("robustlab.learners.sgd"), "_check_training", refuse
    )
    unchecked, _ = sgd(net, X, y, lr=0.3, batch_size=4, validate=False)
    assert torch.equal(checked.W, unchecked.W)
    with pytest.raises(AssertionError, match="entry checks ran"):
        sgd(net, X, y, lr=0.3, batch_size=4)


class _Counting(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(5, 3)
        self.probes = 0

    def forward(self, x: Tensor) -> Tensor:
        self.probes += int(x.shape[0] == 1)
        out: Tensor = self.linear(x)
        return out


def test_one_output_shape_probe_per_call() -> None:
    """The class count comes from one forward pass on X[:1], shared by the checks and the loop."""
    X = torch.randn(12, 5, generator=torch.Generator().manual_seed(10))
    model = _Counting()
    sgd(model, X, torch.arange(12) % 3, lr=0.1, batch_size=4, inplace=True)
    assert model.probes == 1
    with pytest.raises(
        ValueError, match=r"\by must lie in 0\.\.2 for a 3-output model, got range 0\.\.5"
    ):
        sgd(model, X, torch.arange(12) % 6, lr=0.1, batch_size=4)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 40), shared=st.booleans())
def test_bf16_step_norm_bound_covers_the_rounded_gradient(seed: int, n: int, shared: bool) -> None:
    """The lazy-ball bound of the bf16 step is >= the norm of every row it writes into W."""
    g = torch.Generator().manual_seed(seed)
    E, m, d = 2, 24, 30
    x = torch.randn(n, d, generator=g) if shared else torch.randn(E, n, d, generator=g)
    coef = torch.randn(E, n, m, generator=g) * torch.rand(E, 1, m, generator=g) ** 4
    if shared:  # the stepper's (E, m, n) memory layout
        coef = coef.transpose(1, 2).contiguous().transpose(1, 2)
    low = coef.to(BF16)
    grad = _low_gradient(x, low).reshape(E, m, d)
    exact = torch.linalg.vector_norm(grad.double(), dim=-1)
    bound = _step_norms(x.float(), low.float()) * (1.0 + LOW_ROUNDING) * (1.0 + SLACK)
    assert bool((exact <= bound).all())
