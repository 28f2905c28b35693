"""Attacks at inference time on two-layer ensembles and on any model.

- `gradient_step`, `minimal_gradient_step`: one step delta = eta grad f(x) (papers 002, 003);
  the minimal flipping step is exact for (leaky-)ReLU `TwoLayerNet`s.
- `fgsm`, `bim`, `pgd`: fixed-budget attacks in l2 / linf with loss "ce" | "reflected" |
  "margin" (paper 004 Algorithm 1), many budgets in one pass.
- `universal_perturbation`: delta = eta sum_i y_i x_i (Vardi et al., paper 003), exact search.
- `grid_search`: exhaustive top-k grid search (paper 004 section 4.1).
- `robust_accuracy`, `minimal_perturbation`: curves and minimal-perturbation quantiles.
- `beta_effective`, `beta_robust_error`: paper 004 Definition 3.1 on the normalized net.
"""

from robustlab.attacks._common import ATTACK_LOSSES, Box, Budget
from robustlab.attacks.effective import (
    beta_effective,
    beta_robust_error,
    normalized_margins,
    normalized_model,
)
from robustlab.attacks.gradient_step import gradient_step, minimal_gradient_step
from robustlab.attacks.grid import grid_search, paper_grid_search
from robustlab.attacks.iterative import (
    Schedule,
    bim,
    constant_schedule,
    cosine_schedule,
    fgsm,
    pgd,
    step_decay,
)
from robustlab.attacks.result import (
    AttackResult,
    GradientStepResult,
    GridResult,
    MinimalPerturbation,
    RobustnessCurve,
    UniversalResult,
)
from robustlab.attacks.robustness import (
    Attack,
    clean_margin,
    minimal_perturbation,
    quantiles,
    robust_accuracy,
)
from robustlab.attacks.universal import universal_perturbation

__all__ = [
    "ATTACK_LOSSES",
    "Attack",
    "AttackResult",
    "Box",
    "Budget",
    "GradientStepResult",
    "GridResult",
    "MinimalPerturbation",
    "RobustnessCurve",
    "Schedule",
    "UniversalResult",
    "beta_effective",
    "beta_robust_error",
    "bim",
    "clean_margin",
    "constant_schedule",
    "cosine_schedule",
    "fgsm",
    "gradient_step",
    "grid_search",
    "minimal_gradient_step",
    "minimal_perturbation",
    "normalized_margins",
    "normalized_model",
    "paper_grid_search",
    "pgd",
    "quantiles",
    "robust_accuracy",
    "step_decay",
    "universal_perturbation",
]
