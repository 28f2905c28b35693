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
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter, ScalarFormatter
from pydantic import Field, field_validator

from robustlab.attacks import minimal_gradient_step, minimal_perturbation, pgd
from robustlab.data import ALLOWED_DIMS, mnist_binary
from robustlab.data.synthetic import sphere
from robustlab.experiments.base import Cell, CellContext, ExperimentConfig, ProtocolRow, Summary
from robustlab.learners import sgd
from robustlab.models import TwoLayerNet
from robustlab.plotting import loglog, new_figure, plot_measured, plot_theory
from robustlab.theory import claims
from robustlab.theory.claims import settle_each
from robustlab.theory.fitting import Verdict
from robustlab.theory.lazy import lazy_radius
from robustlab.verify import STATUSES, certified_radius, exact_minimal_perturbation

PAPER = "002"
FIGURE = "Theorem 3.1 / Bubeck et al. eq. (5): attack radius against the exact minimum"
VERSION = 1

Family = Literal["random", "lazy"]

#: "Within a constant factor": the median single-step / exact ratio at every d stays below it.
STEP_FACTOR = 2.0
#: Largest |slope| of the median step / exact ratio in d that still counts as "does not grow".
SLOPE_TOLERANCE = 0.1
#: Slack of the soundness check: the exact radius asks the margin to reach -1e-5 |f(x)|.
SOUND_RTOL = 1e-4
#: CPU seconds per point within which a solve counts as "solved exactly" (CPU, not wall time:
#: the solvers run single-threaded in process, and CPU time does not grow with machine load).
SOLVE_SECONDS = 10.0


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
    attack = functools.partial(pgd, norm="l2", steps=int(cell["pgd_steps"]), early_stop=True)
    pgd_radius = torch.stack(
        [
            minimal_perturbation(
                net.member(e),
                x,
                sign[e],
                method="pgd",
                max_eps=top,
                attack=attack,
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


# --------------------------------------------------------------------------- claims
def _solved(table: pd.DataFrame, family: str) -> pd.DataFrame:
    """The points of one family solved to optimality with a positive exact radius."""
    return table[(table["family"] == family) & table["optimal"] & (table["exact"] > 0)]


def _by_dim(rows: pd.DataFrame, column: str) -> pd.Series:
    return rows.groupby("dim")[column].median()


def step_within_factor(rows: pd.DataFrame, family: str) -> Verdict:
    """The largest median step / exact ratio over d is at most STEP_FACTOR."""
    return claims.bound(
        float(_by_dim(rows, "ratio_step").max()),
        STEP_FACTOR,
        claim=f"{family}: the single gradient step is within a factor {STEP_FACTOR:g} of the "
        "exact minimal perturbation (median over points, every d)",
    )


def factor_flat_in_d(rows: pd.DataFrame, family: str) -> Verdict:
    """The median step / exact ratio against d: log-log slope 0 within SLOPE_TOLERANCE."""
    by_dim = _by_dim(rows, "ratio_step")
    return claims.exponent(
        by_dim.index,
        by_dim.to_numpy(),
        0.0,
        claim=f"{family}: the step / exact factor does not grow with d",
        tolerance=SLOPE_TOLERANCE,
    )


def sound(rows: pd.DataFrame, family: str) -> Verdict:
    """certified <= exact <= min(step, PGD) on every optimally solved point."""
    exact = rows["exact"].to_numpy()
    attacks = np.minimum(rows["step"].to_numpy(), rows["pgd"].to_numpy())
    below = rows["certified"].to_numpy() <= exact * (1 + 1e-9)
    above = exact <= attacks * (1 + SOUND_RTOL)
    verdict = claims.fraction(
        int(np.sum(below & above)),
        len(rows),
        claim=f"{family}: certified <= exact <= every attack, on every point",
        at_least=1.0,
        what="points",
    )
    detail = f"; {int(np.sum(~below))} with certified > exact, {int(np.sum(~above))} with an "
    detail += f"attack below exact (relative slack {SOUND_RTOL:g})"
    return dataclasses.replace(verdict, reason=verdict.reason + detail)


#: The claims per family, in the order of the summary (each one kind of theory.claims).
CLAIMS: tuple[Callable[[pd.DataFrame, str], Verdict], ...] = (
    step_within_factor,
    factor_flat_in_d,
    sound,
)

SETTLE: dict[str, str] = {
    # a claim fragment -> what would settle the verdict when it is not consistent
    "grow with d": (
        "`--preset standard` (lazy d = 25, 100, 196, 784; quick: 2 dimensions) or `--preset "
        "paper` (lazy d = 25 to 784, 4 widths, 5 networks)"
    ),
}


def _headline(table: pd.DataFrame, rows: pd.DataFrame, family: str) -> dict[str, Any]:
    """Median ratios (overall, per d, per width), solve times and the widest width solved."""
    per_width = table[table["family"] == family].groupby("width")
    solved = [
        int(str(m))
        for m, group in per_width
        if bool(group["optimal"].all()) and float(group["solve_cpu"].max()) <= SOLVE_SECONDS
    ]
    by_dim = _by_dim(rows, "ratio_step")
    out: dict[str, Any] = {
        f"median_ratio_{kind}": float(rows[f"ratio_{kind}"].median())
        for kind in ("step", "pgd", "certified")
    }
    out |= {
        "median_ratio_step_by_dim": {str(k): float(v) for k, v in by_dim.items()},
        "median_ratio_pgd_by_dim": {
            str(k): float(v) for k, v in _by_dim(rows, "ratio_pgd").items()
        },
        "median_ratio_step_by_width": {
            str(k): float(v) for k, v in rows.groupby("width")["ratio_step"].median().items()
        },
        "fraction_optimal": float(table[table["family"] == family]["optimal"].mean()),
        "median_solve_cpu_seconds": float(rows["solve_cpu"].median()),
        "max_solve_cpu_seconds": float(rows["solve_cpu"].max()),
        "max_solve_wall_seconds": float(rows["solve_time"].max()),
        "largest_width_solved_within_10s": max(solved) if solved else None,
    }
    return out


def summarize(table: pd.DataFrame, config: Config) -> Summary:
    """Median ratios and solve times per family, and CLAIMS per family."""
    headline: dict[str, Any] = {}
    verdicts: list[Verdict] = []
    for family in config.family:
        rows = _solved(table, family)
        if rows.empty:
            continue
        headline[family] = _headline(table, rows, family)
        found = [claim(rows, family) for claim in CLAIMS]
        slope = found[1].measured
        if slope is not None:
            headline[family]["slope_ratio_step_in_d"] = slope
        verdicts.extend(found)
    return Summary(headline=headline, verdicts=settle_each(verdicts, SETTLE))


# --------------------------------------------------------------------------- figures
def figures(table: pd.DataFrame, config: Config) -> dict[str, Figure]:
    """Median (quartiles) of the three ratios against d per family; solve time against d."""
    fig, axes = new_figure(len(config.family))
    axes_list = list(np.atleast_1d(axes))
    time_fig, time_ax = new_figure(1)
    for ax, family in zip(axes_list, config.family, strict=True):
        rows = table[(table["family"] == family) & table["optimal"] & (table["exact"] > 0)]
        for column, label in (
            ("ratio_step", "single step / exact"),
            ("ratio_pgd", "PGD / exact"),
            ("ratio_certified", "certified / exact"),
        ):
            for m, group in rows.groupby("width"):
                q = group.groupby("dim")[column].quantile(np.array([0.25, 0.5, 0.75])).unstack()
                plot_measured(
                    ax, q.index, q[0.5], low=q[0.25], high=q[0.75], label=f"{label}, m={m}"
                )
        if not rows.empty:
            dims = np.array(sorted(rows["dim"].unique()), dtype=float)
            plot_theory(ax, dims, np.ones_like(dims), label="optimal (ratio 1)")
        loglog(ax, xlabel=r"dimension $d$", ylabel="radius / exact radius", title=family)
        if not rows.empty:
            ax.set_xticks(dims)
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=6)
        times = table[table["family"] == family].groupby(["dim", "width"])["solve_cpu"].median()
        for m in config.width:
            sel = times.xs(m, level="width") if m in times.index.get_level_values(1) else None
            if sel is not None and not sel.empty:
                plot_measured(time_ax, sel.index, sel.to_numpy(), label=f"{family}, m={m}")
    loglog(time_ax, xlabel=r"dimension $d$", ylabel="median exact solve CPU time per point (s)")
    if not table.empty:
        time_ax.set_xticks(np.array(sorted(table["dim"].unique()), dtype=float))
        time_ax.xaxis.set_major_formatter(ScalarFormatter())
        time_ax.xaxis.set_minor_formatter(NullFormatter())
    time_ax.legend(fontsize=7)
    fig.suptitle("Attack radius against the exact minimal l2 perturbation")
    return {"ratio_vs_dimension": fig, "solve_time": time_fig}


def estimate_memory(config: Config) -> int:
    """Peak bytes of one cell: MNIST, the nets and the PGD iterates are small."""
    return 600 * 2**20 + 8 * config.networks * max(config.width) * 784 * 16
