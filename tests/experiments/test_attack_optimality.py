"""attack-optimality: the quick preset end to end, its ordering of radii, and its verdicts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from robustlab.experiments import attack_optimality as experiment
from robustlab.experiments.base import ConfigError
from robustlab.experiments.registry import get_experiment

NAME = "attack-optimality"


@pytest.fixture(scope="module")
def quick(run_quick: Callable[..., dict[str, Any]], data_dir: Path) -> dict[str, Any]:
    return run_quick(NAME, data_dir=data_dir)


def test_one_row_per_network_and_point(quick: dict[str, Any]) -> None:
    config, table = quick["config"], quick["table"]
    cells = (len(config.random_dim) + len(config.lazy_dim)) * len(config.width)
    assert quick["result"].total == cells
    assert len(table) == cells * config.networks * config.points
    assert set(table["family"]) == {"random", "lazy"}
    assert sorted(table[table["family"] == "lazy"]["dim"].unique()) == sorted(config.lazy_dim)


def test_radii_are_ordered_on_every_point(quick: dict[str, Any]) -> None:
    table = quick["table"]
    solved = table[table["optimal"] & (table["exact"] > 0)]
    assert len(solved) >= 0.9 * len(table)
    assert (solved["certified"] <= solved["exact"] * (1 + 1e-9)).all()
    assert (solved["exact"] <= solved["step"] * (1 + experiment.SOUND_RTOL)).all()
    assert (solved["exact"] <= solved["pgd"] * (1 + experiment.SOUND_RTOL)).all()
    assert (solved["exact_lower"] <= solved["exact"]).all()
    np.testing.assert_allclose(solved["ratio_step"], solved["step"] / solved["exact"])


def test_summary_has_ratios_and_verdicts(quick: dict[str, Any]) -> None:
    summary = quick["summary"]
    for family in ("random", "lazy"):
        head = summary["headline"][family]
        assert head["median_ratio_step"] >= 1.0 - 1e-4
        assert head["median_ratio_pgd"] >= 1.0 - 1e-4
        assert 0.0 < head["median_ratio_certified"] <= 1.0
    claims = [v["claim"] for v in summary["verdicts"]]
    assert any("does not grow with d" in claim for claim in claims)
    soundness = [v for v in summary["verdicts"] if "certified <= exact" in v["claim"]]
    assert soundness and all(v["verdict"] == "consistent" for v in soundness)
    assert (quick["root"] / "figures" / "ratio_vs_dimension.png").is_file()


def _table(step_ratio: float, by_dim: dict[int, float]) -> pd.DataFrame:
    rows = []
    for d, factor in by_dim.items():
        for point in range(5):
            exact = 1.0 + 0.1 * point
            rows.append(
                {
                    "family": "random",
                    "dim": d,
                    "width": 8,
                    "optimal": True,
                    "exact": exact,
                    "exact_lower": exact,
                    "certified": 0.5 * exact,
                    "step": step_ratio * factor * exact,
                    "pgd": 1.1 * exact,
                    "ratio_step": step_ratio * factor,
                    "ratio_pgd": 1.1,
                    "ratio_certified": 0.5,
                    "solve_time": 0.1,
                    "solve_cpu": 0.1,
                }
            )
    return pd.DataFrame(rows)


def test_verdicts_can_fail() -> None:
    config = get_experiment(NAME).config("quick", {"family": ["random"]})
    growing = _table(1.0, {16: 1.0, 64: 2.0, 256: 4.0, 784: 7.0})
    verdicts = {v.claim: v.verdict for v in experiment.summarize(growing, config).verdicts}
    assert "inconsistent" in verdicts.values()
    flat = _table(1.2, {16: 1.0, 64: 1.03, 256: 0.98, 784: 1.01})
    verdicts = {v.claim: v.verdict for v in experiment.summarize(flat, config).verdicts}
    assert set(verdicts.values()) == {"consistent"}
    broken = flat.assign(certified=2.0 * flat["exact"])
    soundness = [v for v in experiment.summarize(broken, config).verdicts if "certified" in v.claim]
    assert soundness[0].verdict == "inconsistent"


def test_lazy_dims_must_be_mnist_sizes() -> None:
    with pytest.raises(ConfigError, match="lazy_dim"):
        get_experiment(NAME).config("quick", {"lazy_dim": [30]})


def test_a_tie_is_no_flip_for_pgd_as_for_the_solver() -> None:
    """f = relu(x1) - relu(x2) at x = (1, -1): every ReLU is off at distance 1 (f = 0, a tie),
    the sign flips strictly only from sqrt(2) on. Counting the tie, PGD undercuts the solver."""
    import torch

    from robustlab.attacks import minimal_perturbation
    from robustlab.models import TwoLayerNet
    from robustlab.verify import exact_minimal_perturbation

    W = torch.eye(2, dtype=torch.float64).unsqueeze(0)
    net = TwoLayerNet(W, torch.tensor([[1.0, -1.0]], dtype=torch.float64))
    x = torch.tensor([[1.0, -1.0]], dtype=torch.float64)
    y = torch.ones(1, dtype=torch.float64)
    exact = exact_minimal_perturbation(net, x, norm="l2")
    assert float(exact.radius[0, 0]) == pytest.approx(2**0.5, rel=1e-3)
    member = net.member(0)
    ties = minimal_perturbation(member, x, y, method="pgd", max_eps=3.0, iterations=12)
    assert float(ties.norms[0]) < 0.9 * float(exact.radius[0, 0])
    attack = experiment.strict_pgd(steps=30)
    strict = minimal_perturbation(
        member, x, y, method="pgd", max_eps=3.0, attack=attack, iterations=12
    )
    assert float(strict.norms[0]) >= float(exact.radius[0, 0]) * (1 - experiment.SOUND_RTOL)
