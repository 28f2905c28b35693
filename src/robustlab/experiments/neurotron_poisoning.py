"""Neuro-Tron and square-loss SGD against bounded label poisoning: error vs theta and beta.

Paper 000 (Mukherjee & Muthukumar), Theorem II.1: on a single-filter depth-2 net
f_w(x) = (1/k) sum_i sigma(w^T A_i x), Neuro-Tron (Algorithm 1, w <- w + eta (y - f_w(x)) M x)
fed labels y = f_{w*}(x) + xi with |xi| <= theta reaches ||w_T - w*|| <= eps w.p. 1 - delta
whenever theta^2 <= eps^2 delta c_trade-off (eq. (1)), c_trade-off = -1 + (1 + alpha) lambda_1 /
(m_1 lambda_2); section II-A's realizable attack (labels of a second filter w_adv) shows that
eps ~ theta cannot be beaten. We run the published experiments of the later version (Karmakar,
Mukherjee & Papamarkou, "Depth-2 neural networks under a data-poisoning attack"): r = 25, k = 10,
A_i = M + c_i C with M = [M_X | M_Y], c_i in {-k/2..-1, 1..k/2} and Neuro-Tron's M equal to that
same M (the mean of the A_i, as the published code does), w* ~ N(0, I_r), w_1 = all ones,
minibatch 16, 40,000 steps, Gaussian / Laplace / Student-t inputs, each label attacked with
probability beta by the alternating +-theta pattern of the published code. Beside it: the
realizable w_adv attack and an adaptive adversary, and the SGD baseline twice: with the correct
per-sample gradient ("sgd") and as published ("sgd-published": every residual of the minibatch
times the first sample's gradient), so that the published curve stands beside the corrected one
and shows where the "Neuro-Tron beats SGD" claim comes from. We record ||w_t - w*|| against t,
theta and beta, Theorem II.1's constants (c_trade-off, "vacuous" where it is <= 0) and its
bound where it says anything.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from scipy import stats
from torch import Tensor

from robustlab.experiments.base import Cell, CellContext, ExperimentConfig, ProtocolRow, Summary
from robustlab.learners.neurotron import (
    BallInputs,
    GaussianInputs,
    LaplaceInputs,
    Sampler,
    StudentTInputs,
    neurotron,
    sgd_square_loss,
)
from robustlab.models.single_filter import SensingFamily, SingleFilterNet, perturbed_mean_sensing
from robustlab.plotting import new_figure, plot_measured, plot_theory
from robustlab.poisoning.oracles import AdversarialOracle, RandomOracle, RealizableOracle
from robustlab.theory.claims import settle_each
from robustlab.theory.fitting import (
    Verdict,
    check_lower_bound,
    check_upper_bound,
    compare_exponent,
    fit_loglog_slope,
)
from robustlab.theory.neurotron import (
    InputMoments,
    NeurotronConstants,
    error_bound,
    input_moments,
    monte_carlo_moments,
    neurotron_constants,
    realizable_gamma_min,
    realizable_rate,
    realizable_step_size,
    recursion,
)

PAPER = "000"
FIGURE = "later version (Karmakar, Mukherjee & Papamarkou), simulations: error vs theta, beta"
VERSION = 1

Family = Literal["gaussian", "laplace", "student_t", "ball"]
OracleName = Literal["none", "random", "adversarial", "realizable"]
LearnerName = Literal["neurotron", "sgd", "sgd-published"]
NoiseShape = Literal["alternating", "sign", "uniform"]

_F64 = torch.float64
_LEARNER = {
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

    def sampler(self, dtype: torch.dtype = _F64) -> Sampler:
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


#: The protocol: paper 000, the later version's simulations and their published code, robustlab.
PROTOCOL: tuple[ProtocolRow, ...] = (
    ProtocolRow(
        "model",
        "single-filter depth-2 net f_w(x) = (1/k) sum_i sigma(w^T A_i x) (Def. 1); later "
        "version: r = 25, k = 10, A_i = M + c_i C",
        "",
        "same; w* ~ N(0, I_r), w_1 = (1, ..., 1)",
    ),
    ProtocolRow(
        "learner",
        "Neuro-Tron, w += eta (y - f_w(x)) M x (Algorithm 1); minibatch 16, 40,000 steps",
        "M = [M_X | M_Y], the mean of the A_i",
        "same (M as in the code); quick: 1,500 steps at 10x eta on N(0,1) only",
        "quick: time",
    ),
    ProtocolRow(
        "SGD baseline",
        "square-loss SGD, reported worse than Neuro-Tron on every input law",
        "every residual of the minibatch times the first sample's gradient",
        "sgd: per-sample gradients (correct, default); sgd-published: the code's baseline, "
        "shown beside it",
        "the published gradient is not the square loss's; both curves are shown",
    ),
    ProtocolRow(
        "poisoning",
        "|xi| <= theta on a beta fraction of labels (Theorem II.1); w_adv realizable attack "
        "(sec. II-A)",
        "attacked labels get -+theta alternating over the minibatch",
        "alternating as in the code (noise = sign | uniform as options); realizable and adaptive "
        "oracles beside",
    ),
    ProtocolRow(
        "inputs",
        "later version: Gaussian, Laplace, Student-t inputs",
        "",
        "the same laws, dimensions and step sizes; a uniform ball for the realizable attack",
        "bounded support needed to size w_adv so that |xi| <= theta",
    ),
)


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


PRESETS: dict[str, dict[str, Any]] = {
    # N(0, 1) with the paper's n = 100 but 10x its eta, so that 1,500 steps reach the noise floor.
    "quick": {
        "distributions": [
            {"name": "N(0,1)", "family": "gaussian", "scale": 1.0, "dim": 100, "eta": 1e-3}
        ],
        "oracles": ["random", "realizable"],
        "thetas": [0.0, 0.25, 1.0, 4.0],
        "beta_sweep": [],
        "steps": 1500,
        "record_every": 50,
        "runs": 3,
        "realizable_calibration": 16_384,
        "moment_samples": 20_000,
        "seeds": 1,
    },
    "paper": {"seeds": 1},
}

CAPTIONS: dict[str, str] = {
    # figure stem -> what it shows and which paper figure it reproduces
    "error_vs_iterations": (
        "Paper 000 (later version's simulations): ||w_t - w*|| against iteration t of Neuro-Tron "
        "and of SGD on the square loss, per noise bound theta and input law, under the label-"
        "noise oracles."
    ),
    "final_error_vs_theta": (
        "Final error ||w_T - w*|| against the noise bound theta per (oracle, learner), with "
        "Theorem II.1's bound at T and the w_adv lower bound of sec. II-A."
    ),
    "final_error_vs_beta": (
        "Final error against the attack probability beta (the later version's beta sweep), per "
        "learner and input law."
    ),
}


# --------------------------------------------------------------------------- cells
def _sweeps(config: Config, oracle: str) -> list[tuple[str, list[float], list[float]]]:
    """(sweep name, thetas, betas) of the cells for one oracle; members = thetas x betas."""
    if oracle == "none":
        return [("theta", [0.0], [0.0])]
    if oracle == "realizable":
        # Section II-A corrupts every label, so that w_adv realizes all of them.
        return [("theta", list(config.thetas), [1.0])]
    sweeps = [("theta", list(config.thetas), [config.attack_probability])]
    if config.beta_sweep:
        sweeps.append(("beta", [config.beta_sweep_theta], list(config.beta_sweep)))
    return sweeps


_LOOPED = (
    "seeds",
    "distributions",
    "oracles",
    "learners",
    "thetas",
    "attack_probability",
    "beta_sweep",
    "beta_sweep_theta",
)
"""Fields that reach a cell through the loops of `cells` (one value, or its thetas/betas)."""
_THEORY_ONLY = ("moment_samples",)


def cells(config: Config) -> list[Cell]:
    """One cell per (seed, distribution, oracle, learner, sweep); theta/beta grids batched in E."""
    fixed = {
        name: value
        for name, value in config.model_dump().items()
        if name not in _LOOPED and name not in _THEORY_ONLY
    }
    out = []
    for seed in config.seeds:
        for law in config.distributions:
            for oracle in config.oracles:
                for learner in config.learners:
                    for sweep, thetas, betas in _sweeps(config, oracle):
                        params = {
                            "distribution": law.name,
                            "family": law.family,
                            "scale": law.scale,
                            "df": law.df,
                            "dim": law.dim,
                            "eta": law.eta,
                            "oracle": oracle,
                            "learner": learner,
                            "sweep": sweep,
                            "thetas": thetas,
                            "betas": betas,
                            **fixed,
                            "seed": seed,
                        }
                        out.append(Cell(params))
    return out


# --------------------------------------------------------------------------- the net and oracles
def draw_network(
    law: InputLaw, *, filter_size: int, width: int, generator: torch.Generator
) -> SensingFamily:
    """The A_i = M + c_i C family of one seed, drawn first from its generator in float64."""
    return perturbed_mean_sensing(width, filter_size, law.dim, generator=generator, dtype=_F64)


def insensitive_direction(sensing: Tensor) -> Tensor:
    """Unit u minimising sum_i ||A_i^T u||^2: bottom eigenvector of sum_i A_i A_i^T, (r,)."""
    gram = torch.einsum("krn,ksn->rs", sensing.to(_F64), sensing.to(_F64))
    direction: Tensor = torch.linalg.eigh(gram).eigenvectors[:, 0]
    return direction


def realizable_envelope(
    sensing: Tensor,
    direction: Tensor,
    sampler: Sampler,
    *,
    samples: int,
    generator: torch.Generator,
) -> float:
    """G = max over `samples` draws of (1/k) sum_i |u^T A_i x|.

    |f_{w*+rho u}(x) - f_{w*}(x)| <= rho (1/k) sum_i |u^T A_i x| for alpha in [0, 1], so
    w_adv = w* + (theta / G) u keeps |xi| <= theta on inputs like the calibration draws
    (paper 000 section II-A needs sup_x |xi_x| <= theta; labels beyond it are clipped).
    """
    filters = torch.einsum("r,krn->kn", direction.to(_F64), sensing.to(_F64))
    largest, done = 0.0, 0
    while done < samples:
        size = min(16_384, samples - done)
        x = sampler(size, generator).to(_F64)
        largest = max(largest, float((x @ filters.T).abs().mean(dim=1).max()))
        done += size
    return largest


def make_oracle(
    kind: OracleName,
    model: SingleFilterNet,
    w_star: Tensor,
    *,
    theta: Tensor,
    beta: Tensor,
    noise: NoiseShape,
    M: Tensor,
    w_adv: Tensor | None,
) -> RandomOracle | AdversarialOracle | RealizableOracle:
    """The library's per-member oracle of one cell: theta_e and beta_e per member, (E,) each.

    "none": no noise (theta = beta = 0); "realizable": the labels of w_adv on every sample,
    clipped to [-theta_e, theta_e] (the clipped labels are counted).
    """
    if kind == "none":
        return RandomOracle(
            model, w_star, theta=torch.zeros_like(theta), beta=torch.zeros_like(beta)
        )
    if kind == "random":
        return RandomOracle(model, w_star, theta=theta, beta=beta, kind=noise)
    if kind == "adversarial":
        return AdversarialOracle(model, w_star, theta=theta, M=M, beta=beta)
    if w_adv is None:
        raise ValueError("the realizable oracle needs w_adv")
    return RealizableOracle(model, w_star, w_adv, theta=theta, clip=True)


# --------------------------------------------------------------------------- run_cell
def _law_of(cell: Cell) -> InputLaw:
    return InputLaw(
        name=str(cell["distribution"]),
        family=cell["family"],
        scale=float(cell["scale"]),
        df=None if cell["df"] is None else float(cell["df"]),
        dim=int(cell["dim"]),
        eta=float(cell["eta"]),
    )


def run_cell(cell: Cell, ctx: CellContext) -> list[dict[str, Any]]:
    """E = runs x |thetas| x |betas| runs of one learner against one oracle; ||w_t - w*|| rows.

    Draws, in order from the seed: A_i = M + c_i C, w* (runs, r), then seeds for the data
    stream and the w_adv calibration, so that every learner and oracle of a seed share the
    net, the w* and (for equal E) the inputs.
    """
    law = _law_of(cell)
    r, k, runs = int(cell["filter_size"]), int(cell["width"]), int(cell["runs"])
    thetas = [float(v) for v in cell["thetas"]]
    betas = [float(v) for v in cell["betas"]]
    dtype, device = ctx.dtype, ctx.device
    gen = ctx.generator(cell.seed)
    family = draw_network(law, filter_size=r, width=k, generator=gen)
    w_star_runs = torch.randn(runs, r, generator=gen, dtype=_F64)
    stream_seed, calibration_seed = torch.randint(0, 2**62, (2,), generator=gen).tolist()

    combos = [(theta, beta) for theta in thetas for beta in betas]
    E = len(combos) * runs
    theta = torch.tensor([c[0] for c in combos], dtype=_F64).repeat_interleave(runs)
    beta = torch.tensor([c[1] for c in combos], dtype=_F64).repeat_interleave(runs)
    run_index = torch.arange(runs).repeat(len(combos))
    w_star = w_star_runs.repeat(len(combos), 1)

    w_adv = None
    gap = torch.full((E,), math.nan, dtype=_F64)
    if cell["oracle"] == "realizable":
        u = insensitive_direction(family.sensing)
        envelope = realizable_envelope(
            family.sensing,
            u,
            law.sampler(_F64),
            samples=int(cell["realizable_calibration"]),
            generator=torch.Generator().manual_seed(calibration_seed),
        )
        gap = theta / envelope
        w_adv = w_star + gap[:, None] * u

    stream_sampler = law.sampler(dtype)  # drawn in the compute dtype, on the CPU

    def sampler(num: int, generator: torch.Generator | None) -> Tensor:
        return stream_sampler(num, generator).to(device=device)

    model = SingleFilterNet(
        family.sensing.to(dtype),
        torch.full((E, r), float(cell["w0"]), dtype=dtype),
        alpha=float(cell["alpha"]),
    ).to(device)
    M = family.mean.to(dtype=dtype, device=device)
    oracle = make_oracle(
        cell["oracle"],
        model,
        w_star.to(dtype=dtype, device=device),
        theta=theta.to(dtype=dtype),
        beta=beta.to(dtype=dtype),
        noise=cell["noise"],
        M=M,
        w_adv=None if w_adv is None else w_adv.to(dtype=dtype, device=device),
    )
    steps, batch_size = int(cell["steps"]), int(cell["batch_size"])
    record_every = int(cell["record_every"])
    stream = torch.Generator().manual_seed(stream_seed)
    if cell["learner"] == "neurotron":
        result = neurotron(
            model,
            oracle,
            eta=law.eta,
            steps=steps,
            M=M,
            batch_size=batch_size,
            sampler=sampler,
            generator=stream,
            record_every=record_every,
        )
    else:
        result = sgd_square_loss(
            model,
            oracle,
            eta=law.eta,
            steps=steps,
            batch_size=batch_size,
            sampler=sampler,
            generator=stream,
            record_every=record_every,
            gradient="first-sample" if cell["learner"] == "sgd-published" else "per-sample",
        )

    w_final = result.w.detach().to(_F64).cpu()
    to_adv = (w_final - w_adv).norm(dim=1) if w_adv is not None else torch.full((E,), math.nan)
    labels = max(oracle.labels_seen, 1)
    per_member = {
        "attacked_fraction": (oracle.attacked.cpu().to(_F64) / labels).tolist(),
        "clipped_fraction": (oracle.clipped.cpu().to(_F64) / labels).tolist(),
        "max_noise": oracle.max_noise.cpu().to(_F64).tolist(),
        "w_adv_gap": gap.tolist(),
        "final_error_to_adv": to_adv.tolist(),
        "diverged": (~torch.isfinite(w_final).all(dim=1)).tolist(),
    }
    recorded = result.steps.tolist()
    distance = result.distance.detach().to(_F64).cpu().numpy()
    rows = []
    for e in range(E):
        member = {
            "theta": float(theta[e]),
            "beta": float(beta[e]),
            "run": int(run_index[e]),
            **{name: values[e] for name, values in per_member.items()},
        }
        for i, t in enumerate(recorded):
            rows.append({**member, "t": int(t), "error": float(distance[e, i])})
    return rows


def estimate_memory(config: Config) -> int:
    """Peak bytes of one cell: calibration chunk, per-step tensors, the trace and the rows."""
    n = max(law.dim for law in config.distributions)
    members = config.runs * max(len(config.thetas), len(config.beta_sweep), 1)
    records = config.steps // config.record_every + 2
    step = members * config.batch_size * (n + config.width) * 8 * 12
    rows = members * records * 400
    return 16_384 * n * 8 * 4 + step + rows + 64 * 2**20


# --------------------------------------------------------------------------- theory
def _student_t_moments(law: InputLaw, samples: int, generator: torch.Generator) -> InputMoments:
    """Moments of i.i.d. Student-t(df) inputs for any df > 2: E||x||^p = inf for p >= df."""
    assert law.df is not None
    nu, n = law.df, law.dim
    if nu > 4:
        return input_moments(law.sampler(), samples=samples, generator=generator)
    estimate = monte_carlo_moments(law.sampler(), samples=samples, generator=generator)
    second = nu / (nu - 2)
    return InputMoments(
        covariance=second * torch.eye(n, dtype=_F64),
        m1=estimate.m1,
        m2=n * second,
        m3=estimate.m3 if nu > 3 else math.inf,
        m4=math.inf,
        stderr=(estimate.stderr[0], 0.0, estimate.stderr[2] if nu > 3 else math.inf, math.inf),
        covariance_stderr=0.0,
        method=f"Sigma, m2 closed form; m1, m3 by {estimate.method}; m4 = inf (df = {nu} <= 4)",
    )


def _moments(law: InputLaw, samples: int, seed: int) -> InputMoments:
    generator = torch.Generator().manual_seed(seed)
    if law.family == "student_t":
        assert law.df is not None
        if law.df <= 2:
            raise ValueError(f"{law.name}: Student-t with df = {law.df} <= 2 has Sigma = inf")
        return _student_t_moments(law, samples, generator)
    return input_moments(law.sampler(), samples=samples, generator=generator)


@functools.lru_cache(maxsize=64)
def _constants(
    law_json: str, seed: int, filter_size: int, width: int, alpha: float, samples: int
) -> tuple[NeurotronConstants | None, str]:
    """Theorem II.1's constants for one law and seed's net (M = mean of the A_i), and a note."""
    law = InputLaw.model_validate_json(law_json)
    family = draw_network(
        law, filter_size=filter_size, width=width, generator=torch.Generator().manual_seed(seed)
    )
    try:
        moments = _moments(law, samples, seed)
    except ValueError as error:
        return None, str(error)
    constants = neurotron_constants(family.sensing, family.mean, alpha=alpha, moments=moments)
    return constants, moments.method


def _law_theory(config: Config, law: InputLaw, seed: int) -> dict[str, Any]:
    """Constants, vacuity and the Theorem II.1 bound at the run's eta, for one law and seed."""
    constants, method = _constants(
        law.model_dump_json(),
        seed,
        config.filter_size,
        config.width,
        config.alpha,
        config.moment_samples,
    )
    initial = config.filter_size * (config.w0**2 + 1.0)  # E||w_1 - w*||^2 for w* ~ N(0, I_r)
    if constants is None:
        return {"defined": False, "reason": method, "initial_sq": initial}
    c = constants
    heavy = not math.isfinite(c.m4) or not math.isfinite(c.m3)
    reasons = [c.reason]
    if heavy:
        reasons.append(
            f"m_3 = {c.m3:.4g}, m_4 = {c.m4:.4g}: E||x||^4 is infinite, so Assumption 1.2 fails "
            "and the step size, the recursion and T of Theorem II.1 are undefined"
        )
    out: dict[str, Any] = {
        "defined": True,
        "moments": method,
        "lambda1": c.lambda1,
        "lambda2": c.lambda2,
        "lambda3": c.lambda3,
        "m1": c.m1,
        "m2": c.m2,
        "m3": c.m3,
        "m4": c.m4,
        "moment_stderr": list(c.moment_stderr),
        "c_tradeoff": c.c_tradeoff,
        "vacuous": c.vacuous or heavy,
        "reason": "; ".join(reasons),
        "initial_sq": initial,
        "eta": law.eta,
    }
    if c.c_tradeoff > 0:
        # eq. (1) with eta -> 0, t -> inf: E||w - w*||^2 <= theta^2 / c_trade-off.
        out["asymptotic_slope"] = 1.0 / math.sqrt(c.c_tradeoff)
    if heavy or not c.realizable:
        return out
    kappa = realizable_rate(c, eta=law.eta)
    gamma = 2.0 * realizable_gamma_min(c)
    eta_theorem = realizable_step_size(c, gamma=gamma)
    kappa_theorem = realizable_rate(c, eta=eta_theorem)
    out["case1_contraction_at_eta"] = kappa
    out["case1_theorem_eta"] = eta_theorem
    out["case1_theorem_steps_to_halve"] = math.log(0.5) / math.log(kappa_theorem)
    thetas = sorted({*config.thetas, config.beta_sweep_theta})
    bounds: dict[str, Any] = {}
    for theta in thetas:
        step = recursion(c, eta=law.eta, theta=theta)
        final = float(
            error_bound(c, eta=law.eta, theta=theta, initial=initial, steps=config.steps)[-1]
        )
        bounds[repr(theta)] = {
            "contraction": step.contraction,
            "bound_sq_at_T": final,
            "informative": bool(math.isfinite(final) and final < initial),
        }
    out["bound_at_eta"] = bounds
    return out


def theory(config: Config) -> dict[str, Any]:
    """Theorem II.1 per input law and seed: constants, c_trade-off, vacuity, bound at eta."""
    laws = {
        law.name: {str(seed): _law_theory(config, law, seed) for seed in config.seeds}
        for law in config.distributions
    }
    return {
        "theorem": "paper 000, Theorem II.1: ||w_T - w*|| <= eps w.p. 1 - delta when "
        "theta^2 <= eps^2 delta c_trade-off (eq. (1)); c_trade-off <= 0 makes it vacuous",
        "M": "M = [M_X | M_Y], the mean of the A_i = M + c_i C (the published code's choice)",
        "lower_bound": "section II-A: labels realized by w_adv with |xi| <= theta force error "
        ">= ||w_adv - w*|| = theta / G on any learner that recovers realizable filters",
        "paper_claim": "the later version reports that Neuro-Tron outperforms SGD on every input "
        "law (its SGD used the first sample's gradient for the whole minibatch); no table of "
        "numbers is given in the text, only figures",
        "distributions": laws,
    }


# --------------------------------------------------------------------------- summarize
def _final(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["t"] == table["steps"]]


def _theta_rows(table: pd.DataFrame, oracle: str, learner: str) -> pd.DataFrame:
    """Final rows (t = T) of the theta sweep of one oracle and learner."""
    final = _final(table)
    return final[
        (final["sweep"] == "theta") & (final["oracle"] == oracle) & (final["learner"] == learner)
    ]


_MEMBER = ["distribution", "oracle", "learner", "sweep", "seed", "theta", "beta", "run"]


def _stuck_runs(rows: pd.DataFrame) -> str:
    """'s of n': runs whose final error is above half their initial error (no recovery)."""
    start = rows[rows["t"] == 0].set_index(_MEMBER)["error"]
    end = _final(rows).set_index(_MEMBER)["error"]
    stuck = ~(end <= 0.5 * start.reindex(end.index))
    return f"{int(stuck.sum())} of {len(end)}"


def _trend(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation of y with x (nan with fewer than 3 distinct points)."""
    if len(set(x)) < 3:
        return math.nan
    return float(stats.spearmanr(x, y).statistic)


def _trend_verdict(claim: str, x: Sequence[float], y: Sequence[float], what: str) -> Verdict:
    """Does the mean final error rise with x? Judged only once the runs show the attack at all.

    Inconclusive when the error at the largest x is within 3x of the error at the smallest
    (the runs are still in their transient from w_1, which no attack changes), or Spearman's
    rank correlation lies in (0, 0.8); consistent for >= 0.8, inconsistent for <= 0.
    """
    points = ", ".join(f"{a:g}: {b:.3g}" for a, b in zip(x, y, strict=True))
    rho = _trend(x, y)
    if not math.isfinite(rho):
        return Verdict(claim, "inconclusive", None, 1.0, f"fewer than 3 distinct {what} values")
    order = np.argsort(np.asarray(x, dtype=float))
    low, high = float(np.asarray(y)[order[0]]), float(np.asarray(y)[order[-1]])
    if not high > 3 * low:
        reason = (
            f"the error at the largest {what} is within 3x of the error at the smallest "
            f"({points}): the runs have not left their transient from w_1 (more steps needed)"
        )
        return Verdict(claim, "inconclusive", rho, 1.0, reason)
    if rho >= 0.8:
        kind: Literal["consistent", "inconsistent", "inconclusive"] = "consistent"
    elif rho <= 0.0:
        kind = "inconsistent"
    else:
        kind = "inconclusive"
    reason = f"Spearman rank correlation {rho:.2f} of the mean final error with {what} ({points})"
    return Verdict(claim, kind, rho, 1.0, reason)


def _slope_verdict(law: str, final: pd.DataFrame) -> Verdict:
    """log-log slope of the final error in theta, fitted on the runs of every theta whose mean
    error clears 3x the theta = 0 error (below it the run has not left its clean floor)."""
    claim = f"{law}: Neuro-Tron's final error grows like theta (eq. (1): eps ~ theta*)"
    means = final.groupby("theta")["error"].mean()
    floor = float(means.get(0.0, means.min()))
    pairs = zip(means.index.to_numpy(dtype=float), means.to_numpy(dtype=float), strict=True)
    kept = [float(t) for t, v in pairs if t > 0 and v > 3 * floor]
    if len(kept) < 3:
        return Verdict(
            claim,
            "inconclusive",
            None,
            1.0,
            f"fewer than 3 thetas where the mean error exceeds 3x the theta = 0 error "
            f"{floor:.3g} (the runs have not reached their noise floor)",
        )
    rows = final[final["theta"].isin(kept)]
    fit = fit_loglog_slope(rows["theta"], rows["error"], drop_invalid=True)
    return compare_exponent(fit, 1.0, tolerance=0.2, claim=claim, max_ci_width=0.6)


def _bound_verdict(
    law: InputLaw, table: pd.DataFrame, info: dict[str, Any], config: Config
) -> Verdict:
    """Measured mean ||w_T - w*||^2 of Neuro-Tron against Theorem II.1's bound at the run's eta.

    The bound is linear in ||w_1 - w*||^2, so it is evaluated at the runs' own mean initial
    squared distance; it is checked where it is informative (below that initial value).
    """
    claim = f"{law.name}: Neuro-Tron's E||w_T - w*||^2 <= Theorem II.1's bound (any |xi| <= theta)"
    rows = table[(table["distribution"] == law.name) & (table["learner"] == "neurotron")]
    final = _final(rows)
    start = rows[rows["t"] == 0].set_index(_MEMBER)["error"]
    checks: list[Verdict] = []
    notes: list[str] = []
    for seed, seed_info in info.items():
        if not seed_info.get("defined"):
            notes.append(f"seed {seed}: {seed_info['reason']}")
            continue
        cs = seed_info["c_tradeoff"]
        bounds = seed_info.get("bound_at_eta")
        if bounds is None:
            notes.append(f"seed {seed}: {seed_info['reason']}")
            continue
        constants, _ = _constants(
            law.model_dump_json(),
            int(seed),
            config.filter_size,
            config.width,
            config.alpha,
            config.moment_samples,
        )
        assert constants is not None
        seed_rows = final[final["seed"] == int(seed)]
        before = len(checks)
        for _, group in seed_rows.groupby(["theta", "oracle"]):
            theta = float(group["theta"].iloc[0])
            initial = float((start.loc[group.set_index(_MEMBER).index] ** 2).mean())
            bound = float(
                error_bound(
                    constants, eta=law.eta, theta=theta, initial=initial, steps=config.steps
                )[-1]
            )
            if not (math.isfinite(bound) and bound < initial):
                continue
            measured = float((group["error"] ** 2).mean())
            checks.append(check_upper_bound(measured, bound, claim=claim, rtol=0.25))
        if len(checks) == before:
            kappa = seed_info.get("case1_contraction_at_eta", math.nan)
            notes.append(
                f"seed {seed}: vacuous at eta = {law.eta:g}: c_trade-off = {cs:.3g} "
                f"({'<= 0, no theta > 0 covered' if cs <= 0 else '> 0'}), the theta = 0 "
                f"contraction kappa = {kappa:.3g} {'>= 1' if kappa >= 1 else '< 1'}; the "
                f"theorem's own eta = {seed_info['case1_theorem_eta']:.3g} would need "
                f"{seed_info['case1_theorem_steps_to_halve']:.3g} steps to halve the bound"
            )
    if not checks:
        return Verdict(claim, "inconclusive", None, None, "; ".join(notes) or "no rows")
    bad = [v for v in checks if v.verdict == "inconsistent"]
    worst = bad[0] if bad else max(checks, key=lambda v: (v.measured or 0) / (v.predicted or 1))
    kind: Literal["consistent", "inconsistent"] = "inconsistent" if bad else "consistent"
    reason = (
        f"{len(checks) - len(bad)} of {len(checks)} informative (seed, theta, oracle) bounds hold"
    )
    return Verdict(claim, kind, worst.measured, worst.predicted, f"{reason}; worst: {worst.reason}")


def _recovery_verdict(law: str, table: pd.DataFrame) -> Verdict:
    """Case I: with clean labels Neuro-Tron's error falls far below ||w_1 - w*||."""
    claim = f"{law}: with clean labels (theta = 0) Neuro-Tron recovers w* (Theorem II.1, Case I)"
    rows = table[
        (table["distribution"] == law)
        & (table["learner"] == "neurotron")
        & (table["theta"] == 0.0)
        & (table["sweep"] == "theta")
    ]
    if rows.empty:
        return Verdict(claim, "inconclusive", None, 0.0, "no theta = 0 Neuro-Tron runs")
    start = float(rows[rows["t"] == 0]["error"].mean())
    end = float(_final(rows)["error"].mean())
    ratio = end / start
    if ratio <= 0.05:
        kind: Literal["consistent", "inconsistent", "inconclusive"] = "consistent"
    elif ratio >= 1.0 or not math.isfinite(ratio):
        kind = "inconsistent"
    else:
        kind = "inconclusive"
    reason = (
        f"mean ||w_t - w*|| went from {start:.3g} to {end:.3g} (ratio {ratio:.3g}; consistent "
        "below 0.05, inconclusive between 0.05 and 1: more steps needed)"
    )
    return Verdict(claim, kind, end, 0.0, reason)


def _lower_bound_verdict(law: str, learner: str, table: pd.DataFrame) -> Verdict | None:
    """Section II-A: on labels realized by w_adv the learner converges to w_adv, so its error
    tends to ||w_adv - w*||. Consistent when it ends near w_adv (||w_T - w_adv|| <= half the
    gap) with ||w_T - w*|| >= 0.9 ||w_adv - w*||; inconclusive when it has not reached w_adv."""
    rows = _theta_rows(table, "realizable", learner)
    rows = rows[(rows["distribution"] == law) & (rows["theta"] > 0)]
    if rows.empty:
        return None
    claim = (
        f"{law}: {_LEARNER[learner]} on labels realized by w_adv converges to w_adv, so "
        "||w_T - w*|| -> ||w_adv - w*|| (section II-A lower bound)"
    )
    measured = float(rows["error"].median())
    bound = float(rows["w_adv_gap"].median())
    to_adv = float((rows["final_error_to_adv"] / rows["w_adv_gap"]).median())
    verdict = check_lower_bound(measured, bound, claim=claim, rtol=0.1)
    extra = (
        f" (medians over runs and theta > 0); median ||w_T - w_adv|| / ||w_adv - w*|| = "
        f"{to_adv:.3g}; clipped labels {rows['clipped_fraction'].mean():.2e}"
    )
    kind = verdict.verdict
    if kind == "consistent" and not to_adv <= 0.5:
        kind = "inconclusive"
        extra += "; the runs have not reached w_adv yet, so the bound holds trivially"
    return Verdict(claim, kind, measured, bound, verdict.reason + extra)


def _diverged_high(rows: pd.DataFrame) -> pd.Series:
    """The error column with non-finite values (diverged runs) replaced by +inf."""
    error = rows["error"].astype(float)
    return error.where(np.isfinite(error), math.inf)


def _versus_verdict(law: str, table: pd.DataFrame, baseline: str = "sgd") -> Verdict | None:
    """Neuro-Tron vs an SGD baseline on the random attack, by median and by mean: `baseline`
    "sgd" (per-sample gradients) or "sgd-published" (the published first-sample gradient, the
    comparison the later version's "Neuro-Tron beats SGD" claim rests on)."""
    tron = _theta_rows(table, "random", "neurotron")
    sgd = _theta_rows(table, "random", baseline)
    tron, sgd = tron[tron["distribution"] == law], sgd[sgd["distribution"] == law]
    if tron.empty or sgd.empty:
        return None
    name = _LEARNER[baseline]
    claim = f"{law}: Neuro-Tron ends below {name} (the later version's claim), random attack"
    # a diverged run (non-finite error) ends above every finite one
    tron, sgd = tron.assign(error=_diverged_high(tron)), sgd.assign(error=_diverged_high(sgd))
    diverged = {k: int((~np.isfinite(v["error"])).sum()) for k, v in (("tron", tron), ("sgd", sgd))}
    parts, wins = [], {}
    for statistic in ("median", "mean"):
        a = tron.groupby("theta")["error"].agg(statistic)
        b = sgd.groupby("theta")["error"].agg(statistic)
        common = a.index.intersection(b.index)
        wins[statistic] = int((a[common] < b[common]).sum())
        pairs = ", ".join(f"{t:g}: {a[t]:.3g} vs {b[t]:.3g}" for t in common)
        parts.append(
            f"{statistic} over runs, Neuro-Tron vs {name} by theta: {pairs} (Neuro-Tron lower at "
            f"{wins[statistic]} of {len(common)})"
        )
    total = len(tron.groupby("theta"))
    if wins["median"] == wins["mean"] == total:
        kind: Literal["consistent", "inconsistent", "inconclusive"] = "consistent"
    elif wins["median"] == wins["mean"] == 0:
        kind = "inconsistent"
    else:
        kind = "inconclusive"
    reason = "; ".join(parts)
    if diverged["tron"] or diverged["sgd"]:
        reason += (
            f"; diverged runs (counted as infinite error): Neuro-Tron {diverged['tron']}, "
            f"{name} {diverged['sgd']}"
        )
    if kind == "inconclusive" and wins["mean"] > wins["median"]:
        reason += (
            "; the two disagree when some SGD runs do not recover (see "
            f"stuck_runs_{baseline}): SGD is better in a typical run, Neuro-Tron on average"
        )
    compared = (
        ("lower by median", float(wins["median"])),
        ("lower by mean", float(wins["mean"])),
        ("of thetas", float(total)),
    )
    return Verdict(claim, kind, float(wins["median"]), float(total), reason, compared=compared)


SETTLE: dict[str, str] = {
    # a claim fragment -> what would settle the verdict when it is not consistent
    "Theorem II.1's bound": (
        "no quick setting: at this eta the bound is vacuous (see the reason), and the "
        "theorem's own eta needs tens of millions of steps; `--preset paper` runs the "
        "paper's input laws and step sizes, and its reason says whether the bound applies"
    ),
    "converges to w_adv": (
        "`--preset paper` (40000 steps instead of 1500, 10 runs per theta): the quick "
        "realizable runs give no finite ratio to judge"
    ),
    "Neuro-Tron ends below": (
        "`--preset paper` (10 runs per theta instead of 3, 40000 steps): enough runs for the "
        "median and the mean to agree; if SGD still wins at every theta, the claim fails"
    ),
}


def summarize(table: pd.DataFrame, config: Config) -> Summary:
    """c_trade-off per law, bound checks, recovery, growth in theta and beta, SGD side by side."""
    predictions = theory(config)["distributions"]
    headline: dict[str, Any] = {}
    verdicts: list[Verdict] = []
    final = _final(table)
    for law in config.distributions:
        info = predictions[law.name]
        defined = [v for v in info.values() if v.get("defined")]
        cs = [v["c_tradeoff"] for v in defined]
        entry: dict[str, Any] = {
            "c_tradeoff": float(np.mean(cs)) if cs else None,
            "vacuous": all(v["vacuous"] for v in defined) if defined else True,
            "theory_note": next(iter(info.values()))["reason"],
        }
        for learner in config.learners:
            for oracle in config.oracles:
                rows = _theta_rows(table, oracle, learner)
                rows = rows[rows["distribution"] == law.name]
                if rows.empty:
                    continue
                medians = rows.groupby("theta")["error"].median()
                entry[f"median_final_error_{learner}_{oracle}"] = {
                    f"{t:g}": v for t, v in medians.items()
                }
            mine = table[(table["distribution"] == law.name) & (table["learner"] == learner)]
            entry[f"diverged_runs_{learner}"] = int(_final(mine)["diverged"].sum())
            entry[f"stuck_runs_{learner}"] = _stuck_runs(mine)
        headline[law.name] = entry

        verdicts.append(_bound_verdict(law, table, info, config))
        verdicts.append(_recovery_verdict(law.name, table))
        random_rows = _theta_rows(table, "random", "neurotron")
        random_rows = random_rows[random_rows["distribution"] == law.name]
        if not random_rows.empty:
            means = random_rows.groupby("theta")["error"].mean()
            verdicts.append(
                _trend_verdict(
                    f"{law.name}: Neuro-Tron's final error grows with theta (random attack)",
                    list(means.index),
                    list(means.values),
                    "theta",
                )
            )
            verdicts.append(_slope_verdict(law.name, random_rows))
        beta_rows = final[
            (final["distribution"] == law.name)
            & (final["sweep"] == "beta")
            & (final["learner"] == "neurotron")
            & (final["oracle"] == "random")
        ]
        if not beta_rows.empty:
            means = beta_rows.groupby("beta")["error"].mean()
            verdicts.append(
                _trend_verdict(
                    f"{law.name}: Neuro-Tron's final error grows with beta at theta = "
                    f"{config.beta_sweep_theta:g} (random attack)",
                    list(means.index),
                    list(means.values),
                    "beta",
                )
            )
        for learner in config.learners:
            lower = _lower_bound_verdict(law.name, learner, table)
            if lower is not None:
                verdicts.append(lower)
        for baseline in ("sgd", "sgd-published"):
            versus = _versus_verdict(law.name, table, baseline)
            if versus is not None:
                verdicts.append(versus)
    return Summary(headline=headline, verdicts=settle_each(verdicts, SETTLE))


# --------------------------------------------------------------------------- figures
_SPREAD = "median over runs, band: interquartile range"
_ORACLE_COLOR = {
    "none": "tab:gray",
    "random": "tab:blue",
    "adversarial": "tab:orange",
    "realizable": "tab:green",
}
_LEARNER_LINE = {"neurotron": "-", "sgd": ":", "sgd-published": "-."}


def _q25(values: pd.Series) -> float:
    return float(values.quantile(0.25))


def _q75(values: pd.Series) -> float:
    return float(values.quantile(0.75))


def _axes_list(axes: Any) -> list[Axes]:
    return list(np.atleast_1d(axes).ravel())


def figures(table: pd.DataFrame, config: Config) -> dict[str, Figure]:
    """Error vs t per theta, final error vs theta (with the bounds) and vs beta, per input law."""
    out: dict[str, Figure] = {}
    predictions = theory(config)["distributions"]
    laws = config.distributions
    learners = [lr for lr in ("neurotron", "sgd", "sgd-published") if lr in config.learners]
    oracle = "random" if "random" in config.oracles else config.oracles[0]

    fig, axes = new_figure(len(learners), nrows=len(laws), width=4.6, height=3.4)
    grid = np.array(_axes_list(axes)).reshape(len(laws), len(learners))
    for i, law in enumerate(laws):
        for j, learner in enumerate(learners):
            ax = grid[i, j]
            rows = table[
                (table["distribution"] == law.name)
                & (table["learner"] == learner)
                & (table["oracle"] == oracle)
                & (table["sweep"] == "theta")
            ]
            for theta, group in rows.groupby("theta"):
                stats_ = group.groupby("t")["error"].agg(["median", _q25, _q75]).reset_index()
                plot_measured(
                    ax,
                    stats_["t"],
                    stats_["median"],
                    low=stats_["_q25"],
                    high=stats_["_q75"],
                    label=rf"$\theta$ = {theta:g}",
                    marker=None,
                )
            ax.set_yscale("log")
            ax.set_xlabel("iteration $t$")
            ax.set_ylabel(r"$\|w_t - w^*\|$")
            ax.xaxis.set_major_locator(MaxNLocator(5))
            ax.set_title(
                f"{_LEARNER[learner]}, {law.label()}, {oracle} attack\n{_SPREAD}", fontsize=8
            )
            ax.grid(True, which="both", alpha=0.25)
            ax.legend(fontsize=7)
    out["error_vs_iterations"] = fig

    fig, axes = new_figure(len(laws), width=4.8, height=3.8)
    for ax, law in zip(_axes_list(axes), laws, strict=True):
        _theta_panel(ax, table, config, law, predictions[law.name])
    out["final_error_vs_theta"] = fig

    if config.beta_sweep and any(o in config.oracles for o in ("random", "adversarial")):
        fig, axes = new_figure(len(laws), width=4.8, height=3.8)
        for ax, law in zip(_axes_list(axes), laws, strict=True):
            final = _final(table)
            rows = final[(final["distribution"] == law.name) & (final["sweep"] == "beta")]
            for (orc, learner_name), group in rows.groupby(["oracle", "learner"]):
                stats_ = group.groupby("beta")["error"].agg(["median", _q25, _q75]).reset_index()
                plot_measured(
                    ax,
                    stats_["beta"],
                    stats_["median"],
                    low=stats_["_q25"],
                    high=stats_["_q75"],
                    label=f"{_LEARNER[str(learner_name)]}, {orc}",
                    color=_ORACLE_COLOR[str(orc)],
                    linestyle=_LEARNER_LINE[str(learner_name)],
                )
            ax.set_xscale("symlog", linthresh=0.01)
            ax.set_yscale("log")
            ax.set_xlabel(r"attack probability $\beta$")
            ax.set_ylabel(r"$\|w_T - w^*\|$")
            ax.set_title(
                rf"{law.label()}, $\theta$ = {config.beta_sweep_theta:g}" + f"\n{_SPREAD}",
                fontsize=8,
            )
            ax.grid(True, which="both", alpha=0.25)
            ax.legend(fontsize=7)
        out["final_error_vs_beta"] = fig
    return out


def _theta_panel(
    ax: Axes, table: pd.DataFrame, config: Config, law: InputLaw, info: dict[str, Any]
) -> None:
    """Final error vs theta per (oracle, learner), Theorem II.1's bound and the w_adv bound."""
    final = _final(table)
    rows = final[(final["distribution"] == law.name) & (final["sweep"] == "theta")]
    for (orc, learner), group in rows.groupby(["oracle", "learner"]):
        stats_ = group.groupby("theta")["error"].agg(["median", _q25, _q75]).reset_index()
        plot_measured(
            ax,
            stats_["theta"],
            stats_["median"],
            low=stats_["_q25"],
            high=stats_["_q75"],
            label=f"{_LEARNER[str(learner)]}, {orc}",
            color=_ORACLE_COLOR[str(orc)],
            linestyle=_LEARNER_LINE[str(learner)],
        )
    thetas = np.array(sorted(config.thetas), dtype=float)
    realizable = rows[(rows["oracle"] == "realizable") & (rows["theta"] > 0)]
    if not realizable.empty:
        gap = realizable.groupby("theta")["w_adv_gap"].mean()
        plot_theory(
            ax,
            gap.index.to_numpy(dtype=float),
            gap.to_numpy(dtype=float),
            label=r"$\|w_{adv} - w^*\|$ (II-A lower bound)",
            color="tab:red",
            linewidth=2.0,
        )
    notes = []
    seeds = [v for v in info.values() if v.get("defined")]
    slopes = [v["asymptotic_slope"] for v in seeds if "asymptotic_slope" in v]
    if slopes and len(thetas):
        plot_theory(
            ax, thetas, float(np.mean(slopes)) * thetas, label=r"$\theta/\sqrt{c_{trade-off}}$"
        )
    informative = []
    for seed_info in seeds:
        for theta_key, entry in seed_info.get("bound_at_eta", {}).items():
            if entry["informative"]:
                informative.append((float(theta_key), math.sqrt(entry["bound_sq_at_T"])))
    if informative:
        xs, ys = zip(*sorted(informative), strict=True)
        plot_theory(ax, xs, ys, label="Thm II.1 bound at $T$", marker="x")
    if seeds:
        c_mean = float(np.mean([v["c_tradeoff"] for v in seeds]))
        vacuous = all(v["vacuous"] for v in seeds)
        notes.append(rf"$c_{{trade-off}}$ = {c_mean:.3g}" + (" (vacuous)" if vacuous else ""))
    else:
        notes.append("Thm II.1 undefined")
    if any(not math.isfinite(v["m4"]) for v in seeds):
        notes.append(r"$m_4 = \infty$")
    if not informative:
        notes.append("Thm II.1 bound vacuous at this $\\eta$")
    ax.text(0.02, 0.98, "\n".join(notes), transform=ax.transAxes, va="top", fontsize=7)
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set_yscale("log")
    ax.set_xlabel(r"noise bound $\theta$")
    ax.set_ylabel(r"$\|w_T - w^*\|$, $T$ = " + f"{config.steps}")
    ax.set_title(f"{law.label()}\n{_SPREAD}", fontsize=8)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=6, loc="best")
