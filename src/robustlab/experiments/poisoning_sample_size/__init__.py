"""Excess clean risk of a linear model against the sample size under l_{2,1} poisoning (paper 001).

Paper 001 (Wang, Mianjy & Arora, ICML 2021), Theorem 2.2 with Proposition 2.1: projected SGD on
n clean-label poisoned samples with overall budget S = sum_i ||delta_i|| = C sqrt(n) has excess
risk at most 5 D (G + B') / (2 sqrt n) + 2 D (alpha D R + L) S / n: O((1 + C) / sqrt n), which
decays with n for every fixed C but is trivial until C / sqrt(n) = S / n is O(1). Section 5 and
Figure 2: a linear model w* is trained on all of clean MNIST; linear models w_n are trained on
n in [500, 60000] poisoned samples for C in {50, 100, 200, 300, 400, 500}; the excess loss
F(w_n) - F(w*) and excess error L(w_n) - L(w*) shrink with n and grow with C, with "a phase
transition ... at C ~ 250 ~ sqrt(n)". Here F and L are the cross-entropy and the error on clean
test images (F(w*), the population optimum, is approximated by the test loss of w* trained on
the full clean training set), the poison is made against w* by projected gradient ascent on
the paper's negated loss, and the transition is located on the poisoning overhead
F(w_n^C) - F(w_n^0) (same samples, same retraining seeds, no poison): the exponent beta of the
critical C* ~ n^beta at which it stops decreasing with n is judged against the theorem's 1/2
(inconclusive when the grid cannot pin it), and the constant kappa of C* = kappa sqrt(n) is
reported without a verdict (the theorem has no constant; the paper says only "C ~ sqrt(n)").
"""

# Layout: config.py (PAPER, FIGURE, VERSION, PROTOCOL, Config, PRESETS, CAPTIONS), cells.py (cells,
# run_cell, estimate_memory), theory.py (theory, the paper's statements), claims.py (the overhead,
# the transition rule, SETTLE, summarize), figures.py.
from __future__ import annotations

from robustlab.experiments.poisoning_sample_size.cells import cells, estimate_memory, run_cell
from robustlab.experiments.poisoning_sample_size.claims import (
    SETTLE,
    summarize,
    transition_threshold,
)
from robustlab.experiments.poisoning_sample_size.config import (
    CAPTIONS,
    FIGURE,
    PAPER,
    PRESETS,
    PROTOCOL,
    VERSION,
    Config,
)
from robustlab.experiments.poisoning_sample_size.figures import figures
from robustlab.experiments.poisoning_sample_size.theory import theory

__all__ = [
    "CAPTIONS",
    "FIGURE",
    "PAPER",
    "PRESETS",
    "PROTOCOL",
    "SETTLE",
    "VERSION",
    "Config",
    "cells",
    "estimate_memory",
    "figures",
    "run_cell",
    "summarize",
    "theory",
    "transition_threshold",
]
