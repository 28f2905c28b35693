"""Agreement of measured runs with a paper's table: verdicts that can fail.

"Within 0.05 absolute" passes every small table entry by construction (an all-zero table
would pass them). The two checks here do not: a row agrees only if every entry is within a
*relative* tolerance, with a floor below which differences are not resolved; and the rank order
of the entries in a row is compared only on the pairs the paper separates clearly, each by a
paired test over the runs. Used by reflected-adversarial-training (paper 004 Table 1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
from scipy import stats

from robustlab.theory.fitting import Verdict, VerdictKind, require_positive

__all__ = ["paired_test", "rank_order_verdict", "relative_error", "row_agreement_verdict"]

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


def row_agreement_verdict(
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
    return Verdict(claim=claim, verdict=kind, measured=errors[worst], predicted=0.0, reason=why)


def rank_order_verdict(
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
    return Verdict(
        claim=claim, verdict=kind, measured=ordered / len(pairs), predicted=1.0, reason=why
    )
