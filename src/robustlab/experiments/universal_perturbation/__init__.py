"""Gradient flow picks non-robust nets: a universal delta = eta sum_i y_i x_i flips every point.

Paper 003 (slides on Vardi, Yehudai & Shamir 2022, main theorem and experiments). For n points on
sqrt(d) S^{d-1} with balanced labels (each class at least a fraction c) and
n <= (d + 1) / (3 (max_{i!=j} |<x_i, x_j>| + 1)), every KKT point of the max-margin problem
(eq. (14)) of a two-layer ReLU net f = sum_l a_l relu(w_l . x + b_l) (eq. (11)), where gradient
flow on the exponential loss converges in direction (eq. (13)), admits a universal perturbation
delta = eta sum_i y_i x_i with sign f(x_i - y_i delta) = -y_i for all i, of size
O(sqrt(d / (c^2 n))); with n ~ sqrt(d) / log d this is o(sqrt(d)), while robust nets needing
Omega(sqrt(d)) exist. The slides print the O(.) bound on |eta|; with ||sum_i y_i x_i|| ~ sqrt(n d)
that would give ||delta|| ~ d, not the o(sqrt(d)) they state next, so we read it, as the
corollary requires, as the bound on ||delta|| (eta = O(1 / (c n))). We train `networks` nets (the
slides average 5 per point), each on its own data set, in one batch, by gradient flow until
L <= 1e-30 (`robustlab.learners.gradient_flow` descends log L, so the threshold is met in float32
as well), find the smallest eta flipping all n points at once exactly, and record ||delta||
against d and n with sqrt(d) for scale, plus max |<x_i, x_j>| and whether each data set meets the
theorem's separation condition (at these sizes it mostly does not: the slides remark that the
condition is probably too pessimistic).

Two sweeps share the table: `regime = "fixed_n"` (every d x n of the grid) and
`regime = "theorem_n"` (n = max(2, round(theorem_n_coef sqrt(d) / ln d)) per d, the scaling under
which ||delta|| = o(sqrt(d))).
"""

# Layout: config.py (PAPER, FIGURE, VERSION, the exponents, PROTOCOL, Config, PRESETS, CAPTIONS),
# cells.py (cells, draw_data, run_cell, estimate_memory), theory.py (theorem_n, theory), claims.py
# (summarize), figures.py.
from __future__ import annotations

from robustlab.experiments.universal_perturbation.cells import (
    cells,
    draw_data,
    estimate_memory,
    run_cell,
)
from robustlab.experiments.universal_perturbation.claims import summarize
from robustlab.experiments.universal_perturbation.config import (
    CAPTIONS,
    FIGURE,
    PAPER,
    PRESETS,
    PROTOCOL,
    VERSION,
    Config,
)
from robustlab.experiments.universal_perturbation.figures import figures
from robustlab.experiments.universal_perturbation.theory import theorem_n, theory

__all__ = [
    "CAPTIONS",
    "FIGURE",
    "PAPER",
    "PRESETS",
    "PROTOCOL",
    "VERSION",
    "Config",
    "cells",
    "draw_data",
    "estimate_memory",
    "figures",
    "run_cell",
    "summarize",
    "theorem_n",
    "theory",
]
