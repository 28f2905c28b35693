"""How far the single gradient step and PGD are from the exact smallest l2 perturbation.

Papers 002 (Theorem 3.1, Section 5.1) and 003 (Bubeck et al. 2021, eq. (5)) prove that one
gradient step flips a lazily trained net at ||delta|| ~ d^-1/2 ||x|| and a random net at
|eta| about 1: existence results, upper bounds on the smallest adversarial perturbation. For a
two-layer ReLU net the smallest perturbation is computable exactly (a mixed-integer program per
point, `robustlab.verify`), so each attack's distance from optimal is measured: per point the
ratios single gradient step / exact, PGD by bisection / exact and certified (linear
relaxation) / exact, on random nets (Bubeck initialization, x on sqrt(d) S^{d-1}) and on nets
trained lazily on MNIST 0 vs 1 (paper 002's setting: NTK initialization, SGD stopped at the
lazy ball C0 / sqrt(m)), at widths the solver handles and d from 16 to 784. Claims: the single
step is within a constant factor of optimal, that factor does not grow with d, and on every
point certified <= exact <= every attack (soundness).

This module holds Config, cells, run_cell and theory; `claims` the claims (CLAIMS, each one kind
of `robustlab.theory.claims`; summarize), `figures` the figures.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from pydantic import Field, field_validator

from robustlab.attacks import AttackResult, minimal_gradient_step, minimal_perturbation, pgd
from robustlab.data import ALLOWED_DIMS, mnist_binary
from robustlab.data.synthetic import sphere
from robustlab.experiments.attack_optimality.claims import (
    CLAIMS,
    SETTLE,
    SLOPE_TOLERANCE,
    SOLVE_SECONDS,
    SOUND_RTOL,
    STEP_FACTOR,
    summarize,
)
from robustlab.experiments.attack_optimality.figures import figures
from robustlab.experiments.base import Cell, CellContext, ExperimentConfig, ProtocolRow
from robustlab.learners import sgd
from robustlab.models import TwoLayerNet
from robustlab.theory.lazy import lazy_radius
from robustlab.verify import STATUSES, certified_radius, exact_minimal_perturbation

__all__ = [
    "CAPTIONS",
    "CLAIMS",
    "FIGURE",
    "PAPER",
    "PRESETS",
    "PROTOCOL",
    "SETTLE",
    "SLOPE_TOLERANCE",
    "SOLVE_SECONDS",
    "SOUND_RTOL",
    "STEP_FACTOR",
    "VERSION",
    "Config",
    "cells",
    "estimate_memory",
    "figures",
    "run_cell",
    "summarize",
    "theory",
]

PAPER = "002"
FIGURE = "Theorem 3.1 / Bubeck et al. eq. (5): attack radius against the exact minimum"
VERSION = 2

Family = Literal["random", "lazy"]


class Config(ExperimentConfig):
    """Families, dimensions and widths swept; points, PGD and solver settings."""

    family: list[Family] = Field(
        default=["random", "lazy"], min_length=1, description="random (Bubeck) or lazy nets"
    )
    random_dim: list[int] = Field(
        default=[16, 64, 256, 784], min_length=1, description="input dimensions of random nets"
    )
    lazy_dim: list[int] = Field(
        default=[25, 100, 196, 784],
        min_length=1,
        description="input dimensions of lazy nets (MNIST downsampled to k*k pixels)",
    )
    width: list[int] = Field(default=[16, 64], min_length=1, description="hidden widths m")
    networks: int = Field(default=2, ge=1, description="networks per cell")
    points: int = Field(default=20, ge=1, description="points attacked per network")
    C0: float = Field(default=10.0, gt=0, description="lazy ball C0 / sqrt(m) (paper 002)")
    epochs: int = Field(default=1, ge=1, description="SGD passes over MNIST 0 vs 1 (lazy)")
    pgd_steps: int = Field(default=50, ge=1, description="PGD-l2 steps per bisection budget")
    bisection: int = Field(default=14, ge=1, description="bisection halvings of PGD's budget")
    time_limit: float = Field(default=60.0, gt=0, description="solver CPU seconds per point")

    @field_validator("lazy_dim")
    @classmethod
    def _dims_allowed(cls, value: list[int]) -> list[int]:
        bad = [d for d in value if d not in ALLOWED_DIMS]
        if bad:
            raise ValueError(
                f"lazy_dim {bad} are not k*k for 5 <= k <= 28; allowed: {ALLOWED_DIMS}"
            )
        return value

    @field_validator("random_dim", "width")
    @classmethod
    def _positive(cls, value: list[int]) -> list[int]:
        if any(v < 1 for v in value):
            raise ValueError(f"dimensions and widths must be >= 1, got {value}")
        return value


PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        "random_dim": [16, 64, 256, 784],
        "lazy_dim": [25, 784],
        "width": [10],
        "networks": 1,
        "points": 6,
        "pgd_steps": 30,
        "bisection": 10,
        "seeds": 1,
    },
    # Settles the lazy slope in d (quick: 2 lazy dimensions, no slope); a few minutes wall.
    "standard": {
        "random_dim": [16, 64, 256, 784],
        "lazy_dim": [25, 100, 196, 784],
        "width": [10],
        "networks": 2,
        "points": 10,
        "pgd_steps": 30,
        "bisection": 10,
        "seeds": 1,
    },
    "paper": {
        "random_dim": [16, 32, 64, 128, 256, 512, 784],
        "lazy_dim": [25, 49, 100, 196, 400, 784],
        "width": [16, 32, 64, 128],
        "networks": 5,
        "points": 40,
        "seeds": 1,
    },
}

CAPTIONS: dict[str, str] = {
    # figure stem -> what it shows (no paper figure: a ground-truth check of papers 002 and 003)
    "ratio_vs_dimension": (
        "Radius of the single gradient step, of PGD by bisection and of the certified bound, each "
        "divided by the exact minimal l2 perturbation (MIQP), against d: median and quartiles per "
        "width, one panel per family (random Bubeck nets, lazily trained MNIST 0-vs-1 nets); "
        "ratio 1 (optimal) dashed."
    ),
    "solve_time": (
        "Median CPU seconds of one exact solve (SCIP, l2) per point against d, per family and "
        "width: the cost of the ground truth."
    ),
}

PROTOCOL: tuple[ProtocolRow, ...] = (
    ProtocolRow(
        "random nets",
        "paper 003 eq. (1): w ~ N(0, I/d), a ~ unif{-1, 1}, scale 1/sqrt(m), x on sqrt(d) S^{d-1}",
        "",
        "TwoLayerNet.bubeck, data.sphere(radius='sqrt_d')",
    ),
    ProtocolRow(
        "lazy nets",
        "paper 002 Sec. 5.1: MNIST 0 vs 1, NTK init, SGD lr 0.1 batch 64 stopped at C0/sqrt(m)",
        "",
        "TwoLayerNet.ntk, learners.sgd(lazy_mode='stop'), raw pixels, C0 = 10, 1 epoch",
        "widths 10-128 instead of 1e3-1e5: the exact solver handles tens of neurons; "
        "one epoch (the paper does not state its epochs); no hidden bias (as Sec. 2)",
    ),
    ProtocolRow(
        "attacks",
        "single step: smallest flipping eta grad f(x) (paper 002 Sec. 5.1); PGD: not in the papers",
        "",
        "minimal_gradient_step (exact on the ray); PGD-l2 with bisection on the budget",
        "a flip is a strictly negative margin for PGD as for the solver (`pgd` alone counts a "
        "tie f = 0 as a flip; strict_pgd)",
    ),
    ProtocolRow(
        "precision",
        "not stated",
        "",
        "float64 for nets, attacks and solvers (the `dtype` field is not used)",
        "the exact radius is compared with the attacks' radii to a relative 1e-4",
    ),
    ProtocolRow(
        "ground truth",
        "none in the papers",
        "",
        "robustlab.verify.exact_minimal_perturbation (SCIP, l2), certified_radius (CROWN)",
        "new measurement: the papers only bound the minimal perturbation from above",
    ),
)


def cells(config: Config) -> list[Cell]:
    """One cell per (family, d, m, seed); random nets use random_dim, lazy nets lazy_dim."""
    fixed = {
        key: value
        for key, value in config.model_dump().items()
        if key not in ("family", "random_dim", "lazy_dim", "width", "seeds")
    }
    dims = {"random": config.random_dim, "lazy": config.lazy_dim}
    return [
        Cell({"family": family, "dim": d, "width": m, **fixed, "seed": seed})
        for seed in config.seeds
        for family in config.family
        for d in dims[family]
        for m in config.width
    ]


def _cell_seed(seed: int, family: str, d: int, m: int) -> int:
    code = 0 if family == "random" else 1
    return int(np.random.SeedSequence([seed, code, d, m]).generate_state(1, dtype=np.uint32)[0])


def _random(cell: Cell, ctx: CellContext, g: torch.Generator) -> tuple[TwoLayerNet, torch.Tensor]:
    d, m = int(cell["dim"]), int(cell["width"])
    net = TwoLayerNet.bubeck(int(cell["networks"]), m, d, generator=g, dtype=torch.float64)
    x = sphere(int(cell["points"]), d, radius="sqrt_d", generator=g, dtype=torch.float64).x
    return net, x


def _lazy(cell: Cell, ctx: CellContext, g: torch.Generator) -> tuple[TwoLayerNet, torch.Tensor]:
    d, m = int(cell["dim"]), int(cell["width"])
    train = mnist_binary("train", d=d, data_dir=ctx.data_dir)
    test = mnist_binary("test", d=d, data_dir=ctx.data_dir)
    net = TwoLayerNet.ntk(int(cell["networks"]), m, d, generator=g, dtype=torch.float64)
    net, _ = sgd(
        net,
        train.x.to(torch.float64),
        train.y.to(torch.float64),
        loss="logistic",
        lr=0.1,
        batch_size=64,
        epochs=int(cell["epochs"]),
        lazy_radius=lazy_radius(m, C0=float(cell["C0"])),
        lazy_mode="stop",
        generator=g,
        shared_order=False,
        diagnostics=False,
    )
    chosen = torch.randperm(test.x.shape[0], generator=g)[: int(cell["points"])].sort().values
    return net, test.x[chosen].to(torch.float64)


def strict_pgd(*, steps: int) -> Callable[..., AttackResult]:
    """PGD-l2 (early stop) that counts a flip only at a strictly negative margin y f(x + delta).

    The solver's flip is strict too (margin <= -1e-5 |f(x)|, a difference the soundness slack
    SOUND_RTOL covers); `pgd` alone counts a tie f = 0 as a flip, and such a tie, where every ReLU
    of a bias-free net is off, undercut the exact radius on a random net at d = 784.
    """

    def attack(model: Any, x: torch.Tensor, y: torch.Tensor, *, eps: Any) -> AttackResult:
        result = pgd(model, x, y, eps=eps, norm="l2", steps=steps, early_stop=True)
        return dataclasses.replace(result, success=result.margin < 0)

    return attack


def run_cell(cell: Cell, ctx: CellContext) -> list[dict[str, Any]]:
    """Exact, certified, single-step and PGD radii (l2) of every (network, point)."""
    g = ctx.generator(
        _cell_seed(cell.seed, str(cell["family"]), int(cell["dim"]), int(cell["width"]))
    )
    net, x = (_random if cell["family"] == "random" else _lazy)(cell, ctx, g)
    exact = exact_minimal_perturbation(net, x, norm="l2", time_limit=float(cell["time_limit"]))
    certified = certified_radius(net, x, norm="l2")
    step = minimal_gradient_step(net, x)
    step_radius = step.delta_norm.to(torch.float64)
    sign = torch.where(net(x).detach() >= 0, 1.0, -1.0).to(torch.float64)
    finite = step_radius[torch.isfinite(step_radius)]
    top = 2.0 * float(finite.max()) if finite.numel() else 10.0 * float(x.norm(dim=1).max())
    pgd_radius = torch.stack(
        [
            minimal_perturbation(
                net.member(e),
                x,
                sign[e],
                method="pgd",
                max_eps=top,
                attack=strict_pgd(steps=int(cell["pgd_steps"])),
                iterations=int(cell["bisection"]),
            ).norms[0]
            for e in range(net.ensemble)
        ]
    )
    E, n = exact.radius.shape
    columns = {
        "network": torch.arange(E).unsqueeze(1).expand(E, n),
        "point": torch.arange(n).unsqueeze(0).expand(E, n),
        "x_norm": x.norm(dim=1).unsqueeze(0).expand(E, n),
        "exact": exact.radius,
        "exact_lower": exact.lower,
        "optimal": exact.status == STATUSES.index("optimal"),
        "solve_time": exact.solve_time,
        "solve_cpu": exact.cpu_time,
        "certified": certified,
        "step": step_radius,
        "pgd": pgd_radius,
        "ratio_step": step_radius / exact.radius,
        "ratio_pgd": pgd_radius / exact.radius,
        "ratio_certified": certified / exact.radius,
    }
    frame = pd.DataFrame({k: v.reshape(-1).cpu().numpy() for k, v in columns.items()})
    return frame.to_dict("records")  # type: ignore[return-value]


def theory(config: Config) -> dict[str, Any]:
    """The claims' thresholds: a constant factor for the step, no growth with d, soundness."""
    return {
        "step_over_exact_at_most": STEP_FACTOR,
        "slope_of_step_ratio_in_d": 0.0,
        "slope_tolerance": SLOPE_TOLERANCE,
        "soundness": "certified <= exact <= single step and PGD on every point",
        "paper_002": "one step flips at ||delta|| ~ d^-1/2 ||x|| (Theorem 3.1), an upper bound",
        "paper_003": "one step with |eta| = O(1) flips a random net (Bubeck et al., eq. (5))",
    }


def estimate_memory(config: Config) -> int:
    """Peak bytes of one cell: MNIST, the nets and the PGD iterates are small."""
    return 600 * 2**20 + 8 * config.networks * max(config.width) * 784 * 16
