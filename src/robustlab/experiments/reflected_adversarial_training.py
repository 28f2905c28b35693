"""Adversarial training with and without the reflected loss on MNIST 0 vs 1 (Table 1).

Paper 004, section 4.2 and Table 1: fully connected two-layer ReLU nets with 100 hidden units
on MNIST digits 0 and 1 (12665 training, 2115 test images, pixels in [0, 1]), trained for 20
epochs of minibatch SGD (batch 64, learning rate 1 decayed by 0.2 every 5 epochs) on the
logistic loss, either on clean inputs ("standard") or on inputs attacked by PGD-inf, R-PGD-inf,
PGD-2 or R-PGD-2 (Algorithm 2: step 5 updates W only), then evaluated against FGSM, BIM,
PGD-inf, PGD-2 and their reflected versions (R-: the attack maximizes l_-(z) = -log(1 + e^z)
instead of the logistic loss, Algorithm 1) with nu = 0.1 (linf) and nu = 2 (l2), iterative
attacks with step 10 decayed by 0.2 every 10 steps. The paper's 10 runs are the 10 members of
one batched ensemble (each its own initialization; one shuffled minibatch order per epoch
shared by the members, since the attacks take one label vector); member e starts from the same
weights under every training method, so runs are paired across training methods.

What tells the attacks apart. PGD here is Algorithm 1 itself: plain gradient steps
delta <- Pi(delta + eta grad l(y f(x + delta))), not normalized. The logistic loss's slope
sigma(-z) vanishes on confidently classified points (margin z >> 0), so PGD barely moves them,
while the reflected slope sigma(z) tends to 1 and R-PGD runs into the boundary of the ball.
FGSM and BIM step along sign(grad), which is the same for both losses of a one-logit model
(both gradients are negative multiples of y grad f), so R-FGSM = FGSM and R-BIM = BIM unless a
gradient underflows to exactly zero. The table is the mean over every run, as the paper
reports it; runs whose training was unstable (final clean training error above 5%) are counted
and shown apart, never dropped. It is compared with the paper's in ways that can fail: each
row's relative error with a floor, the rank order of the attacks in each row, and the paper's
qualitative claims (section 4.2, "Analysis"), each a verdict. The protocol table (PROTOCOL)
names every choice the paper leaves open.

Two measured facts about that protocol (5 standard nets, all data, 20 epochs; commands in
README / benchmarks/reflected_pgd2.py). (1) The standard row of Table 1 is reproduced only when
the top layer is trained too (train_top=True: FGSM 0.236, PGD-inf 0.033, R-PGD-inf 0.292, BIM
0.291 against the paper's 0.236, 0.033, 0.286, 0.286); with W only (Algorithm 2, the default)
every linf attack gives 0.022. (2) Why PGD-2 is 5-11x the paper's value: with the logistic loss
averaged over a minibatch of B test images (PyTorch's default reduction) each sample's raw step
is divided by B; B = 100 gives PGD-2 0.0032 (paper 0.003) against 0.032 with per-sample steps,
while R-PGD-2 stays at 0.405 (its raw step still reaches the ball's boundary); with clipping
to [0, 1] as well, PGD-2 0.0026 and R-PGD-2 0.275 (paper 0.003, 0.256). The number of steps
(10 / 40: 0.026 / 0.035) or clipping alone (0.026) do not explain it; a random start (0.163) or
normalized steps (0.406) make PGD-2 stronger still. The presets keep per-sample steps and no
clipping (a batch-dependent step is a property of the authors' likely code, not of Algorithm 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any, Literal, cast, get_args

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from pydantic import Field, field_validator
from torch import Tensor, nn

from robustlab.attacks import AttackResult, bim, fgsm, pgd, step_decay
from robustlab.data import mnist_binary, random_subset
from robustlab.experiments.base import (
    Cell,
    CellContext,
    ExperimentConfig,
    ProtocolRow,
    Summary,
    grid,
)
from robustlab.learners import adversarial_training, from_attack
from robustlab.models import TwoLayerNet
from robustlab.plotting import margin_loss_figure, new_figure
from robustlab.theory.claims import (
    paired_test,
    paper_row_over_runs,
    rank_order_over_runs,
    relative_error,
    settle_each,
)
from robustlab.theory.fitting import Verdict, VerdictKind

PAPER = "004"
FIGURE = "Table 1"
VERSION = 1

TrainingName = Literal["standard", "PGD-inf", "R-PGD-inf", "PGD-2", "R-PGD-2"]
AttackName = Literal["FGSM", "R-FGSM", "PGD-inf", "R-PGD-inf", "BIM", "R-BIM", "PGD-2", "R-PGD-2"]
TRAININGS: tuple[TrainingName, ...] = get_args(TrainingName)
ATTACKS: tuple[AttackName, ...] = get_args(AttackName)
#: Paper 004 Table 1: robust test error (mean of 10 runs), rows = training, columns = attack.
PAPER_TABLE1: dict[str, dict[str, float]] = {
    training: dict(zip(ATTACKS, errors, strict=True))
    for training, errors in (
        ("standard", (0.236, 0.236, 0.033, 0.286, 0.286, 0.286, 0.003, 0.256)),
        ("PGD-inf", (0.004, 0.004, 0.005, 0.005, 0.005, 0.005, 0.003, 0.05)),
        ("R-PGD-inf", (0.003, 0.003, 0.004, 0.004, 0.004, 0.004, 0.002, 0.042)),
        ("PGD-2", (0.013, 0.013, 0.022, 0.024, 0.024, 0.024, 0.002, 0.034)),
        ("R-PGD-2", (0.004, 0.004, 0.005, 0.006, 0.006, 0.006, 0.0, 0.008)),
    )
}
#: The attack pairs (plain, reflected) of Table 1.
PAIRS: tuple[tuple[str, str], ...] = (
    ("FGSM", "R-FGSM"),
    ("PGD-inf", "R-PGD-inf"),
    ("BIM", "R-BIM"),
    ("PGD-2", "R-PGD-2"),
)
#: Test points attacked at once (bounds the (E, chunk, m) activations of the attack loop).
TEST_CHUNK = 1024
#: Significance level of the paired tests across runs.
LEVEL = 0.05
#: "Identical up to the third decimal" (paper, Table 1 analysis).
THIRD_DECIMAL = 1e-3
#: A run whose final clean training error exceeds this was unstable (with train_top=True at
#: lr 1 some runs collapse to a constant output, logistic loss log 2); such runs are counted
#: and shown apart, and stay in the means (the paper reports means over all its runs).
UNSTABLE_TRAIN_ERROR = 0.05
#: Table 1 comparison: relative error |ours - paper| / max(paper, TABLE_FLOOR). The floor, one
#: percentage point (21 of the 2115 test images), is the resolution below which the paper's
#: three-decimal entries (0.000-0.008 in rows 2-5) cannot be told apart from run-to-run noise.
TABLE_FLOOR = 0.01
#: Largest relative error of an entry that agrees with the paper.
RELATIVE_TOLERANCE = 0.5
#: Rank order: only pairs of attacks whose paper entries differ by at least this (about 10 test
#: images; the paper rounds to 0.001) are compared; closer pairs count as ties.
RANK_GAP = 0.005
#: "Still competitive": the PGD-trained rows' worst-attack error below this times the standard
#: row's (paper: 0.05 / 0.286 = 0.17).
COMPETITIVE_RATIO = 0.5

#: The protocol of Table 1: the paper, robustlab's presets, and each deviation with its reason.
PROTOCOL: tuple[ProtocolRow, ...] = (
    ProtocolRow(
        "data",
        "MNIST 0 vs 1, 12665 train / 2115 test, pixels in [0, 1] (sec. 4.2)",
        "",
        "same; quick: 2000 / 500 images",
        "quick: time",
    ),
    ProtocolRow(
        "network",
        "two-layer, 100 ReLU hidden units (sec. 4.2)",
        "",
        "f(x) = a^T relu(W x + b), nn.Linear init U(+-1/sqrt(fan_in)), hidden bias, no output bias",
        "initialization and bias not stated; PyTorch defaults",
    ),
    ProtocolRow(
        "trained parameters",
        "W only (Algorithm 2, step 5); sec. 4.2 does not say which layers the experiment trains",
        "",
        "W and b (train_top=False, Algorithm 2); train_top=True also trains a",
        "measured (5 runs, all data, 20 epochs): only train_top=True reproduces the standard row "
        "(FGSM 0.236, PGD-inf 0.033, R-PGD-inf 0.292 vs paper 0.236, 0.033, 0.286); with W only "
        "every linf attack gives 0.022, so the experiment most likely trained both layers",
    ),
    ProtocolRow(
        "training",
        "20 epochs, batch 64, lr 1 x 0.2 every 5 epochs, logistic loss (sec. 4.2)",
        "",
        "same; quick: 2 epochs, decay every epoch",
        "quick: time",
    ),
    ProtocolRow(
        "attacks",
        "FGSM, BIM, PGD-inf (nu 0.1), PGD-2 (nu 2), each plain and R-; step 10 x 0.2 every "
        "10 steps; PGD = Algorithm 1 from delta_1 = x",
        "",
        "same, raw (unnormalized) per-sample gradient steps, no random start, no [0, 1] "
        "clipping, 20 steps in training and at test; quick: 3 / 5 steps, decay every 2",
        "steps, clipping and loss reduction not stated; a batch-mean loss (B = 100) divides the "
        "raw step by B and gives the paper's PGD-2 0.003 (ours 0.032); quick: time",
    ),
    ProtocolRow(
        "runs and means",
        "10 independent runs, mean robust test error (Table 1)",
        "",
        "10 members of one ensemble (quick: 3); means over all runs, unstable runs "
        "(train error > 5%) shown apart",
        "",
    ),
    ProtocolRow(
        "comparison",
        "qualitative analysis of Table 1 (sec. 4.2)",
        "",
        "per row: relative error <= 50% with floor 0.01, rank order of attacks; the four "
        "claims of the analysis as verdicts",
        "",
    ),
)


class Config(ExperimentConfig):
    """Training methods (swept), attacks, network, optimizer and attack settings of Table 1."""

    training: list[TrainingName] = Field(
        default=list(TRAININGS), min_length=1, description="training methods (swept)"
    )
    attacks: list[AttackName] = Field(
        default=list(ATTACKS), min_length=1, description="test-time attacks (all per cell)"
    )
    members: int = Field(
        default=10, ge=1, description="independent runs per cell, one batched ensemble (paper: 10)"
    )
    width: int = Field(default=100, ge=1, description="hidden units m (paper: 100)")
    train_top: bool = Field(
        default=False,
        description="also train the top layer a (paper: no, Algorithm 2 step 5 updates only W; "
        "True: the behaviour of robustlab <= 0.x, unstable at lr 1)",
    )
    hidden_bias: bool = Field(default=True, description="hidden-layer bias (nn.Linear default)")
    epochs: int = Field(default=20, ge=1, description="training epochs (paper: 20)")
    batch_size: int = Field(default=64, ge=1, description="minibatch size (paper: 64)")
    lr: float = Field(default=1.0, gt=0, description="initial learning rate (paper: 1)")
    lr_decay: float = Field(default=0.2, gt=0, description="learning-rate factor (paper: 0.2)")
    lr_decay_every: int = Field(default=5, ge=1, description="epochs between decays (paper: 5)")
    nu_linf: float = Field(default=0.1, gt=0, description="linf budget of FGSM/BIM/PGD-inf (0.1)")
    nu_l2: float = Field(default=2.0, gt=0, description="l2 budget of PGD-2 (paper: 2)")
    step_size: float = Field(default=10.0, gt=0, description="initial attack step (paper: 10)")
    step_decay: float = Field(default=0.2, gt=0, description="attack step factor (paper: 0.2)")
    step_decay_every: int = Field(default=10, ge=1, description="steps between decays (10)")
    train_steps: int = Field(
        default=20, ge=1, description="attack steps inside training (not stated in the paper)"
    )
    test_steps: int = Field(
        default=20, ge=1, description="iterative attack steps at test (not stated in the paper)"
    )
    box: bool = Field(
        default=False, description="clip attacked images to [0, 1] (paper: not stated; no)"
    )
    n_train: int | None = Field(
        default=None, ge=2, description="training images drawn per seed (None: all 12665)"
    )
    n_test: int | None = Field(
        default=None, ge=1, description="test images drawn per seed (None: all 2115)"
    )

    @field_validator("training", "attacks")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"entries must be distinct, got {value}")
        return value


PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        "members": 3,
        "n_train": 2000,
        "n_test": 500,
        "epochs": 2,
        "lr_decay_every": 1,
        "train_steps": 3,
        "test_steps": 5,
        "step_decay_every": 2,
    },
    "paper": {},
}

CAPTIONS: dict[str, str] = {
    # figure stem -> what it shows and which paper figure it reproduces
    "table1": (
        "Paper 004 Table 1 as bars: robust test error on MNIST 0 vs 1 per attack (FGSM, BIM, "
        "PGD-2, PGD-inf and their reflected R- versions), one panel per training method, mean "
        "with min-max over the runs that trained; the paper's numbers as dashed black ticks."
    ),
    "losses": (
        "Paper 004 Fig. 1: the 0-1 loss, the logistic loss log(1 + e^-z) and the reflected loss "
        "-log(1 + e^z), a concave lower bound on the 0-1 loss, against the margin z = y f(x)."
    ),
}


def cells(config: Config) -> list[Cell]:
    """One cell per (seed, training method); each trains `members` networks at once."""
    return grid(config, sweep=("training",))


# --------------------------------------------------------------------------- attacks
def attack_norm(name: str) -> str:
    """'l2' for PGD-2 / R-PGD-2, 'linf' otherwise."""
    return "l2" if name.endswith("-2") else "linf"


def make_attack(
    name: str,
    *,
    nu_linf: float,
    nu_l2: float,
    steps: int,
    step_size: float,
    decay: float,
    decay_every: int,
    box: bool,
) -> Callable[[nn.Module, Tensor, Tensor], AttackResult]:
    """The attack `name` of Table 1 as (model, x, y) -> AttackResult (paper 004 section 4.2).

    FGSM: one sign step of size nu; BIM: `steps` sign steps from x; PGD-inf / PGD-2:
    Algorithm 1, `steps` unnormalized gradient steps from x projected onto the ball. The "R-"
    versions maximize the reflected loss instead of the logistic loss. Iterative steps are
    `step_size` times `decay` every `decay_every` steps. Raises ValueError for an unknown name.
    """
    if name not in ATTACKS:
        raise ValueError(f"unknown attack {name!r}; allowed: {', '.join(ATTACKS)}")
    loss = "reflected" if name.startswith("R-") else "ce"
    base = name.removeprefix("R-")
    limits = (0.0, 1.0) if box else None
    schedule = step_decay(decay, decay_every)
    if base == "FGSM":
        return partial(fgsm, eps=nu_linf, norm="linf", loss=loss, box=limits)
    if base == "BIM":
        return partial(
            bim,
            eps=nu_linf,
            norm="linf",
            steps=steps,
            step_size=step_size,
            schedule=schedule,
            loss=loss,
            box=limits,
        )
    linf = base == "PGD-inf"
    return partial(
        pgd,
        eps=nu_linf if linf else nu_l2,
        norm="linf" if linf else "l2",
        step="raw",
        steps=steps,
        step_size=step_size,
        schedule=schedule,
        loss=loss,
        random_start=False,
        box=limits,
    )


def _cell_attack(cell: Cell, name: str, steps: int) -> Callable[..., AttackResult]:
    return make_attack(
        name,
        nu_linf=float(cell["nu_linf"]),
        nu_l2=float(cell["nu_l2"]),
        steps=steps,
        step_size=float(cell["step_size"]),
        decay=float(cell["step_decay"]),
        decay_every=int(cell["step_decay_every"]),
        box=bool(cell["box"]),
    )


# --------------------------------------------------------------------------- one cell
def initial_net(
    members: int,
    width: int,
    dim: int,
    *,
    train_top: bool,
    hidden_bias: bool,
    generator: torch.Generator,
    dtype: torch.dtype = torch.float32,
) -> TwoLayerNet:
    """E = `members` nets f(x) = a^T relu(W x + b) with nn.Linear's U(+-1/sqrt(fan_in)) init."""

    def uniform(shape: tuple[int, ...], fan_in: int) -> Tensor:
        return (torch.rand(shape, generator=generator, dtype=dtype) * 2 - 1) / math.sqrt(fan_in)

    W = uniform((members, width, dim), dim)
    b = uniform((members, width), dim) if hidden_bias else None
    a = uniform((members, width), width)
    return TwoLayerNet(W, a, b, activation="relu", train_top=train_top, scheme="pytorch")


def _no_attack(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    return x


def _evaluate(
    attack: Callable[..., AttackResult], model: TwoLayerNet, x: Tensor, y: Tensor
) -> tuple[Tensor, Tensor]:
    """Per-member robust error (E,) and the largest perturbation norm (E,), in chunks."""
    fooled = torch.zeros(model.ensemble, dtype=torch.float64)
    largest = torch.zeros(model.ensemble, dtype=torch.float64)
    for start in range(0, x.shape[0], TEST_CHUNK):
        result = attack(model, x[start : start + TEST_CHUNK], y[start : start + TEST_CHUNK])
        fooled += result.success[0].sum(dim=-1).to(torch.float64).cpu()
        largest = torch.maximum(largest, result.norms[0].amax(dim=-1).to(torch.float64).cpu())
    return fooled / x.shape[0], largest


def run_cell(cell: Cell, ctx: CellContext) -> list[dict[str, Any]]:
    """Train `members` nets with one training method; robust test error of each per attack."""
    generator = ctx.generator(cell.seed)
    data_generator = ctx.generator(cell.seed + 1_000_003)
    order_generator = ctx.generator(cell.seed + 2_000_003)
    train = mnist_binary("train", data_dir=ctx.data_dir)
    test = mnist_binary("test", data_dir=ctx.data_dir)
    n_train = None if cell["n_train"] is None else int(cell["n_train"])
    n_test = None if cell["n_test"] is None else int(cell["n_test"])
    x_train, y_train = random_subset(train.x, train.y, n_train, data_generator)
    x_test, y_test = random_subset(test.x, test.y, n_test, data_generator)
    x_train, y_train = x_train.to(ctx.device, ctx.dtype), y_train.to(ctx.device, ctx.dtype)
    x_test, y_test = x_test.to(ctx.device, ctx.dtype), y_test.to(ctx.device, ctx.dtype)

    net = initial_net(
        int(cell["members"]),
        int(cell["width"]),
        x_train.shape[1],
        train_top=bool(cell["train_top"]),
        hidden_bias=bool(cell["hidden_bias"]),
        generator=generator,
        dtype=ctx.dtype,
    ).to(ctx.device)
    training = str(cell["training"])
    inner = (
        _no_attack
        if training == "standard"
        else from_attack(_cell_attack(cell, training, int(cell["train_steps"])))
    )
    model, trace = adversarial_training(
        net,
        x_train,
        y_train,
        attack=inner,
        lr=float(cell["lr"]),
        epochs=int(cell["epochs"]),
        batch_size=int(cell["batch_size"]),
        lr_decay=(float(cell["lr_decay"]), int(cell["lr_decay_every"])),
        generator=order_generator,
        shared_order=True,  # the attacks take one label vector (n,) for all members
    )
    with torch.no_grad():
        margins = y_test * model(x_test)
    clean_error = (margins <= 0).to(torch.float64).mean(dim=1).cpu()
    median_margin = margins.median(dim=1).values.to(torch.float64).cpu()
    members = range(model.ensemble)
    common = {
        "train_error": (1 - trace.accuracy[-1]).to(torch.float64),
        "train_attacked_loss": trace.batch_loss[-1].to(torch.float64),
        "clean_error": clean_error,
        "median_margin": median_margin,
    }
    rows = [
        {
            "member": e,
            "attack": "clean",
            "attack_norm": "none",
            "budget": 0.0,
            "reflected_attack": False,
            "robust_error": float(clean_error[e]),
            "max_norm": 0.0,
            **{key: float(value[e]) for key, value in common.items()},
        }
        for e in members
    ]
    for name in cell["attacks"]:
        attack = _cell_attack(cell, str(name), int(cell["test_steps"]))
        error, largest = _evaluate(attack, model, x_test, y_test)
        norm = attack_norm(str(name))
        rows += [
            {
                "member": e,
                "attack": str(name),
                "attack_norm": norm,
                "budget": float(cell["nu_l2"] if norm == "l2" else cell["nu_linf"]),
                "reflected_attack": str(name).startswith("R-"),
                "robust_error": float(error[e]),
                "max_norm": float(largest[e]),
                **{key: float(value[e]) for key, value in common.items()},
            }
            for e in members
        ]
    return rows


def estimate_memory(config: Config) -> int:
    """Peak bytes of one cell: the attacked test chunk's copies and activations, and the data."""
    floats = config.members * TEST_CHUNK * (6 * 784 + 4 * config.width)
    return 4 * floats + 4 * 70_000 * 784 * 2


# --------------------------------------------------------------------------- theory
def theory(config: Config) -> dict[str, Any]:
    """The paper's Table 1 (robust test error, mean of 10 runs) and the claims checked."""
    return {
        "paper_table1": {
            t: {a: PAPER_TABLE1[t][a] for a in config.attacks if a in PAPER_TABLE1[t]}
            for t in config.training
        },
        "claims": [
            "every row within 50% relative error of Table 1 (floor 0.01)",
            "the attacks rank in each row as in Table 1",
            "R-FGSM = FGSM and R-BIM = BIM up to the third decimal",
            "reflected attacks are at least as strong as the plain ones",
            "R-PGD-2 is stronger than PGD-2 against every model (standard: 0.256 vs 0.003)",
            "R-PGD-inf gains most against the standard model (0.286 vs 0.033)",
            "training with plain PGD is still competitive",
            "training with R-PGD dominates training with PGD (rows 3 and 5 vs 2 and 4)",
        ],
        "logistic_slope_ratio": "sigma(-z) / sigma(z) = e^{-z}: the plain PGD step shrinks "
        "like e^{-z} relative to the reflected one at margin z",
    }


# --------------------------------------------------------------------------- summary
def _errors(table: pd.DataFrame) -> pd.DataFrame:
    """Robust error indexed by (training, seed, member), one column per attack."""
    return table.pivot_table(
        index=["training", "seed", "member"], columns="attack", values="robust_error"
    )


def _row(wide: pd.DataFrame, training: str) -> pd.DataFrame:
    """The runs of one training method: one row per (seed, member), one column per attack."""
    return cast(pd.DataFrame, wide.xs(training, level="training"))


def _unstable(table: pd.DataFrame) -> pd.Series:
    """True per row of an unstable run (final clean training error above the rule)."""
    return table["train_error"] > UNSTABLE_TRAIN_ERROR


def _table_verdicts(wide: pd.DataFrame, trainings: list[str], attacks: list[str]) -> list[Verdict]:
    """Per row of Table 1: agreement within a relative tolerance, and the attacks' rank order."""
    verdicts = []
    for training in trainings:
        if training not in set(wide.index.get_level_values("training")):
            continue
        rows = _row(wide, training)
        columns = [a for a in attacks if a in rows and a in PAPER_TABLE1[training]]
        if not columns:
            continue
        runs = {a: rows[a].to_numpy(dtype=float) for a in columns}
        paper = {a: PAPER_TABLE1[training][a] for a in columns}
        verdicts.append(
            paper_row_over_runs(
                f"Table 1 row '{training}': every robust error within "
                f"{RELATIVE_TOLERANCE:.0%} of the paper's (relative error, floor {TABLE_FLOOR:g})",
                runs,
                paper,
                floor=TABLE_FLOOR,
                tolerance=RELATIVE_TOLERANCE,
            )
        )
        verdicts.append(
            rank_order_over_runs(
                f"Table 1 row '{training}': the attacks rank as in the paper (every pair the "
                f"paper separates by >= {RANK_GAP:g}, paired over runs)",
                runs,
                paper,
                gap=RANK_GAP,
                level=LEVEL,
            )
        )
    return verdicts


def _identical_verdict(wide: pd.DataFrame) -> Verdict | None:
    """Paper: "columns 1 and 2 (similarly columns 5 and 6) are identical up to the third
    decimal point"."""
    gaps = []
    for plain, reflected in (("FGSM", "R-FGSM"), ("BIM", "R-BIM")):
        if plain in wide and reflected in wide:
            by_row = (wide[reflected] - wide[plain]).groupby(level="training").mean()
            gaps.append(float(by_row.abs().max()))
    if not gaps:
        return None
    worst = max(gaps)
    return Verdict(
        claim="reflecting the loss leaves FGSM and BIM unchanged (equal to the third decimal)",
        verdict="consistent" if worst < THIRD_DECIMAL else "inconsistent",
        measured=worst,
        predicted=0.0,
        reason=f"largest |mean R-attack error - attack error| over training rows: {worst:.2g}",
    )


def _pair_verdicts(wide: pd.DataFrame) -> list[Verdict]:
    """Each reflected attack is at least as strong as its plain one, paired over every run."""
    verdicts = []
    for plain, reflected in PAIRS:
        if plain not in wide or reflected not in wide:
            continue
        diff = (wide[reflected] - wide[plain]).to_numpy(dtype=float)
        mean, p_greater, p_less = paired_test(diff)
        n = diff.size
        kind: VerdictKind
        if n and float(np.abs(diff).max()) == 0.0:
            kind, why = "consistent", f"identical on all {n} trained networks"
        elif mean >= 0:
            kind = "consistent"
            why = f"mean paired difference {mean:+.4f} over {n} networks (p = {p_greater:.3g} "
            why += "for strictly stronger)"
        elif p_less < LEVEL:
            kind = "inconsistent"
            why = f"weaker by {-mean:.4f} on average over {n} networks (p = {p_less:.3g})"
        else:
            kind = "inconclusive"
            why = f"weaker by {-mean:.4f} on average over {n} networks, not significant "
            why += f"(p = {p_less:.3g})"
        verdicts.append(
            Verdict(
                claim=f"{reflected} is at least as strong as {plain} (robust error, paired "
                "over every trained network)",
                verdict=kind,
                measured=mean,
                predicted=0.0,
                reason=why,
            )
        )
    return verdicts


def _pgd2_every_row_verdict(wide: pd.DataFrame, trainings: list[str]) -> Verdict | None:
    """Paper: "in PGD-2 attacks, reflecting the loss generally yields a stronger attack"."""
    if "PGD-2" not in wide or "R-PGD-2" not in wide:
        return None
    present = set(wide.index.get_level_values("training"))
    gains: dict[str, tuple[float, float, float]] = {}
    for training in [t for t in trainings if t in present]:
        rows = _row(wide, training)
        gains[training] = paired_test((rows["R-PGD-2"] - rows["PGD-2"]).to_numpy(dtype=float))
    weaker = [t for t, (mean, _, p_less) in gains.items() if mean < 0 and p_less < LEVEL]
    unclear = [
        t for t, (mean, p_greater, _) in gains.items() if not (mean > 0 and p_greater < LEVEL)
    ]
    kind: VerdictKind = "inconsistent" if weaker else ("inconclusive" if unclear else "consistent")
    smallest = min(gains, key=lambda t: gains[t][0])
    paper = min(PAPER_TABLE1[t]["R-PGD-2"] - PAPER_TABLE1[t]["PGD-2"] for t in gains)
    why = "; ".join(f"{t}: {m:+.3f} (p = {p:.2g})" for t, (m, p, _) in gains.items())
    if unclear:
        why += f"; not significantly stronger in {', '.join(unclear)}"
    return Verdict(
        claim="R-PGD-2 is stronger than PGD-2 against every trained model (paired over runs)",
        verdict=kind,
        measured=gains[smallest][0],
        predicted=paper,
        reason="R-PGD-2 minus PGD-2 error per row: " + why,
    )


def _pgdinf_standard_verdict(wide: pd.DataFrame) -> Verdict | None:
    """Paper: R-PGD-inf is "only slightly stronger, except for the standard training setting
    where reflecting the loss has a huge impact"."""
    if "PGD-inf" not in wide or "R-PGD-inf" not in wide:
        return None
    present = [t for t in TRAININGS if t in set(wide.index.get_level_values("training"))]
    if "standard" not in present or len(present) < 2:
        return None
    gains = {
        t: float((_row(wide, t)["R-PGD-inf"] - _row(wide, t)["PGD-inf"]).mean()) for t in present
    }
    rows = _row(wide, "standard")
    _, p_greater, _ = paired_test((rows["R-PGD-inf"] - rows["PGD-inf"]).to_numpy(dtype=float))
    others = max(gains[t] for t in present if t != "standard")
    kind: VerdictKind
    if gains["standard"] > others and p_greater < LEVEL:
        kind = "consistent"
    elif gains["standard"] > others:
        kind = "inconclusive"
    else:
        kind = "inconsistent"
    return Verdict(
        claim="the gain of R-PGD-inf over PGD-inf is largest against the standard model",
        verdict=kind,
        measured=gains["standard"],
        predicted=PAPER_TABLE1["standard"]["R-PGD-inf"] - PAPER_TABLE1["standard"]["PGD-inf"],
        reason=f"gain against the standard model {gains['standard']:+.3f} (p = {p_greater:.2g}), "
        f"largest against an adversarially trained model {others:+.3f}",
    )


def _dominance_verdicts(wide: pd.DataFrame, attacks: list[str]) -> list[Verdict]:
    """Paper: rows PGD-inf and PGD-2 "are completely dominated by" rows R-PGD-inf and R-PGD-2:
    the mean over attacks, paired by (seed, member) over every run (members start from the
    same weights under every training method)."""
    verdicts = []
    trainings = set(wide.index.get_level_values("training"))
    columns = [a for a in attacks if a in wide]
    for plain, reflected in (("PGD-inf", "R-PGD-inf"), ("PGD-2", "R-PGD-2")):
        if plain not in trainings or reflected not in trainings or not columns:
            continue
        per_run = (_row(wide, reflected)[columns] - _row(wide, plain)[columns]).mean(axis=1)
        diff = per_run.dropna().to_numpy(dtype=float)
        mean, p_greater, p_less = paired_test(diff)
        kind: VerdictKind
        if mean < 0 and p_less < LEVEL:
            kind, why = "consistent", f"lower by {-mean:.4f} (p = {p_less:.3g})"
        elif mean > 0 and p_greater < LEVEL:
            kind, why = "inconsistent", f"higher by {mean:.4f} (p = {p_greater:.3g})"
        else:
            kind, why = "inconclusive", f"difference {mean:+.4f} not significant"
            why += f" (p = {min(p_less, p_greater):.3g})"
        verdicts.append(
            Verdict(
                claim=f"training with {reflected} gives lower robust error than with {plain} "
                "(mean over attacks, paired runs; paper: row dominated)",
                verdict=kind,
                measured=mean,
                predicted=float(
                    np.mean([PAPER_TABLE1[reflected][a] - PAPER_TABLE1[plain][a] for a in columns])
                ),
                reason=why + f" over {diff.size} runs",
            )
        )
    return verdicts


def _competitive_verdict(wide: pd.DataFrame) -> Verdict | None:
    """Paper: plain PGD, though a weak attack, is "still competitive ... when used in
    adversarial training": its rows' worst-attack error is far below the standard row's."""
    present = set(wide.index.get_level_values("training"))
    rows = [t for t in ("PGD-inf", "PGD-2") if t in present]
    if "standard" not in present or not rows:
        return None
    worst = {t: float(_row(wide, t).max(axis=1).mean()) for t in ["standard", *rows]}
    ratio = max(worst[t] for t in rows) / worst["standard"] if worst["standard"] > 0 else math.inf
    paper_worst = {t: max(PAPER_TABLE1[t].values()) for t in worst}
    return Verdict(
        claim="adversarial training with plain PGD still gives robustness: the worst-attack "
        f"error of the PGD-trained rows is below {COMPETITIVE_RATIO:g} x the standard row's",
        verdict="consistent" if ratio < COMPETITIVE_RATIO else "inconsistent",
        measured=ratio,
        predicted=max(paper_worst[t] for t in rows) / paper_worst["standard"],
        reason="mean over runs of the worst-attack error: "
        + ", ".join(f"{t} {value:.3f}" for t, value in worst.items()),
    )


SETTLE: dict[str, str] = {
    # a claim fragment -> what would settle the verdict when it is not consistent
    "within 50% of the paper's": (
        "`--preset paper` (10 runs on all 12665 images, 20 epochs, 20-step attacks; quick: 3 "
        "runs, 2000 images, 2 epochs, 3-step training attacks); a miss that persists there is a"
        " protocol difference (see the protocol table)"
    ),
    "rank as in the paper": (
        "`--preset paper` (10 runs on all 12665 images, 20 epochs, 20-step attacks); a reversal"
        " that persists there is a protocol difference (see the protocol table)"
    ),
    "stronger than PGD-2": (
        "`--preset paper` (10 paired runs instead of 3, 20-step attacks instead of 5)"
    ),
    "still gives robustness": (
        "`--preset paper` (20 epochs of 20-step PGD training; quick: 2 epochs of 3 steps)"
    ),
    "training with R-PGD": ("`--preset paper` (10 paired runs instead of 3, 20 epochs)"),
}


def summarize(table: pd.DataFrame, config: Config) -> Summary:
    """Table 1 over every run (as the paper reports it), unstable runs shown apart; verdicts.

    The headline has one entry per table cell, ``"<training> | <attack>"`` -> {"ours": mean
    over all runs, "std": std over all runs, "paper": Table 1's value, "relative_error":
    |ours - paper| / max(paper, TABLE_FLOOR), and "stable_runs": the mean over the runs whose
    training was stable, where some were not} (robust test error; "clean" is the clean test
    error, which the paper does not list), read row by row like the paper's table, and the
    unstable runs per training method (final clean training error > UNSTABLE_TRAIN_ERROR).
    """
    unstable = _unstable(table)
    runs = table[["training", "seed", "member"]].drop_duplicates().groupby("training").size()
    flagged = table[unstable][["training", "seed", "member"]].drop_duplicates()
    counts = flagged.groupby("training").size()
    headline: dict[str, Any] = {
        "runs_per_training": int(runs.min()),
        "unstable_runs": {t: int(counts.get(t, 0)) for t in config.training},
        "unstable_run_rule": f"final clean training error > {UNSTABLE_TRAIN_ERROR}",
        "means_over": "all runs, as the paper (stable-run means shown beside where some runs "
        "were unstable)",
    }
    grouped = table.groupby(["training", "attack"])["robust_error"]
    means, stds = grouped.mean(), grouped.std(ddof=1)
    stable = table[~unstable].groupby(["training", "attack"])["robust_error"].mean()
    for training in config.training:
        for attack in ["clean", *config.attacks]:
            if (training, attack) not in means.index:
                continue
            paper = PAPER_TABLE1.get(training, {}).get(attack)
            mean, std = float(means[(training, attack)]), float(stds[(training, attack)])
            entry: dict[str, float | None] = {
                "ours": round(mean, 4),
                "std": round(std, 4) if math.isfinite(std) else None,
                "paper": paper,
                "relative_error": None
                if paper is None
                else round(relative_error(mean, paper, floor=TABLE_FLOOR), 3),
            }
            if counts.get(training, 0):
                value = stable.get((training, attack))
                entry["stable_runs"] = None if value is None else round(float(value), 4)
            headline[f"{training} | {attack}"] = entry
    wide = _errors(table)
    verdicts = _table_verdicts(wide, list(config.training), list(config.attacks))
    identical = _identical_verdict(wide)
    verdicts += [identical] if identical is not None else []
    verdicts += _pair_verdicts(wide)
    for extra in (
        _pgd2_every_row_verdict(wide, list(config.training)),
        _pgdinf_standard_verdict(wide),
        _competitive_verdict(wide),
    ):
        if extra is not None:
            verdicts.append(extra)
    verdicts += _dominance_verdicts(wide, list(config.attacks))
    return Summary(headline=headline, verdicts=settle_each(verdicts, SETTLE))


# --------------------------------------------------------------------------- figures
def figures(table: pd.DataFrame, config: Config) -> dict[str, Figure]:
    """Table 1 as bars (mean over every run, min-max over the stable ones; unstable runs as
    crosses), one panel per training method, the paper's numbers as dashed black ticks; and
    paper 004 Fig. 1, the losses the attacks maximize."""
    trainings = [t for t in config.training if t in set(table["training"])]
    attacks = [a for a in ["clean", *config.attacks] if a in set(table["attack"])]
    ncols = min(len(trainings), 3)
    nrows = math.ceil(len(trainings) / ncols)
    fig, grid_axes = new_figure(ncols, nrows=nrows, width=4.0, height=3.2)
    all_axes = np.atleast_1d(grid_axes).ravel()
    for spare in all_axes[len(trainings) :]:
        spare.set_visible(False)
    axes = all_axes[: len(trainings)]
    positions = np.arange(len(attacks))
    unstable = _unstable(table)
    for ax, training in zip(axes, trainings, strict=True):
        here = table["training"] == training
        means = table[here].groupby("attack")["robust_error"].mean()
        height = np.array([means[a] for a in attacks], dtype=float)
        spread = table[here & ~unstable].groupby("attack")["robust_error"].agg(["min", "max"])
        low = np.array([spread["min"].get(a, math.nan) for a in attacks], dtype=float)
        high = np.array([spread["max"].get(a, math.nan) for a in attacks], dtype=float)
        colors = ["tab:red" if a.startswith("R-") else "tab:blue" for a in attacks]
        colors = ["tab:gray" if a == "clean" else c for a, c in zip(attacks, colors, strict=True)]
        errors = np.vstack([np.clip(height - low, 0, None), np.clip(high - height, 0, None)])
        ax.bar(positions, height, 0.7, yerr=np.nan_to_num(errors), color=colors, capsize=2)
        lost = table[here & unstable]
        for i, attack in enumerate(attacks):
            values = lost[lost["attack"] == attack]["robust_error"].to_numpy(dtype=float)
            ax.plot(
                np.full(values.size, i),
                values,
                "kx",
                markersize=5,
                label="unstable run" if i == 0 and values.size else None,
            )
            paper = PAPER_TABLE1.get(training, {}).get(attack)
            if paper is not None:
                ax.hlines(
                    paper,
                    i - 0.4,
                    i + 0.4,
                    colors="black",
                    linestyles="--",
                    linewidth=1.3,
                    label="paper (Table 1)" if i == 1 else None,
                )
        ax.set_xticks(positions, attacks, rotation=60, fontsize=7)
        runs = table[here][["seed", "member"]].drop_duplicates().shape[0]
        count = lost[["seed", "member"]].drop_duplicates().shape[0]
        note = f" ({count} of {runs} runs unstable)" if count else ""
        ax.set_title(f"trained with {training}{note}", fontsize=8 if count else 9)
        ax.grid(True, axis="y", alpha=0.25)
    for ax in all_axes[::ncols]:
        ax.set_ylabel(r"robust test error  $\hat\varepsilon_{\mathrm{rob}}$")
    handles: list[Any] = []
    labels: list[str] = []
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    if handles:
        fig.legend(handles, labels, loc="outside lower center", fontsize=8, ncols=len(labels))
    fig.suptitle(
        rf"MNIST 0 vs 1, $\nu_\infty = {config.nu_linf:g}$, $\nu_2 = {config.nu_l2:g}$ "
        "(blue: logistic loss, red: reflected loss; bars: mean over all runs, "
        "min-max over stable runs)",
        fontsize=9,
    )
    return {"table1": fig, "losses": margin_loss_figure()}
