"""Linear MNIST classifiers shared by the paper 001 experiments (Figures 1 and 2): the seeded
data draw, the reference model w* and the training of the retrained members."""

from __future__ import annotations

import functools
from pathlib import Path

import torch
from torch import Tensor

from robustlab.data import load_mnist
from robustlab.learners import sgd
from robustlab.models import LinearModel

NUM_CLASSES = 10


def train_linear_classifiers(
    X: Tensor,
    y: Tensor,
    *,
    members: int,
    num_classes: int,
    lr: float,
    epochs: int,
    batch_size: int,
    seed: int,
) -> LinearModel:
    """`members` K-class linear models from PyTorch init, trained at once by SGD on cross-entropy.

    Paper 001 section 5 (the authors' linear-model script: plain SGD on the CE loss). Each member
    sees its own minibatch order; all randomness comes from `seed`.
    """
    generator = torch.Generator().manual_seed(seed)
    model = LinearModel.pytorch_init(
        members, X.shape[1], outputs=num_classes, generator=generator, dtype=X.dtype
    ).to(X.device)
    trained, _ = sgd(
        model,
        X,
        y,
        loss="ce",
        lr=lr,
        batch_size=batch_size,
        epochs=epochs,
        generator=generator,
        shared_order=False,
        record_every=2**62,  # no per-epoch evaluation of the training set
    )
    return trained


def derived_seeds(seed: int) -> tuple[int, int]:
    """(seed of the reference w*, seed of the retrained members), drawn from the cell seed."""
    draws = torch.randint(0, 2**62, (2,), generator=torch.Generator().manual_seed(seed + 1))
    return int(draws[0]), int(draws[1])


@functools.lru_cache(maxsize=4)
def mnist_draw(
    seed: int, n_test: int, data_dir: Path | None
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """MNIST train in a seeded order (a draw of n is its first n: nested across n) and a seeded
    draw of n_test test images: x_train (60000, 784), y_train, x_test, y_test (CPU, float32)."""
    generator = torch.Generator().manual_seed(seed)
    train, test = load_mnist("train", data_dir=data_dir), load_mnist("test", data_dir=data_dir)
    order = torch.randperm(train.x.shape[0], generator=generator)
    test_idx = torch.randperm(test.x.shape[0], generator=generator)[:n_test]
    return train.x[order], train.y[order], test.x[test_idx], test.y[test_idx]


@functools.lru_cache(maxsize=4)
def reference_model(
    seed: int,
    n_train: int,
    n_test: int,
    *,
    lr: float,
    epochs: int,
    batch_size: int,
    dtype: torch.dtype,
    device: torch.device,
    data_dir: Path | None,
) -> LinearModel:
    """w*: one linear model trained on the first `n_train` images of the seeded clean draw."""
    X, y, _, _ = mnist_draw(seed, n_test, data_dir)
    return train_linear_classifiers(
        X[:n_train].to(device, dtype),
        y[:n_train].to(device),
        members=1,
        num_classes=NUM_CLASSES,
        lr=lr,
        epochs=epochs,
        batch_size=batch_size,
        seed=derived_seeds(seed)[0],
    )
