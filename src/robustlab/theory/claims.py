"""The claim kinds every experiment states its verdicts with: one home for the statistics.

Each function checks one kind of claim against measurements and returns a
`robustlab.theory.fitting.Verdict` ("consistent", "inconsistent" or "inconclusive", with the
numbers compared and a one-sentence reason), so an experiment's `summarize` is a list of claims:

- `exponent`: a log-log slope with its t confidence interval against a predicted exponent
  (equal to it, or at most / at least it); `exponent_of` for a fit already made; `contains`
  for a set-valued estimate (every exponent that fits equally well);
- `bound`: measured <= or >= a theorem's bound;
- `trend`: a monotone trend (Spearman's rank correlation, two-sided test, predicted sign);
- `paired_difference` / `two_sample_difference`: a mean difference below or above zero
  (t test), or equivalent to zero within a margin (95% interval inside +-margin);
- `fraction`: a share of successes at least a level;
- `within_factor`, `close_to`: one number against a reference (ratio within a factor; relative
  error with a floor, or the reference inside a measured interval);
- `paper_table`, `rank_order`: agreement with a paper's table (cell by cell, relative error
  with a floor; the order of the entries); `paper_row_over_runs` and `rank_order_over_runs`
  judge the same over repeated runs, a miss or a reversal counting only beyond the run-to-run
  noise (`relative_error`, `paired_test` are their pieces);
- `fact`: an exactly computed yes/no (a counterexample, a count);
- `every`: a claim that holds when each of its parts does (per C, per d, ...);
- `exponent_over_runs`: a slope pooled over runs, its tolerance the runs' own spread
  (`run_spread`: the t half-width of the mean of the per-run slopes).

A test is significant when its two-sided p value is below `alpha` and the effect has the
predicted sign; a significant effect of the other sign is "inconsistent", anything else
"inconclusive", with the reason ("only 1 pair", "CI wider than ...", "not significant").
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from itertools import combinations
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

from robustlab.theory.fitting import (
    SlopeFit,
    Verdict,
    VerdictKind,
    as_float64,
    check_lower_bound,
    check_upper_bound,
    compare_exponent,
    fit_loglog_slope,
    require_open_unit,
    require_positive,
)

__all__ = [
    "bound",
    "close_to",
    "contains",
    "every",
    "exponent",
    "exponent_of",
    "exponent_over_runs",
    "fact",
    "fraction",
    "inconclusive",
    "paired_difference",
    "paired_test",
    "paper_row_over_runs",
    "paper_table",
    "rank_order",
    "rank_order_over_runs",
    "rank_trend",
    "relative_error",
    "run_spread",
    "settle_each",
    "settled",
    "trend",
    "two_sample_difference",
    "within_factor",
]

Relation = Literal["=", "<=", ">="]
Sign = Literal["negative", "positive", "zero"]
Floats = npt.NDArray[np.float64]


def settled(verdict: Verdict, settle: str | None) -> Verdict:
    """`verdict` with `settle` (what would decide it: a preset or setting) when it is not
    consistent; a consistent verdict, or `settle=None`, comes back unchanged.

    The experiment that knows its presets says it, e.g.
    ``settled(v, "`--preset paper` (widths 1e3 to 1e5, 5 runs)")``; it replaces the claim
    function's generic text ("a grid with at least 3 distinct x values").
    """
    if settle is None or verdict.verdict == "consistent":
        return verdict
    return dataclasses.replace(verdict, settle=settle)


def settle_each(verdicts: Sequence[Verdict], texts: Mapping[str, str]) -> list[Verdict]:
    """Each verdict that is not consistent gets the text of the first key of `texts` its claim
    contains (an experiment's word on what would settle it: its paper preset, a setting);
    the others come back unchanged (keeping the claim function's generic text)."""
    out = []
    for verdict in verdicts:
        text = next((t for key, t in texts.items() if key in verdict.claim), None)
        out.append(settled(verdict, text))
    return out


def inconclusive(
    claim: str,
    reason: str,
    *,
    measured: float | None = None,
    predicted: float | None = None,
    settle: str | None = None,
) -> Verdict:
    """An inconclusive verdict: the evidence cannot decide, for the stated reason (and
    `settle`: what would)."""
    return Verdict(claim, "inconclusive", measured, predicted, reason, settle=settle)


def fact(
    claim: str,
    holds: bool,
    *,
    measured: float | None,
    predicted: float | None,
    reason: str,
    otherwise: Literal["inconsistent", "inconclusive"] = "inconsistent",
    settle: str | None = None,
    compared: Mapping[str, float] | None = None,
) -> Verdict:
    """An exactly computed claim (a count, a counterexample): consistent when `holds`.

    `otherwise` is the verdict when it does not hold ("inconclusive" when failing it does not
    contradict the theory, e.g. an optimizer that has not converged); `settle` says what would
    decide it then; `compared`: the numbers of a comparison by label ("agree", "of").
    """
    kind: VerdictKind = "consistent" if holds else otherwise
    pairs = tuple(compared.items()) if compared is not None else None
    verdict = Verdict(claim, kind, measured, predicted, reason, compared=pairs)
    return settled(verdict, settle)


def exponent_of(
    fit: SlopeFit,
    predicted: float,
    *,
    claim: str,
    tolerance: float,
    relation: Relation = "=",
    max_ci_width: float = 1.0,
    min_distinct_x: int = 3,
) -> Verdict:
    """A fitted log-log slope against `predicted`: equal to it ("="), or at most / at least it.

    "=": `robustlab.theory.fitting.compare_exponent` (predicted in the CI or within tolerance).
    "<=": consistent when the CI's upper end is <= predicted + tolerance, inconsistent when its
    lower end is above it; ">=" mirrors. Inconclusive with fewer than `min_distinct_x` distinct
    x, or ("=" only) a CI wider than `max_ci_width`. Raises ValueError for a negative tolerance.
    """
    if relation == "=":
        return compare_exponent(
            fit,
            predicted,
            tolerance=tolerance,
            claim=claim,
            max_ci_width=max_ci_width,
            min_distinct_x=min_distinct_x,
        )
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    slope = fit.slope
    interval = f"slope {slope:.3g}, {round(100 * fit.confidence)}% CI "
    interval += f"[{fit.ci_low:.3g}, {fit.ci_high:.3g}]"
    if fit.n_distinct_x < min_distinct_x:
        reason = f"only {fit.n_distinct_x} distinct x values (need {min_distinct_x})"
        more = f"a grid with at least {min_distinct_x} distinct x values"
        return inconclusive(claim, reason, measured=slope, predicted=predicted, settle=more)
    limit = predicted + tolerance if relation == "<=" else predicted - tolerance
    sure, refuted = (
        (fit.ci_high <= limit, fit.ci_low > limit)
        if relation == "<="
        else (fit.ci_low >= limit, fit.ci_high < limit)
    )
    kind: VerdictKind = "consistent" if sure else "inconsistent" if refuted else "inconclusive"
    where = {"consistent": "inside", "inconsistent": "outside", "inconclusive": "straddles"}
    reason = f"{interval} {where[kind]} slope {relation} {limit:.3g}"
    if kind == "inconclusive":
        reason = f"{interval} straddles {limit:.3g}: the grid cannot decide slope {relation} it"
        more = "more seeds per x or a wider x range, to narrow the slope's CI"
        return inconclusive(claim, reason, measured=slope, predicted=predicted, settle=more)
    return Verdict(claim, kind, slope, predicted, reason)


def exponent(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    predicted: float,
    *,
    claim: str,
    tolerance: float,
    relation: Relation = "=",
    max_ci_width: float = 1.0,
    min_distinct_x: int = 3,
) -> Verdict:
    """Fit y ~ x^p on the finite positive pairs and judge p with `exponent_of`.

    Inconclusive (with the reason) when no slope can be fitted: fewer than two usable points
    or distinct x. The verdict's `measured` is the slope (None when none was fitted).
    """
    try:
        fit = fit_loglog_slope(x, y, drop_invalid=True)
    except ValueError as err:
        more = "at least 3 distinct x values with finite positive y"
        return inconclusive(claim, str(err), predicted=predicted, settle=more)
    return exponent_of(
        fit,
        predicted,
        claim=claim,
        tolerance=tolerance,
        relation=relation,
        max_ci_width=max_ci_width,
        min_distinct_x=min_distinct_x,
    )


def contains(
    low: float,
    high: float,
    predicted: float,
    *,
    claim: str,
    max_width: float,
    detail: str = "",
) -> Verdict:
    """A set-valued estimate [low, high] (the exponents that fit equally well) against a
    predicted value: inconclusive when wider than `max_width` (the grid cannot pin it),
    consistent when it contains `predicted`, inconsistent otherwise. measured: the midpoint.
    Raises ValueError for low > high or a non-positive max_width.
    """
    require_positive("max_width", max_width)
    if not low <= high:
        raise ValueError(f"need low <= high, got [{low}, {high}]")
    middle = (low + high) / 2
    reason = f"{detail}estimate [{low:.3g}, {high:.3g}]"
    if high - low > max_width:
        reason += f" wider than {max_width:g}: the grid does not pin the exponent"
        more = "a finer or wider grid, so that fewer exponents fit equally well"
        return inconclusive(claim, reason, measured=middle, predicted=predicted, settle=more)
    holds = low - 1e-9 <= predicted <= high + 1e-9
    reason += f" {'contains' if holds else 'excludes'} {predicted:.3g}"
    return fact(claim, holds, measured=middle, predicted=predicted, reason=reason)


def bound(
    measured: float,
    limit: float,
    *,
    claim: str,
    relation: Literal["<=", ">="] = "<=",
    rtol: float = 0.0,
) -> Verdict:
    """A theorem's bound: measured <= limit (an upper bound) or >= limit, with relative slack.

    Inconclusive when either number is not finite (a vacuous or missing bound).
    """
    check = check_upper_bound if relation == "<=" else check_lower_bound
    return check(float(measured), float(limit), claim=claim, rtol=rtol)


def _significance(effect: float, p: float, expect: Sign, alpha: float) -> VerdictKind:
    """Consistent for a significant effect of the predicted sign, inconsistent for the other."""
    if expect == "zero" or not p < alpha or effect == 0:
        return "inconclusive"
    predicted_sign = -1.0 if expect == "negative" else 1.0
    return "consistent" if math.copysign(1.0, effect) == predicted_sign else "inconsistent"


def trend(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    claim: str,
    expect: Literal["increasing", "decreasing"],
    alpha: float = 0.05,
    min_levels: int = 3,
) -> Verdict:
    """y rises (or falls) with x: Spearman's rho, significant at `alpha` with the right sign.

    measured: rho; predicted: +1 or -1. Inconclusive with fewer than `min_levels` distinct x.
    Raises ValueError for mismatched lengths or alpha outside (0, 1).
    """

    def spearman(xs: Floats, ys: Floats, sign: float) -> tuple[float, VerdictKind, str]:
        result = stats.spearmanr(xs, ys)
        rho, p = float(result.statistic), float(result.pvalue)
        kind = _significance(rho, p, "positive" if sign > 0 else "negative", alpha)
        return rho, kind, f"Spearman rho = {rho:.3f} over {xs.size} points, two-sided p = {p:.2g}"

    return _rank_correlation(x, y, claim, expect, alpha, min_levels, spearman)


def _rank_correlation(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    claim: str,
    expect: Literal["increasing", "decreasing"],
    alpha: float,
    min_levels: int,
    test: Callable[[Floats, Floats, float], tuple[float, VerdictKind, str]],
) -> Verdict:
    """What `trend` and `rank_trend` share: the checks, the grid guard and the verdict; `test`
    gives (statistic, kind, reason) for x, y and the predicted sign."""
    require_open_unit("alpha", alpha)
    xs, ys = as_float64(x, name="x").reshape(-1), as_float64(y, name="y").reshape(-1)
    if xs.shape != ys.shape:
        raise ValueError(f"x and y must have the same length, got {xs.size} and {ys.size}")
    sign = 1.0 if expect == "increasing" else -1.0
    levels = int(np.unique(xs).size)
    if levels < min_levels:
        reason = f"only {levels} distinct x values (need {min_levels})"
        more = f"a grid with at least {min_levels} distinct x values"
        return inconclusive(claim, reason, predicted=sign, settle=more)
    statistic, kind, reason = test(xs, ys, sign)
    if not math.isfinite(statistic):
        return inconclusive(claim, "y does not vary: no rank correlation", predicted=sign)
    if kind == "inconclusive":
        reason += f": not significant at {alpha:g}"
        more = "more seeds per x value (or more x values), for significance"
        return inconclusive(claim, reason, measured=statistic, predicted=sign, settle=more)
    return Verdict(claim, kind, statistic, sign, reason)


def _mean_test(diff: npt.NDArray[np.float64], alpha: float) -> tuple[float, float, float, float]:
    """Mean, (1 - alpha) t interval and two-sided p of a one-sample t test against 0.

    Values that do not vary give a zero-width interval and p = 0 (a certain nonzero mean) or
    p = 1 (all zero).
    """
    mean = float(diff.mean())
    spread = float(diff.std(ddof=1))
    if spread == 0.0:
        return mean, mean, mean, 1.0 if mean == 0 else 0.0
    half = float(stats.t.ppf(1 - alpha / 2, diff.size - 1)) * spread / math.sqrt(diff.size)
    p = float(stats.ttest_1samp(diff, 0.0).pvalue)
    return mean, mean - half, mean + half, p


def paired_difference(
    diff: npt.ArrayLike,
    *,
    claim: str,
    expect: Sign,
    alpha: float = 0.05,
    margin: float = 0.0,
) -> Verdict:
    """Paired differences (treatment minus control) below zero, above zero, or about zero.

    "negative"/"positive": a t test, significant with the predicted sign. "zero": equivalence,
    consistent when the (1 - alpha) interval lies in [-margin, margin], inconsistent when the
    mean is significant and larger than the margin. measured: the mean; predicted: 0.
    Inconclusive with fewer than two pairs. Raises ValueError for a bad alpha or margin.
    """
    require_open_unit("alpha", alpha)
    if expect == "zero":
        require_positive("margin", margin)
    values = as_float64(diff, name="diff").reshape(-1)
    values = values[np.isfinite(values)]
    if values.size < 2:
        mean = float(values.mean()) if values.size else None
        reason = f"only {values.size} paired comparison(s)"
        more = "at least 2 paired runs (more seeds)"
        return inconclusive(claim, reason, measured=mean, predicted=0.0, settle=more)
    mean, low, high, p = _mean_test(values, alpha)
    interval = f"{1 - alpha:.0%} CI [{low:+.4g}, {high:+.4g}] over {values.size} pairs, p = {p:.2g}"
    if expect != "zero":
        kind = _significance(mean, p, expect, alpha)
        why = f"mean difference {mean:+.4g}" + (": not significant" if p >= alpha else "")
        noisy = f"more paired runs (now {values.size}), to narrow the CI" if p >= alpha else None
        return settled(Verdict(claim, kind, mean, 0.0, f"{why}; {interval}"), noisy)
    if -margin <= low and high <= margin:
        kind, why = "consistent", f"mean difference {mean:+.4g} within +-{margin:g}"
    elif p < alpha and abs(mean) > margin:
        kind, why = (
            "inconsistent",
            f"mean difference {mean:+.4g} is significant and beyond the margin",
        )
    else:
        kind, why = "inconclusive", f"mean difference {mean:+.4g} not pinned down to +-{margin:g}"
    verdict = Verdict(claim, kind, mean, 0.0, f"{why}; {interval}")
    more = f"more paired runs (now {values.size}), to narrow the CI inside +-{margin:g}"
    return settled(verdict, more if kind == "inconclusive" else None)


def two_sample_difference(
    control: npt.ArrayLike,
    treatment: npt.ArrayLike,
    *,
    claim: str,
    expect: Literal["negative", "positive"],
    alpha: float = 0.05,
) -> Verdict:
    """mean(treatment) - mean(control) below (or above) zero: Welch's t test, unpaired.

    measured: the difference of the means; predicted: 0. Inconclusive with fewer than two
    values on a side. Samples that do not vary count as certain (p = 0 when the means differ).
    """
    require_open_unit("alpha", alpha)
    a = as_float64(control, name="control").reshape(-1)
    b = as_float64(treatment, name="treatment").reshape(-1)
    if a.size < 2 or b.size < 2:
        reason = f"{a.size} and {b.size} values (need 2 on each side)"
        return inconclusive(claim, reason, predicted=0.0, settle="at least 2 runs on each side")
    diff = float(b.mean() - a.mean())
    if float(a.std()) == 0.0 and float(b.std()) == 0.0:
        p = 1.0 if diff == 0 else 0.0
    else:
        p = float(stats.ttest_ind(b, a, equal_var=False).pvalue)
    kind = _significance(diff, p, expect, alpha)
    reason = f"{a.mean():.4g} -> {b.mean():.4g} (Welch p = {p:.2g})"
    more = f"more runs on each side (now {a.size} and {b.size})" if p >= alpha else None
    return settled(Verdict(claim, kind, diff, 0.0, reason), more)


def fraction(
    hits: int,
    total: int,
    *,
    claim: str,
    at_least: float,
    fail_below: float | None = None,
    what: str = "cases",
) -> Verdict:
    """hits / total >= at_least; inconsistent below `fail_below` (default: at_least).

    Between the two the verdict is inconclusive (a share that neither meets nor refutes the
    claim). measured: the share; predicted: at_least. Raises ValueError for hits > total.
    """
    if not 0 <= hits <= total:
        raise ValueError(f"need 0 <= hits <= total, got hits={hits}, total={total}")
    if not 0.0 <= at_least <= 1.0:
        raise ValueError(f"at_least must be a share in [0, 1], got {at_least}")
    if total == 0:
        more = f"a setting that produces {what} to count"
        return inconclusive(claim, f"no {what} to count", predicted=at_least, settle=more)
    share = hits / total
    fail = at_least if fail_below is None else fail_below
    kind: VerdictKind = (
        "consistent" if share >= at_least else "inconsistent" if share < fail else "inconclusive"
    )
    reason = f"{hits} of {total} {what} (share {share:.4g})"
    counts = (("hits", float(hits)), ("of", float(total)))
    verdict = Verdict(claim, kind, share, at_least, reason, compared=counts)
    return settled(verdict, f"more {what} (now {total})" if kind == "inconclusive" else None)


def within_factor(
    measured: float | None, reference: float, factor: float, *, claim: str
) -> Verdict:
    """reference / factor <= measured <= reference * factor (both positive).

    Inconclusive when measured is None, not finite or not positive. Raises ValueError for a
    factor below 1 or a non-positive reference.
    """
    require_positive("reference", reference)
    if not factor >= 1:
        raise ValueError(f"factor must be >= 1, got {factor}")
    if measured is None or not (math.isfinite(measured) and measured > 0):
        return inconclusive(
            claim, f"no positive finite measurement ({measured})", predicted=reference
        )
    ratio = measured / reference
    inside = 1 / factor <= ratio <= factor
    reason = f"{measured:.4g} is {ratio:.3g} x the reference {reference:.4g} "
    reason += f"(allowed: within a factor {factor:g})"
    return fact(claim, inside, measured=measured, predicted=reference, reason=reason)


def close_to(
    measured: float,
    reference: float,
    *,
    claim: str,
    rtol: float,
    floor: float = 0.0,
    interval: tuple[float, float] | None = None,
) -> Verdict:
    """|measured - reference| <= rtol * max(|reference|, floor), or reference inside `interval`.

    The floor keeps a tiny reference (a paper's 0.3%) from demanding an absurd precision;
    `interval` is the measurement's own uncertainty (a bootstrap or confidence interval).
    Inconclusive when a number is not finite.
    """
    if rtol < 0 or floor < 0:
        raise ValueError(f"rtol and floor must be >= 0, got rtol={rtol}, floor={floor}")
    if not (math.isfinite(measured) and math.isfinite(reference)):
        return inconclusive(claim, "measured or reference not finite", measured=measured)
    scale = max(abs(reference), floor)
    error = abs(measured - reference)
    relative = error / scale if scale > 0 else (0.0 if error == 0 else math.inf)
    covered = interval is not None and interval[0] <= reference <= interval[1]
    reason = f"{measured:.4g} vs {reference:.4g}: relative error {relative:.2g} (allowed {rtol:g}"
    reason += f" of max(|reference|, {floor:g}))" if floor else ")"
    if interval is not None:
        reason += f"; measured interval [{interval[0]:.4g}, {interval[1]:.4g}]"
    holds = relative <= rtol or covered
    return fact(claim, holds, measured=measured, predicted=reference, reason=reason)


def paper_table(
    measured: Mapping[str, float],
    paper: Mapping[str, float],
    *,
    claim: str,
    rtol: float,
    floor: float,
    at_least: float = 1.0,
) -> Verdict:
    """A paper's table reproduced: at least the share `at_least` of its cells (default every one)
    within relative error rtol, on the scale max(|paper|, floor).

    Only the cells in both tables are compared. measured: cells that agree; predicted: cells
    compared. Inconclusive when no cell is shared. The floor must be positive (a paper's 0 has no
    relative error); a measurement within rtol * floor of a paper value always agrees, so choose
    the floor below the values that carry information.
    """
    require_positive("floor", floor)
    if not 0.0 < at_least <= 1.0:
        raise ValueError(f"at_least must be a share in (0, 1], got {at_least}")
    keys = [key for key in paper if key in measured]
    if not keys:
        return inconclusive(claim, "no cell of the paper's table was measured")
    parts = [close_to(measured[k], paper[k], claim=k, rtol=rtol, floor=floor) for k in keys]
    missed = [
        f"{k}: {measured[k]:.4g} vs {paper[k]:.4g}"
        for k, v in zip(keys, parts, strict=True)
        if v.verdict != "consistent"
    ]
    agree = len(keys) - len(missed)
    reason = f"{agree} of {len(keys)} cells within {rtol:g} x max(|paper|, {floor:g})"
    reason += f" (need {at_least:.0%})" if at_least < 1 else ""
    reason += f"; missed {', '.join(missed)}" if missed else ""
    holds = agree >= at_least * len(keys) - 1e-9
    counts = {"agree": float(agree), "of": float(len(keys))}
    return fact(
        claim,
        holds,
        measured=float(agree),
        predicted=float(len(keys)),
        reason=reason,
        compared=counts,
    )


def rank_order(
    measured: Mapping[str, float],
    paper: Mapping[str, float],
    *,
    claim: str,
    tie: float = 0.0,
) -> Verdict:
    """The measured entries come in the paper's order: every pair the paper separates by more
    than `tie` is ordered the same way (measured ties count as disagreement).

    measured: pairs in the paper's order; predicted: pairs compared. Inconclusive when the
    paper separates no pair of shared entries.
    """
    keys = [key for key in paper if key in measured]
    pairs = [(a, b) for a, b in combinations(keys, 2) if abs(paper[a] - paper[b]) > tie]
    if not pairs:
        return inconclusive(claim, f"the paper orders no pair of the {len(keys)} shared entries")
    wrong = [
        f"{a} vs {b}"
        for a, b in pairs
        if np.sign(measured[a] - measured[b]) != np.sign(paper[a] - paper[b])
    ]
    agree = len(pairs) - len(wrong)
    reason = f"{agree} of {len(pairs)} pairs in the paper's order"
    reason += f"; reversed or tied: {', '.join(wrong)}" if wrong else ""
    counts = {"in order": float(agree), "of": float(len(pairs))}
    return fact(
        claim,
        not wrong,
        measured=float(agree),
        predicted=float(len(pairs)),
        reason=reason,
        compared=counts,
    )


def every(
    claim: str,
    parts: Sequence[Verdict],
    *,
    measured: float | None = None,
    predicted: float | None = None,
    empty: str = "nothing to judge",
    settle: str | None = None,
) -> Verdict:
    """A claim made of parts (one per C, per d, ...): consistent when every part is,
    inconsistent when any part is, inconclusive otherwise (or with no parts: `empty`).

    measured / predicted default to the consistent parts and the number of parts (also in
    ``compared``: "hold" of "parts"). The reason lists each part's claim and reason; `settle`
    defaults to the distinct settle texts of the parts that are not consistent.
    """
    if not parts:
        return inconclusive(claim, empty, measured=measured, predicted=predicted, settle=settle)
    kinds = [part.verdict for part in parts]
    kind: VerdictKind = (
        "inconsistent"
        if "inconsistent" in kinds
        else "consistent"
        if all(k == "consistent" for k in kinds)
        else "inconclusive"
    )
    hits = float(kinds.count("consistent"))
    reason = f"{int(hits)} of {len(parts)} hold: " + "; ".join(
        f"{part.claim}: {part.verdict} ({part.reason})" for part in parts
    )
    texts = [part.settle for part in parts if part.verdict != "consistent" and part.settle]
    verdict = Verdict(
        claim,
        kind,
        hits if measured is None else measured,
        float(len(parts)) if predicted is None else predicted,
        reason,
        compared=(("hold", hits), ("of", float(len(parts)))),
    )
    return settled(verdict, settle or "; ".join(dict.fromkeys(texts)) or None)


# ------------------------------------------------------------------ a paper's table over runs
# "Within 0.05 absolute" passes every small table entry by construction (an all-zero table would
# pass them). These do not: a row agrees only if every entry is within a *relative* tolerance,
# with a floor below which differences are not resolved, and misses count only beyond the
# run-to-run noise; the rank order of a row is compared only on the pairs the paper separates
# clearly, each by a paired test over the runs (paper 004 Table 1).

Runs = npt.NDArray[np.float64]


def relative_error(measured: float, paper: float, *, floor: float) -> float:
    """|measured - paper| / max(|paper|, floor): the relative error, floored for tiny entries.

    Raises ValueError for floor <= 0.
    """
    require_positive("floor", floor)
    return abs(measured - paper) / max(abs(paper), floor)


def paired_test(diff: Runs) -> tuple[float, float, float]:
    """Mean of paired differences and the one-sided t-test p-values for mean > 0 and mean < 0.

    Constant differences (to 1e-12; including a single run) get p = 0 in the direction of
    their sign and 1 otherwise: no spread, no doubt.
    """
    diff = np.asarray(diff, dtype=float)
    mean = float(diff.mean()) if diff.size else math.nan
    if diff.size < 2 or float(np.ptp(diff)) <= 1e-12 * max(1.0, abs(mean)):
        return mean, (0.0 if mean > 0 else 1.0), (0.0 if mean < 0 else 1.0)
    greater = float(stats.ttest_1samp(diff, 0.0, alternative="greater").pvalue)
    less = float(stats.ttest_1samp(diff, 0.0, alternative="less").pvalue)
    return mean, greater, less


def paper_row_over_runs(
    claim: str,
    runs: Mapping[str, Runs],
    paper: Mapping[str, float],
    *,
    floor: float,
    tolerance: float,
    spread: float = 2.0,
) -> Verdict:
    """Every entry's mean over the runs within `tolerance` relative error of the paper's.

    consistent: every entry agrees; inconsistent: some entry misses by more than the tolerance
    and its mean lies more than `spread` standard errors from the paper's value; inconclusive:
    the entries that miss are within the run-to-run noise (or fewer than 2 runs). measured is
    the largest relative error, predicted 0.
    """
    require_positive("tolerance", tolerance)
    errors: dict[str, float] = {}
    beyond_noise: list[str] = []
    for name, value in paper.items():
        values = np.asarray(runs[name], dtype=float)
        mean = float(values.mean())
        errors[name] = relative_error(mean, value, floor=floor)
        if errors[name] > tolerance:
            sem = (
                float(values.std(ddof=1) / math.sqrt(values.size)) if values.size > 1 else math.inf
            )
            if abs(mean - value) > spread * sem:
                beyond_noise.append(name)
    worst = max(errors, key=errors.__getitem__)
    missed = [name for name, error in errors.items() if error > tolerance]
    kind: VerdictKind
    if not missed:
        kind = "consistent"
        why = f"all {len(errors)} entries within {tolerance:.0%}"
    elif beyond_noise:
        kind = "inconsistent"
        why = f"{len(missed)} of {len(errors)} entries off by more than {tolerance:.0%}, "
        why += f"beyond {spread:g} standard errors: {', '.join(beyond_noise)}"
    else:
        kind = "inconclusive"
        why = f"{len(missed)} of {len(errors)} entries off by more than {tolerance:.0%} "
        why += f"({', '.join(missed)}), but within {spread:g} standard errors of the runs"
    mean = float(np.mean(runs[worst]))
    why += f"; worst {worst}: {mean:.4f} vs paper {paper[worst]:.4f} "
    why += f"(relative error {errors[worst]:.2f}, floor {floor:g})"
    verdict = Verdict(claim=claim, verdict=kind, measured=errors[worst], predicted=0.0, reason=why)
    more = f"more runs (now {np.asarray(runs[worst]).size}), to shrink the standard errors"
    return settled(verdict, more if kind == "inconclusive" else None)


def rank_order_over_runs(
    claim: str,
    runs: Mapping[str, Runs],
    paper: Mapping[str, float],
    *,
    gap: float,
    level: float,
) -> Verdict:
    """The paper's order of every pair of entries it separates by at least `gap`.

    `runs[name]` are paired (entry i of every array is the same run). For each such pair
    (high, low) the paired differences high - low over the runs are tested: consistent when
    every pair has mean > 0; inconsistent when some pair is reversed with one-sided p < `level`;
    inconclusive otherwise (a tie or a reversal within the noise, or no pair separated by
    `gap`). measured: the fraction of pairs in the paper's order, predicted 1.
    """
    require_positive("gap", gap)
    names = list(paper)
    pairs = [(high, low) for high in names for low in names if paper[high] - paper[low] >= gap]
    if not pairs:
        return Verdict(
            claim=claim,
            verdict="inconclusive",
            measured=None,
            predicted=1.0,
            reason=f"the paper separates no pair of entries by {gap:g} or more",
            settle=f"a gap below {gap:g}: the paper's table separates no pair by it",
        )
    ordered = 0
    reversed_: list[str] = []
    tied: list[str] = []
    for high, low in pairs:
        diff = np.asarray(runs[high], dtype=float) - np.asarray(runs[low], dtype=float)
        mean, _, p_less = paired_test(diff)
        if mean > 0:
            ordered += 1
        elif mean < 0 and p_less < level:
            reversed_.append(f"{low} > {high} (p = {p_less:.2g})")
        else:
            tied.append(f"{high} vs {low}")
    kind: VerdictKind
    why = f"{ordered} of {len(pairs)} pairs the paper separates by >= {gap:g} in its order"
    if ordered == len(pairs):
        kind = "consistent"
    elif reversed_:
        kind = "inconsistent"
        why += f"; reversed: {'; '.join(reversed_)}"
    else:
        kind = "inconclusive"
        why += f"; tied or reversed within the noise: {'; '.join(tied)}"
    verdict = Verdict(
        claim=claim,
        verdict=kind,
        measured=ordered / len(pairs),
        predicted=1.0,
        reason=why,
        compared=(("in order", float(ordered)), ("of", float(len(pairs)))),
    )
    more = "more paired runs, to separate the tied pairs from the noise"
    return settled(verdict, more if kind == "inconclusive" else None)


# ------------------------------------------------------------------ a trend from a few points
def rank_trend(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    claim: str,
    expect: Literal["increasing", "decreasing"],
    alpha: float = 0.05,
    min_levels: int = 3,
) -> Verdict:
    """y rises (or falls) with x, judged by Kendall's tau with its exact p-value when it has one.

    `trend` (Spearman) takes its p-value from a t approximation, which calls three points in
    order significant (p = 0); Kendall's exact test cannot go below 1/n! (3 points: 1/6), so a
    handful of points stays inconclusive. One-sided tests: consistent when tau has the
    predicted sign with p < alpha, inconsistent when it has the other sign with p < alpha
    (the p-value of the other side), else inconclusive. measured: tau; predicted: +1 or -1.
    Inconclusive with fewer than `min_levels` distinct x. Raises ValueError for mismatched
    lengths or alpha outside (0, 1).
    """

    def kendall(xs: Floats, ys: Floats, sign: float) -> tuple[float, VerdictKind, str]:
        greater = stats.kendalltau(xs, ys, alternative="greater")
        tau = float(greater.statistic)
        if not math.isfinite(tau):
            return tau, "inconclusive", ""
        p_up = float(greater.pvalue)
        p_down = float(stats.kendalltau(xs, ys, alternative="less").pvalue)
        p_right, p_wrong = (p_up, p_down) if sign > 0 else (p_down, p_up)
        kind: VerdictKind = (
            "consistent"
            if tau * sign > 0 and p_right < alpha
            else "inconsistent"
            if tau * sign < 0 and p_wrong < alpha
            else "inconclusive"
        )
        p = p_right if tau * sign > 0 else p_wrong
        return tau, kind, f"Kendall tau = {tau:.3f} over {xs.size} points, one-sided p = {p:.2g}"

    return _rank_correlation(x, y, claim, expect, alpha, min_levels, kendall)


# ------------------------------------------------------------------ an exponent over runs
def run_spread(
    x: npt.ArrayLike, y: npt.ArrayLike, runs: npt.ArrayLike, *, confidence: float = 0.95
) -> tuple[float, int, float]:
    """The seed-to-seed spread of a log-log slope: (half-width, runs, std of the slopes).

    Each run (equal labels in `runs`) gets its own slope of y in x; the half-width is the
    `confidence` t interval of their mean, t_{(1+c)/2, R-1} std / sqrt(R). A run whose slope
    cannot be fitted is left out; with fewer than 2 slopes there is no spread: (0, R, nan).
    """
    xs, ys = as_float64(x, name="x").reshape(-1), as_float64(y, name="y").reshape(-1)
    labels = np.asarray(runs).reshape(-1)
    if not xs.shape == ys.shape == labels.shape:
        raise ValueError(
            f"x, y, runs must have one length, got {xs.size}, {ys.size}, {labels.size}"
        )
    slopes = []
    for label in np.unique(labels):
        chosen = labels == label
        try:
            slopes.append(fit_loglog_slope(xs[chosen], ys[chosen], drop_invalid=True).slope)
        except ValueError:
            continue
    if len(slopes) < 2:
        return 0.0, len(slopes), math.nan
    values = np.asarray(slopes)
    std = float(values.std(ddof=1))
    t = float(stats.t.ppf((1 + confidence) / 2, df=values.size - 1))
    return t * std / math.sqrt(values.size), values.size, std


def exponent_over_runs(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    runs: npt.ArrayLike,
    predicted: float,
    *,
    claim: str,
    tolerance: float | None = None,
    min_distinct_x: int = 3,
) -> Verdict:
    """The slope of y in x pooled over runs against `predicted`, tolerance from the runs.

    As `exponent` ("="), with `tolerance` None taken from `run_spread` (the 95% half-width of
    the mean of the per-run slopes; 0 with one run, so only the fit's own CI counts) and
    named in the reason; a number is used as it is.
    """
    if tolerance is None:
        half, count, std = run_spread(x, y, runs)
        tolerance = half
        source = (
            f"{half:.3g} (95% half-width over {count} runs, slope std {std:.3g})"
            if count >= 2
            else f"0 ({count} run: no seed-to-seed spread to measure)"
        )
    else:
        source = f"{tolerance:.3g} (set)"
    verdict = exponent(
        x, y, predicted, claim=claim, tolerance=tolerance, min_distinct_x=min_distinct_x
    )
    if verdict.measured is None:
        return verdict
    return dataclasses.replace(verdict, reason=f"{verdict.reason}; tolerance {source}")
