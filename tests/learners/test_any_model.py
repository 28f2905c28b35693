"""Issue 11: sgd, adversarial_training, clean_label and label_flip on ordinary PyTorch models.

Each regression runs on an MLP with nn.Flatten first and on a small CNN with batch norm and
dropout, on image-shaped inputs (n, 1, 8, 8), with one-logit (+-1) and K-logit (0..K-1) labels.
"""

from __future__ import annotations

import copy
from functools import partial

import pytest
import torch
from torch import Tensor, nn

from robustlab.attacks import pgd
from robustlab.geometry import L21
from robustlab.learners import adversarial_training, from_attack, sgd
from robustlab.learners.trace import evaluate
from robustlab.poisoning import clean_label, label_flip

SIDE = 8


def mlp(outputs: int) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(SIDE * SIDE, 32), nn.ReLU(), nn.Linear(32, outputs)
    )


def cnn(outputs: int) -> nn.Module:
    """Conv, batch norm, ReLU, pool, dropout, linear: train and eval mode differ."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(4 * (SIDE // 2) ** 2, outputs),
    )


MODELS = {"mlp": mlp, "cnn": cnn}


def images(n: int, classes: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Separable synthetic images in [0, 1]: class k brightens the k-th band of rows."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % classes
    x = 0.3 * torch.rand(n, 1, SIDE, SIDE, generator=g)
    band = SIDE // classes
    for k in range(classes):
        x[labels == k, :, k * band : (k + 1) * band, :] += 0.6
    return x.clamp(0.0, 1.0), labels


def binary_labels(labels: Tensor) -> Tensor:
    return torch.where(labels == 0, -1.0, 1.0)


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("classes", [2, 4])
def test_sgd_trains_image_models_and_the_loss_follows_the_output_shape(
    name: str, classes: int
) -> None:
    x, labels = images(256, classes)
    outputs = 1 if classes == 2 else classes
    y = binary_labels(labels) if outputs == 1 else labels
    model = MODELS[name](outputs)
    before = evaluate(model, x, y, loss="logistic")[1]
    trained, trace = sgd(
        model, x, y, lr=0.2, batch_size=32, epochs=8, generator=torch.Generator().manual_seed(1)
    )
    after = evaluate(trained, x, y, loss="logistic")[1]
    assert float(after) > 0.9 and float(after) > float(before)
    assert trace.loss[-1, 0] < trace.loss[0, 0]
    assert trained.training and model.training  # the mode given is kept, the input untouched
    # integer +-1 labels (one logit) and float class labels (K logits) are the same task
    other = y.long() if outputs == 1 else y.double()
    again, _ = sgd(
        MODELS[name](outputs),
        x,
        other,
        lr=0.2,
        batch_size=32,
        epochs=1,
        generator=torch.Generator().manual_seed(1),
    )
    first, _ = sgd(
        MODELS[name](outputs), x, y, lr=0.2, batch_size=32, epochs=1,
        generator=torch.Generator().manual_seed(1),
    )  # fmt: skip
    for p, q in zip(again.parameters(), first.parameters(), strict=True):
        torch.testing.assert_close(p, q)


def test_labels_that_do_not_fit_the_output_shape_raise() -> None:
    x, labels = images(16, 4)
    with pytest.raises(ValueError, match="one-output model needs labels"):
        sgd(mlp(1), x, labels, lr=0.1)
    with pytest.raises(ValueError, match=r"y must lie in 0\.\.2 for a 3-output model"):
        sgd(mlp(3), x, labels, lr=0.1)


def test_trace_is_recorded_in_eval_mode() -> None:
    """The trace's loss is the eval-mode loss (dropout off, running batch-norm statistics)."""
    x, labels = images(64, 4)
    trained, trace = sgd(cnn(4), x, labels, lr=0.1, batch_size=16, epochs=2)
    reference = copy.deepcopy(trained).eval()
    with torch.no_grad():
        loss = nn.functional.cross_entropy(reference(x), labels)
    torch.testing.assert_close(trace.loss[-1, 0], loss.to(trace.loss.dtype))


@pytest.mark.parametrize("name", list(MODELS))
def test_adversarial_training_with_from_attack_pgd_on_image_models(name: str) -> None:
    """The docstring's pattern: from_attack(partial(pgd, eps=...)) on a plain module."""
    x, labels = images(128, 4)
    attack = from_attack(partial(pgd, eps=0.1, norm="linf", steps=3, box=(0.0, 1.0)))
    model = MODELS[name](4)
    trained, trace = adversarial_training(
        model, x, labels, attack=attack, lr=0.2, epochs=3, batch_size=32
    )
    assert trace.batch_loss.shape == (len(trace.step), 1)
    robust = pgd(trained, x, labels, eps=0.1, norm="linf", steps=10, box=(0.0, 1.0))
    plain, _ = sgd(MODELS[name](4), x, labels, lr=0.2, epochs=3, batch_size=32)
    robust_plain = pgd(plain, x, labels, eps=0.1, norm="linf", steps=10, box=(0.0, 1.0))
    assert float(robust.robust_accuracy[0]) >= float(robust_plain.robust_accuracy[0])
    assert trained.training  # attacks ran it in eval mode and restored training mode


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("outputs", [1, 4])
def test_clean_label_poisons_image_inputs_within_budget(name: str, outputs: int) -> None:
    x, labels = images(64, 4)
    y = binary_labels((labels > 1).long()) if outputs == 1 else labels
    model, _ = sgd(MODELS[name](outputs), x, y, lr=0.2, batch_size=16, epochs=4)
    mode = [m.training for m in model.modules()]
    budget = L21(2.0 * len(x))
    result = clean_label(model, x, y, budget, steps=10, box=(0.0, 1.0))
    assert result.x.shape == x.shape and torch.equal(result.y, y)
    spent = (result.x - x).flatten(1).norm(dim=1).sum()
    assert float(spent) <= budget.S * (1 + 1e-6)
    assert float(result.record.spent) == pytest.approx(float(spent), rel=1e-5)
    assert result.accuracy[-1] < result.accuracy[0]  # the fixed model's accuracy drops
    assert [m.training for m in model.modules()] == mode
    # the gradient of the maximized loss is taken in eval mode: with dropout active two runs
    # would differ
    again = clean_label(model, x, y, budget, steps=10, box=(0.0, 1.0))
    assert torch.equal(again.x, result.x)


@pytest.mark.parametrize("name", list(MODELS))
def test_label_flip_then_retraining_on_image_models(name: str) -> None:
    x, labels = images(128, 4)
    flipped = label_flip(labels, 0.4, num_classes=4, seed=0)
    assert 0.2 < flipped.rate < 0.6
    trained, _ = sgd(MODELS[name](4), x, flipped.y, lr=0.2, batch_size=32, epochs=4)
    clean_accuracy = evaluate(trained, x, labels, loss="ce")[1]
    assert float(clean_accuracy) > 0.5  # random flips at 40% still leave the majority class
    signs = label_flip(binary_labels((labels > 1).long()).long(), 1.0, seed=0)
    assert torch.equal(signs.y, -binary_labels((labels > 1).long()).long())


def test_adversarial_training_of_a_flat_input_mlp_is_not_an_ensemble_of_one() -> None:
    """The issue's crash: x_adv (1, n, d) from pgd fed to nn.Flatten as (1, n * d)."""
    x, labels = images(64, 4)
    flat = x.flatten(1)
    model = mlp(4)
    attack = from_attack(partial(pgd, eps=0.05, norm="linf", steps=2))
    trained, trace = adversarial_training(model, flat, labels, attack=attack, lr=0.1, epochs=1)
    assert trace.batch_loss.shape[1] == 1 and torch.isfinite(trace.batch_loss[-1]).all()
    assert not torch.equal(trained[1].weight, model[1].weight)
