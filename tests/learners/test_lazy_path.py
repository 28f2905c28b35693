"""lazy_path: one SGD run gives, for every radius, the net that `sgd` stopped at that radius."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from robustlab.learners import sgd
from robustlab.learners.lazy_path import lazy_path
from robustlab.models import TwoLayerNet


def _data(n: int, d: int, dtype: torch.dtype, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=dtype)
    y = torch.where(X[:, 0] + 0.3 * X[:, 1] > 0, 1.0, -1.0).to(dtype)
    return X, y


def _net(E: int, m: int, d: int, dtype: torch.dtype, bias: bool = False) -> TwoLayerNet:
    net = TwoLayerNet.ntk(E, m, d, generator=torch.Generator().manual_seed(1), dtype=dtype)
    if bias:
        b = torch.rand(E, m, generator=torch.Generator().manual_seed(2), dtype=dtype) - 0.5
        net = TwoLayerNet(net.W.detach(), net.a.detach(), b, scale=net.scale, scheme="ntk")
    return net


@pytest.mark.parametrize(
    ("dtype", "bias", "weight_decay", "shared"),
    [
        (torch.float64, False, 0.0, False),
        (torch.float32, False, 0.0, False),
        (torch.float64, False, 0.01, True),
        (torch.float64, True, 0.0, False),
    ],
)
def test_each_radius_equals_a_separate_stopped_run(
    dtype: torch.dtype, bias: bool, weight_decay: float, shared: bool
) -> None:
    E, m, d = 3, 40, 6
    X, y = _data(200, d, dtype)
    net = _net(E, m, d, dtype, bias)
    radii = [c / math.sqrt(m) for c in (0.5, 1.0, 2.0, 40.0)]  # the last is never reached
    kwargs: dict[str, Any] = dict(
        lr=0.5, batch_size=8, epochs=3, weight_decay=weight_decay, shared_order=shared
    )
    path = lazy_path(net, X, y, radii=radii, generator=torch.Generator().manual_seed(7), **kwargs)
    stopped_any = []
    for j, radius in enumerate(radii):
        single, trace = sgd(
            net,
            X,
            y,
            lazy_radius=radius,
            lazy_mode="stop",
            generator=torch.Generator().manual_seed(7),
            diagnostics=False,
            **kwargs,
        )
        assert torch.equal(path.params["W"][j], single.W.detach())
        if bias:
            assert single.b is not None
            assert torch.equal(path.params["b"][j], single.b.detach())
        assert torch.equal(path.updates[j], trace.updates)
        assert torch.equal(path.stopped[j], trace.stopped)
        assert torch.equal(path.net(net, j).W, single.W)
        stopped_any.append(bool(trace.stopped.any()))
    # the comparison is informative: small radii stop, the largest does not
    assert stopped_any[0] and not stopped_any[-1]
    assert path.steps_per_epoch == 25
    assert torch.equal(net.W, _net(E, m, d, dtype, bias).W)  # the input net is unchanged


def test_bf16_mixed_radius_equals_a_separate_bf16_stopped_run() -> None:
    """precision="bf16-mixed" (argument or context): each radius equals sgd's bf16 stop."""
    from robustlab.learners.precision import training_precision

    E, m, d = 2, 40, 6
    X, y = _data(200, d, torch.float32)
    net = _net(E, m, d, torch.float32)
    radii = [c / math.sqrt(m) for c in (0.5, 2.0, 40.0)]
    kwargs: dict[str, Any] = dict(lr=0.5, batch_size=8, epochs=3)
    with training_precision("bf16-mixed"):
        path = lazy_path(
            net, X, y, radii=radii, generator=torch.Generator().manual_seed(7), **kwargs
        )
    plain = lazy_path(net, X, y, radii=radii, generator=torch.Generator().manual_seed(7), **kwargs)
    assert not torch.equal(path.params["W"][-1], plain.params["W"][-1])  # bf16 did round
    stopped = []
    for j, radius in enumerate(radii):
        single, trace = sgd(
            net,
            X,
            y,
            lazy_radius=radius,
            lazy_mode="stop",
            generator=torch.Generator().manual_seed(7),
            diagnostics=False,
            precision="bf16-mixed",
            **kwargs,
        )
        assert torch.equal(path.params["W"][j], single.W.detach())
        assert torch.equal(path.updates[j], trace.updates)
        stopped.append(bool(trace.stopped.any()))
    assert stopped[0] and not stopped[-1]


def test_bad_radii_are_refused() -> None:
    X, y = _data(10, 3, torch.float64)
    net = _net(1, 5, 3, torch.float64)
    for radii, match in (([], "non-empty"), ([1.0, 0.5], "ascending"), ([math.nan], "finite")):
        with pytest.raises(ValueError, match=match):
            lazy_path(net, X, y, radii=radii, lr=0.1)
    with pytest.raises(TypeError, match="TwoLayerNet"):
        lazy_path(torch.nn.Linear(3, 1), X, y, radii=[1.0], lr=0.1)  # type: ignore[arg-type]


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_the_path_stays_on_the_device(device: str) -> None:
    """Every recorded tensor lives on the training device and matches the CPU run."""
    X, y = _data(120, 5, torch.float32)
    net = _net(2, 30, 5, torch.float32)
    radii = [0.1, 0.3, 10.0]

    def run(where: str) -> Any:
        return lazy_path(
            net.to(where), X.to(where), y.to(where), radii=radii, lr=0.5, batch_size=8,
            epochs=2, generator=torch.Generator().manual_seed(3), shared_order=False,
        )  # fmt: skip

    path, reference = run(device), run("cpu")
    for got, want in ((path.params["W"], reference.params["W"]), (path.updates, reference.updates)):
        assert got.device.type == device
        torch.testing.assert_close(got.cpu(), want, rtol=1e-4, atol=1e-5)
    assert torch.equal(path.stopped.cpu(), reference.stopped)
