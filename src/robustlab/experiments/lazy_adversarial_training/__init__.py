"""Adversarial training in the lazy ball stays non-robust beyond ||delta|| ~ 5/sqrt(d).

Paper 002, section 5.2 and Figure 4, with appendix Algorithm 1 (projected adversarial
training): two-layer ReLU nets f = (1/sqrt m) sum_s a_s relu(w_s . x) (a fixed, w_s0 ~ N(0, I))
are trained on unit-norm MNIST 0 vs 1 downsampled to d by PGD adversarial training (l2 PGD on
the logistic loss over the whole training set once per epoch, step 2.5 R / 100, 100 steps; weight
step 0.01 on the summed minibatch loss; projection onto B_{2,inf}(W0, V) after every step;
stop when the robust training accuracy stops increasing). Theorem 3.1 and Corollary 3.2 say
that every network in the lazy ball V = C0/sqrt(m) is flipped by a perturbation of size
O(1/sqrt d), so robust accuracy must collapse once ||delta|| exceeds c/sqrt(d) however it is
trained; the paper sees the drop at 5/sqrt(d) (left panel: m = 1000, V = 10/sqrt(1000)) and, at
d = 784 and ||delta|| = 0.2, a phase transition to robust networks once V exceeds about
25/sqrt(m) (right panel). We train one ensemble of runs per setting, evaluate PGD robust test
accuracy at all budgets in one batched call, measure the threshold as the budget (left) or the
radius (right) where the robust accuracy of networks trained at that setting crosses 50%, and
fit its log-log slope in d (predicted -1/2) and in m (predicted -1/2).

Every cell trains its own nets: the projection onto the lazy ball after every step (Algorithm 1)
changes the iterates once the ball's boundary is reached, so unlike the stopped SGD of
lazy-single-step (`robustlab.learners.lazy_path`) the run at a smaller V is not a prefix of the
run at a larger one, and the right panel keeps one training per V. Modules: `config`
(protocol, Config, presets), `cells` (training and attack), `claims` (theory, thresholds and
the claim list), `figures`.
"""

from robustlab.experiments.lazy_adversarial_training.cells import cells, estimate_memory, run_cell
from robustlab.experiments.lazy_adversarial_training.claims import (
    SETTLE,
    crossing,
    summarize,
    theory,
    thresholds,
)
from robustlab.experiments.lazy_adversarial_training.config import (
    CAPTIONS,
    CHUNK_ELEMENTS,
    FIGURE4_WIDTH_CONSTANT,
    PRESETS,
    PROTOCOL,
    THRESHOLD_LEVEL,
    Config,
    Panel,
)
from robustlab.experiments.lazy_adversarial_training.figures import figures
from robustlab.theory.lazy import lazy_radius

PAPER = "002"
FIGURE = "Fig. 4"
VERSION = 1

__all__ = [
    "CAPTIONS",
    "CHUNK_ELEMENTS",
    "FIGURE",
    "FIGURE4_WIDTH_CONSTANT",
    "PAPER",
    "PRESETS",
    "PROTOCOL",
    "SETTLE",
    "THRESHOLD_LEVEL",
    "VERSION",
    "Config",
    "Panel",
    "cells",
    "crossing",
    "estimate_memory",
    "figures",
    "lazy_radius",
    "run_cell",
    "summarize",
    "theory",
    "thresholds",
]
