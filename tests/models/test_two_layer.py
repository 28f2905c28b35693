"""TwoLayerNet: shapes, init schemes against their definitions, closed-form gradients against
autograd and central finite differences (float64), lazy-regime diagnostics, errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from robustlab.models import TwoLayerNet

ACTIVATIONS = ("relu", "leaky_relu", "softplus", "gelu", "tanh")
F64 = torch.float64


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _net(
    activation: str, *, outputs: int, bias: bool, seed: int = 0, E: int = 3, m: int = 7, d: int = 5
) -> TwoLayerNet:
    """A float64 net with Gaussian weights and an arbitrary scale (not one of the schemes)."""
    g = _gen(seed)
    W = torch.randn(E, m, d, generator=g, dtype=F64)
    a_shape = (E, m) if outputs == 1 else (E, outputs, m)
    a = torch.randn(a_shape, generator=g, dtype=F64)
    b = torch.randn(E, m, generator=g, dtype=F64) if bias else None
    return TwoLayerNet(W, a, b, activation=activation, alpha=0.2, scale=0.37)


def _reference_forward(net: TwoLayerNet, x: Tensor) -> Tensor:
    """f_e(x_i) = scale * sum_s a_es sigma(w_es . x_i + b_es), written with explicit loops."""
    E, m = net.ensemble, net.width
    xe = x if x.ndim == 3 else x.unsqueeze(0).expand(E, -1, -1)
    n = xe.shape[1]
    K = net.outputs
    out = torch.zeros(E, n, K, dtype=x.dtype)
    a = net.a.detach().reshape(E, K, m) if net.a.ndim == 3 else net.a.detach().unsqueeze(1)
    for e in range(E):
        for s in range(m):
            pre = xe[e] @ net.W.detach()[e, s]
            if net.b is not None:
                pre = pre + net.b.detach()[e, s]
            out[e] += net.activation(pre).unsqueeze(-1) * a[e, :, s]
    out = out * net.scale
    return out.squeeze(-1) if net.a.ndim == 2 else out


def _away_from_kinks(net: TwoLayerNet, x: Tensor, margin: float = 1e-3) -> Tensor:
    """Keep the samples whose preactivations all satisfy |w.x + b| > margin (every member)."""
    pre = net.preactivation(x).detach()
    keep = (pre.abs() > margin).all(dim=2).all(dim=0)
    assert keep.sum() >= 3, "test setup: too few samples away from the ReLU kinks"
    return x[..., keep, :] if x.ndim == 3 else x[keep]


# --------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("outputs", [1, 3])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("shared", [True, False])
def test_forward_shapes_and_values(outputs: int, bias: bool, shared: bool) -> None:
    net = _net("gelu", outputs=outputs, bias=bias)
    x = torch.randn((6, 5) if shared else (3, 6, 5), generator=_gen(1), dtype=F64)
    out = net(x)
    expected = (3, 6) if outputs == 1 else (3, 6, outputs)
    assert out.shape == expected
    torch.testing.assert_close(out, _reference_forward(net, x), rtol=1e-12, atol=1e-12)


def test_shared_input_equals_expanded_input() -> None:
    net = _net("relu", outputs=1, bias=True)
    x = torch.randn(6, 5, generator=_gen(2), dtype=F64)
    torch.testing.assert_close(net(x), net(x.unsqueeze(0).expand(3, -1, -1)))


@pytest.mark.parametrize("scheme", ["ntk", "bubeck", "vardi", "leaky"])
def test_every_scheme_has_scalar_output(scheme: str) -> None:
    net = TwoLayerNet.from_scheme(scheme, 2, 8, 4, generator=_gen(3))
    assert net.scheme == scheme
    assert net(torch.randn(5, 4)).shape == (2, 5)
    assert (net.ensemble, net.width, net.dim, net.outputs) == (2, 8, 4, 1)


# --------------------------------------------------------------------------- init schemes
E, M, D = 4, 400, 60  # 96k first-layer weights: variance estimates to about 0.5 %


def _assert_variance(t: Tensor, expected: float, rel: float = 0.05) -> None:
    values = t.detach().double().flatten()
    assert abs(float(values.mean())) < 5 * math.sqrt(expected / values.numel())
    assert float(values.var()) == pytest.approx(expected, rel=rel)


def _assert_signs(a: Tensor) -> None:
    assert set(a.detach().unique().tolist()) == {-1.0, 1.0}
    assert abs(float(a.detach().mean())) < 5 / math.sqrt(a.numel())


@pytest.mark.parametrize("outputs", [1, 3])
def test_ntk_init(outputs: int) -> None:
    """Paper 001 section 3: a ~ unif{-1, +1} fixed, w ~ N(0, I), f = (1/sqrt m) sum a relu(w.x)."""
    net = TwoLayerNet.ntk(E, M, D, outputs=outputs, generator=_gen(4))
    assert net.a.shape == ((E, M) if outputs == 1 else (E, outputs, M))
    _assert_signs(net.a)
    _assert_variance(net.W, 1.0)
    assert net.scale == pytest.approx(1 / math.sqrt(M))
    assert net.b is None and net.activation.name == "relu"
    assert net.W.requires_grad and not net.a.requires_grad
    torch.testing.assert_close(net.W0, net.W.detach())


def test_bubeck_init() -> None:
    """Paper 003 eq. (1): w ~ N(0, I/d), a ~ unif{-1, +1}, scale 1/sqrt(k)."""
    net = TwoLayerNet.bubeck(E, M, D, generator=_gen(5))
    _assert_signs(net.a)
    _assert_variance(net.W, 1.0 / D)
    assert net.scale == pytest.approx(1 / math.sqrt(M))
    assert net.b is None and not net.a.requires_grad


def test_vardi_init() -> None:
    """Paper 003 eq. (11): w ~ N(0, s^2 I/d), b ~ N(0, s^2), a ~ N(0, s^2/k), all trainable."""
    s = 0.03
    net = TwoLayerNet.vardi(E, M, D, init_scale=s, generator=_gen(6))
    _assert_variance(net.W, s**2 / D)
    assert net.b is not None and net.b0 is not None
    _assert_variance(net.b, s**2, rel=0.15)  # only E * M = 1600 draws
    _assert_variance(net.a, s**2 / M, rel=0.15)
    assert net.scale == 1.0 and net.activation.name == "relu"
    assert net.W.requires_grad and net.a.requires_grad and net.b.requires_grad
    torch.testing.assert_close(net.b0, net.b.detach())


@pytest.mark.parametrize("kappa", [None, 0.3])
@pytest.mark.parametrize("outputs", [1, 2])
def test_leaky_init(kappa: float | None, outputs: int) -> None:
    """Paper 004 section 2: ||a||_inf = kappa (default 1/sqrt m), ||W||_F = omega per member."""
    omega, alpha = 2.5, 0.15
    net = TwoLayerNet.leaky(
        E, M, D, alpha=alpha, kappa=kappa, omega=omega, outputs=outputs, generator=_gen(7)
    )
    expected_kappa = 1 / math.sqrt(M) if kappa is None else kappa
    a = net.a.detach()
    torch.testing.assert_close(a.abs(), torch.full_like(a, expected_kappa))
    _assert_signs(a / expected_kappa)
    torch.testing.assert_close(
        net.W.detach().flatten(1).norm(dim=1), torch.full((E,), omega), rtol=1e-5, atol=0
    )
    assert net.activation.name == "leaky_relu" and net.activation.alpha == alpha
    assert net.scale == 1.0 and not net.a.requires_grad and net.W.requires_grad


def test_constructors_are_reproducible_from_a_generator() -> None:
    first = TwoLayerNet.ntk(2, 5, 3, generator=_gen(8))
    second = TwoLayerNet.ntk(2, 5, 3, generator=_gen(8))
    torch.testing.assert_close(first.W, second.W)
    torch.testing.assert_close(first.a, second.a)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: TwoLayerNet.ntk(0, 5, 3), "ensemble must be >= 1"),
        (lambda: TwoLayerNet.ntk(1, 0, 3), "width must be >= 1"),
        (lambda: TwoLayerNet.bubeck(1, 5, 0), "dim must be >= 1"),
        (lambda: TwoLayerNet.ntk(1, 5, 3, outputs=0), "outputs must be >= 1"),
        (lambda: TwoLayerNet.vardi(1, 5, 3, init_scale=0.0), "init_scale must be > 0"),
        (lambda: TwoLayerNet.leaky(1, 5, 3, kappa=-1.0), "kappa must be > 0"),
        (lambda: TwoLayerNet.leaky(1, 5, 3, omega=0.0), "omega must be > 0"),
        (lambda: TwoLayerNet.from_scheme("xavier", 1, 5, 3), "unknown init scheme 'xavier'"),
        (lambda: TwoLayerNet.ntk(1, 5, 3, activation="swish"), "unknown activation 'swish'"),
    ],
)
def test_constructor_errors(call: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()  # type: ignore[operator]


# --------------------------------------------------------------------------- gradients
def _direction(outputs: int, shape: str, E: int, n: int) -> Tensor | None:
    g = _gen(11)
    if shape == "none":
        return None
    lead = (n,) if shape == "shared" else (E, n)
    return torch.randn((*lead, outputs) if outputs > 1 else lead, generator=g, dtype=F64)


def _weighted_output(net: TwoLayerNet, x: Tensor, direction: Tensor | None) -> Tensor:
    """sum_i <direction_i, f_e(x_i)> per member: (E,)."""
    out = net(x)
    if direction is None:
        return out.sum(dim=1)
    if direction.ndim < out.ndim:
        direction = direction.unsqueeze(0)
    return (out * direction).flatten(1).sum(dim=1)


GRAD_CASES = [
    (activation, outputs, bias, direction)
    for activation in ACTIVATIONS
    for outputs in (1, 3)
    for bias in (False, True)
    for direction in ("none", "shared", "member")
    if not (outputs > 1 and direction == "none")
]


@pytest.mark.parametrize(("activation", "outputs", "bias", "direction"), GRAD_CASES)
@pytest.mark.parametrize("shared_x", [True, False])
def test_input_grad_matches_autograd_and_finite_differences(
    activation: str, outputs: int, bias: bool, direction: str, shared_x: bool
) -> None:
    net = _net(activation, outputs=outputs, bias=bias, seed=12)
    E, d = net.ensemble, net.dim
    x = torch.randn((16, d) if shared_x else (E, 16, d), generator=_gen(13), dtype=F64)
    x = _away_from_kinks(net, x)
    n = x.shape[-2]
    v = _direction(outputs, direction, E, n)
    grad = net.input_grad(x, v)
    assert grad.shape == (E, n, d)

    # autograd, on a per-member copy of x so that members do not sum up
    xe = (x if x.ndim == 3 else x.unsqueeze(0).expand(E, -1, -1)).clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(_weighted_output(net, xe, v).sum(), xe)
    torch.testing.assert_close(grad, auto, rtol=1e-10, atol=1e-12)

    # central differences: move coordinate j of every sample at once (outputs are per sample)
    h = 1e-6
    fd = torch.empty_like(grad)
    with torch.no_grad():
        for j in range(d):
            step = torch.zeros(d, dtype=F64)
            step[j] = h
            plus, minus = net(xe + step), net(xe - step)
            diff = (plus - minus) / (2 * h)
            if v is None:
                fd[..., j] = diff
            else:
                w = v if v.ndim == diff.ndim else v.unsqueeze(0)
                fd[..., j] = diff * w if outputs == 1 else (diff * w).sum(-1)
    torch.testing.assert_close(grad, fd, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(("activation", "outputs", "bias", "direction"), GRAD_CASES)
@pytest.mark.parametrize("shared_x", [True, False])
def test_param_grad_matches_autograd_and_finite_differences(
    activation: str, outputs: int, bias: bool, direction: str, shared_x: bool
) -> None:
    net = _net(activation, outputs=outputs, bias=bias, seed=14, m=4, d=3)
    E, m, d = net.ensemble, net.width, net.dim
    x = torch.randn((12, d) if shared_x else (E, 12, d), generator=_gen(15), dtype=F64)
    x = _away_from_kinks(net, x, margin=1e-3)
    weights = _direction(outputs, direction, E, x.shape[-2])
    grad = net.param_grad(x, weights)
    assert grad.shape == (E, m, d)

    (auto,) = torch.autograd.grad(_weighted_output(net, x, weights).sum(), net.W)
    torch.testing.assert_close(grad, auto, rtol=1e-10, atol=1e-12)

    h = 1e-6
    fd = torch.empty_like(grad)
    W = net.W.detach().clone()
    with torch.no_grad():
        for s in range(m):
            for j in range(d):
                values = []
                for sign in (1.0, -1.0):
                    net.W.copy_(W)
                    net.W[:, s, j] += sign * h  # every member at once: they are independent
                    values.append(_weighted_output(net, x, weights))
                fd[:, s, j] = (values[0] - values[1]) / (2 * h)
        net.W.copy_(W)
    torch.testing.assert_close(grad, fd, rtol=1e-6, atol=1e-7)


def test_input_grad_closed_form_for_ntk() -> None:
    """grad_x f = (1/sqrt m) W^T (a * 1[Wx > 0]) (paper 003 eq. (6)), written out per member."""
    net = TwoLayerNet.ntk(2, 6, 4, generator=_gen(16), dtype=F64)
    x = torch.randn(5, 4, generator=_gen(17), dtype=F64)
    grad = net.input_grad(x)
    for e in range(2):
        for i in range(5):
            active = (net.W.detach()[e] @ x[i] > 0).to(F64)
            expected = net.W.detach()[e].T @ (net.a.detach()[e] * active) / math.sqrt(6)
            torch.testing.assert_close(grad[e, i], expected)


def test_k_output_gradients_need_a_direction() -> None:
    net = _net("relu", outputs=3, bias=False)
    x = torch.randn(4, 5, dtype=F64)
    with pytest.raises(ValueError, match="direction"):
        net.input_grad(x)
    with pytest.raises(ValueError, match="direction"):
        net.param_grad(x)


@pytest.mark.parametrize("outputs", [1, 3])
def test_gradient_direction_shape_errors(outputs: int) -> None:
    net = _net("relu", outputs=outputs, bias=False)
    x = torch.randn(4, 5, dtype=F64)
    bad = torch.ones(5, dtype=F64) if outputs == 1 else torch.ones(4, 2, dtype=F64)
    with pytest.raises(ValueError, match="shape"):
        net.input_grad(x, bad)
    with pytest.raises(ValueError, match="shape"):
        net.param_grad(x, bad)


# --------------------------------------------------------------------------- lazy diagnostics
def _perturbed_ntk(seed: int = 20) -> tuple[TwoLayerNet, Tensor]:
    net = TwoLayerNet.ntk(3, 10, 4, generator=_gen(seed), dtype=F64)
    shift = torch.randn(3, 10, 4, generator=_gen(seed + 1), dtype=F64)
    shift = shift * torch.rand(3, 10, 1, generator=_gen(seed + 2), dtype=F64) * 2
    with torch.no_grad():
        net.W.add_(shift)
    return net, shift


def test_distance_from_init() -> None:
    net = TwoLayerNet.ntk(3, 10, 4, generator=_gen(19), dtype=F64)
    torch.testing.assert_close(net.distance_from_init(), torch.zeros(3, dtype=F64))
    net, shift = _perturbed_ntk()
    expected = torch.tensor([max(float(shift[e, s].norm()) for s in range(10)) for e in range(3)])
    torch.testing.assert_close(net.distance_from_init(), expected.to(F64))


@pytest.mark.parametrize("scheme", ["ntk", "vardi"])
def test_sign_changes_count_flipped_neurons(scheme: str) -> None:
    net = TwoLayerNet.from_scheme(scheme, 3, 10, 4, generator=_gen(22), dtype=F64)
    x = torch.randn(7, 4, generator=_gen(23), dtype=F64)
    torch.testing.assert_close(net.sign_changes(x), torch.zeros(3, 7, dtype=torch.int64))
    W0 = net.W.detach().clone()
    b0 = None if net.b is None else net.b.detach().clone()
    with torch.no_grad():
        net.W.add_(torch.randn(3, 10, 4, generator=_gen(24), dtype=F64))
        if net.b is not None:
            net.b.add_(0.5)
    expected = torch.zeros(3, 7, dtype=torch.int64)
    now = net.preactivation(x).detach()
    for e in range(3):
        for i in range(7):
            for s in range(10):
                before = float(W0[e, s] @ x[i]) + (0.0 if b0 is None else float(b0[e, s]))
                after = float(now[e, i, s])
                expected[e, i] += int((before > 0) != (after > 0))
    assert expected.sum() > 0
    torch.testing.assert_close(net.sign_changes(x), expected)


def test_project_to_ball() -> None:
    net, shift = _perturbed_ntk()
    radius = 1.0
    before = net.W.detach().clone()
    net.project_to_ball(radius)
    after = net.W.detach()
    rows = (after - net.W0).norm(dim=2)
    assert bool((rows <= radius * (1 + 1e-12)).all())
    inside = shift.norm(dim=2) <= radius
    assert inside.any() and (~inside).any()
    torch.testing.assert_close(after[inside], before[inside])
    # outside rows move along w - w0 onto the sphere
    direction = shift[~inside] / shift[~inside].norm(dim=1, keepdim=True)
    torch.testing.assert_close((after - net.W0)[~inside], radius * direction)
    assert float(net.distance_from_init().max()) <= radius * (1 + 1e-12)


def test_reset_init_moves_the_reference() -> None:
    net, _ = _perturbed_ntk()
    net.reset_init()
    torch.testing.assert_close(net.W0, net.W.detach())
    torch.testing.assert_close(net.distance_from_init(), torch.zeros(3, dtype=F64))


@pytest.mark.parametrize("index", [1, slice(0, 2), torch.tensor([2, 0])])
def test_member_selects_copies(index: int | slice | Tensor) -> None:
    net = TwoLayerNet.vardi(3, 6, 4, generator=_gen(30), dtype=F64)
    with torch.no_grad():
        net.W.add_(1.0)
    x = torch.randn(5, 4, generator=_gen(31), dtype=F64)
    idx = torch.arange(3)[index].reshape(-1)
    sub = net.member(index)
    assert sub.ensemble == len(idx)
    torch.testing.assert_close(sub(x), net(x)[idx])
    torch.testing.assert_close(sub.W0, net.W0[idx])
    assert sub.b0 is not None and net.b0 is not None
    torch.testing.assert_close(sub.b0, net.b0[idx])
    assert sub.a.requires_grad == net.a.requires_grad and sub.scheme == "vardi"
    original = net.W.detach().clone()
    with torch.no_grad():
        sub.W.zero_()
        sub.W0.zero_()
    torch.testing.assert_close(net.W.detach(), original)
    assert float(net.W0.abs().min()) > 0


def test_member_keeps_leaky_alpha() -> None:
    net = TwoLayerNet.leaky(2, 5, 3, alpha=0.3, generator=_gen(32))
    assert net.member(0).activation.alpha == 0.3


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("W", "a", "b", "match"),
    [
        (torch.ones(2, 3), torch.ones(2, 3), None, r"W must be \(E, m, d\)"),
        (torch.ones(2, 3, 4), torch.ones(2, 4), None, "a must be"),
        (torch.ones(2, 3, 4), torch.ones(2, 2, 4), None, "a must be"),
        (torch.ones(2, 3, 4), torch.ones(2, 3), torch.ones(3), "b must be"),
        (torch.full((2, 3, 4), float("nan")), torch.ones(2, 3), None, "W contains NaN"),
        (torch.ones(2, 3, 4), torch.tensor([[1.0, float("inf"), 1.0]] * 2), None, "a contains"),
        (torch.ones(2, 3, 4), torch.ones(2, 3), torch.full((2, 3), float("nan")), "b contains"),
    ],
)
def test_bad_weights_are_named(W: Tensor, a: Tensor, b: Tensor | None, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TwoLayerNet(W, a, b)


@pytest.mark.parametrize("shape", [(5,), (4, 3), (2, 4, 5), (3, 4, 6), (1, 3, 4, 5)])
def test_bad_input_shapes_are_named(shape: tuple[int, ...]) -> None:
    net = _net("relu", outputs=1, bias=False)  # E=3, d=5
    x = torch.ones(shape, dtype=F64)
    with pytest.raises(ValueError, match=r"x must be \(n, d\) or \(E, n, d\)"):
        net(x)
    with pytest.raises(ValueError, match="got shape"):
        net.input_grad(x)
