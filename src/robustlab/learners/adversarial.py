"""Adversarial training with any attack in the inner loop, optionally in the lazy ball.

Paper 004 Algorithm 2 (AdvTr): W_{t+1} = W_t - eta grad_W l(y_t f_{delta_t}(W_t)) with
delta_t = Atk(W_t, x_t, y_t), and its minibatch version of section 4.2 (batch 64, 20 epochs,
learning rate 1 decayed by 0.2 every 5 epochs). Paper 002 appendix Algorithm 1 (projected
adversarial training): the attack perturbs the whole training set once per epoch and the weights
are projected onto B_{2,inf}(W0, R) after every step. The attack is any callable
(model, x, y) -> perturbed x; `from_attack` adapts functions that return a result with `x_adv`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import Tensor, nn

from robustlab import _checks
from robustlab.learners.precision import Precision, resolve_precision
from robustlab.learners.sgd import ModelT, Perturbation, _check_training, train_loop
from robustlab.learners.trace import TrainingTrace
from robustlab.models.generic import has_ensemble_axis


def adversarial_training(
    model: ModelT,
    X: Tensor,
    y: Tensor,
    *,
    attack: Perturbation,
    lr: float,
    epochs: int,
    batch_size: int = 64,
    lr_decay: tuple[float, int] | None = None,
    lazy_radius: float | None = None,
    attack_every: Literal["batch", "epoch"] = "batch",
    loss: str = "logistic",
    weight_decay: float = 0.0,
    max_steps: int | None = None,
    generator: torch.Generator | None = None,
    shared_order: bool = True,
    record_every: int | None = None,
    eval_data: tuple[Tensor, Tensor] | None = None,
    record_iterates: bool = False,
    inplace: bool = False,
    precision: Precision | None = None,
) -> tuple[ModelT, TrainingTrace]:
    """Train on attacked inputs; returns (trained model, trace).

    X: (n, d) for robustlab's ensemble models, (n, *shape) for any other module; y: (n,) in
    {-1, +1} (one logit) or 0..K-1 (K logits, cross-entropy): the loss follows the output shape,
    as in `sgd`. `attack(model, x, y)` gets the current model and a minibatch (`attack_every=
    "batch"`, paper 004 Algorithm 2) or the whole training set once per epoch (`"epoch"`, paper
    002 Algorithm 1) and returns perturbed inputs shaped like x, or (E, n, d) for an ensemble
    (one attack per member; robustlab's attacks run the module in eval mode); the
    first-layer step is then taken on them exactly as in `sgd` (closed form for `TwoLayerNet` and
    `LinearModel`, autograd otherwise). `lr_decay=(factor, every)` multiplies the learning rate by
    `factor` every `every` epochs (paper 004 section 4.2: lr=1, (0.2, 5), batch 64, 20 epochs).
    `lazy_radius` R projects a `TwoLayerNet` onto B_{2,inf}(W0, R) after every step (paper 002
    Algorithm 1). The trace's `batch_loss` is the loss on the attacked batches, `loss` and
    `accuracy` are clean. `precision="bf16-mixed"` computes the training step's products in
    bfloat16 as in `sgd` (None: the context's, float32 by default); the attack runs in the
    model's dtype. Raises ValueError for bad shapes or hyper-parameters, and for a run
    that diverges (a non-finite loss or weights), naming the step.
    """
    _check_training(model, X, y, lr, weight_decay, batch_size, epochs, max_steps, lazy_radius)
    _checks.callable_("attack", attack)
    _checks.generator_(generator)
    chosen = resolve_precision(precision)
    lr_factor: Callable[[int], float] | None = None
    if lr_decay is not None:
        factor, every = lr_decay
        _checks.positives(**{"lr_decay factor": factor})
        _checks.counts(**{"lr_decay every": every})
        if not factor > 0 or every < 1:
            raise ValueError(f"lr_decay must be (factor > 0, every >= 1), got {lr_decay}")

        def lr_factor(epoch: int) -> float:
            return float(factor ** (epoch // every))

    return train_loop(
        model,
        X,
        y,
        loss=loss,
        lr=lr,
        batch_size=batch_size,
        epochs=epochs,
        max_steps=max_steps,
        lazy_radius=lazy_radius,
        lazy_mode="project",
        weight_decay=weight_decay,
        generator=generator,
        shared_order=shared_order,
        record_every=record_every,
        eval_data=eval_data,
        record_iterates=record_iterates,
        inplace=inplace,
        lr_factor=lr_factor,
        perturb=attack,
        perturb_every=attack_every,
        precision=chosen,
    )


def from_attack(attack: Callable[..., Any]) -> Perturbation:
    """Adapt an attack returning a tensor or a result with `x_adv` to (model, x, y) -> x_adv.

    Use with functools.partial to fix the budget: `from_attack(partial(pgd, eps=0.1, ...))`.
    The leading budgets axis of robustlab.attacks' results ((B, E, n, d) for an ensemble model,
    (B, n, *shape) for any other module) is dropped when B = 1; it is told apart from the
    ensemble axis by the model, not by the number of dimensions. Raises TypeError at call time
    if the attack returns neither, ValueError for several budgets or a shape unlike x's.
    """
    _checks.callable_("attack", attack)

    def perturbation(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        result = attack(model, x, y)
        x_adv = result if isinstance(result, Tensor) else getattr(result, "x_adv", None)
        if not isinstance(x_adv, Tensor):
            raise TypeError(
                f"the attack must return a Tensor or a result with an x_adv Tensor, "
                f"got {type(result).__name__}"
            )
        if x_adv.ndim < x.ndim or x_adv.shape[x_adv.ndim - x.ndim :] != x.shape:
            raise ValueError(
                f"the attack returned x_adv shaped {tuple(x_adv.shape)} for x {tuple(x.shape)}"
            )
        # Leading axes beyond x's: a budgets axis B, then an ensemble axis E if the model has one.
        member_axes = 1 if has_ensemble_axis(model) and x.ndim == 2 else 0
        if x_adv.ndim - x.ndim > member_axes:
            if x_adv.shape[0] != 1:
                raise ValueError(
                    f"the attack returned {x_adv.shape[0]} budgets (x_adv shaped "
                    f"{tuple(x_adv.shape)}): train with one budget"
                )
            x_adv = x_adv[0]
        if x_adv.ndim - x.ndim > member_axes:
            raise ValueError(f"unexpected leading axes in x_adv {tuple(x_adv.shape)}")
        return x_adv

    return perturbation
