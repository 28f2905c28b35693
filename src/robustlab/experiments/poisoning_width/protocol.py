"""poisoning-width: what paper 001 states about Fig. 3 and the protocol table (paper, authors'
code, robustlab, deviations)."""

from __future__ import annotations

from typing import Any

from robustlab.experiments.base import ProtocolRow

PAPER_FIGURE_3: dict[str, Any] = {
    "C": 700.0,
    "B": 2.5,
    "beta": 0.3,
    "runs": 50,
    "widths": "10 to 100000",
    "batch_size": 128,
    "poisoner": "conv net of width 100 trained on clean data; SGA on the negated loss",
    "shape": "clean: accuracy increases monotonically with width; regimes A, B, C: it rises, "
    "plateaus and falls (inverted U); the text gives no accuracy values",
}
"""What paper 001 section 5 states about its Figure 3 (MNIST panel)."""


_CODE = "github.com/yunjuanwang/robust_learning_for_data_poisoning_attack"

PROTOCOL: tuple[ProtocolRow, ...] = (
    ProtocolRow(
        "data",
        "MNIST, 60000 training images (sec. 5); '5-fold cross validation' (Fig. 3 caption)",
        f"{_CODE} mnist_ntk.py: all 60000 images; StratifiedKFold(5, shuffle): five models per "
        "run, their test accuracies averaged",
        "paper: 60000 images (quick: 2000), one random 20% validation split (one fold of five)",
        "one fold instead of five: five times cheaper; the split is random, not stratified",
    ),
    ProtocolRow(
        "model",
        "conv(1,10,5)-pool-relu-conv(10,20,5)-pool-relu-fc(320,m)-relu-fc(m,10), PyTorch init",
        "the same (model_ntk)",
        "PaperConvNet (paper preset; seed_block batches seeds, 1 in the presets) and the theorems' "
        "two-layer ntk nets with fixed top layer (both presets; quick: ntk only)",
        "the ntk family is an addition (the theorems' setting); quick has no conv net for time; "
        "standard: ntk only; standard-conv: conv only (the paper's net)",
    ),
    ProtocolRow(
        "poisoner",
        "width-100 conv net trained on clean data by minibatch SGD, batch 128 (sec. 5)",
        "poison_attack.py loads a saved clean net (ntkconv100_baseline.pth)",
        "a width-100 net trained per seed on the clean split with the training protocol below",
        "",
    ),
    ProtocolRow(
        "poison loss",
        "negated loss: sign flipped on the prediction and the cross-entropy (sec. 5)",
        "-criterion(-pred, y), criterion = CrossEntropyLoss",
        "poison_loss = 'negated-ce' (options: 'negated' greedy reflected loss, 'ce')",
        "",
    ),
    ProtocolRow(
        "poison ascent",
        "stochastic gradient ascent steps, each followed by the projection (sec. 5)",
        "S2 = 500 epochs of random minibatches of 128 (drawn with replacement across batches); "
        "A: eps += 0.1 * grad of the batch-mean loss; B: eps += eta * grad / ||grad|| per "
        "sample (0.1 default, 0.5 for the released B poison); clamp to [0, 1] after every "
        "minibatch; l_{2,1} or per-sample l2 projection after every epoch",
        "poison_schedule = 'sga': the same with one random permutation per epoch; paper: 500 "
        "epochs, eta 0.1 (A) / 0.5 (B); quick: 10 epochs, eta 20 (A) / 0.5 (B); the earlier "
        "full-batch ascent without box stays as poison_schedule = 'pga', poison_box = false",
        "every sample is visited once per epoch (a permutation); quick cuts the epochs 50x for "
        "time and raises the regime A step so that the budget is still spent; standard-conv: "
        "50 epochs of step 1.0 (regime A), the same total step as the authors' 500 of 0.1",
    ),
    ProtocolRow(
        "budgets",
        "C = 700 (S = C sqrt(n)), B = 2.5, beta = 0.3 (Fig. 3)",
        "argparse defaults C = 500, B = 1; released poisons C = 800 / B = 3 (README)",
        "the paper's C, B, beta; subsamples keep the mean budget per sample (C sqrt(n / 60000)); "
        "the ntk family gets them divided by the mean pixel norm",
        "",
    ),
    ProtocolRow(
        "training",
        "vanilla SGD, batch 128, no momentum or weight decay; learning rate by 5-fold CV",
        "lr 0.1, T = 1000 epochs, stop after 30 epochs without val. accuracy >= best, restore "
        "the last best",
        "lr_selection = 'cv5' (paper): 5-fold CV per (seed, family, width) on the clean "
        "training data over lr_grid_conv / lr_grid_ntk, shared by every regime; max_epochs = "
        "1000, patience = 30, ties count; quick: fixed lr, 60 epochs, patience 8",
        "the paper does not name its grid (robustlab's includes the code's 0.1) nor whether "
        "the rate is chosen per seed (here: on each seed's own clean data); quick uses the "
        "fixed rate and cuts epochs for time; standard: a holdout search over {30, 100} "
        "capped at 5 epochs, then at most 25 epochs with patience 5; standard-conv: the "
        "authors' fixed rate 0.1 (no search), at most 20 epochs with patience 5",
    ),
    ProtocolRow(
        "runs",
        "50 runs per curve, mean and standard deviation",
        "N = 20 runs x 5 folds",
        "paper: 50 seeds; quick: 3; standard: 30; standard-conv: 8",
        "standard: 30 seeds, fewer than 50, for time (~22 min on a quiet 2-core machine); "
        "its other cuts: ntk nets only, 400 images at 7 x 7, a 10-epoch poison (regime A step "
        "20); standard-conv: 8 seeds, 3000 images, widths 10 to 1e5 with 3e4, regimes clean, "
        "A and C (B left out, for time; ~1.7 h here); each run's summary lists the cuts of its "
        "own config",
    ),
    ProtocolRow(
        "margin (Assumption 1)",
        "a margin gamma > 0 in the NTK feature space is assumed, not measured",
        "",
        "certified bounds on the finite-width margin of sec. 4 on margin_samples images (parity "
        "labels), and the theorems' width ranges at the lower bound",
        "the theorems are binary: MNIST's ten classes are reduced to even vs odd digits",
    ),
)
