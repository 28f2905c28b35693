"""One gradient step flips random two-layer nets: |eta| = O(1) and ||delta|| / ||x|| ~ d^-1/2.

Bubeck, Cherapanamjeri, Gidel & Tachet des Combes (2021), as presented in paper 003 (slides
"Setup", "Main Theorem", "Experiments"): for f(x) = (1/sqrt k) sum_l a_l sigma(w_l . x) with
w_l ~ N(0, I_d / d), a_l ~ unif{-1, +1} and x on sqrt(d) S^{d-1}, one step x + eta grad f(x)
with sign(eta) = -sign f(x) and |eta| = C3 sqrt(log(1/gamma)) ||grad f(x)||^-2 = O(1) flips the
sign with probability >= 1 - gamma, and ||eta grad f(x)|| <= C4 sqrt(log(1/gamma)) = O(1), i.e.
||delta|| / ||x|| = O(d^-1/2). The slides' experiment (100 random inputs x 100 networks, search
over |eta| <= 20) finds "|eta| approximately 1 almost always". For every (d, k, activation) we
draw the networks and inputs, find the exact smallest flipping step (ReLU: piecewise-linear ray,
exact; smooth activations: bracketing root finder) and compare the distribution of |eta| and of
||delta|| / ||x|| with the theorem's scalings (slopes 0 and -1/2 in d, none in k) and with the
large-width linearized limit median |eta| -> Phi^-1(3/4) sqrt(E sigma(g)^2) / E sigma'(g)^2.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from pydantic import Field

from robustlab.attacks import GradientStepResult, gradient_step, minimal_gradient_step
from robustlab.data.synthetic import sphere
from robustlab.experiments.base import (
    Cell,
    CellContext,
    ExperimentConfig,
    PositiveInt,
    ProtocolRow,
    Summary,
    grid,
)
from robustlab.models import TwoLayerNet
from robustlab.models.activations import get_activation
from robustlab.plotting import loglog, new_figure, plot_measured, plot_theory
from robustlab.theory import claims
from robustlab.theory.claims import settle_each
from robustlab.theory.fitting import Verdict
from robustlab.theory.lazy import (
    BUBECK_SCALINGS,
    bubeck_conditions,
    limit_medians,
)

PAPER = "003"
FIGURE = "Bubeck et al. 2021 experiment (slide 'Experiments')"
VERSION = 1

ActivationName = Literal["relu", "leaky_relu", "softplus", "gelu", "tanh"]

#: Networks drawn per block: bounds memory (W is block x k x d) and fixes the random stream,
#: so the same seed gives the same networks whatever the machine.
NETWORK_BLOCK = 10
#: Smooth activations: first search |eta| <= min(max_eta, BRACKET_FACTOR * |f| / ||grad f||^2)
#: on SCAN_POINTS points, then the whole |eta| <= max_eta for the rays not flipped there; the
#: root is bracketed to a relative width ROOT_RTOL (far below the spread of |eta|).
BRACKET_FACTOR = 4.0
SCAN_POINTS = 32
ROOT_RTOL = 1e-4
#: "|eta| about 1" (slides): the band [1/ETA_BAND, ETA_BAND] around 1.
ETA_BAND = 2.0
#: Relative gap to the large-width limit of the median |eta| accepted outside its bootstrap CI.
LIMIT_RTOL = 0.15
#: Theorem's failure probability used for the implied constant C3 sqrt(log(1/gamma)).
GAMMA = 0.01


PROTOCOL: tuple[ProtocolRow, ...] = (
    ProtocolRow(
        "network",
        "f(x) = (1/sqrt k) sum_l a_l sigma(w_l . x), w_l ~ N(0, I_d / d), a_l ~ unif{-1, +1} "
        "(paper 003, slide 'Setup')",
        "no public code for the slides' experiment found",
        "TwoLayerNet.bubeck; relu and tanh (the theorem's smooth case and the conclusion's ReLU)",
    ),
    ProtocolRow(
        "inputs and networks",
        "100 random inputs x on sqrt(d) S^{d-1} and 100 networks (slide 'Experiments')",
        "",
        "100 inputs; 20 networks per (d, k) (quick), 100 (paper)",
        "quick: 20 networks to run in seconds",
    ),
    ProtocolRow(
        "d and k",
        "not stated",
        "",
        "quick: d in {64, 256, 1024}, k in {64, 512}; paper: d 64 to 4096, k 64 to 4096",
        "the slides give no grid; ours spans two decades in d to fit the slopes",
    ),
    ProtocolRow(
        "step search",
        "search over |eta| <= 20, sign(eta) = -sign f(x)",
        "",
        "the exact smallest flipping |eta| <= 20: ReLU exactly along the piecewise-linear ray, "
        "smooth activations by bracketing to relative width 1e-4",
        "an exact minimum in place of a search of unstated resolution",
    ),
    ProtocolRow(
        "claim judged",
        "|eta| 'approximately 1 almost always'; Theorem: |eta| = O(1), ||delta|| / ||x|| = "
        "O(d^-1/2), flip with probability >= 1 - gamma",
        "",
        "median |eta| within a factor 2 of 1; log-log slopes of the medians in d (0, -1/2) and "
        "k (0), 95% CI or within 0.1; median at the largest (d, k) within 15% of the "
        "large-width limit; flip rate >= 0.99",
        "'about 1' read as within a factor 2, and gamma = 0.01: the slides give no numbers",
    ),
)
"""The protocol table: the paper, the authors' public code where it differs, the presets."""


class Config(ExperimentConfig):
    """Dimensions, widths and activations swept; inputs and networks per cell; search range."""

    dim: list[PositiveInt] = Field(
        default=[64, 256, 1024], min_length=1, description="input dimensions d (swept)"
    )
    width: list[PositiveInt] = Field(
        default=[64, 512], min_length=1, description="widths k (swept)"
    )
    activation: list[ActivationName] = Field(
        default=["relu", "tanh"],
        min_length=1,
        description="activations sigma (swept); relu is solved exactly, smooth ones by bracketing",
    )
    n_inputs: int = Field(default=100, ge=1, description="random inputs x on sqrt(d) S^{d-1}")
    n_networks: int = Field(default=20, ge=1, description="random networks per cell")
    max_eta: float = Field(
        default=20.0, gt=0, description="search range |eta| <= max_eta (slides: 20)"
    )


PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        "dim": [64, 256, 1024],
        "width": [64, 512],
        "activation": ["relu", "tanh"],
        "n_inputs": 100,
        "n_networks": 20,
        "seeds": 1,
    },
    "standard": {
        # Settles the width claim quick leaves inconclusive (2 widths; the slope needs >= 3):
        # the paper's 4 widths, 5 of its 7 dimensions (d = 2048 and 4096 dropped) and 50 of
        # its 100 networks, so that it fits a shared 2-core machine in about 20 minutes.
        "dim": [64, 128, 256, 512, 1024],
        "width": [64, 256, 1024, 4096],
        "activation": ["relu", "tanh"],
        "n_inputs": 100,
        "n_networks": 50,
        "seeds": 1,
    },
    "paper": {
        "dim": [64, 128, 256, 512, 1024, 2048, 4096],
        "width": [64, 256, 1024, 4096],
        "activation": ["relu", "tanh"],
        "n_inputs": 100,
        "n_networks": 100,
        "seeds": 1,
    },
}

CAPTIONS: dict[str, str] = {
    # figure stem -> what it shows and which paper figure it reproduces
    "step_vs_dimension": (
        "Bubeck et al. 2021 (paper 003 slides, 'Experiments'): median |eta| of the minimal "
        "flipping single gradient step on random two-layer nets (x on sqrt(d) S^{d-1}) and the "
        "relative perturbation ||delta||/||x||, against d per activation and width k, with the "
        "large-width limits dashed."
    ),
    "step_histogram": (
        "Histogram of |eta| of the minimal flipping step at the largest (d, k), one panel per "
        "activation; the slides' |eta| = 1 and the large-width limit of the median marked."
    ),
}


def cells(config: Config) -> list[Cell]:
    """One cell per (seed, d, k, activation)."""
    return grid(config, sweep=("dim", "width", "activation"))


def _cell_seed(seed: int, d: int, k: int) -> int:
    """A seed for (seed, d, k): independent draws across (d, k), the same across activations."""
    return int(np.random.SeedSequence([seed, d, k]).generate_state(1, dtype=np.uint32)[0])


def run_cell(cell: Cell, ctx: CellContext) -> list[dict[str, Any]]:
    """Exact minimal flipping step of n_networks nets x n_inputs inputs: one row per pair."""
    d, k = int(cell["dim"]), int(cell["width"])
    activation = str(cell["activation"])
    n, networks = int(cell["n_inputs"]), int(cell["n_networks"])
    max_eta = float(cell["max_eta"])
    generator = ctx.generator(_cell_seed(cell.seed, d, k))
    x = sphere(n, d, radius="sqrt_d", generator=generator, dtype=ctx.dtype).x.to(ctx.device)
    input_norm = x.norm(dim=1)
    rows: list[dict[str, Any]] = []
    for first in range(0, networks, NETWORK_BLOCK):
        size = min(NETWORK_BLOCK, networks - first)
        net = TwoLayerNet.bubeck(
            size, k, d, activation=activation, generator=generator, dtype=ctx.dtype
        ).to(ctx.device)
        result = _minimal_step(net, x, max_eta=max_eta)
        eta = result.eta.to(torch.float64)
        grad_norm = result.grad_norm.to(torch.float64)
        f_clean = result.f_clean.to(torch.float64)
        columns = {
            "eta": eta,
            "abs_eta": eta.abs(),
            "delta_norm": result.delta_norm.to(torch.float64),
            "relative_delta": result.delta_norm.to(torch.float64) / input_norm.to(torch.float64),
            "grad_norm": grad_norm,
            "f_clean": f_clean,
            "eta_linear": f_clean.abs() / grad_norm.square(),
            "flipped": result.flipped & (eta.abs() <= max_eta),
        }
        network = torch.arange(first, first + size).unsqueeze(1).expand(size, n)
        sample = torch.arange(n).unsqueeze(0).expand(size, n)
        frame = {"network": network.reshape(-1), "input": sample.reshape(-1)}
        frame.update({name: value.reshape(-1).cpu() for name, value in columns.items()})
        records = pd.DataFrame({key: v.numpy() for key, v in frame.items()}).to_dict("records")
        rows.extend({str(key): value for key, value in record.items()} for record in records)
    return rows


def _minimal_step(net: TwoLayerNet, x: torch.Tensor, *, max_eta: float) -> GradientStepResult:
    """`minimal_gradient_step` per pair: exact for ReLU; two-stage bracket for smooth nets.

    Smooth nets first search |eta| <= min(max_eta, 4 |f| / ||grad f||^2) (the flip sits near the
    linearized step |f| / ||grad f||^2, so a coarse scan there is cheap), then search the whole
    |eta| <= max_eta (the slides' range) for the pairs not flipped in the first stage.
    """
    if net.activation.piecewise_linear:
        return minimal_gradient_step(net, x)
    clean = gradient_step(net, x, 0.0)
    linear = clean.f_clean.abs() / clean.grad_norm.square().clamp_min(1e-30)
    first = minimal_gradient_step(
        net,
        x,
        max_eta=torch.clamp(BRACKET_FACTOR * linear, max=max_eta),
        rtol=ROOT_RTOL,
        scan_points=SCAN_POINTS,
    )
    missing = ~torch.isfinite(first.eta)
    if not bool(missing.any()):
        return first
    second = minimal_gradient_step(
        net,
        x,
        max_eta=torch.where(missing, max_eta, 0.0),
        rtol=ROOT_RTOL,
        scan_points=SCAN_POINTS * 8,
    )
    keep = missing & torch.isfinite(second.eta)
    fields = {}
    for name in ("eta", "delta_norm", "f_adv", "flipped"):
        fields[name] = torch.where(keep, getattr(second, name), getattr(first, name))
    delta = torch.where(keep.unsqueeze(-1), second.delta, first.delta)
    return GradientStepResult(
        eta=fields["eta"],
        delta=delta,
        delta_norm=fields["delta_norm"],
        grad_norm=first.grad_norm,
        f_clean=first.f_clean,
        f_adv=fields["f_adv"],
        flipped=fields["flipped"],
    )


#: Peak bytes per (network of a block, input, hidden unit) of the ray scans, measured with
#: /proc/self/status VmHWM (tests/experiments/test_random_net_memory.py): ReLU at most 150, tanh
#: and softplus about 300 (9.47 GiB at d=256, k=32768, 100 inputs, a block of 10) in float32.
SCAN_BYTES_RELU = 192
SCAN_BYTES_SMOOTH_FLOAT32 = 320
#: The interpreter's and torch's own allocations beside a cell's tensors.
OVERHEAD_BYTES = 128 * 2**20


def estimate_memory(config: Config) -> int:
    """An upper bound of one cell's peak bytes: a block of W, its ray scans and the row frames.

    The smooth activations' two-stage bracket search keeps about twice ReLU's scan in memory;
    float64 doubles it. Tested against measured peaks (issue 13, "Also measured").
    """
    d, k, n = max(config.dim), max(config.width), config.n_inputs
    block = min(NETWORK_BLOCK, config.n_networks)
    smooth = any(not get_activation(name).piecewise_linear for name in config.activation)
    width_bytes = 2 if config.dtype == "float64" else 1
    per_unit = max(SCAN_BYTES_RELU, SCAN_BYTES_SMOOTH_FLOAT32 * width_bytes * smooth)
    weights = 3 * block * k * d * 8
    scan = per_unit * block * n * max(d, k)
    rows = config.n_networks * n * 1000
    return OVERHEAD_BYTES + weights + scan + rows


def theory(config: Config) -> dict[str, Any]:
    """Exponents in d (Bubeck et al.), limits of the medians, and the theorem's conditions."""
    scalings = {
        name: {"exponent_in_d": law.exponent, "source": law.source}
        for name, law in BUBECK_SCALINGS.items()
    }
    return {
        "scalings": scalings,
        "slope_median_abs_eta_in_d": BUBECK_SCALINGS["step_size"].exponent,
        "slope_median_relative_delta_in_d": BUBECK_SCALINGS["perturbation_relative"].exponent,
        "slope_median_abs_eta_in_k": 0.0,
        "eta_band": [1.0 / ETA_BAND, ETA_BAND],
        "paper_reported": "slides: |eta| approximately 1 almost always (search |eta| <= 20, "
        "100 inputs x 100 networks)",
        "limit": {name: limit_medians(name) for name in config.activation},
        "conditions_hold_unit_constants": {
            f"d={d},k={k}": bubeck_conditions(k, d, gamma=GAMMA)
            for d in config.dim
            for k in config.width
        },
    }


def _cell_medians(table: pd.DataFrame) -> pd.DataFrame:
    """Per (activation, d, k, seed): medians of |eta| and ||delta|| / ||x||, flip fraction."""
    return (
        table.groupby(["activation", "dim", "width", "seed"])
        .agg(
            median_abs_eta=("abs_eta", "median"),
            median_relative_delta=("relative_delta", "median"),
            flipped=("flipped", "mean"),
        )
        .reset_index()
    )


def _claims(
    activation: str, rows: pd.DataFrame, cell: pd.DataFrame, config: Config
) -> list[Verdict]:
    """The theorem's scalings in d and k, the slides' |eta| ~ 1, the limit, the flip rate."""
    median, flipped = float(rows["abs_eta"].median()), int(rows["flipped"].sum())
    largest = rows[(rows["dim"] == rows["dim"].max()) & (rows["width"] == rows["width"].max())]
    return [
        claims.exponent(
            cell["dim"],
            cell["median_abs_eta"],
            BUBECK_SCALINGS["step_size"].exponent,
            claim=f"{activation}: median |eta| does not grow or shrink with d (theorem: O(1))",
            tolerance=0.1,
        ),
        claims.exponent(
            cell["dim"],
            cell["median_relative_delta"],
            BUBECK_SCALINGS["perturbation_relative"].exponent,
            claim=f"{activation}: median ||delta|| / ||x|| ~ d^-1/2",
            tolerance=0.1,
        ),
        claims.exponent(
            cell["width"],
            cell["median_abs_eta"],
            0.0,
            claim=f"{activation}: median |eta| does not depend on the width k",
            tolerance=0.1,
        ),
        claims.within_factor(
            median,
            1.0,
            ETA_BAND,
            claim=f"{activation}: median |eta| is about 1 (slides), within "
            f"[{1 / ETA_BAND:g}, {ETA_BAND:g}]",
        ),
        claims.close_to(
            float(largest["abs_eta"].median()),
            limit_medians(activation)["median_abs_eta"],
            claim=f"{activation}: median |eta| at the largest d, k is near the large-width "
            "limit q sqrt(E sigma^2) / E sigma'^2",
            rtol=LIMIT_RTOL,
            interval=_median_interval(largest),
        ),
        claims.fraction(
            flipped,
            len(rows),
            claim=f"{activation}: one step with |eta| <= {config.max_eta:g} flips the sign "
            f"w.p. >= 1 - gamma (gamma = {GAMMA:g})",
            at_least=1.0 - GAMMA,
            what="(network, input) pairs flipped",
        ),
    ]


SETTLE: dict[str, str] = {
    # a claim fragment -> what would settle the verdict when it is not consistent
    "does not depend on the width": (
        "`--preset standard` (widths 64, 256, 1024, 4096 at d <= 1024, 50 networks; quick: 2 "
        "widths; about 18 min here, where it was consistent for both activations) or "
        "`--preset paper` (the same widths, 7 dimensions, 100 networks)"
    ),
}


def summarize(table: pd.DataFrame, config: Config) -> Summary:
    """Slopes of the medians in d and k, the |eta| band, the limit, and the flip rate."""
    medians = _cell_medians(table)
    headline: dict[str, Any] = {}
    verdicts: list[Verdict] = []
    for activation in config.activation:
        rows = table[table["activation"] == activation]
        if rows.empty:
            continue
        found = _claims(activation, rows, medians[medians["activation"] == activation], config)
        verdicts.extend(found)
        abs_eta = rows["abs_eta"].to_numpy()
        finite = abs_eta[np.isfinite(abs_eta)]
        product = (rows["abs_eta"] * rows["grad_norm"] ** 2).to_numpy()
        headline[activation] = {
            "median_abs_eta": float(np.median(abs_eta)),
            "abs_eta_q05": float(np.quantile(finite, 0.05)) if finite.size else math.nan,
            "abs_eta_q95": float(np.quantile(finite, 0.95)) if finite.size else math.nan,
            "fraction_flipped_within_max_eta": float(rows["flipped"].mean()),
            "implied_C3_sqrt_log_inv_gamma": float(np.quantile(product[np.isfinite(product)], 0.99))
            if np.isfinite(product).any()
            else math.nan,
            "median_relative_delta_by_d": {
                str(d): float(group["relative_delta"].median()) for d, group in rows.groupby("dim")
            },
            "relative_delta_q05_q50_q95_by_d": {
                str(d): [float(q) for q in group["relative_delta"].quantile([0.05, 0.5, 0.95])]
                for d, group in rows.groupby("dim")
            },
            "slope_median_abs_eta_in_d": found[0].measured,
            "slope_median_relative_delta_in_d": found[1].measured,
            "slope_median_abs_eta_in_k": found[2].measured,
            "limit_median_abs_eta": limit_medians(activation)["median_abs_eta"],
        }
    return Summary(headline=headline, verdicts=settle_each(verdicts, SETTLE))


def _median_interval(rows: pd.DataFrame, *, resamples: int = 400) -> tuple[float, float]:
    """99% interval of the median |eta| by resampling whole networks (seed 0, reproducible).

    Pairs of one network share its random offset, so networks, not pairs, are the independent
    units; the bootstrap resamples them with replacement and pools their inputs. The 99% level
    offsets the narrowness of a percentile interval over as few as 20 networks.
    """
    values = rows.pivot_table(index=["seed", "network"], columns="input", values="abs_eta")
    matrix = values.to_numpy(dtype=np.float64)
    rng = np.random.default_rng(0)
    picks = rng.integers(0, matrix.shape[0], size=(resamples, matrix.shape[0]))
    medians = np.nanmedian(matrix[picks].reshape(resamples, -1), axis=1)
    low, high = np.quantile(medians, [0.005, 0.995])
    return float(low), float(high)


def figures(table: pd.DataFrame, config: Config) -> dict[str, Figure]:
    """Median |eta| and ||delta|| / ||x|| against d per (activation, k); |eta| histograms."""
    medians = _cell_medians(table)
    fig, axes = new_figure(2)
    dims = np.geomspace(min(config.dim), max(config.dim), 50)
    for activation in config.activation:
        limits = limit_medians(activation)
        for k in config.width:
            sel = medians[(medians["activation"] == activation) & (medians["width"] == k)]
            stats = sel.groupby("dim")[["median_abs_eta", "median_relative_delta"]].mean()
            label = f"{activation}, k={k}"
            plot_measured(axes[0], stats.index, stats["median_abs_eta"], label=label)
            plot_measured(axes[1], stats.index, stats["median_relative_delta"], label=label)
        plot_theory(
            axes[0],
            dims,
            np.full_like(dims, limits["median_abs_eta"]),
            label=f"{activation}: large-width limit",
        )
        plot_theory(
            axes[1],
            dims,
            limits["median_delta_norm"] / np.sqrt(dims),
            label=f"{activation}: limit $\\times d^{{-1/2}}$",
        )
    axes[0].axhspan(1.0 / ETA_BAND, ETA_BAND, color="grey", alpha=0.1, label=r"$|\eta| \approx 1$")
    loglog(axes[0], xlabel=r"dimension $d$", ylabel=r"median $|\eta|$ over inputs and networks")
    loglog(axes[1], xlabel=r"dimension $d$", ylabel=r"median $\|\delta\| / \|x\|$")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.suptitle("Bubeck et al. 2021: minimal single gradient step on random nets")

    hist, hist_axes = new_figure(len(config.activation))
    return {"step_vs_dimension": fig, "step_histogram": _histograms(table, config, hist, hist_axes)}


def _histograms(table: pd.DataFrame, config: Config, fig: Figure, axes: Any) -> Figure:
    """Histogram of |eta| at the largest (d, k), one panel per activation (as paper 002 Fig. 7)."""
    axes_list = list(np.atleast_1d(axes))
    d, k = max(config.dim), max(config.width)
    for ax, activation in zip(axes_list, config.activation, strict=True):
        sel = table[
            (table["activation"] == activation) & (table["dim"] == d) & (table["width"] == k)
        ]
        values = sel["abs_eta"].to_numpy()
        values = values[np.isfinite(values)]
        ax.hist(values, bins=50, color="tab:blue", alpha=0.7, label="measured")
        ax.axvline(1.0, **{"color": "black", "linestyle": "--"}, label=r"$|\eta| = 1$ (slides)")
        ax.axvline(
            limit_medians(activation)["median_abs_eta"],
            color="tab:red",
            linestyle=":",
            label="limit of the median",
        )
        ax.set_xlabel(r"$|\eta|$ of the minimal flipping step")
        ax.set_ylabel("count")
        ax.set_title(f"{activation}, d={d}, k={k}")
        ax.legend(fontsize=7)
    return fig
