"""The poisoned stochastic first-order oracle of paper 001 section 2.

Definition ((G, B)-PSFO): queried at w it returns g~(w) = g^(w) + zeta with E[g^(w)] in dF(w),
E||g^(w)||^2 <= G^2 and an arbitrary perturbation ||zeta|| <= B. Theorem 2.2 bounds the excess
risk of projected SGD with averaging by 5D(G + B)/(2 sqrt T) + 2D sum_t ||zeta_t|| / T, so the
oracle keeps the running sum of ||zeta_t|| and lets a per-call budget schedule control it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from robustlab import _checks
from robustlab.geometry import draw_device

STRATEGIES = ("none", "random", "target", "adversarial")


def _unit(v: Tensor) -> Tensor:
    """v / ||v|| along the last axis (0 where v = 0)."""
    norms = v.norm(dim=-1, keepdim=True)
    return torch.where(norms > 0, v / norms.clamp_min(torch.finfo(v.dtype).tiny), 0.0)


class PoisonedGradientOracle:
    """A (G, B)-PSFO wrapped around a stochastic gradient (paper 001, Definition (G,B)-PSFO).

    `gradient(w)` returns an unbiased stochastic (sub)gradient g^(w) shaped like w: (p,) or
    (E, p) for E independent runs (the callable owns its own sampling randomness). Each call adds
    zeta_t with ||zeta_t||_2 <= budget_t (per row), where `budget` is a constant B or a schedule
    tensor (T,) of per-call radii (e.g. c / sqrt(t) keeps sum_t ||zeta_t|| = O(sqrt T)), and
    `total_budget`, when given, caps the cumulative sum per row. Strategies for the direction:
    "none" (zeta = 0), "random" (uniform on the sphere, from `generator`), "target" (zeta along
    w - target, so that SGD drifts toward `target`), "adversarial" (zeta along w* - w, driving
    the iterate away from the optimum `optimum`, or along -g^(w), cancelling the descent, when no
    optimum is given). Stateful: `calls`, the running `total` of ||zeta_t|| and the per-call
    `history` of norms. Raises ValueError for a bad strategy, budget or missing target.
    """

    def __init__(
        self,
        gradient: Callable[[Tensor], Tensor],
        *,
        budget: float | Tensor,
        strategy: str = "random",
        target: Tensor | None = None,
        optimum: Tensor | None = None,
        total_budget: float | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        _checks.callable_("gradient", gradient)
        _checks.radius("budget", budget)
        _checks.optional_real("total_budget", total_budget, low=0.0)
        _checks.optional_tensor("target", target, floating=True)
        _checks.optional_tensor("optimum", optimum, floating=True)
        _checks.generator_(generator)
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; allowed: {', '.join(STRATEGIES)}")
        schedule = torch.as_tensor(budget, dtype=torch.float64)
        if schedule.ndim > 1:
            raise ValueError(
                f"budget must be a scalar or a (T,) schedule, got {tuple(schedule.shape)}"
            )
        if schedule.numel() == 0 or torch.isnan(schedule).any() or (schedule < 0).any():
            raise ValueError(f"budget must be >= 0 everywhere, got {budget}")
        if total_budget is not None and not total_budget >= 0:
            raise ValueError(f"total_budget must be >= 0 or None, got {total_budget}")
        if strategy == "target" and target is None:
            raise ValueError("strategy 'target' needs a target point")
        self.gradient = gradient
        self.schedule = schedule
        self.strategy = strategy
        self.target = target
        self.optimum = optimum
        self.total_budget = total_budget
        self.generator = generator
        self.calls = 0
        self._norms: list[Tensor] = []
        self.total: Tensor = torch.zeros(())

    @property
    def B(self) -> float:
        """The largest per-call radius: the B of the (G, B)-PSFO definition."""
        return float(self.schedule.max())

    @property
    def history(self) -> Tensor:
        """||zeta_t|| of every call so far: (calls,) or (calls, E)."""
        if not self._norms:
            return torch.zeros(0)
        return torch.stack(self._norms)

    @property
    def last_norm(self) -> Tensor:
        """||zeta|| of the latest call: () or (E,)."""
        if not self._norms:
            raise RuntimeError("the oracle has not been called yet")
        return self._norms[-1]

    def radius(self, call: int) -> float:
        """Budget of the call with index `call` (0-based). Raises IndexError past the schedule."""
        if self.schedule.ndim == 0:
            return float(self.schedule)
        if call >= self.schedule.numel():
            raise IndexError(
                f"budget schedule has {self.schedule.numel()} entries, asked for call {call + 1}"
            )
        return float(self.schedule[call])

    def reset(self) -> None:
        """Forget the calls so far (the running sum starts again at 0)."""
        self.calls = 0
        self._norms = []
        self.total = torch.zeros(())

    def perturbation(self, w: Tensor, g: Tensor) -> Tensor:
        """The unit direction of zeta at w given the clean gradient g, shaped like w."""
        if self.strategy == "none":
            return torch.zeros_like(w)
        if self.strategy == "random":
            at = draw_device(self.generator, w)
            draw = torch.randn(w.shape, generator=self.generator, dtype=w.dtype, device=at)
            return _unit(draw.to(w.device))
        if self.strategy == "target":
            assert self.target is not None
            return _unit(w - self.target.to(w.dtype))
        if self.optimum is not None:
            return _unit(self.optimum.to(w.dtype) - w)
        return -_unit(g)

    def __call__(self, w: Tensor) -> Tensor:
        """g~(w) = g^(w) + zeta_t, shaped like w; records ||zeta_t||."""
        _checks.tensor("w", w, floating=True)
        g = _checks.tensor("gradient(w)", self.gradient(w))
        if g.shape != w.shape:
            raise ValueError(
                f"gradient(w) must be shaped like w {tuple(w.shape)}, got {tuple(g.shape)}"
            )
        lead = w.shape[:-1]
        if self.total.shape != lead or self.total.device != w.device:
            self.total = torch.zeros(lead, dtype=torch.float64, device=w.device)
        norm = torch.full(lead, self.radius(self.calls), dtype=torch.float64, device=w.device)
        if self.total_budget is not None:
            norm = torch.minimum(norm, (self.total_budget - self.total).clamp_min(0.0))
        direction = self.perturbation(w, g)
        zeta = direction * norm.to(w.dtype).unsqueeze(-1)
        spent = zeta.detach().to(torch.float64).norm(dim=-1)
        self.total = self.total + spent
        self._norms.append(spent)
        self.calls += 1
        return g + zeta
