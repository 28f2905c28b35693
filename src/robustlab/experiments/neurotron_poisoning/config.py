"""neurotron-poisoning's settings: the input laws and the Config of the sweep."""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from robustlab.experiments.base import ExperimentConfig
from robustlab.learners.neurotron import (
    BallInputs,
    GaussianInputs,
    LaplaceInputs,
    Sampler,
    StudentTInputs,
)

Family = Literal["gaussian", "laplace", "student_t", "ball"]
OracleName = Literal["none", "random", "adversarial", "realizable"]
LearnerName = Literal["neurotron", "sgd", "sgd-published"]
NoiseShape = Literal["alternating", "sign", "uniform"]

F64 = torch.float64
LEARNER = {
    "neurotron": "Neuro-Tron",
    "sgd": "SGD",
    "sgd-published": "SGD as published (first sample's gradient)",
}


class InputLaw(BaseModel):
    """One input distribution D_in with the dimension n and step size eta it is run with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.,()^-]*$", description="label used in rows and figures"
    )
    family: Family = Field(description="gaussian | laplace | student_t | ball")
    scale: float = Field(
        default=1.0,
        gt=0,
        description="sigma (gaussian), Laplace scale b, ball radius; must be 1 for student_t",
    )
    df: float | None = Field(
        default=None, gt=0, description="Student-t degrees of freedom (student_t only)"
    )
    dim: int = Field(ge=2, description="input dimension n (d in the later version)")
    eta: float = Field(gt=0, description="step size of both learners")

    @model_validator(mode="after")
    def _family_fields(self) -> InputLaw:
        if self.family == "student_t":
            if self.df is None:
                raise ValueError(f"{self.name}: student_t needs df")
            if self.scale != 1.0:
                raise ValueError(f"{self.name}: student_t takes no scale, got {self.scale}")
        elif self.df is not None:
            raise ValueError(f"{self.name}: df is for student_t only, got family {self.family}")
        return self

    def sampler(self, dtype: torch.dtype = F64) -> Sampler:
        """The library sampler of this law (draws on the CPU from an explicit generator)."""
        if self.family == "gaussian":
            return GaussianInputs(self.dim, sigma=self.scale, dtype=dtype)
        if self.family == "laplace":
            return LaplaceInputs(self.dim, scale=self.scale, dtype=dtype)
        if self.family == "ball":
            return BallInputs(self.dim, radius=self.scale, dtype=dtype)
        assert self.df is not None
        return StudentTInputs(self.dim, df=self.df, dtype=dtype)

    def label(self) -> str:
        """Readable name with its setting, e.g. 'N(0,1) (n=100, eta=0.0001)'."""
        return f"{self.name} (n={self.dim}, eta={self.eta:g})"


PAPER_DISTRIBUTIONS: list[dict[str, Any]] = [
    {"name": "N(0,1)", "family": "gaussian", "scale": 1.0, "dim": 100, "eta": 1e-4},
    {"name": "N(0,9)", "family": "gaussian", "scale": 3.0, "dim": 50, "eta": 5e-5},
    {"name": "Laplace(2)", "family": "laplace", "scale": 2.0, "dim": 50, "eta": 5e-5},
    {"name": "t(4)", "family": "student_t", "df": 4.0, "dim": 100, "eta": 1e-4},
]
"""The later version's four simulations: input law, n and eta."""


def _paper_distributions() -> list[Any]:
    """Plain dicts (validated into InputLaw), so that `robustlab show` prints them as JSON."""
    return [dict(law) for law in PAPER_DISTRIBUTIONS]


class Config(ExperimentConfig):
    """Input laws, oracles, learners, the theta and beta grids, the net and the run length."""

    distributions: list[InputLaw] = Field(
        default_factory=_paper_distributions,
        min_length=1,
        description="input laws, each {name, family, scale, df, dim, eta} (swept)",
    )
    oracles: list[OracleName] = Field(
        default=["none", "random", "adversarial", "realizable"],
        min_length=1,
        description="label oracles (swept): none | random (+-theta w.p. beta) | adversarial "
        "(theta sign((w_t - w*)^T M x) w.p. beta) | realizable (labels of w_adv, all samples)",
    )
    learners: list[LearnerName] = Field(
        default=["neurotron", "sgd", "sgd-published"],
        min_length=1,
        description="learners (swept): neurotron | sgd (per-sample gradients, correct) | "
        "sgd-published (the published baseline: every residual times the first sample's "
        "gradient)",
    )
    thetas: list[float] = Field(
        default=[0.0, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0],
        min_length=1,
        description="noise bounds theta, batched in one cell (the ensemble axis)",
    )
    attack_probability: float = Field(
        default=0.5, ge=0, le=1, description="beta, the attack probability of the theta sweep"
    )
    beta_sweep: list[float] = Field(
        default=[0.0, 0.005, 0.05, 0.1, 0.2, 0.5, 0.9],
        description="attack probabilities of the beta sweep (empty: no beta sweep)",
    )
    beta_sweep_theta: float = Field(default=0.25, ge=0, description="theta of the beta sweep")
    noise: NoiseShape = Field(
        default="alternating",
        description="random oracle's xi on attacked labels: alternating -+theta over the "
        "minibatch (published code) | sign (random +-theta) | uniform (U[-theta, theta])",
    )
    filter_size: int = Field(default=25, ge=1, description="r, the filter dimension")
    width: int = Field(default=10, ge=2, description="k, the number of gates (even)")
    alpha: float = Field(default=0.0, ge=0, le=1, description="leaky-ReLU slope (0: ReLU)")
    batch_size: int = Field(default=16, ge=1, description="minibatch size b")
    steps: int = Field(default=40_000, ge=1, description="iterations T")
    record_every: int = Field(default=400, ge=1, description="record ||w_t - w*|| every so often")
    runs: int = Field(
        default=10, ge=1, description="runs per (theta, beta) in a cell: own w* and data each"
    )
    w0: float = Field(default=1.0, description="initial filter w_1 = w0 * (1, ..., 1)")
    realizable_calibration: int = Field(
        default=65_536, ge=1_000, description="inputs drawn to size w_adv so |xi| <= theta"
    )
    moment_samples: int = Field(
        default=200_000, ge=1_000, description="Monte Carlo draws for E||x||^p (theory only)"
    )

    @field_validator("thetas", "beta_sweep")
    @classmethod
    def _distinct(cls, value: list[float]) -> list[float]:
        if len(set(value)) != len(value):
            raise ValueError(f"values must be distinct, got {value}")
        return value

    @field_validator("thetas")
    @classmethod
    def _thetas(cls, value: list[float]) -> list[float]:
        if any(not (math.isfinite(v) and v >= 0) for v in value):
            raise ValueError(f"thetas must be finite and >= 0, got {value}")
        return sorted(value)

    @field_validator("beta_sweep")
    @classmethod
    def _betas(cls, value: list[float]) -> list[float]:
        if any(not 0 <= v <= 1 for v in value):
            raise ValueError(f"attack probabilities must lie in [0, 1], got {value}")
        return sorted(value)

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        if self.width % 2:
            raise ValueError(f"width k must be even (c_i = -k/2..-1, 1..k/2), got {self.width}")
        names = [law.name for law in self.distributions]
        if len(set(names)) != len(names):
            raise ValueError(f"distribution names must be distinct, got {names}")
        for law in self.distributions:
            if law.dim < self.filter_size:
                raise ValueError(f"{law.name}: dim {law.dim} < filter_size {self.filter_size}")
        if self.record_every > self.steps:
            raise ValueError(f"record_every {self.record_every} > steps {self.steps}")
        return self
