"""lazy-adversarial-training: the quick preset on MNIST end to end, and the threshold helpers."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from robustlab.experiments import lazy_adversarial_training as experiment
from robustlab.experiments.base import ConfigError
from robustlab.experiments.registry import get_experiment

NAME = "lazy-adversarial-training"
CELL = ["panel", "dim", "width", "lazy_radius", "train_budget", "seed"]


@pytest.fixture(scope="module")
def quick(data_dir: Path, run_quick: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return run_quick(NAME, data_dir=data_dir)


def test_rows_cover_the_grid(quick: dict[str, Any]) -> None:
    config, table = quick["config"], quick["table"]
    left = len(config.left_dims) * len(config.budgets)
    right = len(config.right_widths) * len(config.right_radii)
    assert quick["result"].total == (left + right) * len(config.seeds)
    right_budgets = len({*config.budgets, config.right_budget})
    expected = config.n_runs * (left * len(config.budgets) + right * right_budgets)
    assert len(table) == expected
    # one matched (trained = tested) row per trained network
    matched = table[table["matched"]].groupby([*CELL, "run"]).size()
    assert (matched == 1).all()
    assert len(matched) == (left + right) * config.n_runs


def test_training_respects_the_lazy_ball_and_the_epoch_cap(quick: dict[str, Any]) -> None:
    table, config = quick["table"], quick["config"]
    assert (table["distance_from_init"] <= table["lazy_radius"] * (1 + 1e-5)).all()
    assert (table["distance_from_init"] > 0).all()  # every network took at least one epoch
    assert table["epochs"].between(1, config.max_epochs).all()


def test_robust_accuracy_is_bounded_by_clean_and_falls_with_the_budget(
    quick: dict[str, Any],
) -> None:
    table = quick["table"]
    assert (table["robust_accuracy"] <= table["clean_accuracy"] + 1e-12).all()
    assert (table["clean_accuracy"] > 0.6).all()  # far better than chance on MNIST 0/1
    for _, group in table.groupby([*CELL, "run"]):
        curve = group.sort_values("eval_budget")["robust_accuracy"].to_numpy()
        assert (np.diff(curve) <= 0.05).all()  # PGD per budget: monotone up to attack noise


def test_left_panel_collapses_beyond_the_threshold(quick: dict[str, Any]) -> None:
    table, config = quick["table"], quick["config"]
    left = table[(table["panel"] == "left") & table["matched"]]
    mean = left.groupby(["dim", "train_budget"])["robust_accuracy"].mean().unstack()
    smallest, largest = min(config.budgets), max(config.budgets)
    assert (mean[smallest] > 0.5).all()  # robust below the threshold
    assert (mean[largest] < 0.1).all()  # and not above it (Corollary 3.2)
    # the threshold shrinks with d
    found = experiment.thresholds(table, "left")
    per_d = found.groupby("x")["threshold"].median()
    assert (np.diff(per_d.to_numpy()) < 0).all()


def test_summary_verdicts_and_figures(quick: dict[str, Any]) -> None:
    summary = quick["summary"]
    keys = {"claim", "verdict", "measured", "predicted", "reason"}
    assert len(summary["verdicts"]) == 6
    assert all(set(v) - {"settle", "compared"} == keys for v in summary["verdicts"])
    by_claim = {v["claim"]: v for v in summary["verdicts"]}
    slope = by_claim["left: threshold budget ||delta||* ~ d^-1/2 (Theorem 3.1)"]
    assert slope["verdict"] in ("consistent", "inconclusive")
    assert -0.8 < slope["measured"] < -0.2
    assert summary["predictions"]["threshold_budget"]["144"] == pytest.approx(5 / 12)
    transition = by_claim["right: robust accuracy rises with the lazy radius V (phase transition)"]
    assert transition["measured"] > 0.3
    for name in ("figure4", "thresholds"):
        assert (quick["root"] / "figures" / f"{name}.png").stat().st_size > 0


def test_crossing_interpolates_in_log_and_censors() -> None:
    levels = [0.1, 0.2, 0.4]
    # falling: 0.9 at 0.1, 0.3 at 0.2 -> crosses 0.5 at 0.1 * 2^(0.4 / 0.6)
    assert experiment.crossing(levels, [0.9, 0.3, 0.0], rising=False) == pytest.approx(
        0.1 * 2 ** (2 / 3)
    )
    assert experiment.crossing(levels, [0.4, 0.3, 0.0], rising=False) == 0.0
    assert experiment.crossing(levels, [0.9, 0.8, 0.6], rising=False) == math.inf
    # rising, unsorted input
    assert experiment.crossing([0.4, 0.1, 0.2], [1.0, 0.0, 0.5], rising=True) == pytest.approx(0.2)
    assert experiment.crossing(levels, [0.0, 0.1, 0.2], rising=True) == math.inf


def test_thresholds_of_a_synthetic_table() -> None:
    rows = []
    for d, threshold in ((16, 1.0), (64, 0.5), (256, 0.25)):
        for budget in (0.125, 0.25, 0.5, 1.0, 2.0):
            accuracy = 1.0 if budget < threshold else (0.5 if budget == threshold else 0.0)
            rows.append(
                {
                    "panel": "left",
                    "matched": True,
                    "dim": d,
                    "train_budget": budget,
                    "seed": 0,
                    "run": 0,
                    "robust_accuracy": accuracy,
                }
            )
    found = experiment.thresholds(pd.DataFrame(rows), "left")
    assert found.set_index("x")["threshold"].to_dict() == pytest.approx(
        {16: 1.0, 64: 0.5, 256: 0.25}
    )


def test_cells_and_config_validation() -> None:
    exp = get_experiment(NAME)
    config = exp.config("quick", {"panels": ["right"]})
    cells = exp.cells(config)
    assert {cell["panel"] for cell in cells} == {"right"}
    assert all(cell["dim"] == config.right_dim for cell in cells)
    assert all(config.right_budget in cell["eval_budgets"] for cell in cells)
    paper = exp.config("paper")
    assert paper.left_dims == [k * k for k in range(5, 29)]
    assert experiment.lazy_radius(paper.left_width, C0=paper.C0) == pytest.approx(0.316, abs=1e-3)
    with pytest.raises(ConfigError, match="perfect squares"):
        exp.config("quick", {"left_dims": [50]})


# The quick preset's verdicts, pinned before the claims moved onto robustlab.theory.claims
# (issue 9), in order, by the first 60 characters of each claim: a change here must be
# deliberate.
QUICK_VERDICTS = [
    ("left: threshold budget ||delta||* ~ d^-1/2 (Theorem 3.1)", "consistent"),
    ("left: threshold ||delta||* sqrt(d) near the paper's 5", "consistent"),
    ("left: robust accuracy <= 0.1 at every budget >= 2 x 5/sqrt(d", "consistent"),
    ("right: threshold radius V* ~ m^-1/2 (lazy ball C0/sqrt(m))", "inconclusive"),
    ("right: threshold V* sqrt(m) near the paper's 25", "consistent"),
    ("right: robust accuracy rises with the lazy radius V (phase t", "consistent"),
]


def test_quick_verdicts_are_pinned(quick: dict[str, Any]) -> None:
    found = [(v["claim"][:60], v["verdict"]) for v in quick["summary"]["verdicts"]]
    assert found == QUICK_VERDICTS
