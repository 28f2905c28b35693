"""Bounded label-noise oracles of paper 000: |xi| <= theta, running max, adaptivity, refusal."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from robustlab.models.single_filter import SingleFilterNet, conv_sensing
from robustlab.poisoning.oracles import (
    AdversarialOracle,
    LabelOracle,
    RandomOracle,
    RealizableOracle,
)

F64 = torch.float64


def _net(ensemble: int = 3) -> SingleFilterNet:
    return SingleFilterNet(
        conv_sensing(7, 3, stride=2, dtype=F64), torch.zeros(ensemble, 3, dtype=F64)
    )


W_STAR = torch.tensor([1.0, -0.5, 0.25], dtype=F64)


@settings(max_examples=60, deadline=None)
@given(
    theta=st.floats(0.0, 10.0),
    beta=st.floats(0.0, 1.0),
    kind=st.sampled_from(["sign", "uniform", "alternating"]),
    seed=st.integers(0, 2**31 - 1),
    batches=st.integers(1, 4),
)
def test_random_oracle_never_exceeds_theta(
    theta: float, beta: float, kind: str, seed: int, batches: int
) -> None:
    net = _net()
    oracle = RandomOracle(net, W_STAR, theta=theta, beta=beta, kind=kind)  # type: ignore[arg-type]
    g = torch.Generator().manual_seed(seed)
    seen = 0.0
    for _ in range(batches):
        x = torch.randn(3, 9, 7, generator=g, dtype=F64)
        answer = oracle.labels(x, net.w.detach(), g)
        assert answer.y.shape == answer.xi.shape == (3, 9)
        assert float(answer.xi.abs().max()) <= theta
        torch.testing.assert_close(answer.y - net.output(x, W_STAR), answer.xi)
        seen = max(seen, float(answer.xi.abs().max()))
        assert oracle.max_noise_used == seen
    oracle.reset()
    assert oracle.max_noise_used == 0.0


@settings(max_examples=60, deadline=None)
@given(theta=st.floats(0.0, 10.0), beta=st.floats(0.0, 1.0), seed=st.integers(0, 2**31 - 1))
def test_adversarial_oracle_never_exceeds_theta_and_maximizes_push(
    theta: float, beta: float, seed: int
) -> None:
    """xi = theta sign((w - w*)^T M x) maximizes sum_j xi_j (w - w*)^T M x_j over |xi| <= theta."""
    net = _net()
    g = torch.Generator().manual_seed(seed)
    M = torch.randn(3, 7, generator=g, dtype=F64)
    oracle = AdversarialOracle(net, W_STAR, theta=theta, M=M, beta=beta)
    w = torch.randn(3, 3, generator=g, dtype=F64)
    x = torch.randn(3, 11, 7, generator=g, dtype=F64)
    answer = oracle.labels(x, w, g)
    assert float(answer.xi.abs().max()) <= theta
    assert oracle.max_noise_used == float(answer.xi.abs().max())
    push = torch.einsum("er,rn,ejn->ej", w - W_STAR, M, x)
    if beta == 1.0:
        # the first-order term of ||w_{t+1} - w*||^2 is at its maximum theta * |push|
        torch.testing.assert_close(answer.xi * push, theta * push.abs())
    gain = (answer.xi * push).sum(dim=1)
    for _ in range(5):
        other = (torch.rand(3, 11, generator=g, dtype=F64) * 2 - 1) * theta * (answer.xi != 0)
        assert ((other * push).sum(dim=1) <= gain + 1e-12).all()


def test_adversarial_oracle_moves_neurotron_away() -> None:
    """One Neuro-Tron step against the adversary ends farther from w* than with clean labels."""
    net = _net(ensemble=1)
    g = torch.Generator().manual_seed(0)
    M = net.mean_sensing
    oracle = AdversarialOracle(net, W_STAR, theta=0.5, M=M)
    w = W_STAR.unsqueeze(0) + 0.01
    x = torch.randn(1, 64, 7, generator=g, dtype=F64)
    answer = oracle.labels(x, w, g)
    clean = net.output(x, W_STAR)

    def step(y: torch.Tensor) -> torch.Tensor:
        residual = y - net.output(x, w)
        return w + 0.01 * (residual.unsqueeze(-1) * (x @ M.T)).mean(dim=1)

    attacked = (step(answer.y) - W_STAR).norm()
    assert attacked > (step(clean) - W_STAR).norm()
    assert attacked > (w - W_STAR).norm()


def test_attack_probability(generator: torch.Generator) -> None:
    net = _net(ensemble=4)
    oracle = RandomOracle(net, W_STAR, theta=1.0, beta=0.3)
    x = torch.randn(4, 5000, 7, generator=generator, dtype=F64)
    xi = oracle.labels(x, net.w.detach(), generator).xi
    fraction = float((xi != 0).to(F64).mean())
    assert abs(fraction - 0.3) < 0.02  # 20000 Bernoulli(0.3) draws: sd 0.0032
    assert set(xi.abs().unique().tolist()) == {0.0, 1.0}
    none = RandomOracle(net, W_STAR, theta=1.0, beta=0.0).labels(x, net.w.detach(), generator)
    assert torch.equal(none.xi, torch.zeros_like(none.xi))


def test_alternating_pattern(generator: torch.Generator) -> None:
    net = _net(ensemble=2)
    oracle = RandomOracle(net, W_STAR, theta=2.0, kind="alternating")
    xi = oracle.labels(torch.randn(5, 7, generator=generator, dtype=F64), net.w.detach()).xi
    expected = torch.tensor([-2.0, 2.0, -2.0, 2.0, -2.0], dtype=F64).expand(2, 5)
    assert torch.equal(xi, expected)


def test_uniform_noise_spreads(generator: torch.Generator) -> None:
    net = _net(ensemble=1)
    oracle = RandomOracle(net, W_STAR, theta=1.0, kind="uniform")
    xi = oracle.labels(torch.randn(20000, 7, generator=generator, dtype=F64), net.w, generator).xi
    assert abs(float(xi.mean())) < 0.02 and abs(float(xi.var()) - 1 / 3) < 0.02


def test_realizable_labels_are_w_adv(generator: torch.Generator) -> None:
    net = _net(ensemble=2)
    w_adv = W_STAR + torch.tensor([0.1, 0.0, -0.1], dtype=F64)
    x = torch.randn(2, 50, 7, generator=generator, dtype=F64)
    needed = RealizableOracle.theta_for(net, W_STAR, w_adv, x)
    gap = (net.output(x, w_adv) - net.output(x, W_STAR)).abs().max()
    assert needed == pytest.approx(float(gap))
    oracle = RealizableOracle.for_data(net, W_STAR, w_adv, x)
    assert oracle.theta == needed
    answer = oracle.labels(x, net.w.detach())
    torch.testing.assert_close(answer.y, net.output(x, w_adv))
    assert oracle.max_noise_used == pytest.approx(needed)
    strict = RealizableOracle(net, W_STAR, w_adv, theta=0.5 * needed)
    with pytest.raises(ValueError, match="above theta"):
        strict.labels(x, net.w.detach())
    assert strict.max_noise_used == 0.0


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), radius=st.floats(0.1, 10.0))
def test_realizable_noise_bound_holds_on_the_ball(seed: int, radius: float) -> None:
    g = torch.Generator().manual_seed(seed)
    net = _net(ensemble=1)
    w_adv = W_STAR + torch.randn(3, generator=g, dtype=F64)
    x = torch.randn(200, 7, generator=g, dtype=F64)
    x = x / x.norm(dim=1, keepdim=True) * radius * torch.rand(200, 1, generator=g, dtype=F64)
    bound = float(RealizableOracle.noise_bound(net, W_STAR, w_adv, radius=radius))
    assert RealizableOracle.theta_for(net, W_STAR, w_adv, x) <= bound * (1 + 1e-12)


def test_realizable_noise_bound_for_relu_gate_is_paper_beta() -> None:
    net = SingleFilterNet.relu_gate(torch.zeros(1, 4, dtype=F64))
    w_star = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=F64)
    w_adv = torch.tensor([1.0, 0.3, -0.4, 0.0], dtype=F64)
    bound = RealizableOracle.noise_bound(net, w_star, w_adv, radius=2.0)
    assert float(bound) == pytest.approx(2.0 * 0.5)  # beta = r ||w_adv - w*|| (section II-A)


def test_protocol_and_validation() -> None:
    net = _net()
    M = torch.zeros(3, 7, dtype=F64)
    for oracle in (
        RandomOracle(net, W_STAR, theta=1.0),
        AdversarialOracle(net, W_STAR, theta=1.0, M=M),
        RealizableOracle(net, W_STAR, W_STAR, theta=0.0),
    ):
        assert isinstance(oracle, LabelOracle)
    with pytest.raises(ValueError, match="theta"):
        RandomOracle(net, W_STAR, theta=-1.0)
    with pytest.raises(ValueError, match="beta"):
        RandomOracle(net, W_STAR, theta=1.0, beta=1.5)
    with pytest.raises(ValueError, match="kind"):
        RandomOracle(net, W_STAR, theta=1.0, kind="gauss")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="M must be"):
        AdversarialOracle(net, W_STAR, theta=1.0, M=torch.zeros(3, 6))
    with pytest.raises(ValueError, match="w_star"):
        RandomOracle(net, torch.zeros(4), theta=1.0)


# --------------------------------------------------------------------------- per-member oracles
def _member_setup(E: int) -> tuple[SingleFilterNet, Tensor, Tensor, Tensor, Tensor]:
    g = torch.Generator().manual_seed(E)
    net = _net(ensemble=E)
    w_star = torch.randn(E, 3, generator=g, dtype=F64)
    w = torch.randn(E, 3, generator=g, dtype=F64)
    x = torch.randn(E, 9, 7, generator=g, dtype=F64)
    M = torch.randn(3, 7, generator=g, dtype=F64)
    return net, w_star, w, x, M


@pytest.mark.parametrize("kind", ["sign", "uniform", "alternating"])
def test_per_member_theta_scales_the_unit_oracle_member_by_member(kind: str) -> None:
    """theta_e per member: member e's noise is theta_e times the theta = 1 oracle's noise."""
    net, w_star, w, x, _ = _member_setup(4)
    theta = torch.tensor([0.0, 0.5, 1.0, 3.0], dtype=F64)
    unit = RandomOracle(net, w_star, theta=1.0, beta=0.4, kind=kind)  # type: ignore[arg-type]
    grid = RandomOracle(net, w_star, theta=theta, beta=0.4, kind=kind)  # type: ignore[arg-type]
    a = unit.labels(x, w, torch.Generator().manual_seed(3))
    b = grid.labels(x, w, torch.Generator().manual_seed(3))
    torch.testing.assert_close(b.xi, theta[:, None] * a.xi)
    assert grid.attacked.tolist() == (a.xi != 0).sum(dim=1).tolist()
    assert grid.theta == 3.0 and torch.equal(grid.thetas, theta)
    torch.testing.assert_close(grid.max_noise, b.xi.abs().amax(dim=1))
    assert grid.labels_seen == 9


def test_per_member_beta_attacks_each_member_at_its_own_rate() -> None:
    net, w_star, w, _, _ = _member_setup(3)
    beta = torch.tensor([1.0, 0.0, 0.3], dtype=F64)
    oracle = RandomOracle(net, w_star, theta=2.0, beta=beta, kind="uniform")
    x = torch.randn(3, 4000, 7, generator=torch.Generator().manual_seed(0), dtype=F64)
    xi = oracle.labels(x, w, torch.Generator().manual_seed(1)).xi
    assert bool((xi.abs() <= 2.0).all())
    assert bool((xi[0] != 0).all()) and bool((xi[1] == 0).all())
    assert abs(float((xi[2] != 0).double().mean()) - 0.3) < 0.03  # sd 0.007
    assert oracle.attacked.tolist()[:2] == [4000, 0]


def test_per_member_adversarial_oracle() -> None:
    net, w_star, w, x, M = _member_setup(3)
    theta = torch.tensor([0.1, 0.2, 0.4], dtype=F64)
    unit = AdversarialOracle(net, w_star, theta=1.0, M=M, beta=0.6)
    grid = AdversarialOracle(net, w_star, theta=theta, M=M, beta=torch.full((3,), 0.6))
    a = unit.labels(x, w, torch.Generator().manual_seed(5))
    b = grid.labels(x, w, torch.Generator().manual_seed(5))
    torch.testing.assert_close(b.xi, theta[:, None] * a.xi)


def test_realizable_oracle_clips_per_member_and_counts() -> None:
    net, w_star, w, x, _ = _member_setup(3)
    w_adv = w_star + torch.randn(3, 3, generator=torch.Generator().manual_seed(1), dtype=F64)
    gap = net.output(x, w_adv) - net.output(x, w_star)
    big = torch.full((3,), float(gap.abs().max()) + 1.0, dtype=F64)
    loose = RealizableOracle(net, w_star, w_adv, theta=big, clip=True)
    torch.testing.assert_close(loose.labels(x, w).y, net.output(x, w_adv))
    assert int(loose.clipped.sum()) == 0
    small = torch.tensor([0.01, 0.1, 0.0], dtype=F64)
    tight = RealizableOracle(net, w_star, w_adv, theta=small, clip=True)
    xi = tight.labels(x, w).xi
    assert bool((xi.abs() <= small[:, None]).all())
    assert tight.clipped.tolist() == (gap.abs() > small[:, None]).sum(dim=1).tolist()
    with pytest.raises(ValueError, match="realizable attack needs"):
        RealizableOracle(net, w_star, w_adv, theta=small).labels(x, w)


def test_per_member_shapes_are_checked() -> None:
    net, w_star, _, _, _ = _member_setup(3)
    with pytest.raises(ValueError, match="one value per member"):
        RandomOracle(net, w_star, theta=torch.ones(2))
    with pytest.raises(ValueError, match="beta"):
        RandomOracle(net, w_star, theta=1.0, beta=torch.tensor([0.5, 1.5, 0.0]))
    with pytest.raises(ValueError, match="w_star"):
        RandomOracle(net, w_star[:2], theta=1.0)
