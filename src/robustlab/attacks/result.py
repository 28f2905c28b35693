"""What attacks return: frozen dataclasses of tensors.

Shapes use B for the number of budgets, E for the ensemble axis (absent for a generic model that
has none), n for the samples and `*shape` for one sample's shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class AttackResult:
    """Outcome of a fixed-budget attack (FGSM, BIM, PGD) at B budgets in one pass.

    x_adv: (B, E, n, *shape) or (B, n, *shape), the returned iterate of each attack (paper 004
    Algorithm 1: the best iterate, a misclassified one first, then the largest loss).
    norms: (B, E, n) or (B, n), ||x_adv - x|| in the attack's norm (never above `eps`).
    success: (B, E, n) or (B, n), True where x_adv is not classified correctly (margin <= 0);
    points already misclassified at x count as successes.
    eps: the budget of each attack, same shape as `norms`.
    loss: the attack's loss at x_adv (the quantity it maximizes), same shape as `norms`.
    margin: y f(x_adv) for one-logit models, logit_y - max_{j != y} logit_j otherwise.
    norm: "l2" or "linf".
    """

    x_adv: Tensor
    norms: Tensor
    success: Tensor
    eps: Tensor
    loss: Tensor
    margin: Tensor
    norm: str

    @property
    def robust_accuracy(self) -> Tensor:
        """Fraction of points the attack did not fool: (B, E) or (B,)."""
        accuracy: Tensor = 1.0 - self.success.to(torch.float64).mean(dim=-1)
        return accuracy


@dataclass(frozen=True)
class GradientStepResult:
    """Outcome of a single gradient step delta = eta * grad_x f(x) on a one-logit model.

    Papers 002 (section 5.1) and 003 (Bubeck et al., eq. (5)). Shapes (E, n) or (n,) for the
    per-sample fields, (E, n, *shape) or (n, *shape) for `delta`.
    eta: the step; +-inf where `minimal_gradient_step` found no flip within its bound.
    delta: eta * grad f(x) (zero where eta is infinite).
    delta_norm: ||delta||_2 (inf where eta is infinite).
    grad_norm: ||grad_x f(x)||_2.
    f_clean, f_adv: f(x) and f(x + delta).
    flipped: f(x) and f(x + delta) have strictly opposite signs.
    """

    eta: Tensor
    delta: Tensor
    delta_norm: Tensor
    grad_norm: Tensor
    f_clean: Tensor
    f_adv: Tensor
    flipped: Tensor


@dataclass(frozen=True)
class UniversalResult:
    """Outcome of the universal perturbation delta = eta * sum_i y_i x_i (Vardi et al. 2022).

    Paper 003, Theorem (universal perturbation): sign f(x_i - y_i delta) = -y_i. Shapes carry a
    leading E for ensemble models and none for a generic model.
    eta: (E,), the smallest step at which the requested fraction of points is flipped
    simultaneously (inf if none within the bound).
    direction: (E, *shape) or (*shape), sum_i y_i x_i.
    delta: eta * direction (zero where eta is infinite).
    delta_norm: (E,), ||delta||_2.
    thresholds: (E, n), each point's own first flipping step (0 if already misclassified,
    inf if it never flips within the bound).
    flipped: (E, n), sign f(x_i - y_i delta) = -y_i at the returned eta.
    fraction: (E,), the fraction of points flipped at the returned eta.
    """

    eta: Tensor
    direction: Tensor
    delta: Tensor
    delta_norm: Tensor
    thresholds: Tensor
    flipped: Tensor
    fraction: Tensor


@dataclass(frozen=True)
class GridResult:
    """Outcome of an exhaustive grid search over perturbations (paper 004 section 4.1).

    top_k: the k values asked for; flips: (len(top_k),) int64, how many of the k grid points with
    the largest loss induce a label flip; top_delta: (k_max, d) those perturbations by decreasing
    loss; top_loss: (k_max,); top_flipped: (k_max,) bool; points_in_ball: grid points inside
    the box and the ball; points_total: points_per_axis ** d.
    """

    top_k: tuple[int, ...]
    flips: Tensor
    top_delta: Tensor
    top_loss: Tensor
    top_flipped: Tensor
    points_in_ball: int
    points_total: int


@dataclass(frozen=True)
class RobustnessCurve:
    """Robust accuracy of one attack at each budget of a list.

    budgets: (B,); accuracy: (B, E) or (B,); clean_accuracy: (E,) or () (accuracy at x itself).
    """

    budgets: Tensor
    accuracy: Tensor
    clean_accuracy: Tensor


@dataclass(frozen=True)
class MinimalPerturbation:
    """Per-sample smallest perturbation that flips the prediction, and its quantiles.

    norms: (E, n) or (n,), 0 for points already misclassified, inf where none was found;
    levels: (Q,) the quantile levels; quantiles: (Q, E) or (Q,) (inf-aware: a quantile is inf
    when more than that fraction of points was never flipped); method: how it was measured.
    """

    norms: Tensor
    levels: Tensor
    quantiles: Tensor
    method: str
