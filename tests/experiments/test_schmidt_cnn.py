"""schmidt-cnn (paper 003, Schmidt et al. slide): CNNs on MNIST, standard vs robust error vs n."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import special

from robustlab.experiments import schmidt_cnn as experiment
from robustlab.experiments.base import Cell, CellContext
from robustlab.experiments.registry import get_experiment

NAME = "schmidt-cnn"


def test_registered_with_presets_and_protocol() -> None:
    found = get_experiment(NAME)
    assert found.config("paper").eps == 0.3
    assert {row.setting for row in experiment.PROTOCOL} >= {"data", "robust training", "theory"}


def test_gaussian_curves_match_the_closed_form_at_large_n() -> None:
    """w = sum y_i x_i -> n theta*: the errors tend to Phi((eps ||theta||_1 - d) / (sigma
    sqrt d)) computed at w = theta*, and robust >= standard at every n."""
    curves = experiment.gaussian_curves([1, 4, 16, 10**6], eps=0.25, c1=1.0, d=784)
    assert all(r >= s for s, r in zip(curves["standard"], curves["robust"], strict=True))
    assert curves["robust"][0] > curves["robust"][1] > curves["robust"][2]
    sigma = 784**0.25
    limit = special.ndtr((0.25 * 784 - 784) / (sigma * 28))
    assert curves["robust"][-1] == pytest.approx(limit, abs=1e-4)


def _table(robust: list[float], standard: list[float], seeds: int = 3) -> pd.DataFrame:
    rows = []
    for seed in range(seeds):
        for n, r, s in zip([100, 1000, 10_000], robust, standard, strict=True):
            rows.append(
                {
                    "training": "adversarial",
                    "n_train": n,
                    "seed": seed,
                    "robust_error": r + 0.01 * seed * (1 + n // 1000),
                    "standard_error": s + 0.005 * seed,
                    "test_size": 2000,
                }
            )
    return pd.DataFrame(rows)


def test_verdicts_follow_the_table() -> None:
    config = experiment.Config()
    good = experiment.summarize(_table([0.6, 0.3, 0.1], [0.1, 0.05, 0.02]), config)
    assert [v.verdict for v in good.verdicts] == ["consistent", "consistent"]
    bad = experiment.summarize(_table([0.1, 0.3, 0.6], [0.08, 0.05, 0.02]), config)
    assert [v.verdict for v in bad.verdicts] == ["inconsistent", "inconsistent"]
    single = experiment.summarize(_table([0.6, 0.3, 0.1], [0.1, 0.05, 0.02], seeds=1), config)
    assert single.verdicts[0].verdict == "inconclusive"  # 3 points cannot reach p < 0.05
    # one seed is one pair: no paired test (before the claims were declarative, a single seed
    # was judged against a binomial test-set noise; the paired test needs >= 2 seeds)
    assert single.verdicts[1].verdict == "inconclusive"
    assert "1 paired comparison" in single.verdicts[1].reason
    assert (
        good.headline["gaussian_model_n_for_1pct_robust_error"]
        > (good.headline["gaussian_model_n_for_1pct_standard_error"])
    )


def test_run_cell_reports_errors_for_a_tiny_cell(data_dir: Path) -> None:
    config = experiment.Config(
        n_train=[64, 128], steps=3, train_attack_steps=1, test_attack_steps=2, test_points=40
    )
    cell = experiment.cells(config)[1]
    assert cell["training"] == "adversarial"
    rows = experiment.run_cell(Cell(cell.to_dict()), CellContext(data_dir=data_dir))
    assert len(rows) == 1
    row = rows[0]
    assert 0 <= row["standard_error"] <= row["robust_error"] <= 1
    assert row["test_size"] == 40


@pytest.mark.slow
def test_quick_preset_writes_summary_and_figure(
    data_dir: Path, run_quick: Callable[..., dict[str, Any]]
) -> None:
    quick = run_quick(NAME, data_dir=data_dir)
    table = quick["table"]
    assert len(table) == 3 * 2
    assert (table["robust_error"] >= table["standard_error"]).all()
    assert (quick["root"] / "figures" / "errors_vs_n.png").stat().st_size > 0
    assert np.isfinite(table["train_error"]).all()
