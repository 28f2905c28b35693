"""claims.rank_trend: Kendall's tau with its exact one-sided p-value, against scipy and by hand."""

from __future__ import annotations

import math
from itertools import permutations

import numpy as np
import pytest
from scipy import stats

from robustlab.theory import claims


def test_three_points_in_order_stay_inconclusive() -> None:
    """Exact p = 1/3! = 1/6 for three points in order: no 3-point grid can be significant."""
    verdict = claims.rank_trend([1, 2, 3], [3.0, 2.0, 1.0], claim="c", expect="decreasing")
    assert verdict.verdict == "inconclusive"
    assert verdict.measured == pytest.approx(-1.0)
    assert "p = 0.17" in verdict.reason and verdict.settle


def test_p_value_is_the_share_of_permutations_at_least_as_extreme() -> None:
    """Brute force: over all 5! orderings of y, the share with tau <= the observed tau."""
    x = np.arange(5.0)
    y = np.array([4.0, 3.0, 1.0, 2.0, 0.0])
    observed = stats.kendalltau(x, y).statistic
    taus = [stats.kendalltau(x, np.array(p)).statistic for p in permutations(y)]
    exact = np.mean([t <= observed + 1e-12 for t in taus])
    verdict = claims.rank_trend(x, y, claim="c", expect="decreasing", alpha=0.05)
    assert f"p = {exact:.2g}" in verdict.reason
    assert verdict.verdict == ("consistent" if exact < 0.05 else "inconclusive")


def test_directions_and_repeated_x() -> None:
    x = np.repeat([100.0, 1000.0, 10_000.0], 3)
    falling = np.array([0.6, 0.61, 0.62, 0.3, 0.31, 0.32, 0.1, 0.11, 0.12])
    down = claims.rank_trend(x, falling, claim="c", expect="decreasing")
    up = claims.rank_trend(x, falling, claim="c", expect="increasing")
    assert down.verdict == "consistent" and down.predicted == -1.0
    assert up.verdict == "inconsistent" and up.predicted == 1.0
    assert down.measured is not None and down.measured < 0


def test_degenerate_inputs() -> None:
    flat = claims.rank_trend([1, 2, 3, 4], [1.0, 1.0, 1.0, 1.0], claim="c", expect="increasing")
    assert flat.verdict == "inconclusive" and "does not vary" in flat.reason
    few = claims.rank_trend([1, 1, 2], [1.0, 2.0, 3.0], claim="c", expect="increasing")
    assert few.verdict == "inconclusive" and "2 distinct x" in few.reason
    with pytest.raises(ValueError, match="same length"):
        claims.rank_trend([1, 2, 3], [1.0, 2.0], claim="c", expect="increasing")
    with pytest.raises(ValueError, match="alpha"):
        claims.rank_trend([1, 2, 3], [1.0, 2.0, 3.0], claim="c", expect="increasing", alpha=0)


def test_agrees_with_the_hand_made_kendall_test_it_replaces() -> None:
    """schmidt-cnn's former verdict: tau < 0 with one-sided p < 0.05 (and the mirror)."""
    rng = np.random.default_rng(0)
    for _ in range(50):
        x = np.repeat([1.0, 2.0, 3.0, 4.0], 2)
        y = -0.3 * x + rng.normal(size=x.size)
        less = stats.kendalltau(x, y, alternative="less")
        greater = stats.kendalltau(x, y, alternative="greater")
        tau = float(less.statistic)
        old = (
            "consistent"
            if tau < 0 and less.pvalue < 0.05
            else "inconsistent"
            if tau > 0 and greater.pvalue < 0.05
            else "inconclusive"
        )
        new = claims.rank_trend(x, y, claim="c", expect="decreasing")
        assert new.verdict == old
        assert math.isclose(new.measured or 0.0, tau)
