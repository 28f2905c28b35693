"""README quick start: an ensemble of NTK nets on MNIST 0-vs-1 at d = 196."""

import torch

from robustlab import TwoLayerNet
from robustlab.data import mnist_binary

test = mnist_binary("test", d=196)  # digits 1 (+1) vs 0 (-1), 14x14 area-averaged
nets = TwoLayerNet.ntk(ensemble=8, width=1000, dim=196, generator=torch.Generator().manual_seed(0))
accuracy = (torch.sign(nets(test.x)) == test.y).float().mean(dim=1)  # (E,)
grad_norm = nets.input_grad(test.x).norm(dim=2).mean()  # closed form W^T (a * relu'(Wx)) / sqrt(m)
print(f"accuracy at init: {accuracy.mean():.3f} +- {accuracy.std():.3f} over {nets.ensemble} nets")
print(f"mean input-gradient norm: {grad_norm:.3f}")
