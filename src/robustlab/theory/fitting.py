"""Log-log slope fits and the theory verdicts every experiment writes into its summary.

A predicted scaling y ~ x^p is probed by ordinary least squares on (log x, log y); the slope's
confidence interval comes from the t distribution with n - 2 degrees of freedom. A `Verdict`
records a claim, what was measured, what the theory predicts, and one of three outcomes:
"consistent", "inconsistent" or "inconclusive" (too little or too noisy evidence to decide).
The small argument checks (`require_positive` and kin) and `as_float64` are shared by the other
theory modules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt
from scipy import stats

VerdictKind = Literal["consistent", "inconsistent", "inconclusive"]
VERDICT_KINDS: tuple[str, ...] = get_args(VerdictKind)


def as_float64(values: Any, *, name: str = "values") -> npt.NDArray[np.float64]:
    """Convert an array-like (numpy, list, CPU torch tensor) to a float64 numpy array.

    Raises ValueError when the values cannot be read as numbers.
    """
    if hasattr(values, "detach"):  # a torch tensor: leave autograd and the device behind
        values = values.detach().cpu().numpy()
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numeric, got {type(values).__name__}") from error


def require_positive(name: str, value: float) -> float:
    """Return value as a float if it is finite and > 0, else raise ValueError naming it."""
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return v


def require_nonnegative(name: str, value: float) -> float:
    """Return value as a float if it is finite and >= 0, else raise ValueError naming it."""
    v = float(value)
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return v


def require_open_unit(name: str, value: float) -> float:
    """Return value as a float if it lies in (0, 1), else raise ValueError naming it."""
    v = float(value)
    if not 0.0 < v < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value}")
    return v


@dataclass(frozen=True)
class SlopeFit:
    """OLS fit of log y = intercept + slope * log x, with a t-based confidence interval.

    `stderr` is the slope's standard error; [ci_low, ci_high] the two-sided interval at
    `confidence`; `n_points` the pairs used and `n_distinct_x` the distinct abscissae among them.
    With two points the interval is (-inf, inf): a line through two points has no residual.
    """

    slope: float
    intercept: float
    stderr: float
    ci_low: float
    ci_high: float
    n_points: int
    n_distinct_x: int
    confidence: float = 0.95
    r_squared: float = float("nan")

    @property
    def ci_width(self) -> float:
        """Width of the confidence interval (inf when it is unbounded)."""
        return self.ci_high - self.ci_low

    def predict(self, x: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Fitted power law exp(intercept) * x^slope at x (x > 0)."""
        xs = as_float64(x, name="x")
        return np.asarray(np.exp(self.intercept) * xs**self.slope, dtype=np.float64)

    def to_dict(self) -> dict[str, float | int]:
        """Plain dict for JSON summaries."""
        return {
            "slope": self.slope,
            "intercept": self.intercept,
            "stderr": self.stderr,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "n_points": self.n_points,
            "n_distinct_x": self.n_distinct_x,
            "confidence": self.confidence,
            "r_squared": self.r_squared,
        }


def fit_loglog_slope(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    confidence: float = 0.95,
    drop_invalid: bool = False,
) -> SlopeFit:
    """Fit y ~ exp(b) x^p by OLS on (log x, log y); return slope p, intercept b and a t-CI.

    x, y: (n,) positive values; repeated x (several seeds per setting) are allowed.
    With `drop_invalid`, pairs with a non-finite or non-positive x or y are left out instead of
    raising. Raises ValueError for mismatched shapes, invalid values (unless dropped), fewer than
    two usable points, fewer than two distinct x, or confidence outside (0, 1).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    xs = as_float64(x, name="x").reshape(-1)
    ys = as_float64(y, name="y").reshape(-1)
    if xs.shape != ys.shape:
        raise ValueError(f"x and y must have the same length, got {xs.size} and {ys.size}")
    valid = np.isfinite(xs) & np.isfinite(ys) & (xs > 0) & (ys > 0)
    if not valid.all():
        if not drop_invalid:
            bad = int((~valid).sum())
            raise ValueError(
                f"log-log fit needs finite positive x and y; {bad} of {xs.size} pairs are not "
                "(pass drop_invalid=True to leave them out)"
            )
        xs, ys = xs[valid], ys[valid]
    n = int(xs.size)
    if n < 2:
        raise ValueError(f"need at least 2 valid points for a slope, got {n}")
    log_x, log_y = np.log(xs), np.log(ys)
    n_distinct = int(np.unique(xs).size)
    if n_distinct < 2:
        raise ValueError(f"need at least 2 distinct x values for a slope, got {n_distinct}")
    result = stats.linregress(log_x, log_y)
    slope, intercept = float(result.slope), float(result.intercept)
    if n > 2:
        stderr = float(result.stderr)
        half = float(stats.t.ppf(0.5 + confidence / 2.0, df=n - 2)) * stderr
        ci_low, ci_high = slope - half, slope + half
    else:
        stderr, ci_low, ci_high = math.inf, -math.inf, math.inf
    return SlopeFit(
        slope=slope,
        intercept=intercept,
        stderr=stderr,
        ci_low=ci_low,
        ci_high=ci_high,
        n_points=n,
        n_distinct_x=n_distinct,
        confidence=confidence,
        r_squared=float(result.rvalue) ** 2,
    )


@dataclass(frozen=True)
class Verdict:
    """A theory claim checked against a measurement: the record each experiment summary holds.

    verdict: "consistent" | "inconsistent" | "inconclusive"; measured and predicted are the
    numbers compared (an exponent, a bound) or None; reason says why in one sentence.
    settle (optional): for a verdict that is not consistent, the preset or setting that would
    decide it. compared (optional): a comparative claim's numbers side by side, label to value
    ({"agree": 11, "of": 12}, {"reflected": 12, "CE": 12}), shown in their own report columns.
    Raises ValueError for an unknown verdict.
    """

    claim: str
    verdict: VerdictKind
    measured: float | None
    predicted: float | None
    reason: str
    settle: str | None = None
    compared: tuple[tuple[str, float], ...] | None = None

    def __post_init__(self) -> None:
        if self.verdict not in VERDICT_KINDS:
            raise ValueError(f"verdict must be one of {VERDICT_KINDS}, got {self.verdict!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for summary.json (floats stay floats, None stays None); ``settle`` and
        ``compared`` only when set, so a summary without them reads as before."""
        data: dict[str, Any] = {
            "claim": self.claim,
            "verdict": self.verdict,
            "measured": self.measured,
            "predicted": self.predicted,
            "reason": self.reason,
        }
        if self.settle is not None:
            data["settle"] = self.settle
        if self.compared is not None:
            data["compared"] = dict(self.compared)
        return data


def compare_exponent(
    fit: SlopeFit,
    predicted: float,
    *,
    tolerance: float,
    claim: str = "log-log slope",
    max_ci_width: float = 1.0,
    min_distinct_x: int = 3,
) -> Verdict:
    """Judge a fitted exponent against a predicted one.

    Inconclusive when the fit has fewer than `min_distinct_x` distinct x values or its
    confidence interval is wider than `max_ci_width` (or unbounded); otherwise consistent when
    `predicted` lies in the interval or within `tolerance` of the slope, else inconsistent.
    Raises ValueError for a negative tolerance or a non-positive max_ci_width.
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    if max_ci_width <= 0:
        raise ValueError(f"max_ci_width must be > 0, got {max_ci_width}")
    slope, pct = fit.slope, round(100 * fit.confidence)
    interval = f"{pct}% CI [{fit.ci_low:.3g}, {fit.ci_high:.3g}]"
    if fit.n_distinct_x < min_distinct_x:
        return Verdict(
            claim,
            "inconclusive",
            slope,
            predicted,
            f"only {fit.n_distinct_x} distinct x values (need {min_distinct_x})",
            settle=f"a grid with at least {min_distinct_x} distinct x values",
        )
    if not math.isfinite(fit.ci_width) or fit.ci_width > max_ci_width:
        return Verdict(
            claim,
            "inconclusive",
            slope,
            predicted,
            f"slope {slope:.3g} too uncertain: {interval} wider than {max_ci_width:.3g}",
            settle=f"more seeds per x or a wider x range (CI below {max_ci_width:.3g})",
        )
    if fit.ci_low <= predicted <= fit.ci_high:
        return Verdict(
            claim,
            "consistent",
            slope,
            predicted,
            f"predicted {predicted:.3g} lies in the slope's {interval}",
        )
    if abs(slope - predicted) <= tolerance:
        return Verdict(
            claim,
            "consistent",
            slope,
            predicted,
            f"slope {slope:.3g} within tolerance {tolerance:.3g} of predicted {predicted:.3g} "
            f"({interval} excludes it)",
        )
    return Verdict(
        claim,
        "inconsistent",
        slope,
        predicted,
        f"predicted {predicted:.3g} outside the slope's {interval} and more than "
        f"{tolerance:.3g} from {slope:.3g}",
    )


def check_upper_bound(
    measured: float,
    bound: float,
    *,
    claim: str,
    rtol: float = 0.0,
) -> Verdict:
    """Verdict for "measured <= bound" (a theorem's upper bound), allowing relative slack rtol.

    Inconclusive when either number is not finite (a vacuous or missing bound).
    Raises ValueError for a negative rtol.
    """
    if rtol < 0:
        raise ValueError(f"rtol must be >= 0, got {rtol}")
    if not (math.isfinite(measured) and math.isfinite(bound)):
        return Verdict(claim, "inconclusive", measured, bound, "measured or bound is not finite")
    if measured <= bound + rtol * abs(bound):
        return Verdict(claim, "consistent", measured, bound, f"{measured:.4g} <= bound {bound:.4g}")
    return Verdict(claim, "inconsistent", measured, bound, f"{measured:.4g} > bound {bound:.4g}")


def check_lower_bound(
    measured: float,
    bound: float,
    *,
    claim: str,
    rtol: float = 0.0,
) -> Verdict:
    """Verdict for "measured >= bound" (a theorem's lower bound), allowing relative slack rtol.

    Inconclusive when either number is not finite. Raises ValueError for a negative rtol.
    """
    if rtol < 0:
        raise ValueError(f"rtol must be >= 0, got {rtol}")
    if not (math.isfinite(measured) and math.isfinite(bound)):
        return Verdict(claim, "inconclusive", measured, bound, "measured or bound is not finite")
    if measured >= bound - rtol * abs(bound):
        return Verdict(claim, "consistent", measured, bound, f"{measured:.4g} >= bound {bound:.4g}")
    return Verdict(claim, "inconsistent", measured, bound, f"{measured:.4g} < bound {bound:.4g}")
