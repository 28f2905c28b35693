"""LinearModel (paper 001 section 2 / Figs 1-2) and PaperConvNet (paper 001 Fig. 3)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from robustlab.models import LinearGrad, LinearModel, PaperConvEnsemble, PaperConvNet

F64 = torch.float64


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _model(outputs: int, bias: bool, seed: int = 0, E: int = 3, d: int = 5) -> LinearModel:
    g = _gen(seed)
    lead = (E,) if outputs == 1 else (E, outputs)
    weight = torch.randn((*lead, d), generator=g, dtype=F64)
    return LinearModel(weight, torch.randn(lead, generator=g, dtype=F64) if bias else None)


def _reference(model: LinearModel, x: Tensor) -> Tensor:
    """<w_e, x_i> + b_e with explicit loops: (E, n) or (E, n, K)."""
    E = model.ensemble
    xe = x if x.ndim == 3 else x.unsqueeze(0).expand(E, -1, -1)
    w = model.weight.detach()
    w = w.unsqueeze(1) if w.ndim == 2 else w
    out = torch.zeros(E, xe.shape[1], w.shape[1], dtype=x.dtype)
    for e in range(E):
        for i in range(xe.shape[1]):
            for k in range(w.shape[1]):
                out[e, i, k] = torch.dot(w[e, k], xe[e, i])
                if model.bias is not None:
                    out[e, i, k] += model.bias.detach().reshape(E, -1)[e, k]
    return out.squeeze(-1) if model.weight.ndim == 2 else out


# --------------------------------------------------------------------------- LinearModel
@pytest.mark.parametrize("outputs", [1, 4])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shared", [True, False])
def test_linear_forward(outputs: int, bias: bool, shared: bool) -> None:
    model = _model(outputs, bias)
    x = torch.randn((6, 5) if shared else (3, 6, 5), generator=_gen(1), dtype=F64)
    out = model(x)
    assert out.shape == ((3, 6) if outputs == 1 else (3, 6, outputs))
    assert model.outputs == outputs and model.ensemble == 3 and model.dim == 5
    torch.testing.assert_close(out, _reference(model, x))


def _weighted(model: LinearModel, x: Tensor, v: Tensor | None) -> Tensor:
    out = model(x)
    if v is None:
        return out.sum()
    return (out * (v if v.ndim == out.ndim else v.unsqueeze(0))).sum()


def _coefficients(outputs: int, kind: str, E: int, n: int) -> Tensor | None:
    if kind == "none":
        return None
    lead = (n,) if kind == "shared" else (E, n)
    shape = lead if outputs == 1 else (*lead, outputs)
    return torch.randn(shape, generator=_gen(2), dtype=F64)


LINEAR_CASES = [
    (outputs, bias, kind, shared)
    for outputs in (1, 4)
    for bias in (True, False)
    for kind in ("none", "shared", "member")
    for shared in (True, False)
    if not (outputs > 1 and kind == "none")
]


@pytest.mark.parametrize(("outputs", "bias", "kind", "shared"), LINEAR_CASES)
def test_linear_input_grad(outputs: int, bias: bool, kind: str, shared: bool) -> None:
    model = _model(outputs, bias, seed=3)
    x = torch.randn((6, 5) if shared else (3, 6, 5), generator=_gen(4), dtype=F64)
    v = _coefficients(outputs, kind, 3, 6)
    grad = model.input_grad(x, v)
    assert grad.shape == (3, 6, 5)
    xe = (x if x.ndim == 3 else x.expand(3, -1, -1)).clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(_weighted(model, xe, v), xe)
    torch.testing.assert_close(grad, auto)
    # finite differences: the model is affine, so they are exact up to rounding
    h = 1e-3
    fd = torch.empty_like(grad)
    with torch.no_grad():
        for j in range(5):
            step = torch.zeros(5, dtype=F64)
            step[j] = h
            diff = (model(xe + step) - model(xe - step)) / (2 * h)
            if v is not None:
                vv = v if v.ndim == diff.ndim else v.unsqueeze(0)
                diff = diff * vv
            fd[..., j] = diff if outputs == 1 else diff.sum(-1)
    torch.testing.assert_close(grad, fd)


def test_binary_input_grad_is_the_weight() -> None:
    """Paper 001 Proposition 2.1: grad_x <w, x> = w for every sample."""
    model = _model(1, True)
    grad = model.input_grad(torch.randn(4, 5, dtype=F64))
    torch.testing.assert_close(grad, model.weight.detach().unsqueeze(1).expand(3, 4, 5))


@pytest.mark.parametrize(("outputs", "bias", "kind", "shared"), LINEAR_CASES)
def test_linear_param_grad(outputs: int, bias: bool, kind: str, shared: bool) -> None:
    model = _model(outputs, bias, seed=5)
    x = torch.randn((6, 5) if shared else (3, 6, 5), generator=_gen(6), dtype=F64)
    v = _coefficients(outputs, kind, 3, 6)
    grad = model.param_grad(x, v)
    assert isinstance(grad, LinearGrad)
    params = [model.weight] + ([model.bias] if model.bias is not None else [])
    auto = torch.autograd.grad(_weighted(model, x, v), params)
    assert grad.weight.shape == model.weight.shape
    torch.testing.assert_close(grad.weight, auto[0])
    if bias:
        assert grad.bias is not None and model.bias is not None
        assert grad.bias.shape == model.bias.shape
        torch.testing.assert_close(grad.bias, auto[1])
    else:
        assert grad.bias is None


def test_linear_constructors() -> None:
    zero = LinearModel.zeros(2, 6, outputs=3)
    assert zero.weight.shape == (2, 3, 6) and zero.bias is not None and zero.bias.shape == (2, 3)
    assert float(zero.weight.detach().abs().sum()) == 0.0
    assert LinearModel.zeros(2, 6, bias=False).bias is None
    E, d = 50, 400
    model = LinearModel.pytorch_init(E, d, generator=_gen(7), dtype=F64)
    bound = 1 / math.sqrt(d)
    w = model.weight.detach()
    assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.99 * bound
    assert float(w.var()) == pytest.approx(bound**2 / 3, rel=0.03)  # U(-c, c) has var c^2/3
    assert model.bias is not None and float(model.bias.detach().abs().max()) <= bound
    again = LinearModel.pytorch_init(E, d, generator=_gen(7), dtype=F64)
    torch.testing.assert_close(again.weight, model.weight)
    assert model.weight.requires_grad and model.bias.requires_grad


@pytest.mark.parametrize("outputs", [1, 3])
def test_linear_project_to_ball(outputs: int) -> None:
    model = _model(outputs, True, seed=8, E=4)
    radius = torch.tensor([0.5, 1.0, 100.0, 0.0], dtype=F64)
    before = torch.cat([model.weight.detach().flatten(1), model.bias.detach().reshape(4, -1)], 1)
    model.project_to_ball(radius)
    after = torch.cat([model.weight.detach().flatten(1), model.bias.detach().reshape(4, -1)], 1)
    norms = before.norm(dim=1)
    torch.testing.assert_close(model.parameter_norm(), torch.minimum(norms, radius))
    # the nearest point of the ball: r v / ||v|| outside, v inside
    expected = before * torch.clamp(radius / norms, max=1.0).unsqueeze(1)
    torch.testing.assert_close(after, expected)
    with pytest.raises(ValueError, match="radius must be >= 0"):
        model.project_to_ball(-1.0)


def test_linear_member() -> None:
    model = _model(3, True)
    x = torch.randn(4, 5, dtype=F64)
    sub = model.member(torch.tensor([2, 0]))
    torch.testing.assert_close(sub(x), model(x)[[2, 0]])
    assert model.member(1).ensemble == 1


@pytest.mark.parametrize(
    ("weight", "bias", "match"),
    [
        (torch.ones(5), None, r"weight must be \(E, d\)"),
        (torch.ones(2, 3, 4, 5), None, r"weight must be \(E, d\)"),
        (torch.ones(2, 5), torch.ones(3), r"bias must have shape \(2,\)"),
        (torch.ones(2, 3, 5), torch.ones(2), r"bias must have shape \(2, 3\)"),
        (torch.full((2, 5), float("nan")), None, "weight contains NaN"),
        (torch.ones(2, 5), torch.tensor([0.0, float("inf")]), "bias contains NaN or inf"),
    ],
)
def test_linear_bad_parameters(weight: Tensor, bias: Tensor | None, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        LinearModel(weight, bias)


def test_linear_bad_inputs() -> None:
    binary, multi = _model(1, True), _model(4, True)
    x = torch.randn(6, 5, dtype=F64)
    with pytest.raises(ValueError, match=r"x must be \(n, d\) or \(E, n, d\)"):
        binary(torch.randn(6, 4, dtype=F64))
    with pytest.raises(ValueError, match=r"x must be .*got shape \(2, 6, 5\)"):
        binary.input_grad(torch.randn(2, 6, 5, dtype=F64))
    with pytest.raises(ValueError, match=r"direction must be \(n,\) or \(E, n\)"):
        binary.input_grad(x, torch.ones(5, dtype=F64))
    with pytest.raises(ValueError, match="4-class model needs `direction`"):
        multi.input_grad(x)
    with pytest.raises(ValueError, match=r"weights must be \(n, K\)"):
        multi.param_grad(x, torch.ones(6, 3, dtype=F64))
    with pytest.raises(ValueError, match="dim must be >= 1"):
        LinearModel.zeros(1, 0)


# --------------------------------------------------------------------------- PaperConvNet
def _reference_conv(net: PaperConvNet) -> nn.Sequential:
    """The paper's layer list written as an independent nn.Sequential sharing the weights."""
    seq = nn.Sequential(
        nn.Conv2d(1, 10, 5),
        nn.MaxPool2d(2),
        nn.ReLU(),
        nn.Conv2d(10, 20, 5),
        nn.MaxPool2d(2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(320, net.width),
        nn.ReLU(),
        nn.Linear(net.width, 10),
    )
    seq[0].load_state_dict(net.conv1.state_dict())
    seq[3].load_state_dict(net.conv2.state_dict())
    seq[7].load_state_dict(net.fc1.state_dict())
    seq[9].load_state_dict(net.fc2.state_dict())
    return seq


def test_conv_architecture_matches_the_paper() -> None:
    net = PaperConvNet(50, generator=_gen(0))
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert shapes == {
        "conv1.weight": (10, 1, 5, 5),
        "conv1.bias": (10,),
        "conv2.weight": (20, 10, 5, 5),
        "conv2.bias": (20,),
        "fc1.weight": (50, 320),
        "fc1.bias": (50,),
        "fc2.weight": (10, 50),
        "fc2.bias": (10,),
    }
    assert net.features == 320


def test_conv_forward() -> None:
    net = PaperConvNet(16, generator=_gen(1)).double()
    images = torch.rand(5, 1, 28, 28, generator=_gen(2), dtype=F64)
    flat = images.reshape(5, 784)
    out = net(flat)
    assert out.shape == (5, 10)
    torch.testing.assert_close(net(images), out)
    torch.testing.assert_close(_reference_conv(net).double()(images), out)
    assert net.hidden(flat).shape == (5, 16)
    # outputs are independent across samples (what the generic attack path relies on)
    torch.testing.assert_close(torch.cat([net(flat[i : i + 1]) for i in range(5)]), out)


def test_conv_init_is_pytorch_default_and_seeded() -> None:
    net = PaperConvNet(64, generator=_gen(3))
    for layer in (net.conv1, net.conv2, net.fc1, net.fc2):
        bound = 1 / math.sqrt(layer.weight[0].numel())
        for t in (layer.weight, layer.bias):
            assert float(t.detach().abs().max()) <= bound
        assert float(layer.weight.detach().abs().max()) > 0.9 * bound
    again = PaperConvNet(64, generator=_gen(3))
    other = PaperConvNet(64, generator=_gen(4))
    for key, value in net.state_dict().items():
        torch.testing.assert_close(again.state_dict()[key], value)
        assert not torch.equal(other.state_dict()[key], value)


def test_conv_learns_a_fixed_batch() -> None:
    """A few SGD steps on cross-entropy lower the loss on a fixed batch (gradients flow)."""
    net = PaperConvNet(32, generator=_gen(5))
    x = torch.rand(8, 784, generator=_gen(6))
    y = torch.randint(0, 10, (8,), generator=_gen(7))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.2)
    losses = []
    for _ in range(20):
        loss = nn.functional.cross_entropy(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.9 * losses[0]


def test_conv_errors() -> None:
    net = PaperConvNet(8)
    with pytest.raises(ValueError, match=r"x must be \(n, 784\) or \(n, 1, 28, 28\)"):
        net(torch.rand(2, 783))
    with pytest.raises(ValueError, match="got shape"):
        net(torch.rand(2, 3, 28, 28))
    with pytest.raises(ValueError, match="width must be >= 1, got 0"):
        PaperConvNet(0)
    with pytest.raises(ValueError, match="image_size must be >= 16"):
        PaperConvNet(8, image_size=12)


@pytest.mark.parametrize("shared", [True, False])
def test_conv_ensemble_equals_its_members(shared: bool) -> None:
    """The grouped pass gives each member's own logits and autograd gradients (float64)."""
    members = [
        PaperConvNet(7, generator=torch.Generator().manual_seed(s)).double() for s in range(3)
    ]
    ensemble = PaperConvEnsemble(members)
    g = torch.Generator().manual_seed(9)
    x = torch.rand((5, 784) if shared else (3, 5, 784), generator=g, dtype=torch.float64)
    out = ensemble(x)
    assert out.shape == (3, 5, 10)
    for e, net in enumerate(members):
        torch.testing.assert_close(out[e], net(x if shared else x[e]), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(ensemble.member(e)(x if shared else x[e]), out[e])
    # gradients of a sum of member losses are each member's own gradients
    y = torch.randint(0, 10, (5,), generator=g)
    loss = sum(F.cross_entropy(out[e], y) for e in range(3))
    loss.backward()  # type: ignore[union-attr]
    for e, net in enumerate(members):
        F.cross_entropy(net(x if shared else x[e]), y).backward()
        torch.testing.assert_close(ensemble.fc1_weight.grad[e], net.fc1.weight.grad)  # type: ignore[index]
        torch.testing.assert_close(ensemble.conv1_weight.grad[e], net.conv1.weight.grad)  # type: ignore[index]
    images = x.reshape(*x.shape[:-1], 1, 28, 28)
    torch.testing.assert_close(ensemble(images), out)


def test_conv_ensemble_refuses_mixed_members_and_bad_inputs() -> None:
    with pytest.raises(ValueError, match="at least one member"):
        PaperConvEnsemble([])
    with pytest.raises(ValueError, match="one shape"):
        PaperConvEnsemble([PaperConvNet(4), PaperConvNet(5)])
    ensemble = PaperConvEnsemble([PaperConvNet(4), PaperConvNet(4)])
    with pytest.raises(ValueError, match="x must be"):
        ensemble(torch.zeros(3, 5, 784))
    with pytest.raises(ValueError, match="member index"):
        ensemble.member(2)
