"""lazy-single-step's settings: the protocol table, Config, presets and figure captions."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, field_validator

from robustlab.data import ALLOWED_DIMS, Downsampling
from robustlab.experiments.base import ExperimentConfig, ProtocolRow

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
        "same, batch 64, at most max_epochs = 20 passes, one run per net for every C0 (each "
        "stopped run is a prefix of the next); quick: m = 1e3, C0 = 10, 3 epochs, 1 net; "
        "standard: d = 49 to 196, m = 1e3 and 1e4, C0 = 4, 6, 8, 4 epochs, 3 nets",
        "epoch cap not stated; quick: time; standard: with lr 0.1 the nets reach C0 = 10 only "
        "after ~6 epochs and 13-14 after 12 (d = 100), so C0 of 10 to 40 would all stop at the cap",
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
    # Judges what quick cannot: 3 nets per cell (slope tolerances from their spread), m = 1e3
    # and 1e4, and three C0 (Fig. 3's growth). Cut for a run of under an hour on the shared
    # 2-core machine (load ~18 today, ~8% of a core per process): d in {49, 100, 196} (the cell
    # at d = 784, m = 1e4 alone would take about an hour there), raw inputs only, 200 test
    # points, at most 4 epochs, and C0 in {4, 6, 8} instead of the paper's 10 to 40: with lr 0.1
    # the nets reach C0 = 10 only after about 6 epochs (d = 100) and C0 = 13-14 after 12, so
    # larger radii would all stop at the epoch cap and train the same nets.
    "standard": {
        "dim": [49, 100, 196],
        "width": [1000, 10_000],
        "C0": [4.0, 6.0, 8.0],
        "normalization": ["raw"],
        "members": 3,
        "max_epochs": 4,
        "test_points": 200,
        "reference_c0": 8.0,  # the most trained nets, nearest the paper's reference C0 = 10
        "reference_width": 10_000,
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
