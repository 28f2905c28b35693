"""The claim kinds: each verdict against an independent computation, and its inconclusive cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from robustlab.theory import claims
from robustlab.theory.fitting import Verdict


def _power_law(slope: float, noise: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.repeat(np.geomspace(10, 1e4, 6), 3)
    return x, x**slope * np.exp(noise * rng.standard_normal(x.size))


def test_exponent_recovers_an_exact_power_law_and_rejects_a_wrong_one() -> None:
    x, y = _power_law(-0.5, 0.0)
    good = claims.exponent(x, y, -0.5, claim="c", tolerance=0.05)
    assert good.verdict == "consistent"
    assert good.measured == pytest.approx(-0.5)
    assert claims.exponent(x, y, 0.0, claim="c", tolerance=0.1).verdict == "inconsistent"


def test_exponent_slope_matches_numpy_polyfit() -> None:
    x, y = _power_law(0.7, 0.2, seed=3)
    slope = np.polyfit(np.log(x), np.log(y), 1)[0]
    assert claims.exponent(x, y, 0.7, claim="c", tolerance=0.1).measured == pytest.approx(slope)


def test_exponent_is_inconclusive_when_the_grid_cannot_pin_it() -> None:
    x, y = _power_law(-0.5, 0.0)
    two = claims.exponent(x[:6], y[:6], -0.5, claim="c", tolerance=0.1)
    assert two.verdict == "inconclusive" and "distinct x" in two.reason
    noisy = claims.exponent(*_power_law(-0.5, 10.0), -0.5, claim="c", tolerance=0.1)
    assert noisy.verdict == "inconclusive" and "too uncertain" in noisy.reason
    nothing = claims.exponent([1.0, 2.0], [0.0, -1.0], -0.5, claim="c", tolerance=0.1)
    assert nothing.verdict == "inconclusive" and nothing.measured is None


def test_exponent_one_sided_relations() -> None:
    x, y = _power_law(-1.0, 0.05)
    at_most = claims.exponent(x, y, -0.5, claim="c", tolerance=0.0, relation="<=")
    assert at_most.verdict == "consistent"
    assert claims.exponent(x, y, -1.5, claim="c", tolerance=0.0, relation="<=").verdict == (
        "inconsistent"
    )
    assert claims.exponent(x, y, -1.5, claim="c", tolerance=0.0, relation=">=").verdict == (
        "consistent"
    )
    assert at_most.measured is not None
    straddle = claims.exponent(x, y, at_most.measured, claim="c", tolerance=0.0, relation="<=")
    assert straddle.verdict == "inconclusive" and "cannot decide" in straddle.reason


def test_contains_says_when_the_grid_cannot_pin_the_exponent() -> None:
    assert claims.contains(0.4, 0.6, 0.5, claim="c", max_width=0.5).verdict == "consistent"
    assert claims.contains(0.7, 0.9, 0.5, claim="c", max_width=0.5).verdict == "inconsistent"
    wide = claims.contains(0.05, 0.75, 0.5, claim="c", max_width=0.5)
    assert wide.verdict == "inconclusive" and "does not pin" in wide.reason
    assert wide.measured == pytest.approx(0.4)
    with pytest.raises(ValueError, match="low <= high"):
        claims.contains(0.9, 0.1, 0.5, claim="c", max_width=0.5)


def test_bound_both_directions_and_non_finite() -> None:
    assert claims.bound(0.5, 1.0, claim="c").verdict == "consistent"
    assert claims.bound(1.5, 1.0, claim="c").verdict == "inconsistent"
    assert claims.bound(1.5, 1.0, claim="c", relation=">=").verdict == "consistent"
    assert claims.bound(0.5, math.inf, claim="c").verdict == "inconclusive"


def test_trend_matches_a_hand_computed_spearman() -> None:
    x = np.array([1.0, 2, 3, 4, 5, 6, 7, 8])
    y = np.array([8.0, 7, 6.5, 5, 5.5, 3, 2, 1])
    ranks_x, ranks_y = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    rho = np.corrcoef(ranks_x, ranks_y)[0, 1]
    verdict = claims.trend(x, y, claim="c", expect="decreasing")
    assert verdict.verdict == "consistent" and verdict.measured == pytest.approx(rho)
    assert claims.trend(x, y, claim="c", expect="increasing").verdict == "inconsistent"
    flat = claims.trend(x, np.array([1.0, 3, 2, 4, 1, 3, 2, 4]), claim="c", expect="increasing")
    assert flat.verdict == "inconclusive" and "not significant" in flat.reason
    few = claims.trend([1.0, 2.0, 1.0, 2.0], [1.0, 2.0, 1.0, 2.0], claim="c", expect="increasing")
    assert few.verdict == "inconclusive" and "distinct x" in few.reason


def test_paired_difference_directions_and_equivalence() -> None:
    rng = np.random.default_rng(0)
    lower = -0.1 + 0.01 * rng.standard_normal(20)
    assert claims.paired_difference(lower, claim="c", expect="negative").verdict == "consistent"
    assert claims.paired_difference(lower, claim="c", expect="positive").verdict == "inconsistent"
    noise = 0.01 * rng.standard_normal(20)
    noise -= noise.mean()
    assert claims.paired_difference(noise, claim="c", expect="negative").verdict == "inconclusive"
    same = claims.paired_difference(noise, claim="c", expect="zero", margin=0.02)
    assert same.verdict == "consistent"
    assert claims.paired_difference(lower, claim="c", expect="zero", margin=0.02).verdict == (
        "inconsistent"
    )
    one = claims.paired_difference([0.3], claim="c", expect="negative")
    assert one.verdict == "inconclusive" and "only 1" in one.reason


def test_paired_difference_interval_matches_scipy() -> None:
    from scipy import stats

    diff = np.array([0.01, -0.02, 0.005, 0.0, 0.015, -0.01])
    low, high = stats.t.interval(0.95, diff.size - 1, loc=diff.mean(), scale=stats.sem(diff))
    verdict = claims.paired_difference(diff, claim="c", expect="zero", margin=0.02)
    assert f"[{low:+.4g}, {high:+.4g}]" in verdict.reason


def test_two_sample_difference_welch() -> None:
    a, b = np.array([1.0, 1.1, 0.9, 1.05]), np.array([0.5, 0.55, 0.45, 0.5])
    verdict = claims.two_sample_difference(a, b, claim="c", expect="negative")
    assert verdict.verdict == "consistent" and verdict.measured == pytest.approx(
        b.mean() - a.mean()
    )
    assert claims.two_sample_difference(b, a, claim="c", expect="negative").verdict == (
        "inconsistent"
    )
    assert claims.two_sample_difference([1.0], b, claim="c", expect="negative").verdict == (
        "inconclusive"
    )


@given(st.integers(0, 50), st.integers(1, 50), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_fraction_follows_its_two_levels(hits: int, total: int, level: float, fail: float) -> None:
    hits = min(hits, total)
    fail = min(fail, level)
    verdict = claims.fraction(hits, total, claim="c", at_least=level, fail_below=fail)
    share = hits / total
    expected = (
        "consistent" if share >= level else "inconsistent" if share < fail else "inconclusive"
    )
    assert verdict.verdict == expected and verdict.measured == pytest.approx(share)


def test_fraction_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError, match="hits"):
        claims.fraction(3, 2, claim="c", at_least=1.0)
    assert claims.fraction(0, 0, claim="c", at_least=1.0).verdict == "inconclusive"


def test_within_factor_and_close_to() -> None:
    assert claims.within_factor(1.9, 1.0, 2.0, claim="c").verdict == "consistent"
    assert claims.within_factor(0.49, 1.0, 2.0, claim="c").verdict == "inconsistent"
    assert claims.within_factor(None, 1.0, 2.0, claim="c").verdict == "inconclusive"
    with pytest.raises(ValueError, match="factor"):
        claims.within_factor(1.0, 1.0, 0.5, claim="c")
    assert claims.close_to(1.1, 1.0, claim="c", rtol=0.15).verdict == "consistent"
    assert claims.close_to(1.3, 1.0, claim="c", rtol=0.15).verdict == "inconsistent"
    covered = claims.close_to(1.3, 1.0, claim="c", rtol=0.15, interval=(0.9, 1.4))
    assert covered.verdict == "consistent"
    # the floor: 0.004 against a paper's 0.003 is within 0.5 x max(0.003, 0.01)
    assert claims.close_to(0.004, 0.003, claim="c", rtol=0.5, floor=0.01).verdict == "consistent"
    assert claims.close_to(0.033, 0.003, claim="c", rtol=0.5, floor=0.01).verdict == "inconsistent"


def test_paper_table_cannot_pass_an_all_zero_table() -> None:
    paper = {"a": 0.003, "b": 0.02, "c": 0.45, "d": 0.01}
    zeros = dict.fromkeys(paper, 0.0)
    verdict = claims.paper_table(zeros, paper, claim="c", rtol=0.5, floor=0.01)
    assert verdict.verdict == "inconsistent"
    assert verdict.measured == 1.0 and verdict.predicted == 4.0  # only a is within the floor
    close = {key: value * 1.1 for key, value in paper.items()}
    assert claims.paper_table(close, paper, claim="c", rtol=0.5, floor=0.01).verdict == (
        "consistent"
    )
    assert claims.paper_table({}, paper, claim="c", rtol=0.5, floor=0.01).verdict == "inconclusive"
    with pytest.raises(ValueError, match="floor"):
        claims.paper_table(close, paper, claim="c", rtol=0.5, floor=0.0)


def test_paper_table_share_of_cells() -> None:
    paper = {"a": 0.1, "b": 0.2, "c": 0.3, "d": 0.4}
    measured = {"a": 0.1, "b": 0.2, "c": 0.3, "d": 0.9}
    strict = claims.paper_table(measured, paper, claim="c", rtol=0.1, floor=0.01)
    assert strict.verdict == "inconsistent" and "d: 0.9 vs 0.4" in strict.reason
    share = claims.paper_table(measured, paper, claim="c", rtol=0.1, floor=0.01, at_least=0.75)
    assert share.verdict == "consistent" and share.measured == 3.0
    with pytest.raises(ValueError, match="at_least"):
        claims.paper_table(measured, paper, claim="c", rtol=0.1, floor=0.01, at_least=0.0)


def test_rank_order_counts_pairs_in_the_papers_order() -> None:
    paper = {"fgsm": 0.3, "pgd": 0.45, "rpgd": 0.5}
    assert claims.rank_order({"fgsm": 0.1, "pgd": 0.2, "rpgd": 0.3}, paper, claim="c").verdict == (
        "consistent"
    )
    swapped = claims.rank_order({"fgsm": 0.1, "pgd": 0.4, "rpgd": 0.3}, paper, claim="c")
    assert swapped.verdict == "inconsistent" and swapped.measured == 2.0
    assert "pgd vs rpgd" in swapped.reason
    tied = claims.rank_order({"fgsm": 0.1, "pgd": 0.2}, {"fgsm": 0.3, "pgd": 0.3}, claim="c")
    assert tied.verdict == "inconclusive"


_KINDS = st.sampled_from(["consistent", "inconsistent", "inconclusive"])


@given(st.lists(_KINDS, max_size=6))
def test_every_is_the_conjunction_of_its_parts(kinds: list[str]) -> None:
    parts = [Verdict(f"p{i}", k, None, None, "r") for i, k in enumerate(kinds)]  # type: ignore[arg-type]
    verdict = claims.every("all", parts)
    if not kinds:
        expected = "inconclusive"
    elif "inconsistent" in kinds:
        expected = "inconsistent"
    elif all(k == "consistent" for k in kinds):
        expected = "consistent"
    else:
        expected = "inconclusive"
    assert verdict.verdict == expected
    if kinds:
        assert verdict.measured == kinds.count("consistent")
        assert verdict.predicted == len(kinds)


def test_fact_and_inconclusive() -> None:
    yes = claims.fact("c", True, measured=1.0, predicted=1.0, reason="r")
    assert yes.verdict == "consistent"
    no = claims.fact("c", False, measured=0.0, predicted=1.0, reason="r", otherwise="inconclusive")
    assert no.verdict == "inconclusive"
    assert claims.inconclusive("c", "why").to_dict()["reason"] == "why"


# ------------------------------------------------------------------ what would settle a verdict


def test_inconclusive_claims_say_what_more_evidence_would_decide_them() -> None:
    x, y = _power_law(-0.5, 0.0)
    two = claims.exponent(x[:6], y[:6], -0.5, claim="c", tolerance=0.1)
    assert two.settle == "a grid with at least 3 distinct x values"
    noisy = claims.exponent(*_power_law(-0.5, 10.0), -0.5, claim="c", tolerance=0.1)
    assert noisy.settle is not None and "more seeds" in noisy.settle
    flat = claims.trend([1, 2], [3, 4], claim="c", expect="increasing")
    assert flat.settle == "a grid with at least 3 distinct x values"
    weak = claims.paired_difference([0.1, -0.2, 0.15], claim="c", expect="negative")
    assert weak.verdict == "inconclusive" and weak.settle is not None and "(now 3)" in weak.settle
    assert claims.fraction(5, 10, claim="c", at_least=0.9, fail_below=0.1).settle == (
        "more cases (now 10)"
    )


def test_decided_verdicts_carry_no_generic_settle_text() -> None:
    x, y = _power_law(-0.5, 0.0)
    assert claims.exponent(x, y, -0.5, claim="c", tolerance=0.05).settle is None
    assert claims.exponent(x, y, 0.0, claim="c", tolerance=0.1).settle is None  # inconsistent
    strong = claims.paired_difference([-1.0, -1.1, -0.9, -1.2], claim="c", expect="negative")
    assert strong.verdict == "consistent" and strong.settle is None
    assert "settle" not in strong.to_dict() and "compared" not in strong.to_dict()


def test_settled_names_the_setting_only_for_undecided_verdicts() -> None:
    bad = Verdict("c", "inconsistent", 1.0, 2.0, "r")
    good = Verdict("c", "consistent", 1.0, 1.0, "r")
    assert claims.settled(bad, "--preset paper").settle == "--preset paper"
    assert claims.settled(good, "--preset paper") is good
    assert claims.settled(bad, None) is bad
    texts = {"slope": "--preset paper (7 widths)", "other": "--set seeds=10"}
    out = claims.settle_each([Verdict("a slope", "inconclusive", None, None, "r"), good], texts)
    assert [v.settle for v in out] == ["--preset paper (7 widths)", None]
    kept = Verdict("unmatched", "inconclusive", None, None, "r", settle="own text")
    assert claims.settle_each([kept], texts)[0].settle == "own text"


def test_every_gathers_the_settle_texts_of_its_undecided_parts() -> None:
    parts = [
        Verdict("p1", "inconclusive", None, None, "r", settle="more seeds"),
        Verdict("p2", "inconclusive", None, None, "r", settle="more seeds"),
        Verdict("p3", "consistent", None, None, "r", settle="ignored"),
        Verdict("p4", "inconclusive", None, None, "r", settle="a wider grid"),
    ]
    whole = claims.every("c", parts)
    assert whole.settle == "more seeds; a wider grid"
    assert claims.every("c", parts, settle="--preset paper").settle == "--preset paper"
    assert whole.to_dict()["compared"] == {"hold": 1.0, "of": 4.0}


def test_counting_claims_put_their_counts_in_compared() -> None:
    table = claims.paper_table(
        {"a": 1.0, "b": 5.0}, {"a": 1.0, "b": 2.0}, claim="c", rtol=0.1, floor=0.1
    )
    assert table.to_dict()["compared"] == {"agree": 1.0, "of": 2.0}
    order = claims.rank_order(
        {"a": 1.0, "b": 2.0, "c": 0.0}, {"a": 3.0, "b": 2.0, "c": 1.0}, claim="c"
    )
    assert order.to_dict()["compared"] == {"in order": 2.0, "of": 3.0}  # brute force: a>c, b>c
    share = claims.fraction(3, 4, claim="c", at_least=0.5)
    assert share.to_dict()["compared"] == {"hits": 3.0, "of": 4.0}
