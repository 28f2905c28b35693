"""Clean test accuracy against network width under data poisoning: the inverted U (paper 001).

Paper 001 (Wang, Mianjy & Arora, ICML 2021), Theorems 3.1-3.3 guarantee that SGD learns a
two-layer ReLU net robustly from poisoned data only when the width m lies between a lower and an
upper bound: regime A (clean-label, l_{2,1} budget S = C sqrt(n)), regime B (clean-label,
per-sample l2 budget B) and regime C (labels moved i -> i + 1 mod K with probability beta).
Section 5 and Figure 3 (MNIST panel) report that the clean test accuracy of nets trained on
poisoned data rises with the width, plateaus and then falls (an inverted U, widths 10 to 1e5,
C = 700, B = 2.5, beta = 0.3, 50 runs), while clean training improves monotonically.

The poison follows the authors' code (PROTOCOL below): projected stochastic gradient ascent on
the negated loss -CE(-f(x), y) against a clean-trained width-100 net, minibatches of 128 clamped
to the pixel box [0, 1] after every minibatch, the l_{2,1} (A) or per-sample l2 (B) projection
after every epoch. Nets train by minibatch SGD (batch 128, learning rate by 5-fold
cross-validation) for up to 1000 epochs with early stopping (patience 30) on a validation split
of the poisoned data. Two model families: the paper's own convolutional net (`PaperConvNet`,
width = size of its first fully connected layer; seeds batched as a `PaperConvEnsemble` with
`seed_block`) and the theorems' two-layer `ntk` nets (K = 10 outputs, unit-norm inputs as
section 3 assumes, budgets converted in proportion). For the ntk family the finite-width margin
of Assumption 1 is estimated from the data (certified bounds, robustlab.theory.margin), and the
theorems' width ranges are given at that margin instead of a hand-set gamma. Whether each
poisoned curve is non-monotone is decided by claims of robustlab.theory.claims (claims.py), not
by eye: a paired rise from the narrowest width to the peak and a paired fall from the peak to
the widest width (peak chosen on half of the seeds, tested on the other half with >= 6 seeds); a
missing fall refutes the paper only on a grid that reaches its widest width, 1e5.

Layout: config.py (Config, presets), protocol.py (the paper's statements, PROTOCOL), cells.py
(cells, run_cell, learning-rate search), training.py (SGD with early stopping), claims.py
(theory, summarize), figures.py.

Protocol (paper / authors' code / robustlab; deviations named in PROTOCOL):
- poison: negated-ce, SGA with minibatch 128, box [0, 1] per minibatch, projection per epoch,
  500 epochs, step 0.1 (A, raw gradient of the minibatch mean) / 0.5 (B, normalized); the
  quick preset cuts to 10 epochs with a larger regime A step (20), the reduced paper run of the
  final note to 20 epochs with step 2.5;
- training: SGD, up to 1000 epochs, patience 30 (ties count), best epoch restored; the
  learning rate by 5-fold cross-validation on the clean training data (`lr_selection`; quick:
  the fixed rate); one validation fold of five (the authors average five folds).
"""

from __future__ import annotations

from robustlab.experiments.poisoning_width.cells import (
    _images,
    _member,
    _poison_member,
    _select_lr,
    cells,
    estimate_memory,
    run_cell,
)
from robustlab.experiments.poisoning_width.claims import (
    _inverted_u_verdict,
    _margin_verdict,
    _monotone_verdict,
    _poison_effect_verdict,
    protocol_cuts,
    settle_texts,
    summarize,
    theory,
)
from robustlab.experiments.poisoning_width.config import (
    CAPTIONS,
    FIGURE,
    MEAN_PIXEL_NORM,
    PAPER,
    PRESETS,
    VERSION,
    Config,
)
from robustlab.experiments.poisoning_width.figures import figures
from robustlab.experiments.poisoning_width.protocol import PAPER_FIGURE_3, PROTOCOL
from robustlab.experiments.poisoning_width.training import _new_model, _Split, _Training

__all__ = [
    "CAPTIONS",
    "FIGURE",
    "MEAN_PIXEL_NORM",
    "PAPER",
    "PAPER_FIGURE_3",
    "PRESETS",
    "PROTOCOL",
    "VERSION",
    "Config",
    "_Split",
    "_Training",
    "_images",
    "_inverted_u_verdict",
    "_margin_verdict",
    "_member",
    "_monotone_verdict",
    "_new_model",
    "_poison_effect_verdict",
    "_poison_member",
    "_select_lr",
    "cells",
    "estimate_memory",
    "figures",
    "protocol_cuts",
    "run_cell",
    "settle_texts",
    "summarize",
    "theory",
]
