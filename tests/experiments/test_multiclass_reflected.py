"""multiclass-reflected (paper 004 section 4.3, Table 2): counterexample, quick preset on MNIST."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from robustlab.experiments import multiclass_reflected as experiment

NAME = "multiclass-reflected"


@pytest.fixture(scope="module")
def quick(data_dir: Path, run_quick: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return run_quick(NAME, data_dir=data_dir)


def test_counterexample_matches_the_closed_form() -> None:
    rows = {row["attack"]: row for row in experiment.counterexample(0.3)}
    # class 2 (index 1) never overtakes class 1: best gain -1 + 0.3 ||w2 - w1|| = -0.7
    assert rows["exact max f_1 - f_0"]["margin"] == pytest.approx(0.7)
    assert not rows["exact max f_1 - f_0"]["flipped"]
    # class 3 does: -2 + 0.3 sqrt(104) > 0
    assert rows["exact max f_2 - f_0"]["margin"] == pytest.approx(2 - 0.3 * math.sqrt(104))
    greedy = rows["greedy R-PGD"]
    assert not greedy["flipped"] and greedy["predicted_class"] == 0
    assert greedy["margin"] >= 0.7 - 1e-9  # no point of the ball does better than the exact bound
    assert greedy["delta_norm"] <= 0.3 + 1e-12
    targeted = rows["R-PGD targeted at class 3"]
    assert targeted["flipped"] and targeted["predicted_class"] == 2
    assert targeted["margin"] == pytest.approx(rows["exact max f_2 - f_0"]["margin"], abs=1e-3)
    example = rows["paper example delta"]
    assert (example["logit_0"], example["logit_1"], example["logit_2"]) == (2.0, 1.0, 3.0)


def test_counterexample_with_a_larger_ball_lets_greedy_win() -> None:
    """Beyond radius 1 / ||w2 - w1|| = 1 class 2 can overtake class 1: the bound is sharp."""
    rows = {row["attack"]: row for row in experiment.counterexample(1.2)}
    assert rows["exact max f_1 - f_0"]["flipped"]
    assert rows["greedy R-PGD"]["flipped"]


def test_triangular_learning_rate() -> None:
    factor = experiment.triangular(20)
    values = [factor(e) for e in range(20)]
    assert all(0 < v <= 1 for v in values)
    assert values == pytest.approx(values[::-1])
    assert values[9] == max(values) and values[0] == min(values)
    assert experiment.triangular(1)(0) == 1.0


def test_rows_cover_the_grid_and_the_counterexample(quick: dict[str, Any]) -> None:
    config, table = quick["config"], quick["table"]
    settings = len(config.dataset) * len(config.nu_255) * len(config.steps) * len(config.method)
    assert quick["result"].total == settings * len(config.seeds) + 1
    training = table[table["part"] == "training"]
    assert len(training) == settings * len(config.seeds) * config.members
    assert len(table[table["part"] == "counterexample"]) == 6


def test_accuracies_are_ordered_and_budgets_respected(quick: dict[str, Any]) -> None:
    config, table = quick["config"], quick["table"]
    training = table[table["part"] == "training"]
    assert training["robust_accuracy"].between(0, 1).all()
    assert (training["robust_accuracy"] <= training["standard_accuracy"] + 1e-12).all()
    assert (training["standard_accuracy"] > 0.5).all()  # ten classes: chance is 0.1
    assert (training["max_test_norm"] <= config.test_nu_255 / 255 * (1 + 1e-5)).all()


def test_summary_verdicts(quick: dict[str, Any]) -> None:
    summary = quick["summary"]
    headline = summary["headline"]
    assert headline["counterexample"] == {
        "greedy_flips": False,
        "targeted_class3_flips": True,
        "cross_entropy_pgd_flips": True,
    }
    config = quick["config"]
    for steps in config.steps:
        entry = headline[f"mnist, nu=8/255, steps={steps}"]
        assert set(entry) >= {"PGD [RA, SA]", "R-PGD [RA, SA]", "paper CIFAR-10 PGD"}
        ra, sa = entry["R-PGD [RA, SA]"]
        assert 0 <= ra <= sa <= 1
    assert headline["mnist, nu=8/255, steps=2"]["paper CIFAR-10 PGD"] == [0.20064, 0.90478]
    keys = {"claim", "verdict", "measured", "predicted", "reason"}
    for verdict in summary["verdicts"]:
        assert set(verdict) - {"settle", "compared"} == keys
        assert verdict["verdict"] in ("consistent", "inconsistent", "inconclusive")
    greedy = [v for v in summary["verdicts"] if "counterexample" in v["claim"]]
    assert len(greedy) == 2 and all(v["verdict"] == "consistent" for v in greedy)
    claims = " ".join(v["claim"] for v in summary["verdicts"])
    assert "robust accuracy" in claims and "standard accuracy" in claims
    table2 = summary["predictions"]["paper_table2_cifar10_percent"]
    assert table2["8"]["16"]["PGD"] == {"RA": 48.916, "SA": 78.402}
    for stem in ("table2", "r_pgd_vs_pgd"):
        assert (quick["root"] / "figures" / f"{stem}.png").stat().st_size > 0


# The quick preset's verdicts, pinned before the claims moved onto robustlab.theory.claims
# (issue 9), in order, by the first 60 characters of each claim: a change here must be
# deliberate.
QUICK_VERDICTS = [
    ("R-PGD training does not change robust accuracy (RA) (paired ", "consistent"),
    ("R-PGD training does not change standard accuracy (SA) (paire", "consistent"),
    ("greedy R-PGD fails to flip the section 4.3 counterexample", "consistent"),
    ("targeting class 3 flips the counterexample (paper: delta = [", "consistent"),
]


def test_quick_verdicts_are_pinned(quick: dict[str, Any]) -> None:
    found = [(v["claim"][:60], v["verdict"]) for v in quick["summary"]["verdicts"]]
    assert found == QUICK_VERDICTS
