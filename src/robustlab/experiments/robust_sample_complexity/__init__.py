"""Robust learning needs more data: l_inf-robust vs standard error of w = sum_i y_i x_i vs n.

Paper 003 (slides on Schmidt et al. 2018). In the (theta*, sigma)-Gaussian model with
||theta*||_2 = sqrt(d) and sigma = c1 d^{1/4}, the linear classifier sgn(<w, x>) with w = y x
from a single sample has standard error <= 1%; w = sum_i y_i x_i has l_inf^eps-robust error
<= 1% once n >= c' eps^2 sqrt(d) (d^{-1/4}/4 <= eps <= 1/4; n = 1 below), and no learner gets
below (1 - 1/d)/2 from n <= c eps^2 sqrt(d) / log d samples (theta* ~ N(0, I), eq. (16)): the
robust sample complexity lies in the range of eq. (17). In the (theta*, tau)-Bernoulli model a
linear classifier keeps robust error >= 1/2 - gamma for n in O~(gamma^2 d) (eq. (18), informal)
while f o sgn, i.e. x -> sgn(<w, sgn(x)>) (thresholding each input coordinate, then the linear
classifier), is robust from a single sample. We measure the exact population errors of w learned
from n samples (closed form for the Gaussian model; an exact FFT for the Bernoulli model) against
n, for several eps and d, with the bounds drawn.

Settings. theta* ~ N(0, I_d) rescaled to ||theta*|| = sqrt(d) (both theorems' settings at once);
one theta* per cell, `replicates` training sets drawn from it in one batch. The Bernoulli model
is the library's parametrization, P(x_i = y theta*_i) = (1 + tau)/2 (the slides' 1/2 + tau is
our tau halved), tau = tau_coef d^{-1/4}, and its budgets are eps = ratio * tau. The thresholded
classifier: for eps < 1, |x'_i - x_i| <= eps keeps sgn(x'_i) = x_i on {-1, +1}^d, so its robust
error equals its standard error, which equals the linear classifier's (sgn(x) = x there).
Thresholding the weights instead (sgn(w)) would still be a linear classifier, which eq. (18)
covers, so it is not what the slides mean.
"""

# Layout: config.py (PAPER, FIGURE, VERSION, PROTOCOL, Config, PRESETS, CAPTIONS), cells.py (cells,
# run_cell, estimate_memory), theory.py (the bounds), claims.py (curves, summarize), figures.py.
from __future__ import annotations

from robustlab.experiments.robust_sample_complexity.cells import cells, estimate_memory, run_cell
from robustlab.experiments.robust_sample_complexity.claims import crossing, summarize
from robustlab.experiments.robust_sample_complexity.config import (
    CAPTIONS,
    FIGURE,
    PAPER,
    PRESETS,
    PROTOCOL,
    VERSION,
    Config,
)
from robustlab.experiments.robust_sample_complexity.figures import figures
from robustlab.experiments.robust_sample_complexity.theory import theory

__all__ = [
    "CAPTIONS",
    "FIGURE",
    "PAPER",
    "PRESETS",
    "PROTOCOL",
    "VERSION",
    "Config",
    "cells",
    "crossing",
    "estimate_memory",
    "figures",
    "run_cell",
    "summarize",
    "theory",
]
