"""Projected SGD with iterate averaging on a (poisoned) first-order oracle.

Paper 001 Theorem 2.2: w_{t+1} = Pi_W(w_t - eta g~_t) with g~_t from a (G, B)-PSFO, W the ball
{||w|| <= D}, and the average w_bar = (1/T) sum_t w_t of the T points where the oracle was
queried satisfies E F(w_bar) - F(w*) <= 5D(G + B)/(2 sqrt T) + 2D sum_t ||zeta_t|| / T for the
step size eta = D / (sqrt(T) (G + B)) (`robustlab.theory.poisoning.psfo_step_size`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from robustlab import _checks
from robustlab.geometry import project_l2_ball
from robustlab.poisoning.psfo import PoisonedGradientOracle


@dataclass(frozen=True)
class ConvexTrace:
    """Record of a projected SGD run; shapes (T,) for w (p,), (T, E) for E runs w (E, p).

    objective: F(w_t) at the queried points when an objective was given, else None.
    gradient_norms: ||g~_t||. perturbation_norms: ||zeta_t|| when the oracle is a
    `PoisonedGradientOracle`, else None; cumulative_perturbation: their sum, () or (E,).
    iterates: the queried points (T, [E,] p) when asked. average_objective: F(w_bar) or None.
    """

    objective: Tensor | None
    gradient_norms: Tensor
    perturbation_norms: Tensor | None
    cumulative_perturbation: Tensor | None
    iterates: Tensor | None
    average_objective: Tensor | None
    eta: float
    steps: int


def projected_sgd(
    oracle: Callable[[Tensor], Tensor],
    *,
    eta: float,
    T: int,
    w0: Tensor,
    D: float | None = None,
    project: Callable[[Tensor], Tensor] | None = None,
    objective: Callable[[Tensor], Tensor] | None = None,
    record_iterates: bool = False,
) -> tuple[Tensor, ConvexTrace]:
    """T steps of projected SGD from w0; returns the average of the T queried iterates and a trace.

    oracle(w) -> g~(w) shaped like w; w0: (p,) or (E, p) for E independent runs in one batch
    (each row projected on its own). The feasible set is the ball {||w||_2 <= D} (paper 001
    Theorem 2.2) or any `project` callable (w -> Pi(w), row-wise). w_1 = Pi(w0) is the first point
    queried; w_{t+1} = Pi(w_t - eta g~(w_t)); w_bar = (1/T) sum_{t=1}^T w_t. `objective(w)` (F,
    row-wise, shape w.shape[:-1]) is recorded at every iterate and at w_bar when given.
    Raises ValueError unless exactly one of D and project is given, eta > 0 and T >= 1, and
    for an oracle that returns NaN or inf.
    """
    _checks.callable_("oracle", oracle)
    _checks.positives(eta=eta)
    _checks.counts(T=T)
    _checks.tensor("w0", w0, floating=True)
    _checks.optional_real("D", D, low=0.0)
    if (D is None) == (project is None):
        raise ValueError("pass exactly one of D (radius of the feasible ball) and project")
    if D is not None and not D >= 0:
        raise ValueError(f"D must be >= 0, got {D}")
    if not eta > 0:
        raise ValueError(f"eta must be > 0, got {eta}")
    if T < 1:
        raise ValueError(f"T must be >= 1, got {T}")
    if w0.ndim not in (1, 2):
        raise ValueError(f"w0 must be (p,) or (E, p), got shape {tuple(w0.shape)}")
    if project is None:
        radius = float(D) if D is not None else 0.0

        def project(w: Tensor) -> Tensor:
            return project_l2_ball(w, radius)

    poisoned = isinstance(oracle, PoisonedGradientOracle)
    w = project(w0.detach().clone())
    total = torch.zeros_like(w, dtype=torch.float64)
    objectives: list[Tensor] = []
    grad_norms: list[Tensor] = []
    zeta_norms: list[Tensor] = []
    iterates: list[Tensor] = []
    with torch.no_grad():
        for _ in range(T):
            total += w.to(torch.float64)
            if objective is not None:
                objectives.append(objective(w).detach())
            if record_iterates:
                iterates.append(w.clone())
            g = _checks.tensor("oracle(w)", oracle(w))
            if g.shape != w.shape:
                raise ValueError(f"oracle(w) must be shaped like w {tuple(w.shape)}, got {g.shape}")
            grad_norms.append(g.norm(dim=-1))
            if poisoned:
                assert isinstance(oracle, PoisonedGradientOracle)
                zeta_norms.append(oracle.last_norm)
            w = project(w - eta * g)
        average = (total / T).to(w.dtype)
        zetas = torch.stack(zeta_norms) if zeta_norms else None
        trace = ConvexTrace(
            objective=torch.stack(objectives) if objectives else None,
            gradient_norms=torch.stack(grad_norms),
            perturbation_norms=zetas,
            cumulative_perturbation=None if zetas is None else zetas.sum(dim=0),
            iterates=torch.stack(iterates) if iterates else None,
            average_objective=None if objective is None else objective(average).detach(),
            eta=float(eta),
            steps=T,
        )
    return average, trace
