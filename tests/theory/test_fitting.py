"""Log-log slope fits against numpy.polyfit and synthetic power laws; verdict logic."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from robustlab.theory.fitting import (
    SlopeFit,
    Verdict,
    check_lower_bound,
    check_upper_bound,
    compare_exponent,
    fit_loglog_slope,
)


def _noisy_power_law(
    seed: int, slope: float = -0.5, noise: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.repeat(np.array([25.0, 49.0, 100.0, 196.0, 400.0, 625.0, 784.0]), 3)
    y = 2.0 * x**slope * np.exp(noise * rng.standard_normal(x.size))
    return x, y


def test_exact_power_law_recovers_slope_and_intercept() -> None:
    x = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    fit = fit_loglog_slope(x, 3.0 * x**-0.5)
    assert fit.slope == pytest.approx(-0.5, abs=1e-12)
    assert fit.intercept == pytest.approx(math.log(3.0), abs=1e-12)
    assert fit.stderr == pytest.approx(0.0, abs=1e-12)
    assert fit.ci_width < 1e-10
    assert (fit.n_points, fit.n_distinct_x) == (5, 5)
    assert fit.predict(np.array([9.0]))[0] == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(5))
def test_matches_numpy_polyfit_and_textbook_stderr(seed: int) -> None:
    x, y = _noisy_power_law(seed)
    fit = fit_loglog_slope(x, y)
    lx, ly = np.log(x), np.log(y)
    slope, intercept = np.polyfit(lx, ly, 1)
    assert fit.slope == pytest.approx(slope, abs=1e-10)
    assert fit.intercept == pytest.approx(intercept, abs=1e-10)
    residuals = ly - (slope * lx + intercept)
    n = x.size
    stderr = math.sqrt(residuals @ residuals / (n - 2) / ((lx - lx.mean()) @ (lx - lx.mean())))
    assert fit.stderr == pytest.approx(stderr, rel=1e-9)
    half = stats.t.ppf(0.975, n - 2) * stderr
    assert (fit.ci_low, fit.ci_high) == pytest.approx((slope - half, slope + half), rel=1e-9)


def test_confidence_interval_covers_true_slope_over_seeds() -> None:
    covered = sum(
        fit_loglog_slope(*_noisy_power_law(seed, slope=-0.5)).ci_low
        <= -0.5
        <= fit_loglog_slope(*_noisy_power_law(seed, slope=-0.5)).ci_high
        for seed in range(40)
    )
    # Nominal 95%: 38 of 40 expected; P(<= 32 | p = 0.95) < 1%.
    assert covered >= 33


def test_higher_confidence_gives_wider_interval() -> None:
    x, y = _noisy_power_law(0)
    assert fit_loglog_slope(x, y, confidence=0.99).ci_width > fit_loglog_slope(x, y).ci_width


def test_two_points_give_unbounded_interval() -> None:
    fit = fit_loglog_slope([1.0, 10.0], [1.0, 0.1])
    assert fit.slope == pytest.approx(-1.0)
    assert math.isinf(fit.ci_width) and fit.n_points == 2


def test_invalid_values_raise_unless_dropped() -> None:
    x = np.array([1.0, 2.0, 4.0, 8.0])
    y = np.array([1.0, 0.0, 0.25, np.nan])
    with pytest.raises(ValueError, match="2 of 4 pairs"):
        fit_loglog_slope(x, y)
    fit = fit_loglog_slope(x, y, drop_invalid=True)
    assert fit.n_points == 2 and fit.slope == pytest.approx(-1.0)


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        ([1.0, 2.0], [1.0], "same length"),
        ([2.0, 2.0, 2.0], [1.0, 2.0, 3.0], "distinct x"),
        ([2.0], [1.0], "at least 2"),
    ],
)
def test_bad_inputs_raise(x: list[float], y: list[float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fit_loglog_slope(x, y)


def test_confidence_out_of_range_raises() -> None:
    with pytest.raises(ValueError, match="confidence"):
        fit_loglog_slope([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], confidence=1.0)


@settings(max_examples=40, deadline=None)
@given(
    scale_y=st.floats(1e-3, 1e3),
    scale_x=st.floats(1e-3, 1e3),
    seed=st.integers(0, 1000),
)
def test_slope_is_invariant_to_rescaling(scale_y: float, scale_x: float, seed: int) -> None:
    x, y = _noisy_power_law(seed)
    base = fit_loglog_slope(x, y)
    scaled = fit_loglog_slope(scale_x * x, scale_y * y)
    assert scaled.slope == pytest.approx(base.slope, abs=1e-9)
    expected = base.intercept + math.log(scale_y) - base.slope * math.log(scale_x)
    assert scaled.intercept == pytest.approx(expected, abs=1e-8)
    assert scaled.stderr == pytest.approx(base.stderr, rel=1e-6, abs=1e-12)


def _fit(slope: float, low: float, high: float, distinct: int = 5) -> SlopeFit:
    return SlopeFit(
        slope=slope,
        intercept=0.0,
        stderr=(high - low) / 4,
        ci_low=low,
        ci_high=high,
        n_points=10,
        n_distinct_x=distinct,
    )


@pytest.mark.parametrize(
    ("fit", "predicted", "tolerance", "expected"),
    [
        (_fit(-0.48, -0.55, -0.41), -0.5, 0.05, "consistent"),  # predicted in the CI
        (_fit(-0.45, -0.47, -0.43), -0.5, 0.06, "consistent"),  # outside CI, within tolerance
        (_fit(-0.45, -0.47, -0.43), -0.5, 0.02, "inconsistent"),
        (_fit(0.1, 0.05, 0.15), -0.5, 0.1, "inconsistent"),
        (_fit(-0.5, -1.5, 0.5), -0.5, 0.1, "inconclusive"),  # CI wider than 1
        (_fit(-0.5, -0.51, -0.49, distinct=2), -0.5, 0.1, "inconclusive"),
        (_fit(-0.5, -math.inf, math.inf), -0.5, 0.1, "inconclusive"),
    ],
)
def test_compare_exponent_cases(
    fit: SlopeFit, predicted: float, tolerance: float, expected: str
) -> None:
    verdict = compare_exponent(fit, predicted, tolerance=tolerance, claim="test")
    assert verdict.verdict == expected
    assert verdict.measured == fit.slope and verdict.predicted == predicted
    assert verdict.reason


def test_compare_exponent_on_real_fits() -> None:
    x, y = _noisy_power_law(3, noise=0.05)
    fit = fit_loglog_slope(x, y)
    assert compare_exponent(fit, -0.5, tolerance=0.05).verdict == "consistent"
    assert compare_exponent(fit, -1.0, tolerance=0.05).verdict == "inconsistent"
    few = fit_loglog_slope([10.0, 10.0, 20.0, 20.0], [1.0, 1.1, 0.7, 0.72])
    assert compare_exponent(few, -0.5, tolerance=0.05).verdict == "inconclusive"
    assert "distinct" in compare_exponent(few, -0.5, tolerance=0.05).reason


def test_compare_exponent_rejects_bad_thresholds() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        compare_exponent(_fit(0.0, -0.1, 0.1), 0.0, tolerance=-1.0)
    with pytest.raises(ValueError, match="max_ci_width"):
        compare_exponent(_fit(0.0, -0.1, 0.1), 0.0, tolerance=0.1, max_ci_width=0.0)


def test_verdict_validates_and_serializes() -> None:
    verdict = Verdict("slope of ||delta|| in d", "consistent", -0.49, -0.5, "in CI")
    assert json.loads(json.dumps(verdict.to_dict())) == {
        "claim": "slope of ||delta|| in d",
        "verdict": "consistent",
        "measured": -0.49,
        "predicted": -0.5,
        "reason": "in CI",
    }
    assert Verdict("c", "inconclusive", None, None, "no data").to_dict()["measured"] is None
    with pytest.raises(ValueError, match="verdict must be one of"):
        Verdict("c", "maybe", None, None, "")  # type: ignore[arg-type]


def test_bound_checks() -> None:
    assert check_upper_bound(0.3, 0.5, claim="c").verdict == "consistent"
    assert check_upper_bound(0.6, 0.5, claim="c").verdict == "inconsistent"
    assert check_upper_bound(0.52, 0.5, claim="c", rtol=0.05).verdict == "consistent"
    assert check_upper_bound(0.3, math.inf, claim="c").verdict == "inconclusive"
    assert check_lower_bound(0.95, 0.9, claim="c").verdict == "consistent"
    assert check_lower_bound(0.5, 0.9, claim="c").verdict == "inconsistent"
    assert check_lower_bound(math.nan, 0.9, claim="c").verdict == "inconclusive"
    with pytest.raises(ValueError, match="rtol"):
        check_lower_bound(1.0, 1.0, claim="c", rtol=-0.1)
