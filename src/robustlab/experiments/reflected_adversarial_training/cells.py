"""One cell of Table 1: train `members` nets with one method and variant, attack the test set.

Paper 004 section 4.2 and Algorithms 1-2; the attacks are robustlab's fgsm, bim and
pgd(step="raw") (Algorithm 1's unnormalized steps).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn

from robustlab.attacks import AttackResult, bim, fgsm, pgd, step_decay
from robustlab.data import mnist_binary, random_subset
from robustlab.experiments.base import Cell, CellContext, grid
from robustlab.experiments.reflected_adversarial_training.config import ATTACKS, Config
from robustlab.learners import adversarial_training, from_attack
from robustlab.models import TwoLayerNet

#: Test points attacked at once (bounds the (E, chunk, m) activations of the attack loop).
TEST_CHUNK = 1024


def cells(config: Config) -> list[Cell]:
    """One cell per (seed, training method, train_top); each trains `members` nets at once."""
    return grid(config, sweep=("training", "train_top"))


def attack_norm(name: str) -> str:
    """'l2' for PGD-2 / R-PGD-2, 'linf' otherwise."""
    return "l2" if name.endswith("-2") else "linf"


def takes_raw_steps(name: str) -> bool:
    """True for the PGD attacks (Algorithm 1's raw steps), whose step scales with the loss;
    the sign steps of FGSM and BIM do not see a positive factor on the loss."""
    return name.removeprefix("R-").startswith("PGD")


def make_attack(
    name: str,
    *,
    nu_linf: float,
    nu_l2: float,
    steps: int,
    step_size: float,
    decay: float,
    decay_every: int,
    box: bool,
) -> Callable[[nn.Module, Tensor, Tensor], AttackResult]:
    """The attack `name` of Table 1 as (model, x, y) -> AttackResult (paper 004 section 4.2).

    FGSM: one sign step of size nu; BIM: `steps` sign steps from x; PGD-inf / PGD-2:
    Algorithm 1, `steps` unnormalized gradient steps from x projected onto the ball. The "R-"
    versions maximize the reflected loss instead of the logistic loss. Iterative steps are
    `step_size` times `decay` every `decay_every` steps. Raises ValueError for an unknown name.
    """
    if name not in ATTACKS:
        raise ValueError(f"unknown attack {name!r}; allowed: {', '.join(ATTACKS)}")
    loss = "reflected" if name.startswith("R-") else "ce"
    base = name.removeprefix("R-")
    limits = (0.0, 1.0) if box else None
    schedule = step_decay(decay, decay_every)
    if base == "FGSM":
        return partial(fgsm, eps=nu_linf, norm="linf", loss=loss, box=limits)
    iterative = {"steps": steps, "step_size": step_size, "schedule": schedule, "loss": loss}
    if base == "BIM":
        return partial(bim, eps=nu_linf, norm="linf", box=limits, **iterative)  # type: ignore[arg-type]
    linf = base == "PGD-inf"
    return partial(
        pgd,
        eps=nu_linf if linf else nu_l2,
        norm="linf" if linf else "l2",
        step="raw",
        random_start=False,
        box=limits,
        **iterative,  # type: ignore[arg-type]
    )


def _cell_attack(cell: Cell, name: str, steps: int, scale: float = 1.0) -> Callable[..., Any]:
    return make_attack(
        name,
        nu_linf=float(cell["nu_linf"]),
        nu_l2=float(cell["nu_l2"]),
        steps=steps,
        step_size=float(cell["step_size"]) * scale,
        decay=float(cell["step_decay"]),
        decay_every=int(cell["step_decay_every"]),
        box=bool(cell["box"]),
    )


def step_batches(n: int, raw_step_loss: str, batch: int) -> list[tuple[int, int, int]]:
    """(start, stop, divisor) blocks of n test points: each raw step is divided by `divisor`.

    'per-sample': one block, divisor 1 (Algorithm 1). 'batch-mean': the loss averaged over
    consecutive batches of `batch` points (PyTorch's default reduction), so a point's raw step
    is its own gradient over its batch's size; the full batches form one block, a shorter last
    batch another.
    """
    if raw_step_loss == "per-sample":
        return [(0, n, 1)]
    full = (n // batch) * batch
    blocks = [(0, full, batch)] if full else []
    return blocks + ([(full, n, n - full)] if full < n else [])


def initial_net(
    members: int,
    width: int,
    dim: int,
    *,
    train_top: bool,
    hidden_bias: bool,
    generator: torch.Generator,
    dtype: torch.dtype = torch.float32,
) -> TwoLayerNet:
    """E = `members` nets f(x) = a^T relu(W x + b) with nn.Linear's U(+-1/sqrt(fan_in)) init."""

    def uniform(shape: tuple[int, ...], fan_in: int) -> Tensor:
        return (torch.rand(shape, generator=generator, dtype=dtype) * 2 - 1) / math.sqrt(fan_in)

    W = uniform((members, width, dim), dim)
    b = uniform((members, width), dim) if hidden_bias else None
    a = uniform((members, width), width)
    return TwoLayerNet(W, a, b, activation="relu", train_top=train_top, scheme="pytorch")


def _no_attack(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    return x


def _evaluate(
    build: Callable[[float], Callable[..., AttackResult]],
    blocks: list[tuple[int, int, int]],
    model: TwoLayerNet,
    x: Tensor,
    y: Tensor,
) -> tuple[Tensor, Tensor]:
    """Per-member robust error (E,) and largest perturbation norm (E,); `build(1 / divisor)`
    is the attack of a block, run in chunks of at most TEST_CHUNK points."""
    fooled = torch.zeros(model.ensemble, dtype=torch.float64)
    largest = torch.zeros(model.ensemble, dtype=torch.float64)
    for first, stop, divisor in blocks:
        attack = build(1.0 / divisor)
        for start in range(first, stop, TEST_CHUNK):
            end = min(start + TEST_CHUNK, stop)
            result = attack(model, x[start:end], y[start:end])
            fooled += result.success[0].sum(dim=-1).to(torch.float64).cpu()
            largest = torch.maximum(largest, result.norms[0].amax(dim=-1).to(torch.float64).cpu())
    return fooled / x.shape[0], largest


def _train(cell: Cell, ctx: CellContext, x: Tensor, y: Tensor) -> tuple[TwoLayerNet, Any]:
    """Algorithm 2 with the cell's training attack (none for 'standard'), `members` at once."""
    net = initial_net(
        int(cell["members"]),
        int(cell["width"]),
        x.shape[1],
        train_top=bool(cell["train_top"]),
        hidden_bias=bool(cell["hidden_bias"]),
        generator=ctx.generator(cell.seed),
        dtype=ctx.dtype,
    ).to(ctx.device)
    training = str(cell["training"])
    inner = (
        _no_attack
        if training == "standard"
        else from_attack(_cell_attack(cell, training, int(cell["train_steps"])))
    )
    return adversarial_training(
        net,
        x,
        y,
        attack=inner,
        lr=float(cell["lr"]),
        epochs=int(cell["epochs"]),
        batch_size=int(cell["batch_size"]),
        lr_decay=(float(cell["lr_decay"]), int(cell["lr_decay_every"])),
        generator=ctx.generator(cell.seed + 2_000_003),
        shared_order=True,  # the attacks take one label vector (n,) for all members
    )


def run_cell(cell: Cell, ctx: CellContext) -> list[dict[str, Any]]:
    """Train `members` nets with one method; robust test error of each per attack and per
    raw-step loss (the sign attacks' results serve every raw-step loss unchanged)."""
    data_generator = ctx.generator(cell.seed + 1_000_003)
    train = mnist_binary("train", data_dir=ctx.data_dir)
    test = mnist_binary("test", data_dir=ctx.data_dir)
    n_train = None if cell["n_train"] is None else int(cell["n_train"])
    n_test = None if cell["n_test"] is None else int(cell["n_test"])
    x_train, y_train = random_subset(train.x, train.y, n_train, data_generator)
    x_test, y_test = random_subset(test.x, test.y, n_test, data_generator)
    x_train, y_train = x_train.to(ctx.device, ctx.dtype), y_train.to(ctx.device, ctx.dtype)
    x_test, y_test = x_test.to(ctx.device, ctx.dtype), y_test.to(ctx.device, ctx.dtype)
    model, trace = _train(cell, ctx, x_train, y_train)
    with torch.no_grad():
        margins = y_test * model(x_test)
    clean_error = (margins <= 0).to(torch.float64).mean(dim=1).cpu()
    common = {
        "train_error": (1 - trace.accuracy[-1]).to(torch.float64),
        "train_attacked_loss": trace.batch_loss[-1].to(torch.float64),
        "clean_error": clean_error,
        "median_margin": margins.median(dim=1).values.to(torch.float64).cpu(),
    }
    n, batch = x_test.shape[0], int(cell["raw_step_batch"])
    losses = [str(step_loss) for step_loss in cell["raw_step_losses"]]
    results: dict[tuple[str, str], tuple[Tensor, Tensor]] = {}
    for step_loss in losses:
        results[("clean", step_loss)] = (clean_error, torch.zeros_like(clean_error))
        for name in map(str, cell["attacks"]):
            if not takes_raw_steps(name) and step_loss != losses[0]:
                results[(name, step_loss)] = results[(name, losses[0])]
                continue
            blocks = step_batches(n, step_loss if takes_raw_steps(name) else "per-sample", batch)
            build = partial(_cell_attack, cell, name, int(cell["test_steps"]))
            results[(name, step_loss)] = _evaluate(build, blocks, model, x_test, y_test)
    rows = []
    for (name, step_loss), (error, largest) in results.items():
        norm = "none" if name == "clean" else attack_norm(name)
        budget = 0.0 if name == "clean" else float(cell[f"nu_{norm}"])
        rows += [
            {
                "member": e,
                "attack": name,
                "raw_step_loss": step_loss,
                "attack_norm": norm,
                "budget": budget,
                "reflected_attack": name.startswith("R-"),
                "robust_error": float(error[e]),
                "max_norm": float(largest[e]),
                **{key: float(value[e]) for key, value in common.items()},
            }
            for e in range(model.ensemble)
        ]
    return rows


def estimate_memory(config: Config) -> int:
    """Peak bytes of one cell: the attacked test chunk's copies and activations, and the data."""
    floats = config.members * TEST_CHUNK * (6 * 784 + 4 * config.width)
    return 4 * floats + 4 * 70_000 * 784 * 2
