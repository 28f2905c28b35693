"""Training of linear MNIST classifiers shared by the paper 001 experiments (Figures 1 and 2)."""

from __future__ import annotations

import torch
from torch import Tensor

from robustlab.learners import sgd
from robustlab.models import LinearModel


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
