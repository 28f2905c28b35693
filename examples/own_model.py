"""README "Your own model": robustlab's learners, attacks and poisoners on a plain PyTorch CNN.

A small CNN with batch norm on 10-class MNIST images (n, 1, 28, 28), trained with
`robustlab.learners.sgd` (10 logits: the loss is cross-entropy, labels 0..9); a robust-accuracy
curve from one `pgd` call (CE and reflected); exact-to-tolerance multiclass minimal steps;
clean-label poisoning under an l_{2,1} budget and retraining; adversarial training with R-PGD;
and, when torchattacks and Foolbox 3 are installed, the same PGD run by both.
"""

from functools import partial
from importlib.util import find_spec

import torch
from torch import nn

from robustlab.attacks import minimal_gradient_step, pgd
from robustlab.data import mnist_multiclass
from robustlab.geometry import L21
from robustlab.learners import adversarial_training, from_attack, sgd
from robustlab.poisoning import clean_label

torch.manual_seed(0)
train, test = mnist_multiclass("train"), mnist_multiclass("test")
X, y = train.x[:3000].reshape(-1, 1, 28, 28), train.y[:3000]
X_test, y_test = test.x[:500].reshape(-1, 1, 28, 28), test.y[:500]


def cnn(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 8, 5, stride=2),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 16, 5, stride=2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 10),
    )


def fit(inputs: torch.Tensor, seed: int = 0) -> nn.Module:
    order = torch.Generator().manual_seed(seed)
    return sgd(cnn(seed), inputs, y[: len(inputs)], lr=0.1, batch_size=32, epochs=2,
               generator=order)[0]  # fmt: skip


def accuracy(model: nn.Module) -> float:
    with torch.no_grad():
        return float((model.eval()(X_test).argmax(dim=1) == y_test).float().mean())


model = fit(X)
print(f"clean test accuracy: {accuracy(model):.3f}")

budgets = [0.0, 0.05, 0.1, 0.2]
for loss in ("ce", "reflected"):
    curve = pgd(model, X_test, y_test, eps=budgets, norm="linf", steps=10, loss=loss, box=(0, 1))
    values = ", ".join(f"{v:.3f}" for v in curve.robust_accuracy.tolist())
    print(f"PGD-linf {loss} robust accuracy at eps {budgets}: {values}")

step = minimal_gradient_step(model, X_test[:200])  # K logits: along the top-2 margin gradient
ratio = step.delta_norm / X_test[:200].flatten(1).norm(dim=1)
print(
    f"minimal gradient step changes the class of {step.flipped.float().mean():.3f} of 200 "
    f"points, median ||delta|| / ||x|| = {ratio[step.flipped].median():.4f}"
)

n = 1500
poisoned = clean_label(model, X[:n], y[:n], L21(3.0 * n), loss="negated", steps=20, box=(0, 1))
clean_fit, poison_fit = fit(X[:n], seed=1), fit(poisoned.x, seed=1)
print(
    f"clean-label poisoning of {n} images, l21 budget {poisoned.record.given:.0f} "
    f"(spent {poisoned.record.spent:.0f}): test accuracy after retraining "
    f"{accuracy(clean_fit):.3f} clean, {accuracy(poison_fit):.3f} poisoned"
)

r_pgd = from_attack(partial(pgd, eps=0.1, norm="linf", steps=3, loss="reflected", box=(0, 1)))
robust = adversarial_training(cnn(0), X, y, attack=r_pgd, lr=0.1, epochs=2, batch_size=32)[0]
for name, net in (("standard", model), ("R-PGD-trained", robust)):
    result = pgd(net, X_test, y_test, eps=0.1, norm="linf", steps=10, box=(0, 1))
    print(
        f"{name}: clean {accuracy(net):.3f}, "
        f"PGD-linf robust accuracy at 0.1 {float(result.robust_accuracy[0]):.3f}"
    )

if find_spec("torchattacks") and find_spec("foolbox"):
    import foolbox
    import torchattacks

    eps, alpha, steps = 0.1, 0.01, 20
    ours = pgd(model, X_test, y_test, eps=eps, step_size=alpha, steps=steps, random_start=False,
               box=(0, 1))  # fmt: skip
    model.eval()
    adv = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=False)(
        X_test, y_test
    )
    fmodel = foolbox.PyTorchModel(model, bounds=(0, 1))
    attack = foolbox.attacks.LinfPGD(abs_stepsize=alpha, steps=steps, random_start=False)
    _, fb_adv, _ = attack(fmodel, X_test, y_test, epsilons=eps)
    with torch.no_grad():
        ta = float((model(adv).argmax(dim=1) == y_test).float().mean())
        fb = float((model(fb_adv).argmax(dim=1) == y_test).float().mean())
    print(
        f"cross-check PGD-linf eps {eps}, {steps} steps of {alpha}: robust accuracy "
        f"robustlab {float(ours.robust_accuracy[0]):.3f}, torchattacks {ta:.3f}, Foolbox {fb:.3f}"
    )
