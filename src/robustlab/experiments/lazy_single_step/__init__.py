"""Nets trained in the lazy regime fall to one gradient step of size ||delta||/||x|| ~ d^-1/2.

Paper 002, Theorem 3.1 and Section 5.1 (Figs. 2, 3), Appendix A (Figs. 5, 6, 7): a two-layer
ReLU net f(x) = (1/sqrt m) sum_s a_s relu(w_s . x), w_s0 ~ N(0, I_d), a_s ~ unif{-1, +1} fixed
(Definition 2.1, `TwoLayerNet.ntk`), is trained on MNIST 0 vs 1 downsampled to d pixels by SGD
(minibatch 64, learning rate 0.1, logistic loss) that stops at the last iterate inside the lazy
ball B_{2,inf}(W0, C0/sqrt m). For every test point x the smallest step eta with
sign(eta) = -sign f(x) such that delta = eta grad_x f(x) flips the sign of f is found exactly
(`minimal_gradient_step`). The theorem predicts ||grad_x f|| ~ d^{1/2} (Lemma 4.2), a step
|eta| ~ 1/d and a perturbation ||delta|| ~ d^{-1/2} for ||x|| = 1. For a bias-free ReLU net
||delta|| / ||x|| and ||grad f|| do not change when x is rescaled while eta scales with ||x||, so
the scale-free predictions, checked on raw pixels in [0, 1] (Figs. 2, 3) and on unit-norm inputs
(Figs. 5, 6) alike, are slopes -1/2, +1/2 and -1 in d for ||delta||/||x||, ||grad f|| and
|eta|/||x|| (`theory.lazy.LAZY_SCALINGS`). Fig. 3 adds that all three grow with C0. The
protocol table (PROTOCOL) names the choices the paper leaves open: the downsampling (area
averaging in the presets; ``downsample="bilinear"`` resizes as the authors' code), the hidden
bias of the section 5.1 nets (``hidden_bias``; off in the presets, as Section 2's theory), the
number of epochs (training ends at the ball's boundary or after ``max_epochs`` passes, and each
row says which, ``reached_boundary``), and the slope tolerance (by default the measured
seed-to-seed spread of the slope, not a fixed number).

SGD stopped at the ball of a smaller C0 is a prefix of the run stopped at a larger one, so each
cell trains its nets once for every C0 (`robustlab.learners.lazy_path`) and attacks the iterate
recorded at each. Modules: `config` (protocol, Config, presets), `cells` (training and attack),
`claims` (theory and the claim list), `figures`.
"""

from robustlab.experiments.lazy_single_step.cells import (
    cells,
    estimate_memory,
    group_size,
    run_cell,
)
from robustlab.experiments.lazy_single_step.claims import (
    PAPER_FIG7_PERTURBATION,
    PAPER_MAX_TEST_ERROR,
    SETTLE,
    claim_list,
    summarize,
    theory,
)
from robustlab.experiments.lazy_single_step.config import (
    CAPTIONS,
    PRESETS,
    PROTOCOL,
    Config,
    Normalization,
)
from robustlab.experiments.lazy_single_step.figures import figures

PAPER = "002"
FIGURE = "Figs. 2, 3, 5, 6, 7"
VERSION = 2  # 2: one cell per (normalization, d, m, seed) for all C0 (lazy_path)

__all__ = [
    "CAPTIONS",
    "FIGURE",
    "PAPER",
    "PAPER_FIG7_PERTURBATION",
    "PAPER_MAX_TEST_ERROR",
    "PRESETS",
    "PROTOCOL",
    "SETTLE",
    "VERSION",
    "Config",
    "Normalization",
    "cells",
    "claim_list",
    "estimate_memory",
    "figures",
    "group_size",
    "run_cell",
    "summarize",
    "theory",
]
