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

Per-member oracles: theta and beta may be one value or one per ensemble member, (E,) tensors,
so that a whole theta (or beta) grid runs as one ensemble; xi_e = mask_e * theta_e * pattern,
mask_e ~ Bernoulli(beta_e). Each oracle counts, per member, the labels it attacked
(`attacked`), the labels `RealizableOracle(clip=True)` clipped to [-theta_e, theta_e]
(`clipped`) and the largest |xi| (`max_noise`), with `labels_seen` labels in all. Random draws
come from `generator` on the CPU (then moved to x's device), the Bernoulli mask first (skipped
when every beta is 1 or every beta is 0), then the pattern's own draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import torch
from torch import Tensor

from robustlab import _checks
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


PerMember = float | Tensor
"""One value for every member, or an (E,) tensor of one value per ensemble member."""


def _per_member(value: PerMember, ensemble: int, name: str) -> Tensor:
    """A float or (E,) tensor as an (E,) float64 tensor on the CPU; raise on a bad shape."""
    if isinstance(value, Tensor):
        _checks.tensor(name, value)
    else:
        _checks.real(name, value)
    t = torch.as_tensor(value, dtype=torch.float64).detach().cpu()
    if t.ndim == 0:
        return t.expand(ensemble).clone()
    if t.shape != (ensemble,):
        raise ValueError(
            f"{name} must be a number or one value per member, (E,) = ({ensemble},); "
            f"got shape {tuple(t.shape)}"
        )
    return t.clone()


def _check_theta(theta: PerMember, ensemble: int) -> Tensor:
    t = _per_member(theta, ensemble, "theta")
    if not bool(torch.isfinite(t).all()) or bool((t < 0).any()):
        raise ValueError(f"theta must be a finite number >= 0, got {theta}")
    return t


def _check_beta(beta: PerMember, ensemble: int) -> Tensor:
    t = _per_member(beta, ensemble, "beta")
    if not bool(((t >= 0) & (t <= 1)).all()):
        raise ValueError(f"attack probability beta must be in [0, 1], got {beta}")
    return t


class _BoundedOracle:
    """Shared bookkeeping: the model, w*, theta (per member) and the noise actually used."""

    def __init__(self, model: SingleFilterNet, w_star: Tensor, theta: PerMember) -> None:
        _checks.module("model", model)
        _checks.tensor("w_star", w_star, floating=True)
        if w_star.ndim not in (1, 2) or w_star.shape[-1] != model.filter_size:
            raise ValueError(
                f"w_star must be (r,) or (E, r) with r={model.filter_size}, "
                f"got shape {tuple(w_star.shape)}"
            )
        if w_star.ndim == 2 and w_star.shape[0] != model.ensemble:
            raise ValueError(
                f"w_star (E, r) needs E = {model.ensemble} members, got {tuple(w_star.shape)}"
            )
        E = model.ensemble
        self._model = model
        self._w_star = w_star.detach().clone()
        self._thetas = _check_theta(theta, E)
        self._max_noise = 0.0
        self.labels_seen = 0
        self.attacked = torch.zeros(E, dtype=torch.int64)
        self.clipped = torch.zeros(E, dtype=torch.int64)
        self.max_noise = torch.zeros(E, dtype=torch.float64)

    @property
    def theta(self) -> float:
        """The noise bound, the largest over the members when they differ."""
        return float(self._thetas.max()) if self._thetas.numel() else 0.0

    @property
    def thetas(self) -> Tensor:
        """theta_e per member, (E,) float64."""
        return self._thetas

    @property
    def w_star(self) -> Tensor:
        return self._w_star

    @property
    def max_noise_used(self) -> float:
        """Largest |xi| returned since construction or the last `reset`."""
        return self._max_noise

    def reset(self) -> None:
        """Forget the running maximum of |xi| and the per-member counts."""
        self._max_noise = 0.0
        self.labels_seen = 0
        self.attacked.zero_()
        self.clipped.zero_()
        self.max_noise.zero_()

    def clean_labels(self, x: Tensor) -> Tensor:
        """f_{w*}(x): (E, N), E taken from the model."""
        with torch.no_grad():
            return self._model.output(x, self._w_star.to(x.dtype))

    def _theta_column(self, like: Tensor) -> Tensor:
        """theta_e as an (E, 1) column in like's dtype and device."""
        return self._thetas.to(dtype=like.dtype, device=like.device).unsqueeze(1)

    def _finish(self, x: Tensor, xi: Tensor, mask: Tensor | None = None) -> OracleLabels:
        per_member = xi.detach().abs().amax(dim=1) if xi.numel() else torch.zeros(xi.shape[0])
        # theta as the labels' dtype stores it (in float32, 0.1 rounds up to 0.10000000149)
        limit = torch.maximum(self._thetas.to(xi.dtype).to(torch.float64), self._thetas)
        over = per_member.to(torch.float64).cpu() > limit
        if bool(over.any()):
            used = float(per_member.max())
            raise RuntimeError(
                f"{type(self).__name__} would return |xi| = {used:.6g} > theta = "
                f"{float(self._thetas[over].min()):.6g}"
            )
        used = float(per_member.max()) if per_member.numel() else 0.0
        self._max_noise = max(self._max_noise, used)
        self.labels_seen += int(xi.shape[1])
        attacked = xi != 0 if mask is None else mask > 0
        self.attacked += attacked.sum(dim=1).cpu()
        self.max_noise = torch.maximum(self.max_noise, per_member.to(torch.float64).cpu())
        return OracleLabels(y=self.clean_labels(x) + xi, xi=xi)

    def _attacked(
        self, shape: tuple[int, int], beta: Tensor, generator: torch.Generator | None, x: Tensor
    ) -> Tensor:
        """Bernoulli(beta_e) mask of attacked samples, (E, N) in x's dtype (no draw when every
        beta is 1 or every beta is 0)."""
        if bool((beta >= 1.0).all()):
            return torch.ones(shape, dtype=x.dtype, device=x.device)
        if bool((beta <= 0.0).all()):
            return torch.zeros(shape, dtype=x.dtype, device=x.device)
        at = draw_device(generator, x)
        draw = torch.rand(shape, generator=generator, dtype=x.dtype, device=at).to(x.device)
        return (draw < beta.to(dtype=x.dtype, device=x.device).unsqueeze(1)).to(x.dtype)

    def _batch_shape(self, x: Tensor) -> tuple[int, int]:
        return (self._model.ensemble, int(x.shape[-2]))


class RandomOracle(_BoundedOracle):
    """Label noise independent of the learner: each sample attacked with probability beta.

    kind = "sign": xi = +-theta with a fair random sign; "uniform": xi ~ U[-theta, theta];
    "alternating": xi_j = -theta for even and +theta for odd minibatch positions j, the
    deterministic pattern of the later version's published experiments (attacked samples only).
    theta and beta: one value, or one per member ((E,) tensors).
    Raises ValueError for theta < 0, beta outside [0, 1] or an unknown kind.
    """

    def __init__(
        self,
        model: SingleFilterNet,
        w_star: Tensor,
        *,
        theta: PerMember,
        beta: PerMember = 1.0,
        kind: RandomKind = "sign",
    ) -> None:
        super().__init__(model, w_star, theta)
        if kind not in RANDOM_KINDS:
            raise ValueError(f"unknown random noise kind {kind!r}; allowed: {RANDOM_KINDS}")
        self.betas = _check_beta(beta, model.ensemble)
        self.kind: RandomKind = kind

    def labels(
        self, x: Tensor, w_current: Tensor, generator: torch.Generator | None = None
    ) -> OracleLabels:
        """y = f_{w*}(x) + xi; `w_current` is ignored (the noise does not adapt)."""
        _checks.model_input("x", x, self._model)
        shape = self._batch_shape(x)
        mask = self._attacked(shape, self.betas, generator, x)
        if not bool(mask.any()):
            return self._finish(x, torch.zeros_like(mask), mask)
        if self.kind == "sign":
            at = draw_device(generator, x)
            signs = torch.randint(0, 2, shape, generator=generator, device=at) * 2 - 1
            pattern = signs.to(dtype=x.dtype, device=x.device)
        elif self.kind == "uniform":
            at = draw_device(generator, x)
            draw = torch.rand(shape, generator=generator, dtype=x.dtype, device=at).to(x.device)
            pattern = 2 * draw - 1
        else:
            position = torch.arange(shape[1], device=x.device)
            pattern = ((position % 2) * 2 - 1).to(x.dtype).expand(shape)
        return self._finish(x, mask * self._theta_column(x) * pattern, mask)


class AdversarialOracle(_BoundedOracle):
    """Adaptive noise xi = theta * sign((w_t - w*)^T M x) against Neuro-Tron (paper 000).

    Derivation: the Neuro-Tron step is w_{t+1} = w_t + eta (f_{w*}(x) + xi - f_{w_t}(x)) M x, so
    ||w_{t+1} - w*||^2 = ||w_t - w*||^2 + 2 eta (f* - f_t + xi) (w_t - w*)^T M x + O(eta^2).
    The only term of first order in eta that the oracle controls is 2 eta xi (w_t - w*)^T M x,
    maximized over |xi| <= theta by xi = theta * sign((w_t - w*)^T M x). The proof of Theorem
    II.1 (section III, the step to eq. (4)) bounds this term by its absolute value, which this
    oracle attains: it is the worst case of that step. Where the sign is 0 (e.g. w_t = w*)
    it sends +theta. Each sample is attacked with probability beta. M: (r, n). theta and beta:
    one value, or one per member ((E,) tensors).
    Raises ValueError for theta < 0, beta outside [0, 1] or M of the wrong shape.
    """

    def __init__(
        self,
        model: SingleFilterNet,
        w_star: Tensor,
        *,
        theta: PerMember,
        M: Tensor,
        beta: PerMember = 1.0,
    ) -> None:
        super().__init__(model, w_star, theta)
        _checks.tensor("M", M, floating=True)
        if M.shape != (model.filter_size, model.dim):
            raise ValueError(
                f"M must be (r, n) = {(model.filter_size, model.dim)}, got {tuple(M.shape)}"
            )
        self.M = M.detach().clone()
        self.betas = _check_beta(beta, model.ensemble)

    def labels(
        self, x: Tensor, w_current: Tensor, generator: torch.Generator | None = None
    ) -> OracleLabels:
        """y = f_{w*}(x) + theta * sign((w_t - w*)^T M x) on attacked samples."""
        _checks.model_input("x", x, self._model)
        _checks.tensor("w_current", w_current, floating=True)
        shape = self._batch_shape(x)
        if w_current.shape != (shape[0], self._model.filter_size):
            raise ValueError(
                f"w_current must be (E, r) = {(shape[0], self._model.filter_size)}, "
                f"got {tuple(w_current.shape)}"
            )
        mask = self._attacked(shape, self.betas, generator, x)
        offset = w_current.detach().to(x.dtype) - self._w_star.to(x.dtype)
        direction = torch.matmul(offset, self.M.to(x.dtype))
        push = torch.matmul(x, direction.unsqueeze(-1)).squeeze(-1)
        signs = torch.where(push >= 0, 1.0, -1.0).to(x.dtype)
        return self._finish(x, mask * signs * self._theta_column(x), mask)


class RealizableOracle(_BoundedOracle):
    """xi = f_{w_adv}(x) - f_{w*}(x): labels exactly realized by w_adv (paper 000, section II-A).

    A learner that recovers realizable filters converges to w_adv, so its error is at least
    ||w_adv - w*||: the attack behind the near-optimality of Theorem II.1. The construction is
    valid only when sup_x |xi_x| <= theta, so `labels` raises ValueError on a batch where some
    |xi| exceeds theta (use inputs of bounded support; `theta_for` and `noise_bound` compute
    the theta a data set or a support radius needs), unless `clip`: then xi is clipped to
    [-theta_e, theta_e] and the clipped labels are counted per member (`clipped`). theta: one
    value or one per member ((E,) tensor).
    """

    def __init__(
        self,
        model: SingleFilterNet,
        w_star: Tensor,
        w_adv: Tensor,
        *,
        theta: PerMember,
        clip: bool = False,
    ) -> None:
        super().__init__(model, w_star, theta)
        self.clip = clip
        _checks.tensor("w_adv", w_adv, floating=True)
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
        _checks.model_input("x", x, model)
        _checks.tensor("w_star", w_star, floating=True)
        _checks.tensor("w_adv", w_adv, floating=True)
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
        _checks.real("radius", radius, low=0.0)
        _checks.tensor("w_star", w_star, floating=True)
        _checks.tensor("w_adv", w_adv, floating=True)
        gap = (w_adv - w_star).to(model.sensing.dtype)
        gap2 = gap if gap.ndim == 2 else gap.unsqueeze(0)
        norms: Tensor = torch.einsum("er,krn->ekn", gap2, model.sensing).norm(dim=2).mean(dim=1)
        bound = norms * radius
        return bound if gap.ndim == 2 else bound.squeeze(0)

    def labels(
        self, x: Tensor, w_current: Tensor, generator: torch.Generator | None = None
    ) -> OracleLabels:
        """y = f_{w_adv}(x); raises ValueError if some |xi| on the batch exceeds theta_e (unless
        `clip`, which clips it to [-theta_e, theta_e] and counts it)."""
        _checks.model_input("x", x, self._model)
        with torch.no_grad():
            xi = self._model.output(x, self.w_adv.to(x.dtype)) - self.clean_labels(x)
        theta = self._theta_column(xi)
        beyond = xi.abs() > theta
        if self.clip:
            self.clipped += beyond.sum(dim=1).cpu()
            xi = torch.maximum(torch.minimum(xi, theta), -theta)
        elif bool(beyond.any()):
            largest = float(xi.abs().max())
            raise ValueError(
                f"realizable attack needs |xi| = {largest:.6g} on this batch, above "
                f"theta = {self.theta:.6g}; use inputs of bounded support or a larger theta"
            )
        return self._finish(x, xi, torch.ones_like(xi))
