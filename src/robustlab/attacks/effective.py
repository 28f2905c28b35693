"""beta-effective attacks and the beta-robust error (paper 004 Definition 3.1, section 3).

For a two-layer net with weights (a, W) the paper scores the attacked point with the normalized
first layer W_bar = W / ||W||_F: an attack delta is beta-effective when y f_{W_bar}(delta) <= -beta
(Definition 3.1), and the beta-robust error is P{min_{delta in Delta(x)} y f_{W_bar}(delta) < -beta}
(section 3). An attack that finds some point with a normalized margin below -beta proves that a
beta-effective attack exists, so the error measured from an attack's x_adv is a lower bound on
epsilon_beta, tight when the attack finds the minimum; as beta -> 0 it tends to the attack's
robust error. K logits: the margin is f_y - max_{j != y} f_j of the normalized model.

W_bar is applied exactly: a `TwoLayerNet` is evaluated with each member's W divided by its own
Frobenius norm (bias and top layer unchanged). Other models are evaluated as given: pass the
normalized model itself when its scale should not count.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor

from robustlab.attacks._common import check_labels, loss_and_margin
from robustlab.attacks._model import Model, as_objective, model_inputs
from robustlab.attacks.result import AttackResult
from robustlab.models.two_layer import TwoLayerNet


def normalized_model(model: Model) -> Model:
    """The model with W_bar = W / ||W||_F per member for a `TwoLayerNet`; others unchanged."""
    if not isinstance(model, TwoLayerNet):
        return model
    net = copy.deepcopy(model)
    with torch.no_grad():
        norms = net.W.flatten(1).norm(dim=1).clamp_min(torch.finfo(net.W.dtype).tiny)
        net.W.div_(norms.reshape(-1, 1, 1))
    return net


def normalized_margins(model: Model, x_adv: Tensor | AttackResult, y: Tensor) -> Tensor:
    """y f_{W_bar}(x_adv) (K logits: f_y - max_{j != y} f_j) at attacked points.

    x_adv: an `AttackResult` (its x_adv has a budgets axis: returns (B, E, n) or (B, n)), or one
    set of points (n, *shape) or (E, n, d) (returns (E, n) or (n,)). Raises ValueError for
    labels or shapes that do not fit the model.
    """
    single = not isinstance(x_adv, AttackResult)
    batches = [x_adv] if isinstance(x_adv, Tensor) else list(x_adv.x_adv)
    objective = as_objective(normalized_model(model))
    n = y.shape[0]
    margins = []
    for batch in batches:
        out = objective.outputs(model_inputs(objective, batch))
        labels = check_labels(y, out, n)
        margins.append(loss_and_margin(out, labels, "margin")[1])
    stacked = torch.stack(margins)
    if not objective.has_ensemble_axis:
        stacked = stacked[:, 0]
    return stacked[0] if single else stacked


def beta_effective(model: Model, x_adv: Tensor | AttackResult, y: Tensor, *, beta: float) -> Tensor:
    """Paper 004 Definition 3.1: y f_{W_bar}(x_adv) <= -beta, per attacked point (bool).

    Shapes as `normalized_margins`. Raises ValueError for beta < 0.
    """
    if not beta >= 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    result: Tensor = normalized_margins(model, x_adv, y) <= -beta
    return result


def beta_robust_error(model: Model, result: AttackResult, y: Tensor, *, beta: float) -> Tensor:
    """The beta-robust error of paper 004 section 3 measured by an attack: the fraction of
    points whose attacked point has y f_{W_bar} < -beta, (B, E) or (B,).

    A lower bound on epsilon_beta (the attack's point need not be the minimizer); at beta = 0
    it is the attack's robust error up to exact ties. Raises ValueError for beta < 0.
    """
    if not beta >= 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    below = normalized_margins(model, result, y) < -beta
    error: Tensor = below.to(torch.float64).mean(dim=-1)
    return error
