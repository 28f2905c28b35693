"""Multiclass adversarial training with the greedy reflected loss, and where greedy fails.

Paper 004, section 4.3 and Table 2. With K classes the reflected loss has to pick a wrong class;
the paper's greedy choice targets the most likely wrong class j* (R-PGD maximizes
log softmax(f(x + delta))_{j*}) and reports that adversarial training with R-PGD instead of PGD
"does not significantly impact the standard/robust generalization performance" (Table 2:
PreActResNet on CIFAR-10, training attack sizes nu in {2, 4, 8, 16}/255 and steps in
{2, 4, 16, 32}, robust accuracy RA against 50-step PGD with 10 restarts at nu = 8/255, and
standard accuracy SA). CIFAR-10 is not available here: we run the same protocol on
Fashion-MNIST and MNIST with a fully connected two-layer ReLU net (both layers trained, nn.Linear
initialization), SGD with weight decay 5e-4, batch 128, a triangular learning rate 0 -> 0.2 -> 0
over the epochs (piecewise constant per epoch) and no momentum (robustlab's learners are plain
SGD); linf PGD in training with a random start and step 2.5 nu / steps, images kept in [0, 1].

The paper also shows that the greedy choice is not optimal: for f(x) = W x with
W = [2 e1, e1, 10 e2], x = [1, 0] (class 1) and ||delta||_2 <= 0.3, class 2 can never overtake
class 1 (max over the ball of f_2 - f_1 is -1 + 0.3 ||w2 - w1|| = -0.7), so greedy R-PGD, which
targets class 2, fails, while targeting class 3 flips the label (-2 + 0.3 ||w3 - w1|| = 1.06 > 0;
e.g. delta = [0, 0.3] gives logits [2, 1, 3]). One extra cell checks this with the library's
attacks against the closed form.
"""

# Layout: config.py (PAPER, FIGURE, VERSION, the paper's Table 2, PROTOCOL, Config, PRESETS,
# CAPTIONS), cells.py (cells, run_cell, the training cells, the counterexample), claims.py (theory,
# summarize), figures.py.
from __future__ import annotations

from robustlab.experiments.multiclass_reflected.cells import (
    cells,
    counterexample,
    run_cell,
    triangular,
)
from robustlab.experiments.multiclass_reflected.claims import summarize, theory
from robustlab.experiments.multiclass_reflected.config import (
    CAPTIONS,
    FIGURE,
    PAPER,
    PRESETS,
    PROTOCOL,
    VERSION,
    Config,
)
from robustlab.experiments.multiclass_reflected.figures import figures

__all__ = [
    "CAPTIONS",
    "FIGURE",
    "PAPER",
    "PRESETS",
    "PROTOCOL",
    "VERSION",
    "Config",
    "cells",
    "counterexample",
    "figures",
    "run_cell",
    "summarize",
    "theory",
    "triangular",
]
