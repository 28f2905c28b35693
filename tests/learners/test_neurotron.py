"""Neuro-Tron (paper 000, Algorithm 1), the square-loss SGD baseline and the input samplers."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

from robustlab.learners.neurotron import (
    BallInputs,
    GaussianInputs,
    LaplaceInputs,
    StudentTInputs,
    neurotron,
    sgd_square_loss,
    square_loss_gradient,
)
from robustlab.models.single_filter import SingleFilterNet, perturbed_mean_sensing
from robustlab.poisoning.oracles import RandomOracle, RealizableOracle

F64 = torch.float64


def _family_net(ensemble: int) -> tuple[SingleFilterNet, torch.Tensor]:
    family = perturbed_mean_sensing(4, 3, 6, generator=torch.Generator().manual_seed(0), dtype=F64)
    return SingleFilterNet(
        family.sensing, torch.zeros(ensemble, 3, dtype=F64), alpha=0.1
    ), family.mean


@pytest.mark.parametrize(
    ("case", "eta", "steps"),
    [("relu_gate", 0.5, 300), ("conv", 2.0, 400), ("family", 0.1, 900)],
)
def test_neurotron_recovers_w_star_without_noise(case: str, eta: float, steps: int) -> None:
    """Theorem II.1 Case I (theta = 0): ||w_T - w*|| <= 1e-4 for every run, Gaussian inputs."""
    g = torch.Generator().manual_seed(11)
    E = 8
    if case == "relu_gate":
        net = SingleFilterNet.relu_gate(torch.zeros(E, 5, dtype=F64))
        M = torch.eye(5, dtype=F64)
    elif case == "conv":
        net = SingleFilterNet.convolutional(torch.zeros(E, 3, dtype=F64), 7, stride=2, alpha=0.2)
        M = net.mean_sensing
    else:
        net, M = _family_net(E)
    w_star = torch.randn(net.filter_size, generator=g, dtype=F64)
    oracle = RandomOracle(net, w_star, theta=0.0)
    result = neurotron(
        net,
        oracle,
        eta=eta,
        steps=steps,
        M=M,
        batch_size=32,
        sampler=GaussianInputs(net.dim, dtype=F64),
        generator=g,
        record_every=100,
    )
    assert float(result.distance[:, 0].min()) > 0.5
    assert float(result.final_distance.max()) < 1e-4
    torch.testing.assert_close(result.final_distance, (result.w - w_star).norm(dim=1))
    assert result.model is not None
    torch.testing.assert_close(result.model.w.detach(), result.w)
    assert result.max_noise == 0.0


def test_one_step_is_algorithm_1() -> None:
    """w_1 = w_0 + eta * mean_j (y_j - f_{w_0}(x_j)) M x_j, checked with an explicit loop."""
    g = torch.Generator().manual_seed(2)
    net, M = _family_net(2)
    x = torch.randn(2 * 4, 6, generator=g, dtype=F64)
    w0 = torch.randn(2, 3, generator=g, dtype=F64)
    w_star = torch.randn(3, generator=g, dtype=F64)
    oracle = RandomOracle(net, w_star, theta=0.0)
    result = neurotron(
        net, oracle, eta=0.07, steps=1, M=M, batch_size=4, sampler=lambda n, gen: x[:n], w0=w0
    )
    xs = x.view(2, 4, 6)
    expected = w0.clone()
    for e in range(2):
        step = torch.zeros(3, dtype=F64)
        for j in range(4):
            xj = xs[e, j : j + 1]
            y = net.output(xj.unsqueeze(0).expand(2, -1, -1), w_star)[e, 0]
            f = net.output(xj.unsqueeze(0).expand(2, -1, -1), w0)[e, 0]
            step += (y - f) * (M @ xs[e, j])
        expected[e] += 0.07 * step / 4
    torch.testing.assert_close(result.w, expected)


def test_square_loss_gradient_is_per_sample_average(generator: torch.Generator) -> None:
    net, _ = _family_net(3)
    w = torch.randn(3, 3, generator=generator, dtype=F64, requires_grad=True)
    x = torch.randn(3, 16, 6, generator=generator, dtype=F64)
    y = torch.randn(3, 16, generator=generator, dtype=F64)
    loss = (0.5 * (net.output(x, w) - y) ** 2).mean(dim=1).sum()
    (auto,) = torch.autograd.grad(loss, w)
    closed = square_loss_gradient(net, x, y, w.detach())
    torch.testing.assert_close(closed, auto)
    # the public implementation's shortcut (first sample's gradient for all) is different
    per_sample = net.per_sample_param_grad(x, w=w.detach())
    residual = net.output(x, w.detach()) - y
    first_only = residual.mean(dim=1, keepdim=True) * per_sample[:, 0]
    assert (closed - first_only).abs().max() > 1e-3


def test_sgd_recovers_w_star_without_noise() -> None:
    g = torch.Generator().manual_seed(5)
    net = SingleFilterNet.relu_gate(torch.zeros(6, 5, dtype=F64))
    w_star = torch.randn(5, generator=g, dtype=F64)
    w0 = w_star + 0.3 * torch.randn(6, 5, generator=g, dtype=F64)
    result = sgd_square_loss(
        net,
        RandomOracle(net, w_star, theta=0.0),
        eta=0.5,
        steps=300,
        batch_size=32,
        sampler=GaussianInputs(5, dtype=F64),
        w0=w0,
        generator=g,
        record_every=50,
    )
    assert float(result.final_distance.max()) < 1e-6


def test_realizable_attack_sends_neurotron_to_w_adv() -> None:
    """Paper 000 section II-A: under xi = f_{w_adv} - f_{w*} the error is ||w_adv - w*||."""
    g = torch.Generator().manual_seed(8)
    net = SingleFilterNet.relu_gate(torch.zeros(4, 3, dtype=F64))
    w_star = torch.tensor([1.0, 0.5, -0.5], dtype=F64)
    w_adv = w_star + torch.tensor([0.2, -0.1, 0.0], dtype=F64)
    theta = float(RealizableOracle.noise_bound(net, w_star, w_adv, radius=3.0))
    oracle = RealizableOracle(net, w_star, w_adv, theta=theta)
    result = neurotron(
        net,
        oracle,
        eta=1.0,
        steps=400,
        M=torch.eye(3, dtype=F64),
        batch_size=32,
        sampler=BallInputs(3, 3.0, dtype=F64),
        generator=g,
    )
    assert float((result.w - w_adv).norm(dim=1).max()) < 1e-6
    torch.testing.assert_close(
        result.final_distance, (w_adv - w_star).norm().expand(4), rtol=1e-6, atol=0
    )
    assert 0 < result.max_noise <= theta


def test_trace_layout_and_reproducibility() -> None:
    net = SingleFilterNet.relu_gate(torch.zeros(3, 4))
    w_star = torch.ones(4)
    runs = [
        neurotron(
            net,
            RandomOracle(net, w_star, theta=0.1),
            eta=0.1,
            steps=25,
            M=torch.eye(4),
            batch_size=2,
            sampler=GaussianInputs(4),
            generator=torch.Generator().manual_seed(0),
            record_every=10,
        )
        for _ in range(2)
    ]
    assert runs[0].steps.tolist() == [0, 10, 20, 25]
    assert runs[0].distance.shape == (3, 4)
    torch.testing.assert_close(runs[0].distance[:, 0], torch.full((3,), 2.0))
    assert torch.equal(runs[0].w, runs[1].w)
    assert runs[0].max_noise == pytest.approx(0.1)


def test_divergent_runs_are_reported_not_raised() -> None:
    net = SingleFilterNet.relu_gate(torch.zeros(2, 3, dtype=F64))
    result = neurotron(
        net,
        RandomOracle(net, torch.ones(3, dtype=F64), theta=0.0),
        eta=1e3,
        steps=400,
        M=torch.eye(3, dtype=F64),
        sampler=GaussianInputs(3, dtype=F64),
        generator=torch.Generator().manual_seed(0),
        record_every=50,
    )
    assert not torch.isfinite(result.w).all()
    assert result.model is None
    assert not torch.isfinite(result.final_distance).any()


def test_learner_validation() -> None:
    net = SingleFilterNet.relu_gate(torch.zeros(2, 3))
    oracle = RandomOracle(net, torch.ones(3), theta=0.0)
    sampler = GaussianInputs(3)
    with pytest.raises(ValueError, match="M must be"):
        neurotron(net, oracle, eta=0.1, steps=1, M=torch.eye(4), sampler=sampler)
    with pytest.raises(ValueError, match="eta"):
        neurotron(net, oracle, eta=0.0, steps=1, M=torch.eye(3), sampler=sampler)
    with pytest.raises(ValueError, match="steps"):
        sgd_square_loss(net, oracle, eta=0.1, steps=0, sampler=sampler)
    with pytest.raises(ValueError, match="w0"):
        sgd_square_loss(net, oracle, eta=0.1, steps=1, sampler=sampler, w0=torch.zeros(3, 3))


@pytest.mark.parametrize(
    ("sampler", "variance"),
    [
        (GaussianInputs(3, sigma=2.0, dtype=F64), 4.0),
        (LaplaceInputs(3, scale=2.0, dtype=F64), 8.0),
        (StudentTInputs(3, df=10.0, dtype=F64), 10.0 / 8.0),
    ],
)
def test_samplers_reproducible_symmetric_with_known_variance(
    sampler: GaussianInputs | LaplaceInputs | StudentTInputs, variance: float
) -> None:
    x = sampler(100_000, torch.Generator().manual_seed(4))
    again = sampler(100_000, torch.Generator().manual_seed(4))
    assert torch.equal(x, again)
    assert x.shape == (100_000, 3) and x.dtype == F64
    # 300k draws: the sample variance has relative sd <= sqrt((kurtosis - 1) / 3e5) < 0.01
    assert float(x.var()) == pytest.approx(variance, rel=0.05)
    assert abs(float(x.mean())) < 5 * math.sqrt(variance / 3e5)


def test_laplace_and_student_shapes_of_tails() -> None:
    g = torch.Generator().manual_seed(9)
    lap = LaplaceInputs(1, scale=1.0, dtype=F64)(200_000, g)
    # P(|x| > 3) = e^-3 for Laplace(1)
    assert float((lap.abs() > 3).to(F64).mean()) == pytest.approx(math.exp(-3), rel=0.05)
    t3 = StudentTInputs(1, df=3.0, dtype=F64)(200_000, g)
    tail = 2 * float(stats.t.sf(3.0, 3.0))
    assert float((t3.abs() > 3).to(F64).mean()) == pytest.approx(tail, rel=0.05)


def test_ball_inputs_stay_in_the_ball() -> None:
    x = BallInputs(4, radius=2.5, dtype=F64)(20_000, torch.Generator().manual_seed(1))
    norms = x.norm(dim=1)
    assert float(norms.max()) <= 2.5
    # E||x||^2 = R^2 n / (n + 2)
    assert float((norms**2).mean()) == pytest.approx(2.5**2 * 4 / 6, rel=0.02)


def test_published_sgd_uses_the_first_samples_gradient_for_every_residual() -> None:
    """gradient="first-sample": one step equals eta * mean_j (y_j - f(x_j)) grad f(x_1), built by
    hand from per-sample gradients; the default uses each sample's own gradient."""
    g = torch.Generator().manual_seed(11)
    net = SingleFilterNet.relu_gate(torch.zeros(3, 4, dtype=F64))
    w_star = torch.randn(4, generator=g, dtype=F64)
    w0 = torch.randn(3, 4, generator=g, dtype=F64)
    sampler = GaussianInputs(4, dtype=F64)
    x = sampler(3 * 5, torch.Generator().manual_seed(3)).view(3, 5, 4)
    residual = net.output(x, w_star.expand(3, -1)) - net.output(x, w0)  # y - f, theta = 0
    per_sample = net.per_sample_param_grad(x, w=w0)  # (E, N, r)
    expected = {
        "per-sample": (residual.unsqueeze(-1) * per_sample).mean(dim=1),
        "first-sample": residual.mean(dim=1, keepdim=True) * per_sample[:, 0],
    }
    for gradient, direction in expected.items():
        result = sgd_square_loss(
            net,
            RandomOracle(net, w_star, theta=0.0),
            eta=0.1,
            steps=1,
            batch_size=5,
            sampler=sampler,
            w0=w0,
            generator=torch.Generator().manual_seed(3),
            gradient=gradient,  # type: ignore[arg-type]
        )
        torch.testing.assert_close(result.w, w0 + 0.1 * direction)
    assert not torch.allclose(expected["per-sample"], expected["first-sample"])
    with pytest.raises(ValueError, match="gradient must be one of"):
        sgd_square_loss(
            net,
            RandomOracle(net, w_star, theta=0.0),
            eta=0.1,
            steps=1,
            sampler=sampler,
            gradient="last-sample",  # type: ignore[arg-type]
        )
