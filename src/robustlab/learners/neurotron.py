"""Neuro-Tron (paper 000, Algorithm 1) and the square-loss SGD baseline, for E runs at once.

Algorithm 1 (Neuro-Tron): sample x_t ~ D_in, query the oracle for y_t = f_{w*}(x_t) + xi_t and
step w_{t+1} = w_t + eta * (y_t - f_{w_t}(x_t)) M x_t. It is not a gradient method: the update
never differentiates the activation. With a minibatch of b samples the step uses the average of
the b per-sample directions, as in the later version's experiments.

The baseline `sgd_square_loss` is minibatch SGD on (1/2)(f_w(x) - y)^2 with the exact per-sample
gradient (1/k) sum_i sigma'(w^T A_i x_j) A_i x_j for every sample j. The published
implementation of those experiments multiplied every sample's residual by the *first* sample's
gradient; `gradient="first-sample"` reproduces it, as a named option beside the correct default.

Input samplers for the later version's experiments (Gaussian, Laplace, Student-t) and a uniform
ball (bounded support, for the realizable w_adv attack) draw from an explicit generator.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from robustlab import _checks
from robustlab.models.single_filter import SingleFilterNet
from robustlab.poisoning.oracles import LabelOracle

logger = logging.getLogger(__name__)

Sampler = Callable[[int, torch.Generator | None], Tensor]
"""An input distribution: (number of samples N, generator) -> x of shape (N, n)."""


# --------------------------------------------------------------------------- input samplers
def _check_dim(dim: int) -> None:
    _checks.integer("dim", dim, low=1)


@dataclass(frozen=True)
class GaussianInputs:
    """x ~ N(0, sigma^2 I_n) (paper 000 Lemma II.2; the later version's simulation 1)."""

    dim: int
    sigma: float = 1.0
    dtype: torch.dtype = torch.float32

    def __post_init__(self) -> None:
        _check_dim(self.dim)
        _checks.real("sigma", self.sigma)
        if not self.sigma > 0:
            raise ValueError(f"sigma must be > 0, got {self.sigma}")

    def __call__(self, num: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.randn(num, self.dim, generator=generator, dtype=self.dtype) * self.sigma


@dataclass(frozen=True)
class LaplaceInputs:
    """i.i.d. Laplace(0, scale) coordinates, density exp(-|x|/b)/(2b) (later version, sim. 2)."""

    dim: int
    scale: float = 1.0
    dtype: torch.dtype = torch.float32

    def __post_init__(self) -> None:
        _check_dim(self.dim)
        _checks.real("scale", self.scale)
        if not self.scale > 0:
            raise ValueError(f"scale must be > 0, got {self.scale}")

    def __call__(self, num: int, generator: torch.Generator | None = None) -> Tensor:
        # Difference of two Exp(1) variables; 1 - U lies in (0, 1], so the logs are finite.
        u = 1 - torch.rand(2, num, self.dim, generator=generator, dtype=torch.float64)
        return (self.scale * (torch.log(u[1]) - torch.log(u[0]))).to(self.dtype)


@dataclass(frozen=True)
class StudentTInputs:
    """i.i.d. Student-t coordinates with df degrees of freedom (later version, sims. 3-6).

    x = Z / sqrt(V / df) with Z ~ N(0, 1) and V ~ chi^2_df. Heavy tailed: E||x||^4 (m_4 of
    Theorem II.1) is finite only for df > 4.
    """

    dim: int
    df: float = 5.0
    dtype: torch.dtype = torch.float32

    def __post_init__(self) -> None:
        _check_dim(self.dim)
        _checks.real("df", self.df)
        if not self.df > 0:
            raise ValueError(f"df must be > 0, got {self.df}")

    def __call__(self, num: int, generator: torch.Generator | None = None) -> Tensor:
        normal = torch.randn(num, self.dim, generator=generator, dtype=torch.float64)
        shape = torch.full((num, self.dim), self.df / 2, dtype=torch.float64)
        chi2 = 2 * torch._standard_gamma(shape, generator=generator)
        return (normal / torch.sqrt(chi2 / self.df)).to(self.dtype)


@dataclass(frozen=True)
class BallInputs:
    """x uniform in the ball ||x|| <= radius: parity symmetric with bounded support.

    Bounded support makes sup_x |f_{w_adv}(x) - f_{w*}(x)| finite, as the realizable attack of
    paper 000 section II-A requires.
    """

    dim: int
    radius: float = 1.0
    dtype: torch.dtype = torch.float32

    def __post_init__(self) -> None:
        _check_dim(self.dim)
        _checks.real("radius", self.radius)
        if not self.radius > 0:
            raise ValueError(f"radius must be > 0, got {self.radius}")

    def __call__(self, num: int, generator: torch.Generator | None = None) -> Tensor:
        direction = torch.randn(num, self.dim, generator=generator, dtype=torch.float64)
        direction = direction / direction.norm(dim=1, keepdim=True).clamp_min(1e-300)
        radial = torch.rand(num, 1, generator=generator, dtype=torch.float64) ** (1 / self.dim)
        x: Tensor = (direction * radial * self.radius).to(self.dtype)
        return x


# --------------------------------------------------------------------------- learners
@dataclass(frozen=True)
class FilterLearningResult:
    """Outcome of E independent runs on a single-filter net.

    w: final filters (E, r); steps: iterations at which the trace was recorded (R,), starting
    with 0 (the initial point) and ending with the last step; distance: ||w_t - w*|| at those
    iterations (E, R); max_noise: largest |xi| the oracle returned during the run; model: a
    copy of the net holding the final filters, None when some run diverged to inf/NaN (w and
    distance then show which).
    """

    w: Tensor
    steps: Tensor
    distance: Tensor
    max_noise: float
    model: SingleFilterNet | None

    @property
    def final_distance(self) -> Tensor:
        """||w_T - w*||: (E,)."""
        return self.distance[:, -1]


Direction = Callable[[SingleFilterNet, Tensor, Tensor, Tensor], Tensor]
"""(model, x (E, N, n), residual y - f_w(x) (E, N), w (E, r)) -> ascent direction (E, r)."""


def _check_hyper(eta: float, steps: int, batch_size: int, record_every: int) -> None:
    _checks.real("eta", eta)
    _checks.counts(steps=steps, batch_size=batch_size)
    _checks.counts(record_every=record_every)
    if not (math.isfinite(eta) and eta > 0):
        raise ValueError(f"eta must be a finite number > 0, got {eta}")
    for name, value in (("steps", steps), ("batch_size", batch_size)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if record_every < 1:
        raise ValueError(f"record_every must be >= 1, got {record_every}")


def _start(model: SingleFilterNet, w0: Tensor | None) -> Tensor:
    if w0 is None:
        return model.w.detach().clone()
    _checks.tensor("w0", w0, floating=True)
    w = w0.detach().to(model.w.dtype)
    if w.ndim == 1:
        w = w.unsqueeze(0).expand(model.ensemble, -1)
    if w.shape != (model.ensemble, model.filter_size):
        raise ValueError(
            f"w0 must be (r,) or (E, r) = {(model.ensemble, model.filter_size)}, "
            f"got {tuple(w0.shape)}"
        )
    return w.clone()


def _run(
    model: SingleFilterNet,
    oracle: LabelOracle,
    direction: Direction,
    *,
    eta: float,
    steps: int,
    batch_size: int,
    sampler: Sampler,
    w0: Tensor | None,
    generator: torch.Generator | None,
    record_every: int,
) -> FilterLearningResult:
    """The loop shared by both learners: w <- w + eta * direction, E runs batched."""
    _checks.module("model", model)
    _checks.callable_("sampler", sampler)
    _checks.callable_("oracle.labels", getattr(oracle, "labels", None))
    _checks.generator_(generator)
    _check_hyper(eta, steps, batch_size, record_every)
    w = _start(model, w0)
    E, dtype = model.ensemble, model.w.dtype
    w_star = oracle.w_star.to(dtype)
    recorded_steps = [0]
    distances = [(w - w_star).norm(dim=-1)]
    with torch.no_grad():
        for t in range(1, steps + 1):
            x = sampler(E * batch_size, generator).to(w.device, dtype)  # drawn on the CPU
            x = x.view(E, batch_size, model.dim)
            answer = oracle.labels(x, w, generator)
            residual = answer.y.to(dtype) - model.output(x, w)
            w = w + eta * direction(model, x, residual, w)
            if t % record_every == 0 or t == steps:
                recorded_steps.append(t)
                distances.append((w - w_star).norm(dim=-1))
    distance = torch.stack([d.expand(E) for d in distances], dim=1)
    finite = bool(torch.isfinite(w).all())
    if not finite:
        diverged = int((~torch.isfinite(w)).any(dim=1).sum())
        logger.warning("%d of %d runs diverged (eta=%g)", diverged, E, eta)
    return FilterLearningResult(
        w=w,
        steps=torch.tensor(recorded_steps, dtype=torch.int64),
        distance=distance,
        max_noise=oracle.max_noise_used,
        model=model.with_weights(w) if finite else None,
    )


def neurotron_direction(M: Tensor) -> Direction:
    """g = mean_j (y_j - f_w(x_j)) M x_j (paper 000, Algorithm 1, averaged over the minibatch)."""

    def direction(model: SingleFilterNet, x: Tensor, residual: Tensor, w: Tensor) -> Tensor:
        mixed = torch.matmul(residual.unsqueeze(1), x).squeeze(1) / x.shape[1]
        return torch.matmul(mixed, M.to(x.dtype).T)

    return direction


def square_loss_gradient(model: SingleFilterNet, x: Tensor, y: Tensor, w: Tensor) -> Tensor:
    """grad_w of mean_j (1/2)(f_w(x_j) - y_j)^2 with each sample's own gradient: (E, r).

    = mean_j (f_w(x_j) - y_j) (1/k) sum_i sigma'(w^T A_i x_j) A_i x_j.
    x: (N, n) or (E, N, n); y: (N,) or (E, N); w: (E, r).
    """
    residual = model.output(x, w) - y
    return model.param_grad(x, residual / x.shape[-2], w=w)


def neurotron(
    model: SingleFilterNet,
    oracle: LabelOracle,
    *,
    eta: float,
    steps: int,
    M: Tensor,
    batch_size: int = 1,
    sampler: Sampler,
    w0: Tensor | None = None,
    generator: torch.Generator | None = None,
    record_every: int = 1,
) -> FilterLearningResult:
    """Neuro-Tron, paper 000 Algorithm 1: w <- w + eta * mean_j (y_j - f_w(x_j)) M x_j.

    Runs the net's E members as independent runs (each draws its own minibatch of
    `batch_size` inputs per step from `sampler`). M: (r, n); w0: (r,) or (E, r), default the
    net's current filters; the oracle's w* defines the traced distance ||w_t - w*||.
    Theorem II.1 gives the step size and horizon (see `robustlab.theory.neurotron`).
    Raises ValueError for M of the wrong shape or non-positive eta, steps, batch_size.
    """
    _checks.tensor("M", M, floating=True)
    if M.shape != (model.filter_size, model.dim):
        raise ValueError(
            f"M must be (r, n) = {(model.filter_size, model.dim)}, got {tuple(M.shape)}"
        )
    return _run(
        model,
        oracle,
        neurotron_direction(M.detach()),
        eta=eta,
        steps=steps,
        batch_size=batch_size,
        sampler=sampler,
        w0=w0,
        generator=generator,
        record_every=record_every,
    )


def _sgd_direction(model: SingleFilterNet, x: Tensor, residual: Tensor, w: Tensor) -> Tensor:
    # residual = y - f, so the descent direction -grad is grad_w of mean_j residual_j f(x_j).
    return model.param_grad(x, residual / x.shape[1], w=w)


def _first_sample_direction(
    model: SingleFilterNet, x: Tensor, residual: Tensor, w: Tensor
) -> Tensor:
    # The published baseline: mean_j residual_j * grad_w f(x_1), the first sample's gradient.
    return model.param_grad(x[:, :1], residual.mean(dim=1, keepdim=True), w=w)


SgdGradient = Literal["per-sample", "first-sample"]
SGD_GRADIENTS: tuple[SgdGradient, ...] = ("per-sample", "first-sample")


def sgd_square_loss(
    model: SingleFilterNet,
    oracle: LabelOracle,
    *,
    eta: float,
    steps: int,
    batch_size: int = 1,
    sampler: Sampler,
    w0: Tensor | None = None,
    generator: torch.Generator | None = None,
    record_every: int = 1,
    gradient: SgdGradient = "per-sample",
) -> FilterLearningResult:
    """Minibatch SGD on (1/2)(f_w(x) - y)^2, the baseline of the later version's experiments.

    gradient="per-sample" (default, correct): w <- w - eta * mean_j (f_w(x_j) - y_j)
    grad_w f_w(x_j), each sample with its own gradient (`square_loss_gradient`).
    gradient="first-sample": the published baseline, w <- w - eta * mean_j (f_w(x_j) - y_j)
    grad_w f_w(x_1), every residual times the minibatch's first gradient (equal for b = 1).
    Same interface and result as `neurotron`, without M. Raises ValueError for non-positive
    eta, steps or batch_size, or an unknown gradient.
    """
    if gradient not in SGD_GRADIENTS:
        raise ValueError(f"gradient must be one of {', '.join(SGD_GRADIENTS)}, got {gradient!r}")
    return _run(
        model,
        oracle,
        _sgd_direction if gradient == "per-sample" else _first_sample_direction,
        eta=eta,
        steps=steps,
        batch_size=batch_size,
        sampler=sampler,
        w0=w0,
        generator=generator,
        record_every=record_every,
    )
