"""Fixed-budget gradient attacks: FGSM, BIM and PGD in l2 or linf, many budgets in one pass.

All three run the same loop (paper 004 Algorithm 1): from x (or a random point of the ball),
step along the normalized gradient of the attack loss, project back onto the budget ball (and
the optional box), and return the best iterate, not the last. "Best" puts a misclassified
iterate first and then the largest loss; the clean point itself is a candidate, so points
already misclassified count as successes.

Budgets are vectorized: a list of B budgets (or a (B, n) tensor) is laid out as a (E, B * n)
batch and attacked in one pass, so a robust-accuracy-versus-epsilon curve is one call. Restarts
re-attack only the points not yet fooled (for every ensemble member). With `early_stop=True`
a point leaves the batch as soon as it is fooled (by every member): its success is then already
decided, so the success mask and the robust accuracy are unchanged, but its x_adv is the first
misclassified iterate instead of the one of largest loss; use it to measure robustness, not
for the inner loop of adversarial training.

Models: `TwoLayerNet` (closed-form gradients, two matrix products per step), other ensemble
models of robustlab (their `input_grad`), or any callable / `torch.nn.Module` through autograd,
inputs of any shape (n, *shape), outputs (n,), (n, 1) (labels in {-1, +1}) or (n, K) (labels
0..K-1). A module is attacked in eval mode and its mode restored (`train_mode=True` keeps it).

Targeted attacks (`target=` classes t) succeed where t is predicted; their loss is the targeted
reflected loss of paper 004 section 4.3 (`_common`). `step="raw"` takes Algorithm 1's
unnormalized steps delta += step_size * grad instead of normalized ones, grad being each
sample's own loss gradient; a loss averaged over a batch of B samples (PyTorch's default
reduction) divides every raw step by B: pass step_size / B for that batch (the
reflected-adversarial-training option raw_step_losses = "batch-mean").
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import torch
from torch import Tensor

from robustlab import _checks
from robustlab.attacks._common import (
    Box,
    Budget,
    box_bounds,
    budget_grid,
    check_labels,
    check_loss,
    loss_and_margin,
    loss_direction,
)
from robustlab.attacks._model import Model, Objective, as_objective, model_inputs
from robustlab.attacks.result import AttackResult
from robustlab.geometry import L2, Linf, get_norm

logger = logging.getLogger(__name__)

Schedule = Callable[[int, int], float]
"""Step-size multiplier: schedule(step, steps) -> factor for step 0..steps-1."""

NormArg = str | L2 | Linf
STEPS = ("normalized", "raw")

_COMPACT_BELOW = 0.8  # drop fooled points once at most this fraction of the batch is left


def constant_schedule(step: int, steps: int) -> float:
    """The same step size at every step."""
    return 1.0


def step_decay(gamma: float, every: int) -> Schedule:
    """Multiply the step size by `gamma` every `every` steps (piecewise constant).

    Raises ValueError unless 0 < gamma and every >= 1.
    """
    _checks.positives(gamma=gamma)
    _checks.counts(every=every)
    if not gamma > 0 or every < 1:
        raise ValueError(f"step_decay needs gamma > 0 and every >= 1, got {gamma}, {every}")

    def schedule(step: int, steps: int) -> float:
        return float(gamma ** (step // every))

    return schedule


def cosine_schedule(step: int, steps: int) -> float:
    """Cosine decay from 1 to 0 over the run: (1 + cos(pi * step / steps)) / 2."""
    return 0.5 * (1.0 + math.cos(math.pi * step / max(steps, 1)))


def _norm_object(norm: NormArg) -> L2 | Linf:
    return get_norm(norm) if isinstance(norm, str) else norm


class _Batch:
    """The active part of the attack: columns `index` of the (E, B * n) layout."""

    def __init__(
        self,
        index: Tensor,
        x: Tensor,
        y: Tensor,
        eps: Tensor,
        alpha: Tensor,
        best: dict[str, Tensor],
    ) -> None:
        self.index, self.x, self.y, self.eps, self.alpha = index, x, y, eps, alpha
        self.best = best

    def select(self, keep: Tensor) -> _Batch:
        cols = keep.nonzero().squeeze(1)
        return _Batch(
            self.index[cols],
            self.x.index_select(1, cols),
            self.y.index_select(0, cols),
            self.eps.index_select(1, cols),
            self.alpha.index_select(1, cols),
            {k: v.index_select(1, cols) for k, v in self.best.items()},
        )


def _gather(full: dict[str, Tensor], index: Tensor) -> dict[str, Tensor]:
    return {k: v.index_select(1, index) for k, v in full.items()}


def _scatter(full: dict[str, Tensor], batch: _Batch) -> None:
    for k, v in batch.best.items():
        full[k].index_copy_(1, batch.index, v)


def _update_best(best: dict[str, Tensor], x_adv: Tensor, loss: Tensor, margin: Tensor) -> None:
    """Keep, per (member, column), a misclassified iterate first, then the largest loss."""
    success = margin <= 0
    had = best["success"]
    better = (success & ~had) | ((success == had) & (loss > best["loss"]))
    best["loss"] = torch.where(better, loss, best["loss"])
    best["margin"] = torch.where(better, margin, best["margin"])
    best["success"] = had | success
    mask = better.reshape(*better.shape, *([1] * (x_adv.ndim - 2)))
    best["x"] = torch.where(mask, x_adv, best["x"])


def _limits(
    batch: _Batch, bounds: tuple[Tensor, Tensor] | None, sample_dims: int
) -> tuple[Tensor, Tensor]:
    """Coordinatewise bounds of the linf ball around x, intersected with the box."""
    radius = batch.eps.reshape(*batch.eps.shape, *([1] * sample_dims))
    low, high = batch.x - radius, batch.x + radius
    if bounds is not None:
        low, high = torch.maximum(low, bounds[0]), torch.minimum(high, bounds[1])
    return low, high


def _run(
    objective: Objective,
    x: Tensor,
    y: Tensor,
    eps: Budget,
    *,
    norm: NormArg,
    steps: int,
    step_size: float | None,
    step_ratio: float,
    loss: str,
    restarts: int,
    random_start: bool,
    box: Box | None,
    schedule: Schedule | None,
    early_stop: bool,
    generator: torch.Generator | None,
    target: Tensor | None = None,
    step: str = "normalized",
) -> AttackResult:
    """The shared loop of FGSM, BIM and PGD (paper 004 Algorithm 1, batched)."""
    norm_obj = _norm_object(norm)
    check_loss(loss)
    if step not in STEPS:
        raise ValueError(f"unknown step {step!r}; allowed: {', '.join(STEPS)}")
    raw = step == "raw"
    if raw and step_size is None:
        raise ValueError("step='raw' takes unnormalized gradient steps: pass step_size")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if restarts < 1:
        raise ValueError(f"restarts must be >= 1, got {restarts}")
    if restarts > 1 and not random_start:
        raise ValueError("restarts > 1 repeat the same deterministic attack: set random_start")
    if step_size is not None and not step_size > 0:
        raise ValueError(f"step_size must be > 0, got {step_size}")
    if not step_ratio > 0:
        raise ValueError(f"step_ratio must be > 0, got {step_ratio}")
    schedule = schedule or constant_schedule

    xe = model_inputs(objective, x)
    E, n = xe.shape[:2]
    shape = tuple(xe.shape[2:])
    sample_dims = len(shape)
    bounds = box_bounds(box, xe, sample_dims)
    grid = budget_grid(eps, n=n, ensemble=E, dtype=xe.dtype, device=xe.device)
    B = grid.shape[0]
    N = B * n

    clean = objective.outputs(xe)
    labels = check_labels(y, clean, n)
    targeted = target is not None
    if target is not None:
        labels = check_labels(target, clean, n)
    clean_loss, clean_margin = loss_and_margin(clean, labels, loss, targeted)

    y_full = labels.repeat(B)
    x_full = xe.unsqueeze(1).expand(E, B, n, *shape).reshape(E, N, *shape)
    eps_full = grid.transpose(0, 1).reshape(E, N).contiguous()
    if step_size is None:
        alpha_full = eps_full * (step_ratio / steps)
    else:
        alpha_full = torch.full_like(eps_full, float(step_size))
    full = {
        "x": x_full.clone(),
        "loss": clean_loss.repeat(1, B),
        "margin": clean_margin.repeat(1, B),
        "success": (clean_margin <= 0).repeat(1, B),
    }
    if generator is None:  # drawn on the CPU and moved: the same start on every device
        generator = torch.Generator().manual_seed(0)

    def lift(t: Tensor) -> Tensor:
        return t.reshape(*t.shape, *([1] * sample_dims))

    for restart in range(restarts):
        if restart == 0 and not early_stop:
            index = torch.arange(N, device=xe.device)
        else:
            index = (~full["success"].all(dim=0)).nonzero().squeeze(1)
        if index.numel() == 0:
            break
        batch = _Batch(
            index,
            x_full.index_select(1, index),
            y_full.index_select(0, index),
            eps_full.index_select(1, index),
            alpha_full.index_select(1, index),
            _gather(full, index),
        )
        limits = _limits(batch, bounds, sample_dims) if isinstance(norm_obj, Linf) else None
        x_adv = batch.x
        if random_start:
            noise = norm_obj.random_start(
                tuple(batch.x.shape), batch.eps, generator, xe.dtype, sample_dims
            )
            x_adv = batch.x + noise.to(xe.device)
            if bounds is not None:
                x_adv = torch.clamp(x_adv, bounds[0], bounds[1])
        for iteration in range(steps + 1):
            current = batch

            def direction(out: Tensor, current: _Batch = current) -> Tensor:
                return loss_direction(out, current.y, loss, targeted)

            if iteration < steps:
                out, grad = objective.outputs_and_grad(x_adv, direction)
            else:
                out = objective.outputs(x_adv)
            step_loss, step_margin = loss_and_margin(out, batch.y, loss, targeted)
            _update_best(batch.best, x_adv, step_loss, step_margin)
            if iteration == steps:
                break
            factor = schedule(iteration, steps)
            ascent = grad if raw else norm_obj.normalize(grad, sample_dims)
            x_adv = torch.addcmul(x_adv, lift(batch.alpha * factor), ascent)
            if limits is not None:
                # The linf ball intersected with the box is a coordinatewise interval: one clamp
                # is the exact projection onto both.
                x_adv = x_adv.clamp_(limits[0], limits[1])
            else:
                x_adv = batch.x + norm_obj.project(x_adv - batch.x, batch.eps, sample_dims)
                if bounds is not None:
                    x_adv = x_adv.clamp_(bounds[0], bounds[1])
            if early_stop:
                alive = ~batch.best["success"].all(dim=0)
                remaining = int(alive.sum())
                if remaining <= _COMPACT_BELOW * alive.numel():
                    _scatter(full, batch)
                    if remaining == 0:
                        break
                    cols = alive.nonzero().squeeze(1)
                    batch = batch.select(alive)
                    x_adv = x_adv.index_select(1, cols)
                    if limits is not None:
                        limits = (limits[0].index_select(1, cols), limits[1].index_select(1, cols))
        _scatter(full, batch)
        logger.debug("restart %d: %d of %d columns attacked", restart, index.numel(), N)

    x_adv_full = full["x"]
    norms = norm_obj.norm(x_adv_full - x_full, sample_dims)

    def out_axes(t: Tensor) -> Tensor:
        t = t.reshape(E, B, n, *t.shape[2:]).transpose(0, 1)
        return t if objective.has_ensemble_axis else t[:, 0]

    return AttackResult(
        x_adv=out_axes(x_adv_full).contiguous(),
        norms=out_axes(norms),
        success=out_axes(full["success"]),
        eps=out_axes(eps_full),
        loss=out_axes(full["loss"]),
        margin=out_axes(full["margin"]),
        norm=norm_obj.name,
    )


def pgd(
    model: Model,
    x: Tensor,
    y: Tensor,
    *,
    eps: Budget,
    norm: NormArg = "linf",
    steps: int = 50,
    step_size: float | None = None,
    step_ratio: float = 2.5,
    loss: str = "ce",
    restarts: int = 1,
    random_start: bool = True,
    box: Box | None = None,
    schedule: Schedule | None = None,
    early_stop: bool = False,
    generator: torch.Generator | None = None,
    target: Tensor | None = None,
    step: str = "normalized",
    train_mode: bool = False,
) -> AttackResult:
    """Projected gradient ascent on the attack loss in an l2 or linf ball (Madry et al. 2018).

    Paper 004 Algorithm 1 (loss="reflected": l_-(z) = -log(1 + e^z), greedy for K > 2, section
    4.3); loss="ce" is the usual ascent on the logistic / cross-entropy loss, "margin" on minus
    the margin. x: (n, *shape), or (E, n, d) for an ensemble; y: (n,) in {-1, +1} for one-logit
    models, 0..K-1 otherwise. eps: a `Budget` (float, list of B floats, per-sample tensor...).
    Step size: `step_size` if given, else step_ratio * eps / steps, times `schedule(step,
    steps)`. Random start uniform in the ball (from `generator`, default a CPU
    one seeded with 0, the same on every device);
    `restarts` re-attack the points not yet fooled. `box` = (low, high) clips every iterate.
    `target` (n,): targeted attack, success where the target class is predicted (module
    docstring). `step="raw"`: paper 004 Algorithm 1's unnormalized steps delta += step_size *
    grad (needs `step_size`). A module runs in eval mode, restored afterwards, unless
    `train_mode`. Returns an `AttackResult` with (B, E, n) fields ((B, n) for a generic model).
    Raises ValueError for bad budgets, labels, shapes, loss or norm names, or x outside the box.
    """
    _checks.attack_inputs(model, x, y, eps=eps, box=box, norm=norm, generator=generator)
    _checks.counts(steps=steps, restarts=restarts)
    _checks.positives(step_size=step_size, step_ratio=step_ratio)
    return _run(
        as_objective(model, train_mode=train_mode),
        x,
        y,
        eps,
        norm=norm,
        steps=steps,
        step_size=step_size,
        step_ratio=step_ratio,
        loss=loss,
        restarts=restarts,
        random_start=random_start,
        box=box,
        schedule=schedule,
        early_stop=early_stop,
        generator=generator,
        target=target,
        step=step,
    )


def bim(
    model: Model,
    x: Tensor,
    y: Tensor,
    *,
    eps: Budget,
    norm: NormArg = "linf",
    steps: int = 10,
    step_size: float | None = None,
    step_ratio: float = 2.5,
    loss: str = "ce",
    box: Box | None = None,
    schedule: Schedule | None = None,
    early_stop: bool = False,
    target: Tensor | None = None,
    train_mode: bool = False,
) -> AttackResult:
    """Basic iterative method (Kurakin et al. 2017): PGD from x itself, no random start.

    Paper 004 section 4.2 (BIM and R-BIM with loss="reflected"). Arguments and result as `pgd`.
    """
    _checks.attack_inputs(model, x, y, eps=eps, box=box, norm=norm, schedule=schedule)
    _checks.counts(steps=steps)
    _checks.positives(step_size=step_size, step_ratio=step_ratio)
    return _run(
        as_objective(model, train_mode=train_mode),
        x,
        y,
        eps,
        norm=norm,
        steps=steps,
        step_size=step_size,
        step_ratio=step_ratio,
        loss=loss,
        restarts=1,
        random_start=False,
        box=box,
        schedule=schedule,
        early_stop=early_stop,
        generator=None,
        target=target,
    )


def fgsm(
    model: Model,
    x: Tensor,
    y: Tensor,
    *,
    eps: Budget,
    norm: NormArg = "linf",
    loss: str = "ce",
    box: Box | None = None,
    target: Tensor | None = None,
    train_mode: bool = False,
) -> AttackResult:
    """Fast gradient (sign) method (Goodfellow et al. 2015): one step of size eps.

    linf: x + eps * sign(grad); l2: x + eps * grad / ||grad||. Paper 004 section 4.2 (FGSM and
    R-FGSM with loss="reflected"). The clean point stays a candidate (the best of the two is
    returned). Arguments and result as `pgd`.
    """
    _checks.attack_inputs(model, x, y, eps=eps, box=box, norm=norm)
    return _run(
        as_objective(model, train_mode=train_mode),
        x,
        y,
        eps,
        norm=norm,
        steps=1,
        step_size=None,
        step_ratio=1.0,
        loss=loss,
        restarts=1,
        random_start=False,
        box=box,
        schedule=None,
        early_stop=False,
        generator=None,
        target=target,
    )
