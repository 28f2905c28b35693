"""lazy-single-step's cells: one SGD trajectory per (normalization, d, m, seed) for every C0,
then the exact minimal single gradient step on each test point at each C0."""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
import pandas as pd
import torch

from robustlab.attacks import minimal_gradient_step
from robustlab.data import Downsampling, mnist_binary
from robustlab.experiments.base import Cell, CellContext, grid
from robustlab.experiments.lazy_single_step.config import Config
from robustlab.learners.lazy_path import lazy_path
from robustlab.learners.trace import evaluate
from robustlab.models.two_layer import TwoLayerNet
from robustlab.theory.lazy import lazy_radius

_TRAIN_COPIES = 8  # (m, d) tensors alive per member in one SGD step: W, W0, grad, candidates...
_ATTACK_COPIES = 3  # (m,) activations per test point and member in the attack's forward passes
_FIXED_BYTES = 900 * 2**20  # MNIST arrays, the exact search's float64 blocks (attacks, 4M x 16)


def cells(config: Config) -> list[Cell]:
    """One cell per (normalization, d, m, seed); each trains ``members`` nets once for all C0.

    SGD stopped at the ball of a smaller C0 is a prefix of the run stopped at a larger one
    (`lazy_path`), so the cell carries every C0 (``C0s``) and its rows name their C0.
    """
    base = grid(
        config,
        sweep=("normalization", "dim", "width"),
        exclude=("reference_c0", "reference_width", "slope_tolerance", "C0"),
    )
    radii = sorted(set(config.C0))
    return [Cell({**dict(cell.items()), "C0s": radii}) for cell in base]


def group_size(
    width: int, dim: int, *, members: int, memory_mb: int, itemsize: int = 4, radii: int = 1
) -> int:
    """Members trained together: as many as fit ``memory_mb`` (at least one, at most all).

    Each member holds the SGD step's arrays and one stopped iterate per radius.
    """
    per_member = (_TRAIN_COPIES + radii) * width * dim * itemsize
    return max(1, min(members, (memory_mb * 2**20) // per_member))


def estimate_memory(config: Config) -> int:
    """Peak bytes of the largest cell: data and search blocks, plus training or attack arrays."""
    itemsize = 8 if config.dtype == "float64" else 4
    budget = config.memory_mb * 2**20
    radii = len(set(config.C0))
    peak = 0
    for width in config.width:
        for dim in config.dim:
            group = group_size(
                width,
                dim,
                members=config.members,
                memory_mb=config.memory_mb,
                itemsize=itemsize,
                radii=radii,
            )
            training = group * (_TRAIN_COPIES + radii) * width * dim * itemsize
            attack = max(budget, group * _ATTACK_COPIES * width * itemsize)
            peak = max(peak, training, attack)
    return _FIXED_BYTES + peak


def run_cell(cell: Cell, ctx: CellContext) -> list[dict[str, Any]]:
    """Train ``members`` lazy nets by stopped SGD, then attack every test point with one step.

    One SGD run per group of members records the last iterate inside the ball of every C0
    (`lazy_path`; the same nets as one stopped run per C0). One row per (C0, member, test
    point): the minimal step eta, ||delta|| / ||x|| (``delta_norm``), ||grad_x f(x)||, whether
    the step flips the sign, ||x||, f(x), the label, and the net's test accuracy, SGD steps,
    distance from init relative to C0/sqrt(m) and whether it stopped at the ball's boundary.
    """
    dim, width = int(cell["dim"]), int(cell["width"])
    c0s = [float(c) for c in cast(list[float], cell["C0s"])]
    radii = [lazy_radius(width, C0=c) for c in c0s]
    unit = cell["normalization"] == "unit"
    members, memory_mb = int(cell["members"]), int(cell["memory_mb"])
    method = cast(Downsampling, cell["downsample"])
    train = mnist_binary("train", d=dim, unit_norm=unit, data_dir=ctx.data_dir, downsampling=method)
    test = mnist_binary("test", d=dim, unit_norm=unit, data_dir=ctx.data_dir, downsampling=method)
    x_train = train.x.to(ctx.device, ctx.dtype)
    y_train = train.y.to(ctx.device, ctx.dtype)
    x_test = test.x.to(ctx.device, ctx.dtype)
    y_test = test.y.to(ctx.device, ctx.dtype)

    root = ctx.generator(cell.seed)
    chosen = torch.randperm(x_test.shape[0], generator=root)
    if cell["test_points"] is not None:
        chosen = chosen[: int(cell["test_points"])]
    chosen = chosen.sort().values
    x_attack, y_attack = x_test[chosen.to(ctx.device)], y_test[chosen.to(ctx.device)]
    itemsize = x_train.element_size()
    group = group_size(
        width, dim, members=members, memory_mb=memory_mb, itemsize=itemsize, radii=len(radii)
    )
    group_seeds = torch.randint(0, 2**62, (math.ceil(members / group),), generator=root)

    frames = []
    for index, first in enumerate(range(0, members, group)):
        size = min(group, members - first)
        generator = torch.Generator().manual_seed(int(group_seeds[index]))
        net = TwoLayerNet.ntk(size, width, dim, generator=generator, dtype=ctx.dtype)
        if cell["hidden_bias"]:
            bias = (
                torch.rand(size, width, generator=generator, dtype=ctx.dtype) * 2 - 1
            ) / math.sqrt(dim)
            net = TwoLayerNet(net.W.detach(), net.a.detach(), bias, scale=net.scale, scheme="ntk")
        net = net.to(ctx.device)
        path = lazy_path(
            net,
            x_train,
            y_train,
            radii=radii,
            loss="logistic",
            lr=float(cell["lr"]),
            batch_size=int(cell["batch_size"]),
            epochs=int(cell["max_epochs"]),
            generator=generator,
            shared_order=False,
        )
        chunk = max(1, (memory_mb * 2**20) // (_ATTACK_COPIES * size * width * itemsize))
        for j, C0 in enumerate(c0s):
            trained = path.net(net, j)
            _, accuracy = evaluate(trained, x_test, y_test, loss="logistic", chunk_size=chunk)
            attacks = [
                minimal_gradient_step(trained, x_attack[start : start + chunk])
                for start in range(0, x_attack.shape[0], chunk)
            ]
            frames.append(
                pd.DataFrame(
                    {
                        "C0": C0,
                        "member": np.repeat(np.arange(first, first + size), len(chosen)),
                        "test_index": np.tile(chosen.numpy(), size),
                        "label": np.tile(y_attack.cpu().numpy(), size),
                        "x_norm": np.tile(x_attack.norm(dim=1).cpu().double().numpy(), size),
                        "f_clean": _flat(torch.cat([a.f_clean for a in attacks], dim=1)),
                        "eta": _flat(torch.cat([a.eta for a in attacks], dim=1)),
                        "grad_norm": _flat(torch.cat([a.grad_norm for a in attacks], dim=1)),
                        "delta_norm_abs": _flat(torch.cat([a.delta_norm for a in attacks], dim=1)),
                        "flipped": _flat(torch.cat([a.flipped for a in attacks], dim=1)),
                        "test_accuracy": np.repeat(_flat(accuracy), len(chosen)),
                        "train_steps": np.repeat(_flat(path.updates[j]), len(chosen)),
                        "reached_boundary": np.repeat(_flat(path.stopped[j]), len(chosen)),
                        "distance_ratio": np.repeat(
                            _flat(trained.distance_from_init() / radii[j]), len(chosen)
                        ),
                    }
                )
            )
            del trained, attacks
        del net, path
    rows = pd.concat(frames, ignore_index=True)
    rows["delta_norm"] = rows["delta_norm_abs"] / rows["x_norm"]
    rows["correct"] = rows["label"] * rows["f_clean"] > 0
    return rows.to_dict("records")  # type: ignore[return-value]


def _flat(t: torch.Tensor) -> np.ndarray[Any, Any]:
    """(E, n) or (E,) tensor as a flat numpy array, members slowest, in float64 or bool/int."""
    values = t.detach().cpu()
    if values.is_floating_point():
        values = values.double()
    return values.reshape(-1).numpy()
