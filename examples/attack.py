"""README attack example: exact single-step flips and a PGD robustness curve in one call."""

import torch

from robustlab import TwoLayerNet
from robustlab.attacks import minimal_gradient_step, pgd
from robustlab.data import mnist_binary
from robustlab.learners import sgd

train, test = mnist_binary("train", d=196), mnist_binary("test", d=196)
nets = TwoLayerNet.ntk(ensemble=4, width=1000, dim=196, generator=torch.Generator().manual_seed(0))
seed = torch.Generator().manual_seed(1)
nets, trace = sgd(nets, train.x, train.y, lr=0.1, batch_size=64, epochs=1, generator=seed)
step = minimal_gradient_step(nets, test.x)  # exact: (E, n) steps eta with f(x + eta grad f) flipped
flipped, relative = step.flipped.float().mean(), (step.delta_norm / test.x.norm(dim=1)).median()
print(f"flipped by one step: {flipped:.3f}, median ||delta||/||x||: {relative:.4f}")
curve = pgd(nets, test.x, test.y, eps=[0.0, 0.5, 1.0, 2.0], norm="l2", steps=20, loss="reflected")
print("robust accuracy at eps = 0, 0.5, 1, 2:", curve.robust_accuracy.mean(dim=1))  # (B, E) -> (B,)
