"""Why PGD-2 is stronger in robustlab's Table 1 than in the paper's (paper 004, issue 9 item 2).

    OMP_NUM_THREADS=1 ROBUSTLAB_DATA=... python benchmarks/reflected_pgd2.py [--members 5]
        [--train-top] [--epochs 20]

Trains `members` standard (clean) nets with the Table 1 protocol (MNIST 0 vs 1, all 12665
images, 20 epochs, batch 64, lr 1 x 0.2 every 5 epochs; `--train-top` also trains the top
layer, robustlab's former default) and evaluates PGD-2 / R-PGD-2 (nu = 2) on all 2115 test
images under the choices the paper leaves open, one at a time:

- raw: Algorithm 1 as written, delta += eta grad l, eta = 10 x 0.2 every 10 steps, 20 steps,
  from x, no clipping (robustlab's preset);
- mean over a batch of B: the same with the loss averaged over consecutive batches of B test
  images (PyTorch's default reduction), i.e. each sample's step divided by its batch's size
  (B = 100, 2115; the experiment's raw_step_losses = "batch-mean");
- normalized: the l2 step of the Adversarial ML Tutorial the paper cites (eta g / ||g||);
- steps: 10 or 40 instead of 20; box: clipped to [0, 1] (also with B = 100); random start.
Prints the mean robust test error over the members beside the paper's value for each.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable
from functools import partial

import torch

from robustlab.attacks import AttackResult, pgd, step_decay
from robustlab.data import mnist_binary
from robustlab.experiments import reflected_adversarial_training as rat
from robustlab.learners import adversarial_training

PAPER = {"PGD-2": 0.003, "R-PGD-2": 0.256}


def _raw(
    nu: float, loss: str, *, steps: int = 20, scale: float = 1.0, **extra: object
) -> Callable[..., AttackResult]:
    """Algorithm 1 (robustlab's pgd with step="raw"), step 10 x scale, 0.2 every 10 steps."""
    return partial(
        pgd,
        eps=nu,
        norm="l2",
        step="raw",
        steps=steps,
        step_size=10.0 * scale,
        schedule=step_decay(0.2, 10),
        loss=loss,
        **{"random_start": False, **extra},  # type: ignore[arg-type]
    )


def _batch_mean(nu: float, loss: str, batch: int, **extra: object) -> Callable[..., AttackResult]:
    """The raw step of the loss averaged over consecutive batches of `batch` test images (the
    experiment's raw_step_losses = "batch-mean"): each block's step divided by its size."""

    def attack(model: object, x: torch.Tensor, y: torch.Tensor) -> AttackResult:
        blocks = rat.step_batches(x.shape[0], "batch-mean", batch)
        results = [
            _raw(nu, loss, scale=1 / divisor, **extra)(  # type: ignore[arg-type]
                model, x[start:stop], y[start:stop]
            )
            for start, stop, divisor in blocks
        ]
        success = torch.cat([r.success for r in results], dim=-1)
        return dataclasses.replace(results[0], success=success)

    return attack


def _variants(nu: float) -> dict[str, Callable[[str], Callable[..., AttackResult]]]:
    return {
        "raw (robustlab preset)": lambda loss: _raw(nu, loss),
        "raw, loss mean over B = 100": lambda loss: _batch_mean(nu, loss, 100),
        "raw, loss mean over B = 2115": lambda loss: _batch_mean(nu, loss, 2115),
        "raw, 10 steps": lambda loss: _raw(nu, loss, steps=10),
        "raw, 40 steps": lambda loss: _raw(nu, loss, steps=40),
        "raw, clipped to [0, 1]": lambda loss: _raw(nu, loss, box=(0.0, 1.0)),
        "raw, mean over B = 100, clipped": lambda loss: _batch_mean(nu, loss, 100, box=(0.0, 1.0)),
        "raw, random start": lambda loss: _raw(
            nu, loss, random_start=True, generator=torch.Generator().manual_seed(0)
        ),
        "normalized l2 step (tutorial)": lambda loss: partial(
            pgd,
            eps=nu,
            norm="l2",
            steps=20,
            step_size=10.0,
            schedule=step_decay(0.2, 10),
            loss=loss,
            random_start=False,
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--train-top", action="store_true")
    args = parser.parse_args()
    train, test = mnist_binary("train"), mnist_binary("test")
    generator = torch.Generator().manual_seed(0)
    net = rat.initial_net(
        args.members,
        100,
        784,
        train_top=args.train_top,
        hidden_bias=True,
        generator=generator,
    )
    start = time.perf_counter()
    model, _trace = adversarial_training(
        net,
        train.x,
        train.y,
        attack=lambda m, x, y: x,
        lr=1.0,
        epochs=args.epochs,
        batch_size=64,
        lr_decay=(0.2, 5),
        generator=torch.Generator().manual_seed(1),
    )
    with torch.no_grad():
        margins = test.y * model(test.x)
    print(
        f"# {args.members} standard nets, train_top={args.train_top}, {args.epochs} epochs, "
        f"trained in {time.perf_counter() - start:.0f} s; clean test error "
        f"{float((margins <= 0).double().mean()):.4f}; median test margin "
        f"{float(margins.median()):.2f}"
    )
    print(f"{'variant':34s} {'PGD-2':>8s} {'R-PGD-2':>8s}   (paper: 0.003, 0.256)")
    for name, build in _variants(2.0).items():
        errors = []
        for loss in ("ce", "reflected"):
            result = build(loss)(model, test.x, test.y)
            errors.append(float(result.success[0].double().mean()))
        print(f"{name:34s} {errors[0]:8.4f} {errors[1]:8.4f}")


if __name__ == "__main__":
    main()
