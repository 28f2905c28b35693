"""universal-perturbation: metadata, the bound's exponents, the protocol table, Config, presets."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from robustlab.experiments.base import ExperimentConfig, ProtocolRow

PAPER = "003"
FIGURE = "Vardi et al. 2022 (slides): experiments (a) ||delta|| vs d, (b) ||delta|| vs n"
VERSION = 1

EXPONENT_N = -0.5
"""||delta|| = O(sqrt(d / (c^2 n))): the bound's exponent in n."""
EXPONENT_D_MAX = 0.5
"""o(sqrt(d)): the log-log slope of ||delta|| in d must stay below 1/2."""


PROTOCOL: tuple[ProtocolRow, ...] = (
    ProtocolRow(
        "data",
        "x_i ~ U(sqrt(d) S^{d-1}), y_i ~ U({-1, +1}) (paper 003, Vardi et al. slides "
        "'Experiments'); the theorem asks for balanced classes",
        "no public code for the slides' experiment found",
        "x_i uniform on sqrt(d) S^{d-1}; exactly balanced labels (random_labels_sphere)",
        "balanced labels: the theorem's assumption; at n = 5 uniform labels can be one-sided",
    ),
    ProtocolRow(
        "network",
        "two-layer ReLU f = sum_l a_l relu(w_l . x + b_l) (eq. (11)); width not stated",
        "",
        "TwoLayerNet.vardi, width 100, initialization scale 1e-2",
        "width and initialization are not on the slides; the theorem is width-independent",
    ),
    ProtocolRow(
        "training",
        "SGD on the exponential loss until L <= 1e-30",
        "",
        "full-batch gradient flow (descending log L) on the exponential loss until L <= 1e-30, "
        "at most 20000 steps",
        "gradient flow is the process of the theorem (eq. (13)); the slides' SGD batch size "
        "and step are not stated",
    ),
    ProtocolRow(
        "perturbation",
        "delta = eta sum_i y_i x_i; the maximum over the n samples of the smallest flipping "
        "eta; 5 networks per point",
        "",
        "the smallest eta flipping all n points at once, computed exactly; 5 networks per point",
    ),
    ProtocolRow(
        "grid",
        "plots (a) ||delta|| vs d and (b) ||delta|| vs n; values not legible",
        "",
        "quick: d in {50, 100, 200}, n in {5, 20}; paper: d 100 to 3200, n 5 to 80; plus "
        "n = round(4 sqrt(d) / ln d) per d (the o(sqrt(d)) regime)",
        "grid chosen to fit slopes in d and n",
    ),
    ProtocolRow(
        "claim judged",
        "||delta|| = O(sqrt(d / (c^2 n))); o(sqrt(d)) for n ~ sqrt(d) / log d",
        "",
        "slope in n at fixed d against -1/2 only on data meeting the separation condition "
        "(95% CI or within 0.15); slope in d below 1/2 with ||delta|| / sqrt(d) falling",
    ),
)
"""The protocol table: the paper, the authors' public code where it differs, the presets."""


class Config(ExperimentConfig):
    """Dimensions and sample sizes swept, the net, and the gradient-flow stopping rule."""

    dim: list[int] = Field(default=[50, 100, 200], min_length=1, description="dimensions d")
    n_samples: list[int] = Field(
        default=[5, 20], description="training set sizes n of the fixed-n sweep ([] skips it)"
    )
    theorem_n_coef: float | None = Field(
        default=4.0,
        gt=0,
        description="also run n = max(2, round(coef sqrt(d) / ln d)) per d (None: skip)",
    )
    width: int = Field(default=100, ge=1, description="hidden neurons k of each net")
    networks: int = Field(
        default=5, ge=1, le=1000, description="nets per point, each on its own data set (one batch)"
    )
    init_scale: float = Field(
        default=1e-2, gt=0, description="initialization scale s of TwoLayerNet.vardi"
    )
    loss: Literal["exp", "logistic"] = Field(default="exp", description="training loss l(z)")
    loss_threshold: float = Field(
        default=1e-30, gt=0, lt=1, description="gradient flow stops once L <= this"
    )
    max_steps: int = Field(default=20_000, ge=1, description="step cap of gradient flow")

    @field_validator("dim", "n_samples")
    @classmethod
    def _sizes(cls, value: list[int]) -> list[int]:
        if any(v < 2 for v in value) or len(set(value)) != len(value):
            raise ValueError(f"sizes must be distinct integers >= 2, got {value}")
        return sorted(value)


PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"dim": [50, 100, 200], "n_samples": [5, 20], "networks": 5, "seeds": 1},
    "standard": {
        # Settles the slope in n that quick leaves inconclusive: the theorem's condition
        # n <= (d+1)/(3(max|<x_i,x_j>|+1)) admits only n <= 5-8 at d = 3200 (measured on the
        # paper grid: n = 5 only), so the slope is fitted over n = 2 to 8 at d up to 3200,
        # with 10 nets per point (d = 6400 took 2 min a cell at load 18 here: cut).
        "dim": [400, 800, 1600, 3200],
        "n_samples": [2, 3, 4, 6, 8],
        "networks": 10,
        "seeds": 1,
    },
    "paper": {
        "dim": [100, 200, 400, 800, 1600, 3200],
        "n_samples": [5, 10, 20, 40, 80],
        "networks": 5,
        "seeds": 1,
    },
}

CAPTIONS: dict[str, str] = {
    # figure stem -> what it shows and which paper figure it reproduces
    "perturbation_norm": (
        "Vardi et al. 2022 (paper 003 slides): norm of the universal perturbation delta = eta "
        "sum_i y_i x_i that flips every training point of a gradient-flow-trained net, (a) "
        "against d and (b) against n, with sqrt(d/(c^2 n)) dashed."
    ),
    "relative_size": (
        "||delta|| / sqrt(d) against d per n: the perturbation is o(sqrt(d)) only as n grows with"
        " d."
    ),
}
