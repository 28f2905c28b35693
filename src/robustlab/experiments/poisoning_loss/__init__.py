"""Negated loss vs cross-entropy for clean-label poisoning of a linear MNIST model (paper 001).

Paper 001 (Wang, Mianjy & Arora, ICML 2021), section 5 and Figure 1 (left column): a linear
model w* (10 classes, PyTorch initialization, minibatch SGD with batch 128) is trained on clean
MNIST; the training inputs are then poisoned against w* by projected gradient ascent under the
regime-A budget sum_i ||delta_i|| <= S = C sqrt(n) (labels intact, pixels kept in [0, 1]); a fresh
linear model trained on the poisoned set is scored on the clean test set. Maximizing the paper's
negated loss -CE(-f(x), y) ("flipping the sign on both the model prediction and the
cross-entropy loss"; -log(1 + e^z) for one logit) instead of the cross-entropy is claimed to give
the stronger attack (top row: lower clean test accuracy at each corruption rate C) because it
spreads the budget over all samples, while the cross-entropy "wastes" it on making a few samples
"more wrong" and leaves many virtually untouched (bottom row: histograms of ||delta_i||).
Theorem 2.2 with Proposition 2.1 ties the damage to S / n = C / sqrt(n), the average per-sample
perturbation. Training follows the authors' released script for this figure (advgenmnist.py:
lr 0.004, 100 epochs, its default C = 800); the grid of C values is not in the text (the figure
was lost in conversion), so ours spans 0 to 1200 around that default. The library's greedy
multiclass negated loss (paper 004) can be added as a third loss ("negated").
"""

# Layout: config.py (PAPER, FIGURE, VERSION, the paper's statements, PROTOCOL, Config, PRESETS,
# CAPTIONS), cells.py (cells, run_cell, estimate_memory), claims.py (theory, summarize),
# figures.py.
from __future__ import annotations

from robustlab.experiments.poisoning_loss.cells import cells, estimate_memory, run_cell
from robustlab.experiments.poisoning_loss.claims import summarize, theory
from robustlab.experiments.poisoning_loss.config import (
    CAPTIONS,
    FIGURE,
    PAPER,
    PRESETS,
    PROTOCOL,
    VERSION,
    Config,
)
from robustlab.experiments.poisoning_loss.figures import figures

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
