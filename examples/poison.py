"""README poisoning example: clean-label poisoning of a linear MNIST 0-vs-1 model, retrained."""

import torch

from robustlab.data import mnist_binary
from robustlab.geometry import L21
from robustlab.learners import sgd
from robustlab.models import LinearModel
from robustlab.poisoning import clean_label

train, test = mnist_binary("train"), mnist_binary("test")
X, y = train.x[:2000], train.y[:2000]


def fit(inputs: torch.Tensor) -> LinearModel:
    model = LinearModel.zeros(1, inputs.shape[1])
    return sgd(model, inputs, y, lr=0.05, batch_size=64, epochs=5, generator=torch.Generator())[0]


clean = fit(X)
for loss in ("negated", "ce"):
    poisoned = clean_label(clean, X, y, L21(4.5 * len(X)), loss=loss, steps=50, box=(0.0, 1.0))
    retrained = fit(poisoned.x)
    accuracy = (torch.sign(retrained(test.x)) == test.y).float().mean()
    print(
        f"{loss}: spent {poisoned.record.spent:.0f} of {poisoned.record.given:.0f}, "
        f"clean test accuracy after retraining {accuracy:.3f}"
    )
