"""The results table of Table 1 by variant: selection, the wide (runs x attacks) layout and the
unstable-run rule, shared by the claims and the figures."""

from __future__ import annotations

from typing import cast

import pandas as pd

#: A run whose final clean training error exceeds this was unstable (with train_top=True at
#: lr 1 some runs collapse to a constant output, logistic loss log 2); such runs are counted
#: and shown apart, and stay in the means (the paper reports means over all its runs).
UNSTABLE_TRAIN_ERROR = 0.05

Variant = tuple[bool, str]


def variant_label(variant: Variant) -> str:
    """'W only, per-sample raw steps' and the like."""
    top, step_loss = variant
    return f"{'both layers' if top else 'W only'}, {step_loss} raw steps"


def variants(table: pd.DataFrame) -> list[Variant]:
    """The (train_top, raw_step_loss) variants present, in order of appearance."""
    pairs = table[["train_top", "raw_step_loss"]].drop_duplicates()
    return [(bool(t), str(s)) for t, s in pairs.itertuples(index=False)]


def select(table: pd.DataFrame, variant: Variant) -> pd.DataFrame:
    """The rows of one variant."""
    top, step_loss = variant
    return table[(table["train_top"] == top) & (table["raw_step_loss"] == step_loss)]


def errors(table: pd.DataFrame) -> pd.DataFrame:
    """Robust error indexed by (training, seed, member), one column per attack."""
    return table.pivot_table(
        index=["training", "seed", "member"], columns="attack", values="robust_error"
    )


def row(wide: pd.DataFrame, training: str) -> pd.DataFrame:
    """The runs of one training method: one row per (seed, member), one column per attack."""
    return cast(pd.DataFrame, wide.xs(training, level="training"))


def unstable(table: pd.DataFrame) -> pd.Series:
    """True per row of an unstable run (final clean training error above the rule)."""
    return table["train_error"] > UNSTABLE_TRAIN_ERROR
