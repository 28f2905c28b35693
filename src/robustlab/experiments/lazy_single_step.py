"""Nets trained in the lazy regime fall to one gradient step of size ||delta||/||x|| ~ d^-1/2.

Paper 002, Theorem 3.1 and Section 5.1 (Figs. 2, 3), Appendix A (Figs. 5, 6, 7): a two-layer
ReLU net f(x) = (1/sqrt m) sum_s a_s relu(w_s . x), w_s0 ~ N(0, I_d), a_s ~ unif{-1, +1} fixed
(Definition 2.1, `TwoLayerNet.ntk`), is trained on MNIST 0 vs 1 downsampled to d pixels by SGD
(minibatch 64, learning rate 0.1, logistic loss) that stops at the last iterate inside the lazy
ball B_{2,inf}(W0, C0/sqrt m). For every test point x the smallest step eta with
sign(eta) = -sign f(x) such that delta = eta grad_x f(x) flips the sign of f is found exactly
(`minimal_gradient_step`). The theorem predicts ||grad_x f|| ~ d^{1/2} (Lemma 4.2), a step
|eta| ~ 1/d and a perturbation ||delta|| ~ d^{-1/2} for ||x|| = 1. For a bias-free ReLU net
||delta|| / ||x|| and ||grad f|| do not change when x is rescaled while eta scales with ||x||, so
the scale-free predictions, checked on raw pixels in [0, 1] (Figs. 2, 3) and on unit-norm inputs
(Figs. 5, 6) alike, are slopes -1/2, +1/2 and -1 in d for ||delta||/||x||, ||grad f|| and
|eta|/||x|| (`theory.lazy.LAZY_SCALINGS`). Fig. 3 adds that all three grow with C0. The
protocol table (PROTOCOL) names the choices the paper leaves open: the downsampling (area
averaging in the presets; ``downsample="bilinear"`` resizes as the authors' code), the hidden
bias of the section 5.1 nets (``hidden_bias``; off in the presets, as Section 2's theory), the
number of epochs (training ends at the ball's boundary or after ``max_epochs`` passes, and each
row says which, ``reached_boundary``), and the slope tolerance (by default the measured
seed-to-seed spread of the slope, not a fixed number).
"""

from __future__ import annotations

import math
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter, ScalarFormatter
from pydantic import Field, field_validator
from scipy import stats

from robustlab.attacks import minimal_gradient_step
from robustlab.data import ALLOWED_DIMS, Downsampling, mnist_binary
from robustlab.experiments.base import (
    Cell,
    CellContext,
    ExperimentConfig,
    ProtocolRow,
    Summary,
    grid,
)
from robustlab.learners.lazy_path import lazy_path
from robustlab.learners.trace import evaluate
from robustlab.models.two_layer import TwoLayerNet
from robustlab.plotting import loglog, mean_and_spread, new_figure, plot_measured, plot_theory
from robustlab.theory.claims import settle_each
from robustlab.theory.fitting import SlopeFit, Verdict, compare_exponent, fit_loglog_slope
from robustlab.theory.lazy import LAZY_SCALINGS, lazy_radius, theorem31_width_range

PAPER = "002"
FIGURE = "Figs. 2, 3, 5, 6, 7"
VERSION = 2  # 2: one cell per (normalization, d, m, seed) for all C0 (lazy_path)

Normalization = Literal["raw", "unit"]

#: The protocol of Figs. 2-7: the paper, the authors' code where it differs, robustlab.
PROTOCOL: tuple[ProtocolRow, ...] = (
    ProtocolRow(
        "data",
        "MNIST 0 vs 1 downsampled to d in {25, ..., 784} (sec. 5); method not stated",
        "bilinear resizing without antialiasing",
        "area averaging (downsample=area); downsample=bilinear as the code",
        "area keeps every pixel's mass; the two move ||delta||/||x|| at small d (see README)",
    ),
    ProtocolRow(
        "inputs",
        "raw pixels (Figs. 2-3); ||x|| = 1 (Appendix A, Figs. 5-6)",
        "",
        "both (normalization); quick: raw only",
        "quick: time",
    ),
    ProtocolRow(
        "network",
        "two-layer ReLU, fixed top layer, Section 2 init; sec. 5.1 nets have a hidden bias, "
        "Appendix A drops it for Figs. 5-6",
        "hidden bias (nn.Linear)",
        "no bias (hidden_bias=false); hidden_bias=true adds b ~ U(+-1/sqrt d), trained",
        "Section 2's theory and its scale-free predictions have no bias",
    ),
    ProtocolRow(
        "training",
        "SGD, lr 0.1, logistic loss, stop on leaving B(W0, C0/sqrt m); C0 in {10..40}, "
        "m in {1e3, 1e4, 1e5}; epochs not stated",
        "",
        "same, batch 64, at most max_epochs = 20 passes; quick: m = 1e3, C0 = 10, 3 epochs, 1 net",
        "epoch cap not stated; quick: time",
    ),
    ProtocolRow(
        "attack and runs",
        "smallest flipping single gradient step; 5 runs per setting (Appendix A)",
        "line search at resolution 0.001",
        "exact minimal step (piecewise-linear ray); members = 5",
        "",
    ),
    ProtocolRow(
        "verdict",
        "qualitative: ||delta|| ~ d^-1/2",
        "",
        "log-log slopes; tolerance from the seed-to-seed spread of per-run slopes",
        "the paper gives no tolerance",
    ),
)


class Config(ExperimentConfig):
    """Dimensions, widths, lazy radii and input scalings swept; SGD and attack settings."""

    dim: list[int] = Field(
        default=[25, 49, 100, 196, 400, 625, 784],
        min_length=1,
        description="input dimensions d of the downsampled MNIST images (swept; k*k pixels)",
    )
    width: list[int] = Field(
        default=[1000, 10_000, 100_000], min_length=1, description="hidden widths m (swept)"
    )
    C0: list[float] = Field(
        default=[10.0, 20.0, 30.0, 40.0],
        min_length=1,
        description="lazy-ball constants C0: training stops at ||w_s - w_s0|| = C0/sqrt(m) (swept)",
    )
    normalization: list[Normalization] = Field(
        default=["raw", "unit"],
        min_length=1,
        description="inputs as raw pixels in [0, 1] (Figs. 2-3) or scaled to ||x|| = 1 "
        "(Figs. 5-6) (swept)",
    )
    members: int = Field(
        default=5, ge=1, description="independent nets per cell (the paper averages 5 runs)"
    )
    lr: float = Field(default=0.1, gt=0.0, description="SGD learning rate (paper: 0.1)")
    batch_size: int = Field(default=64, ge=1, description="SGD minibatch size")
    max_epochs: int = Field(
        default=20,
        ge=1,
        description="cap on SGD passes; training ends earlier when a step would leave the ball",
    )
    test_points: int | None = Field(
        default=None,
        ge=1,
        description="test points attacked per cell (a seeded subsample); None: all 2115",
    )
    memory_mb: int = Field(
        default=2048,
        ge=64,
        description="memory budget of the nets trained at once (members are batched up to it) "
        "and of the attack's activations",
    )
    reference_c0: float = Field(
        default=10.0, gt=0.0, description="C0 of the curves per width (Figs. 2, 5 and 7)"
    )
    reference_width: int = Field(
        default=100_000, ge=1, description="width m of the curves per C0 (Figs. 3, 6 and 7)"
    )
    slope_tolerance: float | None = Field(
        default=None,
        ge=0.0,
        description="largest |fitted - predicted| exponent still consistent; None: from the "
        "measured seed-to-seed spread (95% half-width of the mean of the per-run slopes)",
    )
    downsample: Downsampling = Field(
        default="area",
        description="how the 28 x 28 images shrink to d pixels: area (averaging) | bilinear "
        "(without antialiasing, as the authors' code); the paper does not say",
    )
    hidden_bias: bool = Field(
        default=False,
        description="hidden-layer bias b ~ U(+-1/sqrt(d)), trained with W (the section 5.1 nets "
        "have one; Appendix A drops it for Figs. 5-6; Section 2's theory has none)",
    )

    @field_validator("dim")
    @classmethod
    def _dims_allowed(cls, value: list[int]) -> list[int]:
        bad = [d for d in value if d not in ALLOWED_DIMS]
        if bad:
            raise ValueError(f"dims {bad} are not k*k for 5 <= k <= 28; allowed: {ALLOWED_DIMS}")
        return value

    @field_validator("width")
    @classmethod
    def _widths_positive(cls, value: list[int]) -> list[int]:
        if any(m < 1 for m in value):
            raise ValueError(f"widths must be >= 1, got {value}")
        return value

    @field_validator("C0")
    @classmethod
    def _radii_positive(cls, value: list[float]) -> list[float]:
        if any(not (math.isfinite(c) and c > 0) for c in value):
            raise ValueError(f"C0 values must be finite and > 0, got {value}")
        return value


PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        "dim": [25, 49, 100, 196, 400, 784],
        "width": [1000],
        "C0": [10.0],
        "normalization": ["raw"],
        "members": 1,
        "max_epochs": 3,
        "test_points": 300,
        "reference_width": 1000,
    },
    "paper": {},
}

CAPTIONS: dict[str, str] = {
    # figure stem -> what it shows and which paper figure it reproduces
    "fig2_raw_by_width": (
        "Paper 002 Fig. 2: the minimal flipping single gradient step on raw MNIST 0 vs 1 inputs "
        "against d, per width m at the reference C0: ||delta||/||x||, ||grad_x f|| and "
        "|eta|/||x||, with the predicted slopes -1/2, 1/2 and -1 dashed."
    ),
    "fig3_raw_by_C0": (
        "Paper 002 Fig. 3: the same three quantities against d on raw inputs, per lazy radius C0 "
        "at the reference width."
    ),
    "fig5_unit_by_width": (
        "Paper 002 Fig. 5: as Fig. 2 with unit-norm inputs (||x|| = 1), per width m."
    ),
    "fig6_unit_by_C0": ("Paper 002 Fig. 6: as Fig. 3 with unit-norm inputs, per lazy radius C0."),
    "fig7_histograms": (
        "Paper 002 Fig. 7: histograms of the minimal flipping perturbation ||delta|| over the "
        "test points at the largest d, reference width and C0."
    ),
}

# The columns summarize and figures use; `_scaled_step` adds |eta| / ||x||.
_QUANTITIES: dict[str, tuple[str, str, str]] = {
    # key: (column, LAZY_SCALINGS key, axis label in the paper's notation)
    "delta_norm": ("delta_norm", "perturbation_relative", r"$\|\delta\| / \|x\|$"),
    "grad_norm": ("grad_norm", "gradient_norm", r"$\|\nabla_x f(x; a, W)\|$"),
    "step": ("step", "step_size", r"$|\eta| / \|x\|$"),
}
_RUN_KEYS = ("normalization", "dim", "width", "C0", "seed", "member")
#: Paper 002, Appendix A, Fig. 7 (d = 784, C0 = 10): the perturbation "concentrates around 0.045".
PAPER_FIG7_PERTURBATION = 0.045
#: Paper 002, Section 5.1: every trained model has test error below 1%.
PAPER_MAX_TEST_ERROR = 0.01
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


def theory(config: Config) -> dict[str, Any]:
    """Predicted exponents in d (scale-free forms), the paper's reported values, width ranges."""
    exponents = {
        key: {
            "exponent": LAZY_SCALINGS[law].exponent,
            "quantity": LAZY_SCALINGS[law].quantity,
            "normalization": LAZY_SCALINGS[law].normalization,
            "source": LAZY_SCALINGS[law].source,
        }
        for key, (_, law, _) in _QUANTITIES.items()
    }
    exponents["step"]["note"] = (
        "on raw pixels the prediction is for |eta| / ||x||: eta itself scales as ||x|| / d"
    )
    widest = max(config.width)
    return {
        "exponents": exponents,
        "lazy_radius": {
            str(m): {str(c): lazy_radius(m, C0=c) for c in config.C0} for m in config.width
        },
        "paper_fig7_perturbation_d784": PAPER_FIG7_PERTURBATION,
        "paper_max_test_error": PAPER_MAX_TEST_ERROR,
        "theorem31_min_width": {
            str(d): theorem31_width_range(d, gamma=0.1).low for d in config.dim
        },
        "theorem31_width_condition_met_by_widest": {
            str(d): widest >= theorem31_width_range(d, gamma=0.1).low for d in config.dim
        },
    }


def _with_step(table: pd.DataFrame) -> pd.DataFrame:
    """The table with ``abs_eta`` = |eta| and ``step`` = |eta| / ||x|| (scale-free step size)."""
    out = table.copy()
    out["abs_eta"] = out["eta"].abs()
    out["step"] = out["abs_eta"] / out["x_norm"]
    return out


def _runs(table: pd.DataFrame) -> pd.DataFrame:
    """Per trained net: mean of each quantity over its flipped test points, accuracy, flags."""
    data = _with_step(table)
    flipped = data[data["flipped"].astype(bool)]
    keys = [key for key in _RUN_KEYS if key in data.columns]
    columns = [column for column, _, _ in _QUANTITIES.values()] + ["abs_eta"]
    means = flipped.groupby(keys)[columns].mean()
    extra = data.groupby(keys).agg(
        test_accuracy=("test_accuracy", "first"),
        flipped=("flipped", "mean"),
        reached_boundary=("reached_boundary", "first"),
        distance_ratio=("distance_ratio", "first"),
        x_norm=("x_norm", "mean"),
    )
    return extra.join(means).reset_index()


def _reference(values: pd.Series, wanted: float, *, fallback: str) -> float:
    """``wanted`` when the column holds it, else its min or max (``fallback``).

    Raises ValueError for an empty column.
    """
    present = sorted(float(v) for v in values.unique())
    if not present:
        raise ValueError("no results to summarize: the table is empty")
    if any(math.isclose(v, wanted) for v in present):
        return float(wanted)
    return present[0] if fallback == "min" else present[-1]


def _fit(runs: pd.DataFrame, column: str, x: str = "dim") -> SlopeFit | str:
    """Log-log slope of ``column`` against ``x`` over the runs, or why it cannot be fitted."""
    try:
        return fit_loglog_slope(runs[x], runs[column], drop_invalid=True)
    except ValueError as err:
        return str(err)


def _tolerance(curve: pd.DataFrame, column: str, fixed: float | None) -> tuple[float, str]:
    """The slope tolerance: `fixed` when set, else the seed-to-seed spread of the slope.

    Each run (seed, member) has its own curve over d; the tolerance is the 95% t half-width of
    the mean of the per-run slopes, t_{0.975, R-1} std / sqrt(R). With fewer than 2 runs there
    is no spread to measure: the tolerance is 0 and only the fit's own interval counts.
    """
    if fixed is not None:
        return fixed, f"{fixed:.3g} (set)"
    slopes = []
    for _, run in curve.groupby(["seed", "member"]):
        fit = _fit(run, column)
        if not isinstance(fit, str):
            slopes.append(fit.slope)
    if len(slopes) < 2:
        return 0.0, f"0 ({len(slopes)} run: no seed-to-seed spread to measure)"
    values = np.asarray(slopes)
    half = float(
        stats.t.ppf(0.975, df=values.size - 1) * values.std(ddof=1) / math.sqrt(values.size)
    )
    return (
        half,
        f"{half:.3g} (95% half-width over {values.size} runs, slope std {values.std(ddof=1):.3g})",
    )


def _direction_verdict(fit: SlopeFit | str, claim: str) -> Verdict:
    """Consistent when the slope's CI lies above 0 (grows), inconsistent when below."""
    if isinstance(fit, str):
        return Verdict(claim, "inconclusive", None, None, fit)
    interval = f"95% CI [{fit.ci_low:.3g}, {fit.ci_high:.3g}]"
    if fit.ci_low > 0:
        return Verdict(
            claim, "consistent", fit.slope, None, f"slope in C0 {fit.slope:.3g}, {interval} > 0"
        )
    if fit.ci_high < 0:
        return Verdict(
            claim, "inconsistent", fit.slope, None, f"slope in C0 {fit.slope:.3g}, {interval} < 0"
        )
    return Verdict(claim, "inconclusive", fit.slope, None, f"{interval} contains 0")


SETTLE: dict[str, str] = {
    # a claim fragment -> what would settle the verdict when it is not consistent
    "slope of": (
        "more nets per cell, whose seed-to-seed spread sets the slope tolerance (1 net: "
        "tolerance 0): `--set members=5`, or `--preset paper` (5 nets, widths 1e3 to 1e5, up to"
        " 20 epochs); a miss that stays there is a real disagreement"
    ),
}


def summarize(table: pd.DataFrame, config: Config) -> Summary:
    """Slopes in d against -1/2, +1/2, -1 per width (Figs. 2, 5), growth in C0 (Figs. 3, 6)."""
    runs = _runs(table)
    headline: dict[str, Any] = {}
    verdicts: list[Verdict] = []
    ref_c0 = _reference(runs["C0"], config.reference_c0, fallback="min")
    ref_width = int(_reference(runs["width"], config.reference_width, fallback="max"))
    for norm in sorted(runs["normalization"].unique()):
        of_norm = runs[runs["normalization"] == norm]
        at_c0 = of_norm[np.isclose(of_norm["C0"], ref_c0)]
        for width in sorted(at_c0["width"].unique()):
            curve = at_c0[at_c0["width"] == width]
            for key, (column, law, _) in _QUANTITIES.items():
                predicted = LAZY_SCALINGS[law].exponent
                claim = f"{norm} inputs, m={width}, C0={ref_c0:g}: slope of {key} in d"
                fit = _fit(curve, column)
                if isinstance(fit, str):
                    verdicts.append(Verdict(claim, "inconclusive", None, predicted, fit))
                    continue
                headline[f"slope {key} ({norm}, m={width})"] = fit.slope
                tolerance, source = _tolerance(curve, column, config.slope_tolerance)
                headline[f"slope tolerance {key} ({norm}, m={width})"] = source
                verdict = compare_exponent(fit, predicted, tolerance=tolerance, claim=claim)
                verdicts.append(
                    Verdict(
                        claim,
                        verdict.verdict,
                        verdict.measured,
                        verdict.predicted,
                        f"{verdict.reason}; tolerance {source}",
                    )
                )
            # eta itself scales as ||x|| / d: on raw pixels its slope is -1 + slope of ||x||.
            for column in ("abs_eta", "x_norm"):
                fit = _fit(curve, column)
                if not isinstance(fit, str):
                    headline[f"slope {column} ({norm}, m={width})"] = fit.slope
        at_width = of_norm[of_norm["width"] == ref_width]
        for c0 in sorted(at_width["C0"].unique()):
            fit = _fit(at_width[np.isclose(at_width["C0"], c0)], "delta_norm")
            if not isinstance(fit, str):
                headline[f"slope delta_norm ({norm}, m={ref_width}, C0={c0:g})"] = fit.slope
        if at_width["C0"].nunique() >= 2:
            # Divide by each d's mean at the smallest C0 so the dimensions share one intercept.
            base = (
                at_width[at_width["C0"] == at_width["C0"].min()]
                .groupby("dim")
                .mean(numeric_only=True)
            )
            for key, (column, _, _) in _QUANTITIES.items():
                relative = at_width.assign(
                    ratio=at_width[column].to_numpy() / base.loc[at_width["dim"], column].to_numpy()
                )
                verdicts.append(
                    _direction_verdict(
                        _fit(relative, "ratio", x="C0"),
                        f"{norm} inputs, m={ref_width}: {key} grows with C0 (Fig. 3)",
                    )
                )
        top = of_norm[(of_norm["dim"] == of_norm["dim"].max()) & np.isclose(of_norm["C0"], ref_c0)]
        top = top[top["width"] == top["width"].max()] if not top.empty else top
        if not top.empty:
            d_top, m_top = int(top["dim"].iloc[0]), int(top["width"].iloc[0])
            rows = table[
                (table["normalization"] == norm)
                & (table["dim"] == d_top)
                & (table["width"] == m_top)
                & np.isclose(table["C0"], ref_c0)
                & table["flipped"].astype(bool)
            ]
            headline[f"median delta_norm ({norm}, d={d_top}, m={m_top}, C0={ref_c0:g})"] = float(
                rows["delta_norm"].median()
            )
    headline["paper Fig. 7 perturbation (d=784, C0=10)"] = PAPER_FIG7_PERTURBATION
    flipped = float(table["flipped"].astype(bool).mean())
    headline["fraction of test points flipped"] = flipped
    verdicts.append(
        Verdict(
            "one gradient step flips the prediction of every test point (Theorem 3.1)",
            "consistent" if flipped >= 0.99 else "inconsistent",
            flipped,
            1.0,
            f"{flipped:.4f} of {len(table)} (net, test point) pairs flipped (needs >= 0.99)",
        )
    )
    worst = float(runs["test_accuracy"].min())
    headline["min test accuracy"] = worst
    headline["fraction of nets stopped at the ball boundary"] = float(
        runs["reached_boundary"].astype(bool).mean()
    )
    headline["max distance from init / (C0/sqrt m)"] = float(runs["distance_ratio"].max())
    verdicts.append(
        Verdict(
            "every trained net has test error below 1% (Sec. 5.1)",
            "consistent" if 1.0 - worst < PAPER_MAX_TEST_ERROR else "inconsistent",
            1.0 - worst,
            PAPER_MAX_TEST_ERROR,
            f"worst test error {1.0 - worst:.4f} over {len(runs)} nets",
        )
    )
    return Summary(headline=headline, verdicts=settle_each(verdicts, SETTLE))


def _theory_line(ax: Axes, stats: pd.DataFrame, exponent: float) -> None:
    """The predicted power law through the geometric mean of the plotted means."""
    dims = np.asarray(stats["dim"], dtype=float)
    means = np.asarray(stats["mean"], dtype=float)
    keep = np.isfinite(means) & (means > 0)
    if not keep.any():
        return
    log_d, log_y = np.log(dims[keep]), np.log(means[keep])
    prefactor = math.exp(float(log_y.mean() - exponent * log_d.mean()))
    grid_d = np.geomspace(dims.min(), dims.max(), 50)
    plot_theory(
        ax, grid_d, prefactor * grid_d**exponent, label=f"theory $\\propto d^{{{exponent:g}}}$"
    )


def _tex(value: float) -> str:
    """A number for mathtext: 10^{k} for powers of ten from 1000 on, else its short form."""
    exponent = math.log10(value) if value > 0 else 0.0
    if value >= 1000 and exponent == round(exponent):
        return f"10^{{{round(exponent)}}}"
    return f"{value:g}"


def _curves(runs: pd.DataFrame, by: str, title: str, label: str) -> Figure:
    """Three panels (perturbation, gradient norm, step) against d, one curve per ``by``."""
    fig, axes = new_figure(3)
    for ax, (column, law, ylabel) in zip(axes, _QUANTITIES.values(), strict=True):
        pooled = mean_and_spread(runs, "dim", column)
        for value, part in runs.groupby(by):
            stats = mean_and_spread(part, "dim", column)
            plot_measured(
                ax,
                stats["dim"],
                stats["mean"],
                low=stats["min"],
                high=stats["max"],
                label=label.format(_tex(float(cast(float, value)))),
            )
        _theory_line(ax, pooled, LAZY_SCALINGS[law].exponent)
        loglog(ax, xlabel=r"input dimension $d$", ylabel=ylabel)
        ax.set_xticks(sorted(int(d) for d in runs["dim"].unique()))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return fig


def figures(table: pd.DataFrame, config: Config) -> dict[str, Figure]:
    """Figs. 2/5 (per m at C0), 3/6 (per C0 at m) for raw/unit inputs and Fig. 7 histograms."""
    runs = _runs(table)
    ref_c0 = _reference(runs["C0"], config.reference_c0, fallback="min")
    ref_width = int(_reference(runs["width"], config.reference_width, fallback="max"))
    out: dict[str, Figure] = {}
    numbers = {"raw": ("2", "3"), "unit": ("5", "6")}
    scaling = {"raw": "raw pixels in [0, 1]", "unit": r"$\|x\| = 1$"}
    for norm in sorted(runs["normalization"].unique()):
        of_norm = runs[runs["normalization"] == norm]
        by_width, by_c0 = numbers[norm]
        at_c0 = of_norm[np.isclose(of_norm["C0"], ref_c0)]
        out[f"fig{by_width}_{norm}_by_width"] = _curves(
            at_c0, "width", f"MNIST 0 vs 1, {scaling[norm]}, $C_0 = {ref_c0:g}$", "$m = {}$"
        )
        at_width = of_norm[of_norm["width"] == ref_width]
        if at_width["C0"].nunique() >= 2:
            out[f"fig{by_c0}_{norm}_by_C0"] = _curves(
                at_width,
                "C0",
                f"MNIST 0 vs 1, {scaling[norm]}, $m = {_tex(ref_width)}$",
                "$C_0 = {}$",
            )
    out["fig7_histograms"] = _histograms(table, ref_c0, ref_width)
    return out


def _histograms(table: pd.DataFrame, ref_c0: float, ref_width: int) -> Figure:
    """Fig. 7: per-test-point histograms at the largest d, reference m and C0."""
    data = _with_step(table)
    d_top = int(data["dim"].max())
    chosen = data[
        (data["dim"] == d_top)
        & (data["width"] == ref_width)
        & np.isclose(data["C0"], ref_c0)
        & data["flipped"].astype(bool)
    ]
    fig, axes = new_figure(3)
    for ax, (column, _, xlabel) in zip(axes, _QUANTITIES.values(), strict=True):
        for norm, part in chosen.groupby("normalization"):
            values = part[column].to_numpy(dtype=float)
            spread = values.max() - values.min()
            bins = 40 if spread > 1e-9 * abs(values.max()) else 1
            ax.hist(values, bins=bins, alpha=0.6, label=f"{norm} inputs")
        if column == "delta_norm":
            ax.axvline(PAPER_FIG7_PERTURBATION, color="black", linestyle="--", label="paper: 0.045")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("test points")
        ax.legend(fontsize=8)
    fig.suptitle(f"MNIST 0 vs 1, $d = {d_top}$, $m = {_tex(ref_width)}$, $C_0 = {ref_c0:g}$")
    return fig
