"""Label oracles with bounded additive noise for regression on single-filter nets (paper 000).

Paper 000, section I-A ("Optimization with an Adversarial Oracle"): queried at x, the oracle
answers y = f_{w*}(x) + xi_x with |xi_x| <= theta, and xi may depend on anything (the data so far,
w*, the learner's current iterate). Three oracles share one typed interface, `LabelOracle`:

- `RandomOracle`: xi = +-theta with a random sign, uniform on [-theta, theta], or the published
  experiments' alternating +-theta pattern; each sample is attacked with probability beta.
- `AdversarialOracle`: adaptive; xi = theta * sign((w_t - w*)^T M x) pushes the Neuro-Tron
  iterate away from w* (derivation in its docstring).
- `RealizableOracle`: xi = f_{w_adv}(x) - f_{w*}(x), so the labels are exactly realizable by
  w_adv (section II-A, the near-optimality construction); it refuses a batch where |xi| > theta.

Every oracle keeps the running maximum of |xi| it has returned (`max_noise_used`) and raises
rather than return a |xi| above its theta. Shapes: x (N, n) or (E, N, n), w_current (E, r),
w_star (r,) or (E, r); labels and noise are (E, N).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import torch
from torch import Tensor

from robustlab.geometry import draw_device
from robustlab.models.single_filter import SingleFilterNet

RANDOM_KINDS = ("sign", "uniform", "alternating")
RandomKind = Literal["sign", "uniform", "alternating"]


@dataclass(frozen=True)
class OracleLabels:
    """One batch of oracle answers: labels y = f_{w*}(x) + xi and the noise xi, both (E, N)."""

    y: Tensor
    xi: Tensor


@runtime_checkable
class LabelOracle(Protocol):
    """Answers y = f_{w*}(x) + xi_x with |xi_x| <= theta (paper 000, section I-A)."""

    @property
    def theta(self) -> float: ...

    @property
    def w_star(self) -> Tensor: ...

    @property
    def max_noise_used(self) -> float: ...

    def labels(
        self, x: Tensor, w_current: Tensor, generator: torch.Generator | None = None
    ) -> OracleLabels: ...


def _check_theta(theta: float) -> float:
    if not math.isfinite(theta) or theta < 0:
        raise ValueError(f"theta must be a finite number >= 0, got {theta}")
    return float(theta)


def _check_beta(beta: float) -> float:
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"attack probability beta must be in [0, 1], got {beta}")
    return float(beta)


class _BoundedOracle:
    """Shared bookkeeping: the model, w*, theta and the running maximum of |xi|."""

    def __init__(self, model: SingleFilterNet, w_star: Tensor, theta: float) -> None:
        if w_star.ndim not in (1, 2) or w_star.shape[-1] != model.filter_size:
            raise ValueError(
                f"w_star must be (r,) or (E, r) with r={model.filter_size}, "
                f"got shape {tuple(w_star.shape)}"
            )
        self._model = model
        self._w_star = w_star.detach().clone()
        self._theta = _check_theta(theta)
        self._max_noise = 0.0

    @property
    def theta(self) -> float:
        return self._theta

    @property
    def w_star(self) -> Tensor:
        return self._w_star

    @property
    def max_noise_used(self) -> float:
        """Largest |xi| returned since construction or the last `reset`."""
        return self._max_noise

    def reset(self) -> None:
        """Forget the running maximum of |xi|."""
        self._max_noise = 0.0

    def clean_labels(self, x: Tensor) -> Tensor:
        """f_{w*}(x): (E, N), E taken from the model."""
        with torch.no_grad():
            return self._model.output(x, self._w_star.to(x.dtype))

    def _finish(self, x: Tensor, xi: Tensor) -> OracleLabels:
        used = float(xi.abs().max()) if xi.numel() else 0.0
        # theta as the labels' dtype stores it (in float32, 0.1 rounds up to 0.10000000149)
        limit = float(torch.tensor(self._theta, dtype=xi.dtype))
        if not used <= max(limit, self._theta):
            raise RuntimeError(
                f"{type(self).__name__} would return |xi| = {used:.6g} > theta = {self._theta:.6g}"
            )
        self._max_noise = max(self._max_noise, used)
        return OracleLabels(y=self.clean_labels(x) + xi, xi=xi)

    def _attacked(
        self, shape: tuple[int, ...], beta: float, generator: torch.Generator | None, x: Tensor
    ) -> Tensor:
        """Bernoulli(beta) mask of attacked samples, (E, N) in x's dtype."""
        if beta >= 1.0:
            return torch.ones(shape, dtype=x.dtype, device=x.device)
        at = draw_device(generator, x)
        draw = torch.rand(shape, generator=generator, dtype=x.dtype, device=at).to(x.device)
        return (draw < beta).to(x.dtype)

    def _batch_shape(self, x: Tensor) -> tuple[int, int]:
        return (self._model.ensemble, int(x.shape[-2]))


class RandomOracle(_BoundedOracle):
    """Label noise independent of the learner: each sample attacked with probability beta.

    kind = "sign": xi = +-theta with a fair random sign; "uniform": xi ~ U[-theta, theta];
    "alternating": xi_j = -theta for even and +theta for odd minibatch positions j, the
    deterministic pattern of the later version's published experiments (attacked samples only).
    Raises ValueError for theta < 0, beta outside [0, 1] or an unknown kind.
    """

    def __init__(
        self,
        model: SingleFilterNet,
        w_star: Tensor,
        *,
        theta: float,
        beta: float = 1.0,
        kind: RandomKind = "sign",
    ) -> None:
        super().__init__(model, w_star, theta)
        if kind not in RANDOM_KINDS:
            raise ValueError(f"unknown random noise kind {kind!r}; allowed: {RANDOM_KINDS}")
        self.beta = _check_beta(beta)
        self.kind: RandomKind = kind

    def labels(
        self, x: Tensor, w_current: Tensor, generator: torch.Generator | None = None
    ) -> OracleLabels:
        """y = f_{w*}(x) + xi; `w_current` is ignored (the noise does not adapt)."""
        shape = self._batch_shape(x)
        mask = self._attacked(shape, self.beta, generator, x)
        if self.kind == "sign":
            at = draw_device(generator, x)
            signs = torch.randint(0, 2, shape, generator=generator, device=at).to(x.device) * 2 - 1
            noise = signs.to(x.dtype) * self.theta
        elif self.kind == "uniform":
            at = draw_device(generator, x)
            draw = torch.rand(shape, generator=generator, dtype=x.dtype, device=at).to(x.device)
            noise = (2 * draw - 1) * self.theta
        else:
            position = torch.arange(shape[1], device=x.device)
            noise = ((position % 2) * 2 - 1).to(x.dtype).expand(shape) * self.theta
        return self._finish(x, mask * noise)


class AdversarialOracle(_BoundedOracle):
    """Adaptive noise xi = theta * sign((w_t - w*)^T M x) against Neuro-Tron (paper 000).

    Derivation: the Neuro-Tron step is w_{t+1} = w_t + eta (f_{w*}(x) + xi - f_{w_t}(x)) M x, so
    ||w_{t+1} - w*||^2 = ||w_t - w*||^2 + 2 eta (f* - f_t + xi) (w_t - w*)^T M x + O(eta^2).
    The only term of first order in eta that the oracle controls is 2 eta xi (w_t - w*)^T M x,
    maximized over |xi| <= theta by xi = theta * sign((w_t - w*)^T M x). The proof of Theorem
    II.1 (section III, the step to eq. (4)) bounds this term by its absolute value, which this
    oracle attains: it is the worst case of that step. Where the sign is 0 (e.g. w_t = w*)
    it sends +theta. Each sample is attacked with probability beta. M: (r, n).
    Raises ValueError for theta < 0, beta outside [0, 1] or M of the wrong shape.
    """

    def __init__(
        self,
        model: SingleFilterNet,
        w_star: Tensor,
        *,
        theta: float,
        M: Tensor,
        beta: float = 1.0,
    ) -> None:
        super().__init__(model, w_star, theta)
        if M.shape != (model.filter_size, model.dim):
            raise ValueError(
                f"M must be (r, n) = {(model.filter_size, model.dim)}, got {tuple(M.shape)}"
            )
        self.M = M.detach().clone()
        self.beta = _check_beta(beta)

    def labels(
        self, x: Tensor, w_current: Tensor, generator: torch.Generator | None = None
    ) -> OracleLabels:
        """y = f_{w*}(x) + theta * sign((w_t - w*)^T M x) on attacked samples."""
        shape = self._batch_shape(x)
        if w_current.shape != (shape[0], self._model.filter_size):
            raise ValueError(
                f"w_current must be (E, r) = {(shape[0], self._model.filter_size)}, "
                f"got {tuple(w_current.shape)}"
            )
        offset = w_current.detach().to(x.dtype) - self._w_star.to(x.dtype)
        direction = torch.matmul(offset, self.M.to(x.dtype))
        push = torch.matmul(x, direction.unsqueeze(-1)).squeeze(-1)
        signs = torch.where(push >= 0, 1.0, -1.0).to(x.dtype)
        mask = self._attacked(shape, self.beta, generator, x)
        return self._finish(x, mask * signs * self.theta)


class RealizableOracle(_BoundedOracle):
    """xi = f_{w_adv}(x) - f_{w*}(x): labels exactly realized by w_adv (paper 000, section II-A).

    A learner that recovers realizable filters converges to w_adv, so its error is at least
    ||w_adv - w*||: the attack behind the near-optimality of Theorem II.1. The construction is
    valid only when sup_x |xi_x| <= theta, so `labels` raises ValueError on a batch where some
    |xi| exceeds theta (use inputs of bounded support; `theta_for` and `noise_bound` compute
    the theta a data set or a support radius needs).
    """

    def __init__(
        self, model: SingleFilterNet, w_star: Tensor, w_adv: Tensor, *, theta: float
    ) -> None:
        super().__init__(model, w_star, theta)
        if w_adv.shape[-1] != model.filter_size or w_adv.ndim not in (1, 2):
            raise ValueError(
                f"w_adv must be (r,) or (E, r) with r={model.filter_size}, "
                f"got shape {tuple(w_adv.shape)}"
            )
        self.w_adv = w_adv.detach().clone()

    @classmethod
    def for_data(
        cls, model: SingleFilterNet, w_star: Tensor, w_adv: Tensor, x: Tensor
    ) -> RealizableOracle:
        """The oracle with the smallest theta that covers the inputs x (`theta_for`)."""
        return cls(model, w_star, w_adv, theta=cls.theta_for(model, w_star, w_adv, x))

    @staticmethod
    def theta_for(model: SingleFilterNet, w_star: Tensor, w_adv: Tensor, x: Tensor) -> float:
        """max_j |f_{w_adv}(x_j) - f_{w*}(x_j)| over the given inputs: the theta they need."""
        with torch.no_grad():
            gap = model.output(x, w_adv.to(x.dtype)) - model.output(x, w_star.to(x.dtype))
        return float(gap.abs().max())

    @staticmethod
    def noise_bound(
        model: SingleFilterNet, w_star: Tensor, w_adv: Tensor, *, radius: float
    ) -> Tensor:
        """Upper bound on sup_{||x|| <= radius} |xi_x|, per member: (E,) or ().

        |sigma(a) - sigma(b)| <= |a - b| for alpha in [0, 1], hence
        |xi_x| <= (1/k) sum_i ||A_i^T (w_adv - w*)|| ||x||; for the ReLU gate (A = I) this is
        the paper's beta = r ||w_adv - w*|| (section II-A).
        """
        if radius < 0:
            raise ValueError(f"radius must be >= 0, got {radius}")
        gap = (w_adv - w_star).to(model.sensing.dtype)
        gap2 = gap if gap.ndim == 2 else gap.unsqueeze(0)
        norms: Tensor = torch.einsum("er,krn->ekn", gap2, model.sensing).norm(dim=2).mean(dim=1)
        bound = norms * radius
        return bound if gap.ndim == 2 else bound.squeeze(0)

    def labels(
        self, x: Tensor, w_current: Tensor, generator: torch.Generator | None = None
    ) -> OracleLabels:
        """y = f_{w_adv}(x); raises ValueError if some |xi| on the batch exceeds theta."""
        with torch.no_grad():
            xi = self._model.output(x, self.w_adv.to(x.dtype)) - self.clean_labels(x)
        largest = float(xi.abs().max()) if xi.numel() else 0.0
        if largest > self.theta:
            raise ValueError(
                f"realizable attack needs |xi| = {largest:.6g} on this batch, above "
                f"theta = {self.theta:.6g}; use inputs of bounded support or a larger theta"
            )
        return self._finish(x, xi)
