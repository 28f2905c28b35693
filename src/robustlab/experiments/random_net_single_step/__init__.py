"""One gradient step flips random two-layer nets: |eta| = O(1) and ||delta|| / ||x|| ~ d^-1/2.

Bubeck, Cherapanamjeri, Gidel & Tachet des Combes (2021), as presented in paper 003 (slides
"Setup", "Main Theorem", "Experiments"): for f(x) = (1/sqrt k) sum_l a_l sigma(w_l . x) with
w_l ~ N(0, I_d / d), a_l ~ unif{-1, +1} and x on sqrt(d) S^{d-1}, one step x + eta grad f(x)
with sign(eta) = -sign f(x) and |eta| = C3 sqrt(log(1/gamma)) ||grad f(x)||^-2 = O(1) flips the
sign with probability >= 1 - gamma, and ||eta grad f(x)|| <= C4 sqrt(log(1/gamma)) = O(1), i.e.
||delta|| / ||x|| = O(d^-1/2). The slides' experiment (100 random inputs x 100 networks, search
over |eta| <= 20) finds "|eta| approximately 1 almost always". For every (d, k, activation) we
draw the networks and inputs, find the exact smallest flipping step (ReLU: piecewise-linear ray,
exact; smooth activations: bracketing root finder) and compare the distribution of |eta| and of
||delta|| / ||x|| with the theorem's scalings (slopes 0 and -1/2 in d, none in k) and with the
large-width linearized limit median |eta| -> Phi^-1(3/4) sqrt(E sigma(g)^2) / E sigma'(g)^2.
"""

# Layout: config.py (PAPER, FIGURE, VERSION, the claims' constants, PROTOCOL, Config, PRESETS,
# CAPTIONS), cells.py (cells, run_cell, the minimal step search, estimate_memory), claims.py
# (theory, summarize), figures.py.
from __future__ import annotations

from robustlab.experiments.random_net_single_step.cells import cells, estimate_memory, run_cell
from robustlab.experiments.random_net_single_step.claims import summarize, theory
from robustlab.experiments.random_net_single_step.config import (
    CAPTIONS,
    FIGURE,
    PAPER,
    PRESETS,
    PROTOCOL,
    VERSION,
    Config,
)
from robustlab.experiments.random_net_single_step.figures import figures

__all__ = [
    "CAPTIONS",
    "FIGURE",
    "PAPER",
    "PRESETS",
    "PROTOCOL",
    "VERSION",
    "Config",
    "cells",
    "estimate_memory",
    "figures",
    "run_cell",
    "summarize",
    "theory",
]
