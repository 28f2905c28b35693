"""poisoning-sample-size: what Theorem 2.2 and the paper's Figure 2 predict."""

from __future__ import annotations

from typing import Any

from robustlab.experiments.poisoning_sample_size.config import Config
from robustlab.theory import poisoning as theory_poisoning

PAPER_FIGURE_2: dict[str, Any] = {
    "n_range": [500, 60000],
    "C": [50, 100, 200, 300, 400, 500],
    "transition": "phase transition in the convergence of the curves at C ~ 250 ~ sqrt(n)",
    "monotone": "excess loss and excess error smaller for larger n or smaller C",
    "values": "none stated in the text",
}
"""What paper 001 section 5 states about Figure 2."""

PAPER_KAPPA = 1.0
"""The paper's transition C ~ sqrt(n), read as a per-sample budget r = C / sqrt(n) ~ 1 (drawn)."""
KAPPA_NOTE = (
    "kappa (C* = kappa sqrt(n)) is reported without a verdict: Theorem 2.2 gives no constant, "
    "the paper says only 'C ~ 250 ~ sqrt(n)'"
)


def theory(config: Config) -> dict[str, Any]:
    """Theorem 2.2's rate, the predicted transition C* = sqrt(n) (n* = C^2), the paper's claims."""
    return {
        "rate_exponent": theory_poisoning.PSFO_RATE_EXPONENT,
        "transition_exponent_beta": 0.5,
        "kappa_note": KAPPA_NOTE,
        "critical_C": {str(n): theory_poisoning.critical_corruption_rate(n) for n in config.n},
        "critical_n": {str(c): c**2 for c in config.C if c > 0},
        "bound": "5 D (G + B') / (2 sqrt n) + 2 D (alpha D R + L) C / sqrt(n), T = n, "
        "alpha = 1/2, L = sqrt 2 (softmax cross-entropy)",
        "paper_figure_2": PAPER_FIGURE_2,
    }
