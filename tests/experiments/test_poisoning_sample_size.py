"""poisoning-sample-size (paper 001 Fig. 2): the quick preset end to end, the transition rule."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from robustlab.experiments.poisoning_sample_size import transition_threshold

NAME = "poisoning-sample-size"


@pytest.fixture(scope="module")
def quick(data_dir: Path, run_quick: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return run_quick(NAME, data_dir=data_dir)


def test_grid_and_excess_definitions(quick: dict[str, Any]) -> None:
    config, table = quick["config"], quick["table"]
    assert quick["result"].total == len(config.n) * len(config.C)
    assert len(table) == len(config.n) * len(config.C) * config.members
    assert np.allclose(table["excess_loss"], table["test_loss"] - table["reference_loss"])
    assert np.allclose(table["excess_error"], table["test_error"] - table["reference_error"])
    # one reference w* per seed: the same F(w*) in every cell
    assert table.groupby("seed")["reference_loss"].nunique().max() == 1
    # small n get at least min_steps SGD steps
    steps = table["sgd_epochs"] * np.ceil(table["n"] / config.batch_size)
    assert (steps >= config.min_steps).all()


def test_budget_S_is_C_sqrt_n_and_respected(quick: dict[str, Any]) -> None:
    table = quick["table"]
    S = table["C"] * np.sqrt(table["n"])
    assert np.allclose(table["budget_S"], S)
    assert (table["spent"] <= table["budget_S"] * (1 + 1e-6)).all()
    assert (table["max_norm"] <= math.sqrt(784) + 1e-4).all()
    assert np.allclose(table["per_sample_budget"], table["C"] / np.sqrt(table["n"]))


def test_excess_loss_shrinks_with_n_and_grows_with_C(quick: dict[str, Any]) -> None:
    """Theorem 2.2's two monotonicities, on the cell means of the quick grid."""
    table = quick["table"]
    means = table.groupby(["C", "n"])["excess_loss"].mean().unstack("n")
    clean = means.loc[0.0]
    assert clean.iloc[-1] < 0.5 * clean.iloc[0]
    # at every n the largest C does more damage than no poison
    assert (means.iloc[-1] > means.iloc[0]).all()
    # the measured excess stays below the (vacuous) Theorem 2.2 bound
    assert (table["excess_loss"] <= table["bound"]).all()


def test_summary_verdicts_and_figures(quick: dict[str, Any]) -> None:
    summary, root = quick["summary"], quick["root"]
    claims = [v["claim"] for v in summary["verdicts"]]
    assert any("C* ~ sqrt(n)" in claim for claim in claims)
    for verdict in summary["verdicts"]:
        assert set(verdict) - {"settle", "compared"} == {
            "claim",
            "verdict",
            "measured",
            "predicted",
            "reason",
        }
        assert verdict["verdict"] in ("consistent", "inconsistent", "inconclusive")
    headline = summary["headline"]
    assert headline["segments_decreasing"] + headline["segments_not_decreasing"] > 0
    assert summary["predictions"]["critical_n"]["180.0"] == 180.0**2
    for stem in ("excess_vs_n", "transition_and_bound"):
        assert (root / "figures" / f"{stem}.png").stat().st_size > 0


def test_the_constant_kappa_is_reported_without_a_verdict(quick: dict[str, Any]) -> None:
    """Issue 9 item 4: Theorem 2.2 predicts the exponent of C* ~ n^beta, not a constant."""
    summary = quick["summary"]
    assert not any("kappa" in v["claim"] for v in summary["verdicts"])
    assert math.isfinite(summary["headline"]["kappa"])
    assert "without a verdict" in summary["headline"]["kappa_note"]
    scaling = next(v for v in summary["verdicts"] if "beta = 1/2" in v["claim"])
    # the quick grid fits every beta in [0.05, 0.75] equally well: it cannot pin the exponent
    assert scaling["verdict"] == "inconclusive" and "does not pin" in scaling["reason"]


def test_transition_threshold_separates_and_breaks_ties_in_the_middle() -> None:
    r = np.array([0.5, 1.0, 2.0, 4.0, 8.0])
    kappa, share = transition_threshold(r, np.array([True, True, True, False, False]))
    assert share == 1.0 and kappa == pytest.approx(math.sqrt(8.0))
    # one misfit: the best rule still classifies 4 of 5
    kappa, share = transition_threshold(r, np.array([True, False, True, False, False]))
    assert share == pytest.approx(0.8)
    # all decreasing: the best split puts only the largest r on the other side
    kappa, share = transition_threshold(r, np.ones(5, dtype=bool))
    assert share == pytest.approx(0.8) and kappa == pytest.approx(math.sqrt(4.0 * 8.0))
    # three equally good splits: the middle one is taken
    r6 = 2.0 ** np.arange(6)
    alternating = np.array([True, False, True, False, True, False])
    kappa, share = transition_threshold(r6, alternating)
    assert share == pytest.approx(4 / 6) and kappa == pytest.approx(math.sqrt(4.0 * 8.0))
    assert all(math.isnan(v) for v in transition_threshold(np.array([1.0]), np.array([True])))
    with pytest.raises(ValueError, match="shape"):
        transition_threshold(r, np.array([True]))


# The quick preset's verdicts, pinned before the claims moved onto robustlab.theory.claims
# (issue 9), in order, by the first 60 characters of each claim: a change here must be
# deliberate.
# (the kappa verdict was dropped deliberately: issue 9 item 4).
QUICK_VERDICTS = [
    ("excess loss is smaller at the largest n than at the smallest", "consistent"),
    ("excess error is smaller at the largest n than at the smalles", "consistent"),
    ("excess loss grows with the corruption rate C at every n", "consistent"),
    ("excess loss decays at least as fast as n^-1/2 while C <= sqr", "inconclusive"),
    ("the overhead stops decreasing with n at a fixed per-sample b", "inconclusive"),
    ("excess loss <= Theorem 2.2 bound (one pass, T = n) in every ", "consistent"),
]


def test_quick_verdicts_are_pinned(quick: dict[str, Any]) -> None:
    found = [(v["claim"][:60], v["verdict"]) for v in quick["summary"]["verdicts"]]
    assert found == QUICK_VERDICTS
