"""Models, draws, attacks and learners on every available device (issue 10, item 5).

Each test runs on "cpu" and, where CUDA is available, on "cuda" (skipped otherwise). Data and
weights are drawn on the CPU from seeded CPU generators (as ``CellContext.generator`` does) and
moved to the device; every tensor a function returns must then be on that device (no silent CPU
fallback), and its values must match the CPU run within ``RTOL``/``ATOL`` (float32 kernels differ
between devices in summation order only).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from functools import partial
from typing import Any, Literal

import pytest
import torch
from torch import Tensor

from robustlab.attacks import (
    fgsm,
    grid_search,
    minimal_perturbation,
    pgd,
    robust_accuracy,
    universal_perturbation,
)
from robustlab.data.synthetic import sphere
from robustlab.geometry import get_norm
from robustlab.learners import (
    GaussianInputs,
    adversarial_training,
    from_attack,
    neurotron,
    projected_sgd,
    sgd,
)
from robustlab.models import PaperConvNet, TwoLayerNet
from robustlab.models.single_filter import SingleFilterNet
from robustlab.poisoning import PoisonedGradientOracle, RandomOracle, label_flip

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here"),
    ),
]
RTOL, ATOL = 1e-4, 1e-5
E, M, D, N = 2, 32, 8, 24


def _tensors(value: Any) -> Iterator[Tensor]:
    """Every tensor inside a result: dataclass fields, tuples, lists and dict values."""
    if isinstance(value, Tensor):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _tensors(getattr(value, field.name))
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _tensors(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item)


def _assert_on(value: Any, device: str) -> None:
    tensors = list(_tensors(value))
    assert tensors, "the result holds no tensor to check"
    for tensor in tensors:
        assert tensor.device.type == device, f"a {tuple(tensor.shape)} tensor fell back to CPU"


def _setup(device: str) -> tuple[TwoLayerNet, Tensor, Tensor]:
    """A seeded ensemble and sphere data drawn on the CPU, moved to ``device``."""
    net = TwoLayerNet.ntk(E, M, D, generator=torch.Generator().manual_seed(0))
    data = sphere(N, D, seed=1)
    return net.to(device), data.x.to(device), data.y.to(device)


def _close(result: Any, reference: Any) -> None:
    for got, want in zip(_tensors(result), _tensors(reference), strict=True):
        if got.dtype == torch.bool or not got.is_floating_point():
            assert torch.equal(got.cpu(), want.cpu())
        else:
            torch.testing.assert_close(got.cpu(), want.cpu(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("device", DEVICES)
def test_models_compute_on_the_device(device: str) -> None:
    net, X, _ = _setup(device)
    out = net(X)
    _assert_on(out, device)
    _close(out, _setup("cpu")[0](_setup("cpu")[1]))
    conv = PaperConvNet(4, generator=torch.Generator().manual_seed(0)).to(device)
    images = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(2)).to(device)
    _assert_on(conv(images), device)
    assert all(p.device.type == device for p in conv.parameters())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_random_starts_from_a_cpu_generator_land_on_the_device(device: str, norm: str) -> None:
    radius = torch.full((E, N), 0.3).to(device)
    shape = (E, N, D)
    draw = get_norm(norm).random_start(
        shape, radius, torch.Generator().manual_seed(4), torch.float32
    )
    _assert_on(draw, device)
    reference = get_norm(norm).random_start(
        shape, radius.cpu(), torch.Generator().manual_seed(4), torch.float32
    )
    _close(draw, reference)


@pytest.mark.parametrize("device", DEVICES)
def test_attacks_stay_on_the_device(device: str) -> None:
    def attacks(where: str) -> list[Any]:
        net, X, y = _setup(where)
        return [
            fgsm(net, X, y, eps=0.2, norm="l2"),
            pgd(net, X, y, eps=0.2, norm="linf", steps=5),
            pgd(net, X, y, eps=0.2, norm="l2", steps=5, generator=torch.Generator().manual_seed(3)),
            minimal_perturbation(net, X),
            minimal_perturbation(net, X, y, method="pgd", max_eps=2.0, iterations=3),
            robust_accuracy(fgsm, net, X, y, [0.0, 0.1, 0.5]),
            universal_perturbation(net, X, y),
            universal_perturbation(net, X, y, fraction=0.5, max_eta=5.0),
        ]

    results = attacks(device)
    for result in results:
        _assert_on(result, device)
    if device != "cpu":
        reference = attacks("cpu")
        for index in range(len(results)):
            _close(results[index], reference[index])


@pytest.mark.parametrize("device", DEVICES)
def test_grid_search_stays_on_the_device(device: str) -> None:
    """Paper 004's grid search around a 3-class logit vector (identity model), on the device."""

    def search(where: str) -> Any:
        x = torch.tensor([0.3, 0.1, -0.2], dtype=torch.float64).to(where)
        return grid_search("ce", x, 0, box=(-0.5, 0.5), radius=0.6, points_per_axis=9)

    result = search(device)
    _assert_on(result, device)
    _close(result, search("cpu"))


@pytest.mark.parametrize("device", DEVICES)
def test_learners_train_on_the_device(device: str) -> None:
    """sgd unconstrained, stopped at the lazy ball (members stop at different steps) and
    projected onto it, and adversarial training with PGD inside."""

    def train(where: str) -> list[TwoLayerNet]:
        models = []
        modes: tuple[tuple[float | None, Literal["stop", "project"]], ...] = (
            (None, "stop"), (0.05, "stop"), (0.05, "project"),
        )  # fmt: skip
        for radius, mode in modes:
            net, X, y = _setup(where)
            trained, trace = sgd(
                net, X, y, lr=0.5, batch_size=8, epochs=3, lazy_radius=radius, lazy_mode=mode,
                generator=torch.Generator().manual_seed(5), shared_order=False,
            )  # fmt: skip
            assert torch.isfinite(trace.loss).all()
            _assert_on(trace, where)  # every record of the trace too
            if radius is not None and mode == "stop":  # masked steps: members froze apart
                assert trace.stopped.all() and trace.updates.tolist() == [4, 5], trace.updates
            models.append(trained)
        net, X, y = _setup(where)
        robust, _ = adversarial_training(
            net, X, y, attack=from_attack(partial(pgd, eps=0.1, steps=3)), lr=0.5,
            epochs=2, batch_size=8, generator=torch.Generator().manual_seed(6),
        )  # fmt: skip
        return [*models, robust]

    models = train(device)
    for model in models:
        _assert_on(list(model.parameters()) + list(model.buffers()), device)
    for model, reference in zip(models, train("cpu"), strict=True):
        _close(list(model.parameters()), list(reference.parameters()))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", ["sign", "uniform"])
def test_neurotron_with_label_noise_runs_on_the_device(device: str, kind: str) -> None:
    """Inputs and label noise drawn from a CPU generator; the filter learned on the device."""

    def learn(where: str) -> Any:
        net = SingleFilterNet.relu_gate(torch.zeros(3, 5)).to(where)
        w_star = torch.randn(5, generator=torch.Generator().manual_seed(7)).to(where)
        oracle = RandomOracle(net, w_star, theta=0.1, beta=0.5, kind=kind)  # type: ignore[arg-type]
        return neurotron(
            net, oracle, eta=0.1, steps=20, M=torch.eye(5).to(where), batch_size=4,
            sampler=GaussianInputs(5), generator=torch.Generator().manual_seed(8),
        )  # fmt: skip

    result = learn(device)
    _assert_on([result.w, result.distance], device)
    _close([result.w, result.distance], [learn("cpu").w, learn("cpu").distance])


@pytest.mark.parametrize("device", DEVICES)
def test_poisoning_stays_on_the_device(device: str) -> None:
    """Label flips and a random-direction poisoned gradient oracle (CPU generator) on the device."""

    def poison(where: str) -> list[Any]:
        signs = (torch.arange(20) % 2 * 2 - 1).to(torch.float32).to(where)
        classes = (torch.arange(20) % 3).to(where)
        c = torch.tensor([0.5, -0.5, 0.25, 0.0]).to(where)
        oracle = PoisonedGradientOracle(
            lambda w: 2 * (w - c), budget=0.1, generator=torch.Generator().manual_seed(9)
        )
        w_bar, _ = projected_sgd(oracle, eta=0.1, T=10, w0=torch.zeros(2, 4).to(where), D=1.0)
        return [
            label_flip(signs, 0.3, seed=1),
            label_flip(classes, 0.3, num_classes=3, seed=2),
            [w_bar, oracle.total],
        ]

    results = poison(device)
    for result in results:
        _assert_on(result, device)
    for result, reference in zip(results, poison("cpu"), strict=True):
        _close(result, reference)


def test_the_device_check_catches_a_cpu_fallback() -> None:
    with pytest.raises(AssertionError, match="fell back to CPU"):
        _assert_on({"kept": [torch.zeros(2)]}, "cuda")
    with pytest.raises(AssertionError, match="no tensor"):
        _assert_on({"kept": 1.0}, "cpu")
