"""Settings of Table 1 (paper 004 section 4.2): the paper's numbers, the protocol, the Config."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import Field, field_validator

from robustlab.experiments.base import ExperimentConfig, ProtocolRow

TrainingName = Literal["standard", "PGD-inf", "R-PGD-inf", "PGD-2", "R-PGD-2"]
AttackName = Literal["FGSM", "R-FGSM", "PGD-inf", "R-PGD-inf", "BIM", "R-BIM", "PGD-2", "R-PGD-2"]
RawStepLoss = Literal["per-sample", "batch-mean"]
TRAININGS: tuple[TrainingName, ...] = get_args(TrainingName)
ATTACKS: tuple[AttackName, ...] = get_args(AttackName)
RAW_STEP_LOSSES: tuple[RawStepLoss, ...] = get_args(RawStepLoss)
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
        "both variants, swept (train_top = [false, true]; default false = Algorithm 2); "
        "W and b, plus a when train_top",
        "Table 1 is judged per variant: measured (5 runs, all data, 20 epochs), only "
        "train_top = true reproduces the standard row (FGSM 0.236, PGD-inf 0.033, R-PGD-inf "
        "0.292 vs paper 0.236, 0.033, 0.286); with W only every linf attack gives 0.022, so the "
        "experiment most likely trained both layers",
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
        "same, raw (unnormalized) gradient steps, no random start, no [0, 1] clipping, 20 "
        "steps in training and at test; quick: 3 / 5 steps, decay every 2",
        "steps and clipping not stated; quick: time",
    ),
    ProtocolRow(
        "raw step's loss",
        "Algorithm 1: delta += eta grad l(y f(x + delta)) per sample",
        "",
        "per-sample (default); raw_step_losses = [per-sample, batch-mean] also evaluates the "
        "test attacks with the loss averaged over batches of raw_step_batch = 100 test images "
        "(each raw step divided by its batch's size); training attacks stay per-sample",
        "the paper does not say how the loss is reduced; measured on the standard row (both "
        "layers, 5 runs): batch-mean gives the paper's PGD-2 0.003 (per-sample 0.033) but moves "
        "PGD-inf from the paper's 0.033 (per-sample) to 0.004, so no one reduction reproduces "
        "both columns; both are reported",
    ),
    ProtocolRow(
        "runs and means",
        "10 independent runs, mean robust test error (Table 1)",
        "",
        "10 members of one ensemble (quick: 3, standard: 5); means over all runs, unstable runs "
        "(train error > 5%) shown apart",
        "standard: time (5 of 10 runs)",
    ),
    ProtocolRow(
        "comparison",
        "qualitative analysis of Table 1 (sec. 4.2)",
        "",
        "per variant and row: relative error <= 50% with floor 0.01, rank order of attacks; "
        "the claims of the analysis as verdicts",
        "",
    ),
)


class Config(ExperimentConfig):
    """Training methods and top-layer variants (swept), attacks, network, optimizer, attacks."""

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
    train_top: list[bool] = Field(
        default=[False],
        min_length=1,
        description="swept: also train the top layer a? (false: Algorithm 2 step 5, W only; "
        "true: both layers, which reproduces Table 1's standard row)",
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
    raw_step_losses: list[RawStepLoss] = Field(
        default=["per-sample"],
        min_length=1,
        description="loss behind the test attacks' raw PGD steps, each evaluated: 'per-sample' "
        "(Algorithm 1) or 'batch-mean' (averaged over raw_step_batch test images, which divides "
        "each step by the batch size)",
    )
    raw_step_batch: int = Field(
        default=100, ge=1, description="test images per batch of a 'batch-mean' raw step"
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

    @field_validator("training", "attacks", "train_top", "raw_step_losses")
    @classmethod
    def _distinct(cls, value: list[Any]) -> list[Any]:
        if len(set(value)) != len(value):
            raise ValueError(f"entries must be distinct, got {value}")
        return value


PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        "members": 3,
        "train_top": [False, True],
        "n_train": 2000,
        "n_test": 500,
        "epochs": 2,
        "lr_decay_every": 1,
        "train_steps": 3,
        "test_steps": 5,
        "step_decay_every": 2,
    },
    "standard": {
        "members": 5,
        "train_top": [False, True],
        "raw_step_losses": ["per-sample", "batch-mean"],
    },
    "paper": {
        "train_top": [False, True],
        "raw_step_losses": ["per-sample", "batch-mean"],
    },
}

CAPTIONS: dict[str, str] = {
    # figure stem -> what it shows and which paper figure it reproduces
    "table1": (
        "Paper 004 Table 1 as bars: robust test error on MNIST 0 vs 1 per attack (FGSM, BIM, "
        "PGD-2, PGD-inf and their reflected R- versions), one panel per training method and "
        "variant (top layer trained or not; raw steps per sample or batch-mean), mean with "
        "min-max over the runs that trained; the paper's numbers as dashed black ticks."
    ),
    "losses": (
        "Paper 004 Fig. 1: the 0-1 loss, the logistic loss log(1 + e^-z) and the reflected loss "
        "-log(1 + e^z), a concave lower bound on the 0-1 loss, against the margin z = y f(x)."
    ),
}


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
            "finding: the standard row's sign-attack columns need the top layer trained too",
            "finding: the PGD-2 column needs batch-mean raw steps, the PGD-inf column "
            "per-sample ones",
        ],
        "logistic_slope_ratio": "sigma(-z) / sigma(z) = e^{-z}: the plain PGD step shrinks "
        "like e^{-z} relative to the reflected one at margin z",
    }
