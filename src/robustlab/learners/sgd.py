"""Online and minibatch SGD with the top layer fixed, optionally confined to the lazy ball.

Paper 001 section 3: a two-layer ReLU net f = (1/sqrt m) sum_s a_s relu(w_s . x) with a_s fixed in
{-1, +1} and W trained by SGD on the logistic loss, one pass over the samples (batch size 1).
Paper 002 section 5.1: the same with a learning rate of 0.1, stopped when the iterates would leave
the lazy ball B_{2,inf}(W0, C0/sqrt m); paper 002 appendix Algorithm 1: projected onto that ball
after every step instead. All E ensemble members train in one batched computation.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable
from typing import Literal, TypeVar

import torch
from torch import Tensor, nn

from robustlab import _checks, losses
from robustlab.geometry import project_weight_ball
from robustlab.learners.precision import Precision, resolve_precision, uses_bf16
from robustlab.learners.trace import (
    EVAL_CHUNK,
    TrainingDivergedError,
    TrainingTrace,
    broadcast_labels,
    check_loss,
    ensemble_logits,
    evaluate,
    per_sample_loss,
    sample_axis,
)
from robustlab.learners.two_layer_step import TwoLayerStepper
from robustlab.models.generic import as_labels, evaluation_mode, has_ensemble_axis, one_logit
from robustlab.models.linear import LinearModel
from robustlab.models.two_layer import TwoLayerNet

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=nn.Module)
LazyMode = Literal["stop", "project"]
Perturbation = Callable[[nn.Module, Tensor, Tensor], Tensor]
"""(model, x, y) -> perturbed x, shaped like x (n, *shape), or (E, n, d) for an ensemble."""

LAZY_MODES = ("stop", "project")
PERTURB_EVERY = ("batch", "epoch")


def sgd(
    model: ModelT,
    X: Tensor,
    y: Tensor,
    *,
    loss: str = "logistic",
    lr: float,
    batch_size: int = 1,
    epochs: int = 1,
    max_steps: int | None = None,
    lazy_radius: float | None = None,
    lazy_mode: LazyMode = "stop",
    weight_decay: float = 0.0,
    generator: torch.Generator | None = None,
    shared_order: bool = True,
    record_every: int | None = None,
    eval_data: tuple[Tensor, Tensor] | None = None,
    record_iterates: bool = False,
    inplace: bool = False,
    diagnostics: bool = True,
    precision: Precision | None = None,
    validate: bool = True,
) -> tuple[ModelT, TrainingTrace]:
    """Train the first layer by SGD on a margin loss; returns (trained model, trace).

    X: (n, d) for robustlab's ensemble models, (n, *shape) for any other `torch.nn.Module`;
    y: (n,). The loss follows the model's output shape: one logit (labels in {-1, +1}, any
    dtype) takes the margin loss `loss`, K logits (labels 0..K-1) the cross-entropy. A module
    trains in the mode it is given (a new module is in training mode: dropout and batch norm
    active) and is evaluated for the trace in eval mode, its mode restored. Each step takes a
    minibatch of `batch_size` samples (1 = online SGD, paper 001 section 3) and applies
    W <- W - lr (grad + weight_decay W). For a `TwoLayerNet` with fixed top layer and no bias
    the gradient is the closed form `param_grad(x, l'(z) y / b)`, for a `LinearModel` its
    `param_grad`; any other module (or a net with trainable a or b) trains all parameters that
    require grad, through autograd (a plain step, no torch.optim).

    Minibatch order: with `generator` the samples are reshuffled every epoch, one order shared by
    all members unless `shared_order=False` (then one permutation per member); without a
    generator they are taken in the given order. `lazy_radius` R (e.g. C0 / sqrt(m)) confines a
    `TwoLayerNet` to B_{2,inf}(W0, R): `lazy_mode="stop"` freezes a member at the last iterate
    inside the ball as soon as its next step would leave it (checked every step, per member; the
    others go on; paper 002 section 5.1), `"project"` projects onto the ball after every step
    (paper 002 appendix Algorithm 1). Training ends after `epochs` passes, `max_steps` steps, or
    when every member is frozen. The input model is copied unless `inplace`.
    `diagnostics=False` skips the passes over the whole training set at each record (trace
    loss, accuracy and sign_changes are NaN; distance_from_init is kept): for very wide nets,
    where one such pass costs as much as hundreds of steps and holds (E, 4096, m) activations.
    `precision`: "float32", or "bf16-mixed" for bfloat16 matrix products with float32 weights
    (`robustlab.learners.precision`; None: the context's, float32 by default). It covers the
    closed-form TwoLayerNet step and the autograd path of any module (torch.autocast); a
    `LinearModel`, float64 weights, the trace and the lazy-ball distances stay as they are.
    `validate=False` skips the entry checks of model and data (a pass over each, 12-994 ms):
    for library loops that call `sgd` again on a model and data they already checked.
    Raises ValueError for bad shapes, labels, losses or hyper-parameters, and
    `TrainingDivergedError` (a ValueError) for a run whose loss or weights stop being finite
    (lr too large), naming the step; the minibatch loss is checked every step, the weights
    after every epoch.
    """
    if validate:
        _check_training(model, X, y, lr, weight_decay, batch_size, epochs, max_steps, lazy_radius)
        _checks.generator_(generator)
        _checks.optional_integer("record_every", record_every, low=1)
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
        lazy_mode=lazy_mode,
        weight_decay=weight_decay,
        generator=generator,
        shared_order=shared_order,
        record_every=record_every,
        eval_data=eval_data,
        record_iterates=record_iterates,
        inplace=inplace,
        diagnostics=diagnostics,
        precision=resolve_precision(precision),
    )


# --------------------------------------------------------------------- shared training loop
def train_loop(
    model: ModelT,
    X: Tensor,
    y: Tensor,
    *,
    loss: str,
    lr: float,
    batch_size: int,
    epochs: int,
    max_steps: int | None,
    lazy_radius: float | None,
    lazy_mode: LazyMode,
    weight_decay: float,
    generator: torch.Generator | None,
    shared_order: bool,
    record_every: int | None,
    eval_data: tuple[Tensor, Tensor] | None,
    record_iterates: bool,
    inplace: bool,
    lr_factor: Callable[[int], float] | None = None,
    perturb: Perturbation | None = None,
    perturb_every: str = "batch",
    diagnostics: bool = True,
    precision: Precision = "float32",
) -> tuple[ModelT, TrainingTrace]:
    """The minibatch loop behind `sgd` and `adversarial_training`.

    `lr_factor(epoch)` multiplies `lr` (a step decay); `perturb(model, x, y)` replaces the inputs
    by perturbed ones, once per minibatch or once per epoch for the whole training set.
    `precision` "bf16-mixed" computes the step's products in bfloat16 (see `sgd`).
    """
    _validate(X, y, lr, batch_size, epochs, max_steps, weight_decay, record_every)
    ensemble_model = has_ensemble_axis(model)
    if ensemble_model and X.ndim != 2:
        raise ValueError(
            f"an ensemble model trains on inputs X (n, d) shared by its members, "
            f"got shape {tuple(X.shape)}"
        )
    net = model if inplace else copy.deepcopy(model)
    with torch.no_grad(), evaluation_mode(net):
        probe_out = net(X[:1])
    binary = one_logit(probe_out, 1, net)
    y = as_labels(y, binary, probe_out.shape[-1])
    if lazy_mode not in LAZY_MODES:
        raise ValueError(f"unknown lazy_mode {lazy_mode!r}; allowed: {', '.join(LAZY_MODES)}")
    if perturb_every not in PERTURB_EVERY:
        raise ValueError(
            f"unknown perturb_every {perturb_every!r}; allowed: {', '.join(PERTURB_EVERY)}"
        )
    check_loss(loss, binary)
    if lazy_radius is not None:
        if not isinstance(model, TwoLayerNet):
            raise ValueError(
                f"lazy_radius needs a TwoLayerNet (it bounds ||w_s - w_s0||), got {type(model)}"
            )
        if not lazy_radius >= 0:
            raise ValueError(f"lazy_radius must be >= 0, got {lazy_radius}")
    if eval_data is not None:
        eval_n = eval_data[0].shape[sample_axis(net, eval_data[0])]
        if eval_data[1].shape != (eval_n,):
            raise ValueError(
                f"eval_data labels must be (n,) = ({eval_n},), got {tuple(eval_data[1].shape)}"
            )
        eval_data = (eval_data[0], as_labels(eval_data[1], binary, probe_out.shape[-1]))
    if not shared_order and generator is None:
        raise ValueError("shared_order=False draws one order per member: pass a generator")

    n = X.shape[0]
    probe = ensemble_logits(probe_out, 1, binary=binary)
    E = probe.shape[0]
    names, params = _trainable(net)
    closed_form = _closed_form_kind(net, names)
    logger.debug("sgd: E=%d, n=%d, closed form=%s, params=%s", E, n, closed_form, names)
    low = uses_bf16(precision, params[0].dtype)

    stepper = (
        TwoLayerStepper(net, lazy_radius, lazy_mode, low=low)
        if isinstance(net, TwoLayerNet) and closed_form == "two_layer"
        else None
    )
    recorder = _Recorder(net, X, y, loss, eval_data, record_iterates, E, diagnostics)
    active = torch.ones(E, dtype=torch.bool, device=X.device)
    updates = torch.zeros(E, dtype=torch.int64, device=X.device)
    step = 0
    rate = lr * (lr_factor(0) if lr_factor else 1.0)
    recorder.record(step, rate)
    total_steps = max_steps if max_steps is not None else epochs * math.ceil(n / batch_size)
    done = total_steps == 0
    for epoch in range(epochs):
        if done:
            break
        rate = lr * (lr_factor(epoch) if lr_factor else 1.0)
        # One order per member needs members; a plain module (E = 1) takes the (n,) order.
        order = _epoch_order(n, E, generator, shared_order or not ensemble_model).to(
            X.device
        )  # one copy per epoch
        source = X
        if perturb is not None and perturb_every == "epoch":
            source = _perturbed(perturb, net, X, y, params)
        for start in range(0, n, batch_size):
            idx = order[..., start : start + batch_size]
            xb, yb = _gather(source, idx, E, X.ndim), y[idx]
            if perturb is not None and perturb_every == "batch":
                xb = _perturbed(perturb, net, xb, yb, params)
            if stepper is not None:  # closed-form TwoLayerNet: in-place fused step
                assert isinstance(net, TwoLayerNet)
                pre, xs = stepper.preactivation(xb)
                weights, batch_loss = _two_layer_weights(net, pre, yb, loss, binary)
                _check_divergence("the minibatch loss", batch_loss, step, rate)
                stepper.step(xs, weights, pre, rate, weight_decay, active)
            else:
                grads, batch_loss = _gradients(
                    net, names, params, closed_form, xb, yb, loss, binary, low=low
                )
                _check_divergence("the minibatch loss", batch_loss, step, rate)
                _apply(net, params, grads, rate, weight_decay, lazy_radius, lazy_mode, active, E)
            updates += active.to(torch.int64)
            recorder.add_batch_loss(batch_loss)
            step += 1
            # Only the lazy stop mode clears `active`: no host sync per step otherwise.
            stopping = lazy_radius is not None and lazy_mode == "stop"
            done = step >= total_steps or (stopping and not bool(active.any()))
            if record_every is not None and step % record_every == 0:
                recorder.record(step, rate)
            if done:
                break
        largest = torch.stack(  # max |w| without a weight-sized temporary
            [torch.linalg.vector_norm(p.detach(), ord=math.inf) for p in params if p.numel()]
        )
        _check_divergence("the largest |weight|", largest, step, rate)
        if record_every is None:
            recorder.record(step, rate)
    if recorder.last_step != step:
        recorder.record(step, rate)
    return net, recorder.trace(updates, ~active)


def _check_training(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    lr: float,
    weight_decay: float,
    batch_size: int,
    epochs: int,
    max_steps: int | None,
    lazy_radius: float | None,
) -> None:
    """Entry checks shared by `sgd` and `adversarial_training`: finite model, data and labels
    fit for it, finite hyper-parameters."""
    _checks.module("model", model)
    _checks.training_data(model, X, y)
    _checks.positives(lr=lr)
    _checks.real("weight_decay", weight_decay, low=0.0)
    _checks.counts(batch_size=batch_size, epochs=epochs)
    _checks.optional_integer("max_steps", max_steps, low=0)
    _checks.optional_real("lazy_radius", lazy_radius, low=0.0)


def _check_divergence(what: str, values: Tensor, step: int, lr: float) -> None:
    """Stop a run whose loss or weights stopped being finite (one (E,)-sized check)."""
    if not bool(torch.isfinite(values).all()):
        raise TrainingDivergedError(
            f"training diverged: {what} became {values.tolist()} by step {step} at lr = {lr:g}; "
            "lower lr (or weight_decay), or check the data scale"
        )


def _validate(
    X: Tensor,
    y: Tensor,
    lr: float,
    batch_size: int,
    epochs: int,
    max_steps: int | None,
    weight_decay: float,
    record_every: int | None,
) -> None:
    if X.ndim < 2:
        raise ValueError(f"X must be (n, *shape) with a sample axis first, got {tuple(X.shape)}")
    if X.shape[0] == 0:
        raise ValueError("X is empty: need at least one training sample")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must be (n,) = ({X.shape[0]},), got shape {tuple(y.shape)}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if max_steps is not None and max_steps < 0:
        raise ValueError(f"max_steps must be >= 0 or None, got {max_steps}")
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
    if record_every is not None and record_every < 1:
        raise ValueError(f"record_every must be >= 1 or None, got {record_every}")


def _trainable(model: nn.Module) -> tuple[list[str], list[nn.Parameter]]:
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError("the model has no parameter that requires grad: nothing to train")
    return [name for name, _ in named], [p for _, p in named]


def _closed_form_kind(model: nn.Module, names: list[str]) -> str | None:
    """'two_layer' / 'linear' when the closed-form gradient covers exactly the trainable params."""
    if isinstance(model, TwoLayerNet) and names == ["W"]:
        return "two_layer"
    if isinstance(model, LinearModel) and names == [
        name for name in ("weight", "bias") if getattr(model, name) is not None
    ]:
        return "linear"
    return None


def _epoch_order(n: int, ensemble: int, generator: torch.Generator | None, shared: bool) -> Tensor:
    """Sample order for one epoch: (n,) shared by all members, or (E, n) one per member."""
    if generator is None:
        return torch.arange(n)
    if shared:
        return torch.randperm(n, generator=generator)
    return torch.rand((ensemble, n), generator=generator).argsort(dim=1)


def _gather(source: Tensor, idx: Tensor, ensemble: int, data_ndim: int) -> Tensor:
    """Rows idx of source: shared (n, *shape) like the data, or per member (E, n, d);
    idx (b,) or (E, b) -> (b, *shape) or (E, b, d)."""
    if source.ndim == data_ndim:
        return source[idx]
    if idx.ndim == 1:
        return source[:, idx]
    return source[torch.arange(ensemble, device=idx.device).unsqueeze(1), idx]


def _perturbed(
    perturb: Perturbation, model: nn.Module, x: Tensor, y: Tensor, params: list[nn.Parameter]
) -> Tensor:
    x_new = perturb(model, x, y).detach()
    for p in params:  # an attack calling backward() must not leak into the training step
        p.grad = None
    shared = x_new.shape == x.shape
    per_member = has_ensemble_axis(model) and x_new.ndim == 3 and x_new.shape[1:] == x.shape[-2:]
    if not (shared or per_member):
        raise ValueError(
            f"the perturbation must return x shaped like {tuple(x.shape)} (or (E, n, d) for an "
            f"ensemble model), got {tuple(x_new.shape)}"
        )
    return x_new


def _gradients(
    model: nn.Module,
    names: list[str],
    params: list[nn.Parameter],
    closed_form: str | None,
    xb: Tensor,
    yb: Tensor,
    loss: str,
    binary: bool,
    *,
    low: bool = False,
) -> tuple[list[Tensor], Tensor]:
    """Gradient of each member's mean minibatch loss w.r.t. the trainable params, and that loss.

    `low`: the autograd path runs the module under torch.autocast(bfloat16); the loss is taken
    on float32 logits (the closed forms stay in the parameters' dtype)."""
    b = yb.shape[-1]
    if closed_form is None:
        with torch.autocast(xb.device.type, dtype=torch.bfloat16, enabled=low):
            out = model(xb)
        if low and out.dtype != params[0].dtype:
            out = out.to(params[0].dtype)
        logits = ensemble_logits(out, b, binary=binary)
        per_member = per_sample_loss(logits, yb, loss).mean(dim=1)
        grads = torch.autograd.grad(per_member.sum(), params, allow_unused=True)
        pairs = zip(grads, params, strict=True)
        filled = [torch.zeros_like(p) if g is None else g for g, p in pairs]
        return filled, per_member.detach()
    with torch.no_grad():
        pre: Tensor | None = None
        if isinstance(model, TwoLayerNet) and closed_form == "two_layer":
            # W x is reused by param_grad: one product fewer per step.
            pre = model.preactivation(xb)
            out = model._readout(model.activation(pre))
        else:
            out = model(xb)
        weights, batch_loss = _loss_weights(ensemble_logits(out, b, binary=binary), yb, loss)
        if closed_form == "two_layer":
            assert isinstance(model, TwoLayerNet)
            return [model.param_grad(xb, weights, preactivation=pre)], batch_loss
        assert isinstance(model, LinearModel)
        grad = model.param_grad(xb, weights)
        by_name = {"weight": grad.weight, "bias": grad.bias}
        return [_required(by_name[name]) for name in names], batch_loss


def _loss_weights(logits: Tensor, yb: Tensor, loss: str) -> tuple[Tensor, Tensor]:
    """d(mean minibatch loss)/d(logits) per member and sample, and that loss: (E, b[, K]), (E,).

    logits (E, b) take the margin loss `loss`, (E, b, K) the cross-entropy."""
    b = yb.shape[-1]
    ye = broadcast_labels(yb, logits.shape[0])
    if logits.ndim == 2:
        yf = ye.to(logits.dtype)
        z = yf * logits
        weights = losses.margin_derivative(loss, z) * yf / b
        return weights, losses.get_margin_loss(loss)(z).mean(dim=1)
    probs = torch.softmax(logits, dim=-1)
    onehot = torch.nn.functional.one_hot(ye.long(), logits.shape[-1]).to(logits.dtype)
    return (probs - onehot) / b, losses.cross_entropy(logits, ye).mean(dim=1)


@torch.no_grad()
def _two_layer_weights(
    net: TwoLayerNet, pre: Tensor, yb: Tensor, loss: str, binary: bool
) -> tuple[Tensor, Tensor]:
    """Loss weights and minibatch loss of a TwoLayerNet from its preactivation W x (E, b, m)."""
    out = net._readout(net.activation(pre))
    logits = ensemble_logits(out, yb.shape[-1], binary=binary)
    return _loss_weights(logits, yb, loss)


def _required(t: Tensor | None) -> Tensor:
    if t is None:
        raise RuntimeError("closed-form gradient missing for a trainable parameter")
    return t


def _member_mask(mask: Tensor, p: Tensor, ensemble: int) -> Tensor:
    """A per-member boolean mask broadcastable against parameter p."""
    if ensemble == 1:
        return mask.reshape(())
    if p.ndim == 0 or p.shape[0] != ensemble:
        raise ValueError(
            f"freezing single members needs parameters with a leading ensemble axis E={ensemble}; "
            f"got a parameter shaped {tuple(p.shape)}"
        )
    return mask.reshape(ensemble, *([1] * (p.ndim - 1)))


@torch.no_grad()
def _apply(
    model: nn.Module,
    params: list[nn.Parameter],
    grads: list[Tensor],
    lr: float,
    weight_decay: float,
    lazy_radius: float | None,
    lazy_mode: str,
    active: Tensor,
    ensemble: int,
) -> None:
    """One step on every active member; updates `active` in place in the lazy stop mode."""
    masked = False  # `active` is all True unless the lazy stop mode cleared some members
    candidates = []
    for p, g in zip(params, grads, strict=True):
        step = g + weight_decay * p if weight_decay else g
        candidates.append(p - lr * step)
    if lazy_radius is not None and isinstance(model, TwoLayerNet):
        index = next(i for i, p in enumerate(params) if p is model.W)
        if lazy_mode == "project":
            candidates[index] = project_weight_ball(candidates[index], model.W0, lazy_radius)
        else:
            distance = (candidates[index] - model.W0).norm(dim=2).amax(dim=1)
            active &= distance <= lazy_radius
            masked = True
    if not masked or bool(active.all()):
        for p, new in zip(params, candidates, strict=True):
            p.copy_(new)
        return
    for p, new in zip(params, candidates, strict=True):
        p.copy_(torch.where(_member_mask(active, p, ensemble), new, p))


class _Recorder:
    """Collects the trace rows; evaluation in chunks, no gradients."""

    def __init__(
        self,
        model: nn.Module,
        X: Tensor,
        y: Tensor,
        loss: str,
        eval_data: tuple[Tensor, Tensor] | None,
        record_iterates: bool,
        ensemble: int,
        diagnostics: bool = True,
    ) -> None:
        self.model, self.X, self.y, self.loss = model, X, y, loss
        self.diagnostics = diagnostics
        self.eval_data = eval_data
        self.record_iterates = record_iterates
        self.ensemble = ensemble
        # TwoLayerNet keeps W0 itself; other E = 1 modules need a copy for the l2 distance.
        generic = not isinstance(model, TwoLayerNet) and ensemble == 1
        self.initial = (
            [p.detach().clone() for p in model.parameters() if p.requires_grad] if generic else []
        )
        self.rows: dict[str, list[Tensor]] = {
            key: []
            for key in (
                "step",
                "lr",
                "loss",
                "accuracy",
                "batch_loss",
                "distance",
                "sign_changes",
                "eval_loss",
                "eval_accuracy",
                "iterates",
            )
        }
        self.device = X.device  # every record stays on the training device
        self.batch_sum = torch.zeros(ensemble, dtype=torch.float64, device=self.device)
        self.batch_count = 0
        self.last_step = -1

    def add_batch_loss(self, batch_loss: Tensor) -> None:
        self.batch_sum += batch_loss.detach().to(torch.float64)
        self.batch_count += 1

    @torch.no_grad()
    def record(self, step: int, lr: float) -> None:
        model, rows = self.model, self.rows
        if self.diagnostics:
            train_loss, train_acc = evaluate(model, self.X, self.y, loss=self.loss)
        else:
            train_loss = train_acc = self._nan()
        rows["step"].append(torch.tensor(step, device=self.device))
        rows["lr"].append(torch.tensor(lr, dtype=torch.float64, device=self.device))
        rows["loss"].append(train_loss)
        rows["accuracy"].append(train_acc)
        mean_batch = (
            self.batch_sum / self.batch_count if self.batch_count else self._nan(torch.float64)
        )
        rows["batch_loss"].append(mean_batch)
        self.batch_sum = torch.zeros_like(self.batch_sum)
        self.batch_count = 0
        rows["distance"].append(self._distance())
        rows["sign_changes"].append(self._sign_changes())
        if self.eval_data is not None:
            eval_loss, eval_acc = evaluate(model, *self.eval_data, loss=self.loss)
            rows["eval_loss"].append(eval_loss)
            rows["eval_accuracy"].append(eval_acc)
        if self.record_iterates:
            first = next(p for p in model.parameters() if p.requires_grad)
            rows["iterates"].append(first.detach().clone())
        self.last_step = step

    def _distance(self) -> Tensor:
        if isinstance(self.model, TwoLayerNet):
            return self.model.distance_from_init()
        if self.ensemble != 1:
            return self._nan()
        now = [p.detach() for p in self.model.parameters() if p.requires_grad]
        squares = torch.stack(
            [((a - b) ** 2).sum() for a, b in zip(now, self.initial, strict=True)]
        )
        return squares.sum().sqrt().reshape(1)

    def _sign_changes(self) -> Tensor:
        if not self.diagnostics or not isinstance(self.model, TwoLayerNet):
            return self._nan()
        n = self.X.shape[0]
        total = torch.zeros(self.ensemble, dtype=torch.float64, device=self.device)
        for start in range(0, n, EVAL_CHUNK):
            changed = self.model.sign_changes(self.X[start : start + EVAL_CHUNK])
            total += changed.sum(dim=1).to(torch.float64)
        return total / (n * self.model.width)

    def _nan(self, dtype: torch.dtype | None = None) -> Tensor:
        """(E,) NaN on the training device: a record this model or run does not have."""
        return torch.full((self.ensemble,), math.nan, dtype=dtype, device=self.device)

    def trace(self, updates: Tensor, stopped: Tensor) -> TrainingTrace:
        rows = self.rows
        return TrainingTrace(
            step=torch.stack(rows["step"]),
            lr=torch.stack(rows["lr"]),
            loss=torch.stack(rows["loss"]),
            accuracy=torch.stack(rows["accuracy"]),
            batch_loss=torch.stack(rows["batch_loss"]),
            distance_from_init=torch.stack(rows["distance"]),
            sign_changes=torch.stack(rows["sign_changes"]),
            eval_loss=torch.stack(rows["eval_loss"]) if rows["eval_loss"] else None,
            eval_accuracy=torch.stack(rows["eval_accuracy"]) if rows["eval_accuracy"] else None,
            iterates=torch.stack(rows["iterates"]) if rows["iterates"] else None,
            updates=updates.clone(),
            stopped=stopped.clone(),
        )
