"""The quick verdicts of neurotron-poisoning, schmidt-cnn and attack-optimality, pinned.

Each experiment's quick table (its `results.parquet`, run before the claims became declarative)
is summarized again and every verdict must keep its outcome, so that a refactor of the claims
changes no verdict unless it says so here.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from robustlab.experiments.registry import get_experiment

PINNED = Path(__file__).parent / "pinned"

VERDICTS: dict[str, list[tuple[str, str]]] = {
    "neurotron-poisoning": [
        (
            "N(0,1): Neuro-Tron's E||w_T - w*||^2 <= Theorem II.1's bound (any |xi| <= theta)",
            "inconclusive",
        ),
        (
            "N(0,1): with clean labels (theta = 0) Neuro-Tron recovers w* (Theorem II.1, Case I)",
            "consistent",
        ),
        ("N(0,1): Neuro-Tron's final error grows with theta (random attack)", "consistent"),
        (
            "N(0,1): Neuro-Tron's final error grows like theta (eq. (1): eps ~ theta*)",
            "consistent",
        ),
        (
            "N(0,1): Neuro-Tron on labels realized by w_adv converges to w_adv, so "
            "||w_T - w*|| -> ||w_adv - w*|| (section II-A lower bound)",
            "consistent",
        ),
        (
            "N(0,1): SGD on labels realized by w_adv converges to w_adv, so "
            "||w_T - w*|| -> ||w_adv - w*|| (section II-A lower bound)",
            "consistent",
        ),
        (
            "N(0,1): SGD as published (first sample's gradient) on labels realized by w_adv "
            "converges to w_adv, so ||w_T - w*|| -> ||w_adv - w*|| (section II-A lower bound)",
            "inconclusive",
        ),
        (
            "N(0,1): Neuro-Tron ends below SGD (the later version's claim), random attack",
            "inconclusive",
        ),
        (
            "N(0,1): Neuro-Tron ends below SGD as published (first sample's gradient) (the later "
            "version's claim), random attack",
            "consistent",
        ),
    ],
    "attack-optimality": [
        (
            "random: the single gradient step is within a factor 2 of the exact minimal "
            "perturbation (median over points, every d)",
            "consistent",
        ),
        ("random: the step / exact factor does not grow with d", "consistent"),
        ("random: certified <= exact <= every attack, on every point", "consistent"),
        (
            "lazy: the single gradient step is within a factor 2 of the exact minimal "
            "perturbation (median over points, every d)",
            "consistent",
        ),
        ("lazy: the step / exact factor does not grow with d", "inconclusive"),
        ("lazy: certified <= exact <= every attack, on every point", "consistent"),
    ],
    "schmidt-cnn": [
        (
            "adversarial training: the robust test error falls with the number of samples n",
            "inconclusive",
        ),
        (
            "adversarial training: the gap robust - standard test error is wider at the smallest "
            "n than at the largest (robust generalization needs more data)",
            "inconclusive",
        ),
    ],
}


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_quick_verdicts_keep_their_outcomes(name: str) -> None:
    experiment = get_experiment(name)
    table = pd.read_parquet(PINNED / f"{name}-quick.parquet")
    summary = experiment.summarize(table, experiment.config("quick"))
    found = [(v.claim, v.verdict) for v in summary.verdicts]
    assert found == VERDICTS[name]
    for verdict in summary.verdicts:
        assert verdict.reason, verdict.claim
        if verdict.verdict != "consistent":
            assert verdict.settle, verdict.claim
