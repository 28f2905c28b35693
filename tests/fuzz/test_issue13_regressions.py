"""Regression tests of issue 13 items 1 (silent wrong answers) and 10 (obscure API crashes):
each call the issue quotes, and what it must do now."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file

from robustlab import TwoLayerNet
from robustlab.attacks import fgsm, minimal_gradient_step, pgd
from robustlab.geometry import L21, project_box
from robustlab.learners import TrainingDivergedError, sgd
from robustlab.models import LinearModel, load_model
from robustlab.poisoning import clean_label


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def setup() -> tuple[TwoLayerNet, torch.Tensor, torch.Tensor]:
    net = TwoLayerNet.ntk(2, 32, 8, generator=_gen(0))
    x = torch.rand(16, 8, generator=_gen(1))
    y = torch.sign(net(x)[0]).detach()
    return net, x, y


# --------------------------------------------------------------------------- item 1
def test_attacks_refuse_nan_and_inf_inputs_instead_of_counting_them_robust(setup: Any) -> None:
    net, x, y = setup
    clean = pgd(net, x, y, eps=5.0, steps=10)
    assert float(clean.success.float().mean()) > 0  # the clean attack does flip points
    with pytest.raises(ValueError, match=r"\bx contains NaN"):
        pgd(net, torch.full_like(x, math.nan), y, eps=5.0)
    with pytest.raises(ValueError, match=r"\bx contains NaN or inf"):
        fgsm(net, torch.full_like(x, math.inf), y, eps=0.5)


def test_a_nan_box_no_longer_disables_the_attack(setup: Any) -> None:
    net, x, y = setup
    with pytest.raises(ValueError, match="box low must be a finite number"):
        pgd(net, x, y, eps=0.5, box=(math.nan, 1.0))


def test_minimal_gradient_step_refuses_a_nan_bound(setup: Any) -> None:
    net, x, _ = setup
    assert int(minimal_gradient_step(net, x).flipped.sum()) > 16
    with pytest.raises(ValueError, match="max_eta"):
        minimal_gradient_step(net, x, max_eta=math.nan)


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"lr": math.inf}, "lr"),
        ({"weight_decay": math.inf}, "weight_decay"),
        ({"X": "nan"}, "X"),
        ({"X": "inf"}, "X"),
    ],
)
def test_sgd_refuses_non_finite_hyper_parameters_and_data(
    setup: Any, change: dict[str, Any], word: str
) -> None:
    net, x, y = setup
    kwargs: dict[str, Any] = {"lr": 0.1, "weight_decay": 0.0, "X": x}
    kwargs.update(change)
    if isinstance(kwargs["X"], str):
        bad = x.clone()
        bad[3, 2] = math.nan if kwargs["X"] == "nan" else math.inf
        kwargs["X"] = bad
    X = kwargs.pop("X")
    with pytest.raises(ValueError, match=rf"\b{word}\b"):
        sgd(net, X, y, **kwargs)


@pytest.mark.parametrize("loss", ["logistic", "exponential"])
def test_sgd_stops_when_training_diverges_instead_of_returning_nan_weights(
    setup: Any, loss: str
) -> None:
    net, x, y = setup
    trained, _ = sgd(net, x, y, lr=0.1, loss=loss, batch_size=4, epochs=2)
    assert bool(torch.isfinite(trained.W).all())
    with pytest.raises(TrainingDivergedError, match=r"diverged: .* at lr = 1e\+38; lower lr"):
        sgd(net, x * 1e3, y, lr=1e38, loss=loss, batch_size=4, epochs=3)


def test_two_layer_net_refuses_a_nan_scale(setup: Any) -> None:
    net, _, _ = setup
    with pytest.raises(ValueError, match=r"\bscale must be a finite number, got nan"):
        TwoLayerNet(net.W.detach(), net.a.detach(), scale=math.nan)


def test_project_box_refuses_nan_bounds() -> None:
    with pytest.raises(ValueError, match="box low"):
        project_box(torch.zeros(3, 2), math.nan, 1.0)


# --------------------------------------------------------------------------- item 10
def test_float64_inputs_on_a_float32_model_are_refused_with_the_fix(setup: Any) -> None:
    net, x, y = setup
    for call in (lambda: pgd(net, x.double(), y, eps=0.1), lambda: net(x.double())):
        with pytest.raises(TypeError, match=r"x has dtype torch.float64 .* torch.float32"):
            call()
    linear = LinearModel.zeros(1, 8)
    with pytest.raises(TypeError, match=r"x\.to\(torch\.float32\)"):
        fgsm(linear, x.double(), y, eps=0.1)


def test_inputs_of_the_wrong_dimension_are_named(setup: Any) -> None:
    net, x, y = setup
    for attack in (pgd, fgsm):
        with pytest.raises(ValueError, match=r"x must be \(n, d\) or \(E, n, d\) with d = 8"):
            attack(net, x[:, :5], y, eps=0.1)


def test_clean_label_refuses_nan_data_infinite_budgets_and_bad_labels() -> None:
    model = LinearModel.pytorch_init(1, 4, generator=_gen(2))
    X = torch.rand(10, 4, generator=_gen(3))
    y = torch.ones(10)
    assert clean_label(model, X, y, L21(1.0), steps=2).record.spent <= 1.0
    bad = X.clone()
    bad[0, 0] = math.nan
    with pytest.raises(ValueError, match=r"\bX contains NaN"):
        clean_label(model, bad, y, L21(1.0))
    with pytest.raises(ValueError, match=r"\bS must be a finite number, got inf"):
        clean_label(model, X, y, L21(math.inf))
    multi = LinearModel.pytorch_init(1, 4, outputs=3, generator=_gen(4))
    with pytest.raises(ValueError, match=r"\by must lie in 0\.\.2 for a 3-output model"):
        clean_label(multi, X, torch.full((10,), 3), L21(1.0))


def test_sgd_refuses_class_labels_out_of_range() -> None:
    net = TwoLayerNet.ntk(1, 16, 4, outputs=3, generator=_gen(5))
    X = torch.rand(8, 4, generator=_gen(6))
    with pytest.raises(ValueError, match=r"\by must lie in 0\.\.2 .* got range 0\.\.5"):
        sgd(net, X, torch.arange(6).repeat(2)[:8], lr=0.1)


def test_fractional_width_is_a_type_error_naming_width() -> None:
    with pytest.raises(TypeError, match=r"width must be an int, got 2\.5"):
        TwoLayerNet.ntk(1, 2.5, 4)  # type: ignore[arg-type]


def _write(path: Path, net: TwoLayerNet, **changes: Any) -> Path:
    tensors, meta = net.saved_state()
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    if "W0" in changes:
        tensors["W0"] = changes.pop("W0")
    meta = {**meta, **changes}
    header = {"robustlab_class": "TwoLayerNet", "robustlab_meta": json.dumps(meta)}
    save_file(tensors, str(path), metadata=header)
    return path


def test_load_model_checks_what_the_metadata_says(tmp_path: Path, setup: Any) -> None:
    net, _, _ = setup
    assert isinstance(load_model(_write(tmp_path / "ok.safetensors", net)), TwoLayerNet)
    nan_w0 = net.W0.clone()
    nan_w0[0, 0, 0] = math.nan
    for name, change, word in (
        ("scale", {"scale": math.nan}, "metadata scale"),
        ("w0", {"W0": nan_w0}, "saved W0 contains NaN"),
        ("top", {"train_top": "false"}, "metadata train_top must be True or False"),
    ):
        with pytest.raises(ValueError, match=word):
            load_model(_write(tmp_path / f"{name}.safetensors", net, **change))
