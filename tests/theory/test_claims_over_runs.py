"""robustlab.theory.claims over runs: relative error with a floor, row agreement, rank order."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from robustlab.theory.claims import (
    paired_test,
    paper_row_over_runs,
    rank_order_over_runs,
    relative_error,
)


@given(
    st.floats(0, 1),
    st.floats(0, 1),
    st.floats(1e-4, 1),
)
def test_relative_error_is_floored_and_symmetric_in_the_gap(m: float, p: float, f: float) -> None:
    error = relative_error(m, p, floor=f)
    assert error == pytest.approx(abs(m - p) / max(p, f))
    assert error <= abs(m - p) / f + 1e-12


def test_relative_error_rejects_a_nonpositive_floor() -> None:
    with pytest.raises(ValueError, match="floor"):
        relative_error(0.1, 0.1, floor=0.0)


def test_paired_test_matches_scipy_and_handles_constants() -> None:
    from scipy import stats

    diff = np.array([0.1, 0.3, -0.05, 0.2])
    mean, greater, less = paired_test(diff)
    assert mean == pytest.approx(diff.mean())
    assert greater == pytest.approx(stats.ttest_1samp(diff, 0, alternative="greater").pvalue)
    assert less == pytest.approx(1 - greater)
    assert paired_test(np.full(5, 0.2)) == (pytest.approx(0.2), 0.0, 1.0)
    assert paired_test(np.zeros(3))[1:] == (1.0, 1.0)


PAPER = {"a": 0.3, "b": 0.1, "c": 0.003}


def _runs(values: dict[str, float], noise: float = 0.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {k: v + noise * rng.standard_normal(6) for k, v in values.items()}


def test_row_agreement_passes_the_paper_and_fails_zero_and_double() -> None:
    ok = paper_row_over_runs("row", _runs(PAPER, 1e-4), PAPER, floor=0.01, tolerance=0.5)
    assert ok.verdict == "consistent"
    zero = paper_row_over_runs(
        "row", _runs(dict.fromkeys(PAPER, 0.0), 1e-4), PAPER, floor=0.01, tolerance=0.5
    )
    assert (
        zero.verdict == "inconsistent"
        and "a" in zero.reason
        and zero.measured == pytest.approx(1.0, abs=1e-3)
    )
    double = {k: 2 * v for k, v in PAPER.items()}
    assert (
        paper_row_over_runs("row", _runs(double, 1e-4), PAPER, floor=0.01, tolerance=0.5).verdict
        == "inconsistent"
    )


def test_row_agreement_is_inconclusive_within_the_noise() -> None:
    noisy = _runs(PAPER)
    noisy["a"] = 0.6 + 0.5 * np.array([-1.0, 1.0, -1.0, 1.0, -1.0, 1.0])  # sem 0.22 > 0.3 / 2
    verdict = paper_row_over_runs("row", noisy, PAPER, floor=0.01, tolerance=0.5)
    assert verdict.verdict == "inconclusive"


def test_rank_order_counts_only_separated_pairs() -> None:
    verdict = rank_order_over_runs("rank", _runs(PAPER, 1e-4), PAPER, gap=0.05, level=0.05)
    assert verdict.verdict == "consistent" and "3 of 3" in verdict.reason
    swapped = _runs({"a": 0.1, "b": 0.3, "c": 0.003}, 1e-3)
    assert rank_order_over_runs("rank", swapped, PAPER, gap=0.05, level=0.05).verdict == (
        "inconsistent"
    )
    ties = _runs(dict.fromkeys(PAPER, 0.1))
    assert rank_order_over_runs("rank", ties, PAPER, gap=0.05, level=0.05).verdict == "inconclusive"
    loose = rank_order_over_runs("rank", _runs(PAPER, 1e-4), PAPER, gap=0.25, level=0.05)
    assert "1 of 1" in loose.reason  # only a > c is separated by 0.25
    flat = {"a": 0.01, "b": 0.012}
    none = rank_order_over_runs("rank", _runs(flat), flat, gap=0.05, level=0.05)
    assert none.verdict == "inconclusive" and none.measured is None
