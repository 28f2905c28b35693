"""Training-time attacks: clean-label poisoning, label flips, bounded label-noise oracles."""

from robustlab.poisoning.clean_label import CleanLabelResult, PoisonRecord, clean_label
from robustlab.poisoning.labels import LabelFlipResult, label_flip
from robustlab.poisoning.oracles import (
    AdversarialOracle,
    LabelOracle,
    OracleLabels,
    RandomOracle,
    RealizableOracle,
)
from robustlab.poisoning.psfo import PoisonedGradientOracle

__all__ = [
    "AdversarialOracle",
    "CleanLabelResult",
    "LabelFlipResult",
    "LabelOracle",
    "OracleLabels",
    "PoisonRecord",
    "PoisonedGradientOracle",
    "RandomOracle",
    "RealizableOracle",
    "clean_label",
    "label_flip",
]
