"""Model files: safetensors round trips for every registered model, clear errors, no pickle."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from robustlab.losses import margin_derivative
from robustlab.models import LinearModel, PaperConvNet, TwoLayerNet, load_model, save_model


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _trained(net: TwoLayerNet, steps: int = 3) -> TwoLayerNet:
    """A few full-batch logistic SGD steps on the first layer, so that W moves away from W0."""
    x = torch.randn(16, net.dim, generator=_gen(1), dtype=net.W.dtype)
    if net.outputs == 1:
        y = torch.sign(torch.randn(16, generator=_gen(2), dtype=net.W.dtype))
        for _ in range(steps):
            with torch.no_grad():
                z = y * net(x)
                weights = y * margin_derivative("logistic", z) / 16
                net.W.sub_(0.5 * net.param_grad(x, weights))
    else:
        labels = torch.randint(0, net.outputs, (16,), generator=_gen(3))
        for _ in range(steps):
            logits = net(x)
            loss = nn.functional.cross_entropy(logits.flatten(0, 1), labels.repeat(net.ensemble))
            (grad,) = torch.autograd.grad(loss, net.W)
            with torch.no_grad():
                net.W.sub_(0.5 * grad)
    assert not torch.equal(net.W.detach(), net.W0)
    return net


def _assert_same_two_layer(loaded: nn.Module, net: TwoLayerNet) -> None:
    assert isinstance(loaded, TwoLayerNet)
    for name in ("W", "a", "W0"):
        torch.testing.assert_close(getattr(loaded, name).detach(), getattr(net, name).detach())
        assert getattr(loaded, name).dtype == getattr(net, name).dtype
    assert (loaded.b is None) == (net.b is None)
    if net.b is not None and loaded.b is not None:
        torch.testing.assert_close(loaded.b.detach(), net.b.detach())
        assert loaded.b0 is not None and net.b0 is not None
        torch.testing.assert_close(loaded.b0, net.b0)
    assert loaded.activation == net.activation
    assert loaded.scale == net.scale and loaded.scheme == net.scheme
    assert loaded.a.requires_grad == net.a.requires_grad
    x = torch.randn(5, net.dim, generator=_gen(9), dtype=net.W.dtype)
    torch.testing.assert_close(loaded(x), net(x), rtol=0, atol=0)
    torch.testing.assert_close(loaded.distance_from_init(), net.distance_from_init())


@pytest.mark.parametrize(
    "build",
    [
        lambda: TwoLayerNet.ntk(3, 6, 4, generator=_gen(0)),
        lambda: TwoLayerNet.ntk(3, 6, 4, outputs=4, generator=_gen(0), dtype=torch.float64),
        lambda: TwoLayerNet.vardi(2, 5, 4, generator=_gen(0)),  # bias, trainable top layer
        lambda: TwoLayerNet.leaky(2, 5, 4, alpha=0.3, outputs=2, generator=_gen(0)),
        lambda: TwoLayerNet.bubeck(2, 5, 4, activation="softplus", generator=_gen(0)),
    ],
    ids=["ntk", "ntk-K4-f64", "vardi-bias", "leaky-K2", "bubeck-softplus"],
)
def test_two_layer_round_trip_after_training(tmp_path: Path, build: object) -> None:
    net = _trained(build())  # type: ignore[operator]
    path = save_model(net, tmp_path / "sub" / "net.safetensors")
    assert path.is_file() and not path.with_name(path.name + ".tmp").exists()
    _assert_same_two_layer(load_model(path), net)


@pytest.mark.parametrize("outputs", [1, 3])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_round_trip(tmp_path: Path, outputs: int, bias: bool) -> None:
    model = LinearModel.pytorch_init(
        2, 7, outputs=outputs, bias=bias, generator=_gen(4), dtype=torch.float64
    )
    loaded = load_model(save_model(model, tmp_path / "linear.safetensors"))
    assert isinstance(loaded, LinearModel)
    torch.testing.assert_close(loaded.weight.detach(), model.weight.detach(), rtol=0, atol=0)
    assert (loaded.bias is None) == (not bias)
    if model.bias is not None and loaded.bias is not None:
        torch.testing.assert_close(loaded.bias.detach(), model.bias.detach(), rtol=0, atol=0)
    x = torch.randn(4, 7, dtype=torch.float64)
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_conv_round_trip(tmp_path: Path, dtype: torch.dtype) -> None:
    net = PaperConvNet(12, generator=_gen(5)).to(dtype)
    loaded = load_model(save_model(net, tmp_path / "conv.safetensors"))
    assert isinstance(loaded, PaperConvNet)
    assert (loaded.width, loaded.num_classes, loaded.in_channels, loaded.image_size) == (
        12,
        10,
        1,
        28,
    )
    state, loaded_state = net.state_dict(), loaded.state_dict()
    assert state.keys() == loaded_state.keys()
    for key, value in state.items():
        assert loaded_state[key].dtype == dtype
        torch.testing.assert_close(loaded_state[key], value, rtol=0, atol=0)
    x = torch.rand(3, 784, generator=_gen(6), dtype=dtype)
    torch.testing.assert_close(loaded(x), net(x), rtol=0, atol=0)


def test_conv_round_trip_other_geometry(tmp_path: Path) -> None:
    net = PaperConvNet(8, num_classes=4, in_channels=3, image_size=32, generator=_gen(7))
    loaded = load_model(save_model(net, tmp_path / "conv.safetensors"))
    x = torch.rand(2, 3, 32, 32, generator=_gen(8))
    torch.testing.assert_close(loaded(x), net(x), rtol=0, atol=0)


# --------------------------------------------------------------------------- file format
def test_file_is_safetensors_without_pickle(tmp_path: Path) -> None:
    """8-byte little-endian header length, a JSON header, then raw tensor bytes: nothing else."""
    net = TwoLayerNet.vardi(2, 5, 4, generator=_gen(0))
    raw = save_model(net, tmp_path / "net.safetensors").read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len].decode("utf-8"))
    assert header["__metadata__"]["robustlab_class"] == "TwoLayerNet"
    meta = json.loads(header["__metadata__"]["robustlab_meta"])
    assert meta["scheme"] == "vardi"
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    assert set(tensors) == {"W", "a", "W0", "b", "b0"}
    data_len = max(v["data_offsets"][1] for v in tensors.values())
    assert len(raw) == 8 + header_len + data_len  # every byte accounted for
    covered = sum(v["data_offsets"][1] - v["data_offsets"][0] for v in tensors.values())
    assert covered == data_len  # so no byte is left for a pickle payload
    assert {v["dtype"] for v in tensors.values()} == {"F32"}


def _bad_file(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.safetensors"
    net = TwoLayerNet.ntk(2, 5, 3, generator=_gen(0))
    if kind == "text":
        path.write_text("this is not a model")
    elif kind == "pickle":
        torch.save(net.state_dict(), path)
    elif kind == "truncated":
        good = save_model(net, tmp_path / "good.safetensors").read_bytes()
        path.write_bytes(good[: len(good) // 2])
    elif kind == "header-only":
        good = save_model(net, tmp_path / "good.safetensors").read_bytes()
        (header_len,) = struct.unpack("<Q", good[:8])
        path.write_bytes(good[: 8 + header_len + 4])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "no-metadata":
        save_file({"W": torch.ones(2, 3, 4)}, str(path))
    elif kind == "foreign-class":
        save_file({"W": torch.ones(2, 3, 4)}, str(path), metadata={"robustlab_class": "ResNet"})
    elif kind == "misfit-tensors":
        meta = {"robustlab_class": "TwoLayerNet", "robustlab_meta": "{}"}
        save_file({"weight": torch.ones(2, 3)}, str(path), metadata=meta)
    elif kind == "bad-json":
        meta = {"robustlab_class": "LinearModel", "robustlab_meta": "{oops"}
        save_file({"weight": torch.ones(2, 3)}, str(path), metadata=meta)
    return path


@pytest.mark.parametrize(
    ("kind", "match"),
    [
        ("text", "not a readable safetensors file"),
        ("pickle", "not a readable safetensors file"),
        ("truncated", "not a readable safetensors file"),
        ("header-only", "not a readable safetensors file"),
        ("empty", "not a readable safetensors file"),
        ("no-metadata", "holds model class None; robustlab can load: .*TwoLayerNet"),
        ("foreign-class", "holds model class 'ResNet'; robustlab can load: .*LinearModel"),
        ("misfit-tensors", "does not hold a valid TwoLayerNet"),
        ("bad-json", "does not hold a valid LinearModel"),
    ],
)
def test_bad_files_give_clear_errors(tmp_path: Path, kind: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        load_model(_bad_file(tmp_path, kind))


def test_missing_file_and_unsavable_model(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no model file"):
        load_model(tmp_path / "absent.safetensors")
    with pytest.raises(TypeError, match="Linear has no saved_state"):
        save_model(nn.Linear(2, 3), tmp_path / "linear.safetensors")
