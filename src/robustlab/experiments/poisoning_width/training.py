"""poisoning-width: minibatch SGD with early stopping, one net or a conv ensemble."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from robustlab.experiments.base import (
    Cell,
)
from robustlab.experiments.poisoning_width.config import NUM_CLASSES
from robustlab.learners import TrainingDivergedError, sgd
from robustlab.learners.trace import evaluate, per_sample_loss
from robustlab.models import PaperConvEnsemble, PaperConvNet, TwoLayerNet

logger = logging.getLogger("robustlab.experiments.poisoning_width")


def _new_model(family: str, width: int, dim: int, generator: torch.Generator) -> nn.Module:
    """A fresh ntk two-layer net (K = 10 outputs, E = 1) or the paper's conv net of width m."""
    if family == "ntk":
        return TwoLayerNet.ntk(1, width, dim, outputs=NUM_CLASSES, generator=generator)
    return PaperConvNet(width, NUM_CLASSES, generator=generator)


@torch.no_grad()
def _accuracy(model: nn.Module, X: Tensor, y: Tensor) -> float:
    return float(evaluate(model, X, y, loss="ce")[1][0])


@dataclass(frozen=True)
class _Split:
    """Training and validation data of one net."""

    X: Tensor
    y: Tensor
    X_val: Tensor
    y_val: Tensor


@dataclass(frozen=True)
class _Fitted:
    """A model restored to its best validation epoch, with what early stopping saw."""

    model: nn.Module
    val_accuracy: float
    train_accuracy: float
    best_epoch: int
    epochs_run: int


class _Training:
    """Minibatch SGD on cross-entropy (no momentum, no weight decay) with early stopping."""

    def __init__(self, lr: float, batch_size: int, max_epochs: int, patience: int) -> None:
        self.lr, self.batch_size = lr, batch_size
        self.max_epochs, self.patience = max_epochs, patience

    @classmethod
    def from_cell(cls, cell: Cell, family: str) -> _Training:
        lr = float(cell["lr_conv"] if family == "conv" else cell["lr_ntk"])
        return cls(lr, int(cell["batch_size"]), int(cell["max_epochs"]), int(cell["patience"]))

    def with_lr(self, lr: float) -> _Training:
        return _Training(lr, self.batch_size, self.max_epochs, self.patience)

    def fit_all(
        self,
        family: str,
        width: int,
        splits: list[_Split],
        generators: list[torch.Generator],
        lrs: list[float],
    ) -> list[_Fitted]:
        """Fresh nets of `width`, one per (split, generator, learning rate): initialized from
        the generator, then trained on the split with batches drawn from it. Several conv
        splits with one rate train as one `PaperConvEnsemble` (same rows as one by one, up to
        summation order)."""
        dim = splits[0].X.shape[1]
        like = splits[0].X
        models = [_new_model(family, width, dim, g).to(like.device, like.dtype) for g in generators]
        if family == "conv" and len(splits) > 1 and len(set(lrs)) == 1:
            ensemble = self.with_lr(lrs[0])
            return ensemble.fit_ensemble(models, splits, generators)  # type: ignore[arg-type]
        return [
            self.with_lr(lr).fit(model, s.X, s.y, s.X_val, s.y_val, g)
            for model, s, g, lr in zip(models, splits, generators, lrs, strict=True)
        ]

    def fit_ensemble(
        self, models: list[PaperConvNet], splits: list[_Split], generators: list[torch.Generator]
    ) -> list[_Fitted]:
        """`fit` for E conv nets at once: member e sees the batches `fit` would draw from
        generators[e] and stops by its own validation accuracy; stopped members leave the
        ensemble (it is rebuilt from the others), so no step is spent on them."""
        E = len(models)
        X_all, y_all = torch.stack([s.X for s in splits]), torch.stack([s.y for s in splits])
        Xv_all = torch.stack([s.X_val for s in splits])
        yv_all = torch.stack([s.y_val for s in splits])
        alive = list(range(E))
        net = PaperConvEnsemble(models)
        best_val, best_epoch = [-1.0] * E, [0] * E
        stopped: list[int | None] = [None] * E
        best_state: list[list[Tensor]] = [[] for _ in range(E)]
        n = X_all.shape[1]
        for epoch in range(1, self.max_epochs + 1):
            pick = torch.tensor(alive, device=X_all.device)
            X, y = X_all[pick], y_all[pick]
            params = list(net.parameters())
            rows = torch.arange(len(alive), device=X.device).unsqueeze(1)
            order = torch.stack([torch.randperm(n, generator=generators[e]) for e in alive])
            order = order.to(X.device)
            last = torch.zeros(len(alive), dtype=X.dtype)
            for start in range(0, n, self.batch_size):
                idx = order[:, start : start + self.batch_size]
                per_member = per_sample_loss(net(X[rows, idx]), y[rows, idx], "ce").mean(dim=1)
                grads = torch.autograd.grad(per_member.sum(), params)
                with torch.no_grad():
                    for p, g in zip(params, grads, strict=True):
                        p.sub_(self.lr * g)
                last = per_member.detach()
            val = _ensemble_accuracy(net, Xv_all[pick], yv_all[pick])
            for k, e in enumerate(alive):
                if val[k] >= best_val[e]:
                    best_val[e], best_epoch[e] = val[k], epoch
                    best_state[e] = [p[k].detach().clone() for p in params]
                elif epoch - best_epoch[e] >= self.patience:
                    stopped[e] = epoch
                    continue
                if not math.isfinite(float(last[k])):
                    logger.warning("member %d diverged at epoch %d (lr %g)", e, epoch, self.lr)
                    stopped[e] = epoch
            keep = [k for k, e in enumerate(alive) if stopped[e] is None]
            if not keep:
                break
            if len(keep) < len(alive):
                net = PaperConvEnsemble([net.member(k) for k in keep])
                alive = [alive[k] for k in keep]
        best = PaperConvEnsemble(models)
        with torch.no_grad():
            for e in range(E):
                for p, state in zip(best.parameters(), best_state[e], strict=True):
                    p[e].copy_(state)
        fitted = []
        for e in range(E):
            model = best.member(e)
            train_accuracy = _accuracy(model, splits[e].X, splits[e].y)
            stop = stopped[e]
            runs = self.max_epochs if stop is None else stop
            fitted.append(_Fitted(model, best_val[e], train_accuracy, best_epoch[e], runs))
        return fitted

    def fit(
        self,
        model: nn.Module,
        X: Tensor,
        y: Tensor,
        X_val: Tensor,
        y_val: Tensor,
        generator: torch.Generator,
    ) -> _Fitted:
        """Train epoch by epoch (reshuffled from `generator`); keep the best validation epoch.

        Stops after `patience` epochs without a validation accuracy at least as good as the best
        or after `max_epochs`; the returned model holds the parameters of the last best epoch.
        """
        best_val, best_epoch = -1.0, 0
        best_state: list[Tensor] = []
        epoch = 0
        for epoch in range(1, self.max_epochs + 1):
            diverged = False
            try:
                sgd(
                    model,
                    X,
                    y,
                    loss="ce",
                    lr=self.lr,
                    batch_size=self.batch_size,
                    epochs=1,
                    generator=generator,
                    inplace=True,
                    diagnostics=False,  # no whole-training-set passes: only validation decides
                )
            except TrainingDivergedError:  # the model holds the diverged weights (inplace)
                diverged = True
            val = _accuracy(model, X_val, y_val)
            if val >= best_val:  # ties count as progress (authors' code)
                best_val, best_epoch = val, epoch
                best_state = [p.detach().clone() for p in model.parameters()]
            elif epoch - best_epoch >= self.patience:
                break
            if diverged:
                logger.warning("training diverged at epoch %d (lr %g)", epoch, self.lr)
                break
        with torch.no_grad():
            for p, best in zip(model.parameters(), best_state, strict=True):
                p.copy_(best)
        return _Fitted(model, best_val, _accuracy(model, X, y), best_epoch, epoch)


@torch.no_grad()
def _ensemble_accuracy(
    net: PaperConvEnsemble, X: Tensor, y: Tensor, chunk: int = 2048
) -> list[float]:
    """Per-member accuracy on per-member data X (E, n, d), y (E, n), in chunks of samples."""
    correct = torch.zeros(X.shape[0], dtype=torch.float64)
    for start in range(0, X.shape[1], chunk):
        logits = net(X[:, start : start + chunk])
        correct += (logits.argmax(dim=-1) == y[:, start : start + chunk]).sum(dim=1).double().cpu()
    return (correct / max(X.shape[1], 1)).tolist()
