"""universal-perturbation: the sweep, the data of each net, and the cell (train, then attack)."""

from __future__ import annotations

import math
from typing import Any

import torch

from robustlab.attacks import universal_perturbation
from robustlab.data.synthetic import random_labels_sphere, sphere
from robustlab.experiments.base import Cell, CellContext
from robustlab.experiments.universal_perturbation.config import Config
from robustlab.experiments.universal_perturbation.theory import theorem_n
from robustlab.learners import gradient_flow
from robustlab.models.two_layer import TwoLayerNet

_SWEPT = ("dim", "n_samples", "theorem_n_coef", "seeds")


def cells(config: Config) -> list[Cell]:
    """One cell per (seed, regime, d, n): the fixed-n grid, then the theorem's n per d."""
    fixed = {k: v for k, v in config.model_dump().items() if k not in _SWEPT}
    out = []
    for seed in config.seeds:
        for d in config.dim:
            for n in config.n_samples:
                out.append(
                    Cell({"regime": "fixed_n", "dim": d, "n_samples": n, **fixed, "seed": seed})
                )
            if config.theorem_n_coef is not None:
                n = theorem_n(d, config.theorem_n_coef)
                params = {"regime": "theorem_n", "dim": d, "n_samples": n, **fixed, "seed": seed}
                out.append(Cell(params))
    return out


def draw_data(
    members: int, n: int, d: int, *, generator: torch.Generator, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """One data set per network: X (E, n, d) uniform on sqrt(d) S^{d-1}, balanced labels y (n,).

    Member 0 is `random_labels_sphere(n, d)`; the others draw fresh points for the same label
    vector. Points are independent of the labels, so every member's (X_e, y) has exactly the
    law of `random_labels_sphere` (Vardi et al.'s data).
    """
    first = random_labels_sphere(n, d, generator=generator, dtype=dtype)
    points = [first.x.unsqueeze(0)]
    if members > 1:
        rest = sphere((members - 1) * n, d, radius="sqrt_d", generator=generator, dtype=dtype)
        points.append(rest.x.reshape(members - 1, n, d))
    return torch.cat(points), first.y


def run_cell(cell: Cell, ctx: CellContext) -> list[dict[str, Any]]:
    """Train `networks` Vardi nets, each on its own random data set, by gradient flow; then the
    exact smallest universal perturbation of each.

    Rows: one per network with eta, ||delta||, the fraction flipped, convergence, and its data
    set's separation statistics.
    """
    d, n, members = int(cell["dim"]), int(cell["n_samples"]), int(cell["networks"])
    dtype = CellContext.dtype_of(str(cell["dtype"]))
    generator = ctx.generator(cell.seed)
    X, y = draw_data(members, n, d, generator=generator, dtype=dtype)
    net = TwoLayerNet.vardi(
        members,
        int(cell["width"]),
        d,
        init_scale=float(cell["init_scale"]),
        generator=generator,
        dtype=dtype,
    )
    X, y = X.to(ctx.device), y.to(ctx.device)
    trained, trace = gradient_flow(
        net.to(ctx.device),
        X,
        y,
        loss=cell["loss"],
        loss_threshold=float(cell["loss_threshold"]),
        max_steps=int(cell["max_steps"]),
    )
    result = universal_perturbation(trained, X, y)

    gram = torch.matmul(X, X.transpose(1, 2)).to(torch.float64).cpu()
    max_inner = (gram - torch.diag_embed(torch.diagonal(gram, dim1=1, dim2=2))).abs().amax((1, 2))
    condition = (d + 1) / (3 * (max_inner + 1))
    balance = float(min(int((y > 0).sum()), int((y < 0).sum()))) / n
    scale = math.sqrt(d / (balance**2 * n))  # the theorem's O(sqrt(d / (c^2 n)))
    with torch.no_grad():
        accuracy = (y * trained(X) > 0).to(torch.float64).mean(dim=1).cpu()
    columns = {
        "eta": result.eta,
        "delta_norm": result.delta_norm,
        "fraction_flipped": result.fraction,
        "converged": trace.converged,
        "steps": trace.steps,
        "log_loss": trace.log_loss[-1],
        "margin": trace.normalized_margin[-1],
        "parameter_norm": trace.parameter_norm[-1],
    }
    values = {key: value.detach().cpu().tolist() for key, value in columns.items()}
    rows = []
    for member in range(members):
        norm = float(values["delta_norm"][member])
        eta = float(values["eta"][member])
        rows.append(
            {
                "network": member,
                "eta": eta,
                "eta_times_n": eta * n,
                "delta_norm": norm,
                "delta_over_sqrt_d": norm / math.sqrt(d),
                "delta_over_bound": norm / scale,
                "bound_scale": scale,
                "fraction_flipped": float(values["fraction_flipped"][member]),
                "all_flipped": float(values["fraction_flipped"][member]) == 1.0,
                "converged": bool(values["converged"][member]),
                "steps": int(values["steps"][member]),
                "final_log10_loss": float(values["log_loss"][member]) / math.log(10),
                "normalized_margin": float(values["margin"][member]),
                "parameter_norm": float(values["parameter_norm"][member]),
                "train_accuracy": float(accuracy[member]),
                "max_inner": float(max_inner[member]),
                "max_inner_over_d": float(max_inner[member]) / d,
                "condition_bound": float(condition[member]),
                "condition_holds": n <= float(condition[member]),
                "class_balance": balance,
            }
        )
    return rows


def estimate_memory(config: Config) -> int:
    """Peak bytes of one cell: the exact ray sweep holds O(E n k) events, gradient flow O(E k d)."""
    n = max(
        [*config.n_samples, 2] + [theorem_n(d, config.theorem_n_coef or 1.0) for d in config.dim]
    )
    d = max(config.dim)
    return 8 * config.networks * config.width * (16 * d + 64 * n * 4) + 8 * n * d * 8
