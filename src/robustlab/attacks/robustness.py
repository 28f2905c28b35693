"""Robustness measurements built on the attacks: robust-accuracy curves and the distribution of
the smallest flipping perturbation.

Paper 002 (Figs. 2-4, 7: robust accuracy against the budget, minimal perturbation sizes and
their histogram), paper 004 (Table 1: robust error of each attack).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from robustlab import _checks
from robustlab.attacks._common import check_labels, loss_and_margin
from robustlab.attacks._model import Model, as_objective, model_inputs
from robustlab.attacks.gradient_step import minimal_gradient_step
from robustlab.attacks.iterative import NormArg, pgd
from robustlab.attacks.result import AttackResult, MinimalPerturbation, RobustnessCurve

Attack = Callable[..., AttackResult]
"""A fixed-budget attack called as attack(model, x, y, eps=...), e.g.
functools.partial(pgd, norm="l2", steps=20, early_stop=True)."""

DEFAULT_LEVELS = (0.1, 0.25, 0.5, 0.75, 0.9)
BRACKET_HALVINGS = 4
"""method="pgd": budgets max_eps / 2, ..., max_eps / 16 tried where the attack fails at max_eps."""


def _split(model: Model, x: Tensor, batch_size: int | None) -> tuple[list[Tensor], int]:
    """Batches of x along its sample axis (axis 1 for per-member ensemble inputs)."""
    objective = as_objective(model)
    per_member = objective.has_ensemble_axis and x.ndim == 3 and x.shape[0] == objective.ensemble
    axis = 1 if per_member else 0
    n = x.shape[axis]
    size = n if batch_size is None else batch_size
    if size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return list(torch.split(x, max(1, size), dim=axis)), axis


def clean_margin(model: Model, x: Tensor, y: Tensor) -> Tensor:
    """Margin at the clean points: (E, n) or (n,); > 0 where classified correctly."""
    _checks.attack_inputs(model, x, y)
    objective = as_objective(model)
    xe = model_inputs(objective, x)
    out = objective.outputs(xe)
    labels = check_labels(y, out, xe.shape[1])
    _, margin = loss_and_margin(out, labels, "margin")
    return margin if objective.has_ensemble_axis else margin[0]


def robust_accuracy(
    attack: Attack,
    model: Model,
    x: Tensor,
    y: Tensor,
    budgets: Sequence[float] | Tensor,
    *,
    batch_size: int | None = None,
) -> RobustnessCurve:
    """Robust accuracy of `attack` at every budget of a list, all budgets in one pass per batch.

    x: (n, *shape) or (E, n, d); y: (n,). Returns a `RobustnessCurve` with accuracy (B, E) or
    (B,). `batch_size` splits the samples to bound memory (B * batch_size points at once).
    Raises ValueError for an empty or negative list of budgets.
    """
    _checks.attack_inputs(model, x, y)
    _checks.budget("budgets", budgets)
    _checks.callable_("attack", attack)
    _checks.nonempty("y", y)
    _checks.optional_integer("batch_size", batch_size, low=1)
    values = torch.as_tensor(budgets, dtype=torch.float64).reshape(-1)
    if values.numel() == 0:
        raise ValueError("budgets is empty")
    if bool((values < 0).any()) or not bool(torch.isfinite(values).all()):
        raise ValueError(f"budgets must be finite and >= 0, got {values.tolist()}")
    pieces, axis = _split(model, x, batch_size)
    labels = torch.split(y, pieces[0].shape[axis]) if pieces else ()
    fooled: Tensor | None = None
    correct: Tensor | None = None
    count = 0
    for xb, yb in zip(pieces, labels, strict=True):
        result = attack(model, xb, yb, eps=values.tolist())
        batch_fooled = result.success.sum(dim=-1)
        batch_correct = (clean_margin(model, xb, yb) > 0).sum(dim=-1)
        fooled = batch_fooled if fooled is None else fooled + batch_fooled
        correct = batch_correct if correct is None else correct + batch_correct
        count += int(yb.shape[0])
    assert fooled is not None and correct is not None
    return RobustnessCurve(
        budgets=values.to(x.device),
        accuracy=1.0 - fooled.to(torch.float64) / count,
        clean_accuracy=correct.to(torch.float64) / count,
    )


def quantiles(values: Tensor, levels: Sequence[float]) -> Tensor:
    """Inverse-CDF quantiles over the last axis (the smallest v with F(v) >= level), inf-aware:
    (Q, ...) for values (..., n)."""
    _checks.tensor("values", values, finite=False)
    _checks.budget("levels", levels)
    if values.is_floating_point() and bool(values.isnan().any()):
        raise ValueError("values contains NaN: quantiles need numbers (inf is allowed)")
    lv = torch.as_tensor(levels, dtype=torch.float64)
    if bool(((lv <= 0) | (lv > 1)).any()):
        raise ValueError(f"quantile levels must lie in (0, 1], got {lv.tolist()}")
    n = values.shape[-1]
    if n == 0:
        raise ValueError("no values to take quantiles of")
    ordered = torch.sort(values, dim=-1).values
    index = (torch.ceil(lv * n).long() - 1).clamp(0, n - 1).to(ordered.device)
    return ordered.index_select(-1, index).movedim(-1, 0)


def minimal_perturbation(
    model: Model,
    x: Tensor,
    y: Tensor | None = None,
    *,
    method: str = "gradient_step",
    levels: Sequence[float] = DEFAULT_LEVELS,
    max_eps: float | None = None,
    norm: NormArg = "l2",
    attack: Attack | None = None,
    iterations: int = 12,
) -> MinimalPerturbation:
    """Per-sample smallest flipping perturbation and its quantiles (paper 002 Figs. 2, 3, 7).

    method="gradient_step": ||delta|| of `minimal_gradient_step` (exact for ReLU nets; one-logit
    models; flips relative to the sign of f(x)). method="pgd": per-sample bisection over the
    budget of `attack` (default PGD in `norm`, 50 steps, early stop) on [0, max_eps] for
    `iterations` halvings, returning the upper end (a budget at which the attack succeeded);
    where it fails at max_eps, the upper end is sought at max_eps / 2^k (k <= BRACKET_HALVINGS:
    success is not monotone in the budget); inf where all fail. With labels y, misclassified
    points get 0.
    method="exact": `robustlab.verify.exact_minimal_perturbation` in `norm` ("l2", "linf" or
    "l1"; inf where no flip exists); method="certified": `robustlab.verify.certified_radius`,
    a sound lower bound (both for ReLU / leaky-ReLU `TwoLayerNet`s, one or K logits).
    Raises ValueError for an unknown method or a missing max_eps / labels for "pgd".
    """
    _checks.attack_inputs(model, x, y, norm=norm)
    _checks.counts(iterations=iterations)
    _checks.positives(max_eps=max_eps)
    _checks.budget("levels", levels)
    if method == "gradient_step":
        step = minimal_gradient_step(model, x)
        norms = step.delta_norm.to(torch.float64)
        if y is not None:
            norms = torch.where(clean_margin(model, x, y) > 0, norms, 0.0)
    elif method == "pgd":
        if y is None or max_eps is None:
            raise ValueError('method="pgd" needs labels y and max_eps')
        if not max_eps > 0:
            raise ValueError(f"max_eps must be > 0, got {max_eps}")
        if iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {iterations}")
        run = attack or functools.partial(pgd, norm=norm, steps=50, early_stop=True)
        correct = clean_margin(model, x, y) > 0
        shape = correct.shape
        hi = torch.full(shape, float(max_eps), dtype=torch.float64, device=x.device)
        lo = torch.zeros(shape, dtype=torch.float64, device=x.device)

        def fooled(eps: Tensor) -> Tensor:
            budget = eps.unsqueeze(0) if eps.ndim == 2 else eps.reshape(1, -1)
            success: Tensor = run(model, x, y, eps=budget).success[0]
            return success

        reach = fooled(hi)
        # An attack's success is not monotone in its budget (PGD's step grows with eps and can
        # land on a flat tie of a ReLU net): where it fails at max_eps, try max_eps / 2^k.
        ladder = hi.clone()
        for _ in range(BRACKET_HALVINGS):
            if bool(reach.all()):
                break
            ladder = torch.where(reach, ladder, 0.5 * ladder)
            hit = fooled(ladder) & ~reach
            hi = torch.where(hit, ladder, hi)
            reach = reach | hit
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            hit = fooled(mid)
            hi = torch.where(hit, mid, hi)
            lo = torch.where(hit, lo, mid)
        norms = torch.where(reach, hi, torch.inf)
        norms = torch.where(correct, norms, 0.0)
    elif method in ("exact", "certified"):
        norms = _verified(model, x, y, method=method, norm=norm)
    else:
        raise ValueError(
            f"unknown method {method!r}; allowed: gradient_step, pgd, exact, certified"
        )
    levels_t = torch.as_tensor(levels, dtype=torch.float64, device=x.device)
    return MinimalPerturbation(
        norms=norms,
        levels=levels_t,
        quantiles=quantiles(norms, levels),
        method=method,
    )


def _verified(model: Model, x: Tensor, y: Tensor | None, *, method: str, norm: NormArg) -> Tensor:
    """Exact or certified radii from `robustlab.verify` (imported here: verify uses attacks)."""
    from robustlab.models.two_layer import TwoLayerNet
    from robustlab.verify import certified_radius, exact_minimal_perturbation

    if not isinstance(model, TwoLayerNet):
        raise TypeError(f'method="{method}" needs a TwoLayerNet, got {type(model).__name__}')
    if not isinstance(norm, str):
        raise TypeError(f'method="{method}" needs norm "l2", "linf" or "l1", got {norm!r}')
    if method == "exact":
        return exact_minimal_perturbation(model, x, y, norm=norm).radius
    return certified_radius(model, x, y, norm=norm)
