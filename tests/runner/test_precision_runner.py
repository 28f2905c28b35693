"""The config field `precision` (issue 10): default cells keep their keys; the runner applies
the precision to every learner a cell calls."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from robustlab.experiments import ConfigError, experiment_names, get_experiment
from robustlab.experiments.registry import load_experiment
from robustlab.runner.run import plan_cells, reproduce_command, run_experiment

TOY = "toy-sphere-norms"
TOY_QUICK_KEYS = [  # computed before the field existed (commit 3460321)
    "377d56b0de30b25e2ee43a6d", "4e8d539e04a4f17e37565722", "57f73c7cf5d450686261d8f6",
    "ffccd46c93fb7f326beeca1c", "5f3b5b2a173712cf51b52ee8", "36a197e6c6236c83b98f4760",
    "c96e499ae3f5c6508edae861", "e36f86984ec59db54d52908a", "99fa65c318a2fa05eb40f6d8",
    "21b098a64915b26905ba1d61", "1b17ac6f59f6686451f9d0bc", "66e9ac4f41812ed08437d17f",
]  # fmt: skip


def test_default_precision_keeps_the_keys_of_before() -> None:
    experiment = get_experiment(TOY)
    assert [key for key, _ in plan_cells(experiment, experiment.config("quick"))] == TOY_QUICK_KEYS


@pytest.mark.parametrize("name", experiment_names(include_hidden=True))
def test_every_experiment_default_cells_carry_no_precision(name: str) -> None:
    """float32 cells are those of before the field (no parameter, same keys, same dump);
    bf16-mixed cells all carry the parameter and get keys of their own."""
    experiment = get_experiment(name)
    default = experiment.config("quick")
    explicit = experiment.config("quick", {"precision": "float32"})
    low = experiment.config("quick", {"precision": "bf16-mixed"})
    assert "precision" not in default.model_dump()
    assert "precision" not in default.model_dump(mode="json")
    planned = plan_cells(experiment, default)
    assert all("precision" not in cell for _, cell in planned)
    assert [k for k, _ in plan_cells(experiment, explicit)] == [k for k, _ in planned]
    low_planned = plan_cells(experiment, low)
    assert all(cell["precision"] == "bf16-mixed" for _, cell in low_planned)
    assert not {k for k, _ in low_planned} & {k for k, _ in planned}
    assert len(low_planned) == len(planned)
    assert "--set precision=bf16-mixed" in reproduce_command(experiment, low, "quick")


def test_unknown_precision_is_a_config_error_naming_the_field() -> None:
    with pytest.raises(ConfigError, match=r"'precision'.*given 'bf16'"):
        get_experiment(TOY).config("quick", {"precision": "bf16"})


PROBE = '''"""A test experiment that records the learners' precision inside its cell."""
from typing import Any
from robustlab.experiments.base import Cell, CellContext, ExperimentConfig, Summary, grid
from robustlab.learners.precision import resolve_precision

PAPER, FIGURE, VERSION = "none", "none", 1


class Config(ExperimentConfig):
    width: list[int] = [1, 2]


PRESETS: dict[str, dict[str, Any]] = {"quick": {}, "paper": {}}


def cells(config: Config) -> list[Cell]:
    return grid(config, sweep=("width",))


def run_cell(cell: Cell, ctx: CellContext) -> list[dict[str, Any]]:
    return [{"seen": resolve_precision(None)}]


def theory(config: Config) -> dict[str, Any]:
    return {}


def summarize(table: Any, config: Config) -> Summary:
    return Summary(headline={})


def figures(table: Any, config: Config) -> dict[str, Any]:
    return {}
'''


def test_the_runner_sets_the_learners_precision_inside_each_cell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "precision_probe_experiment.py").write_text(PROBE)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        experiment = load_experiment("precision_probe_experiment", name="precision-probe")
        tables = {}
        for precision in ("float32", "bf16-mixed"):
            config = experiment.config("quick", {"precision": precision})
            result = run_experiment(experiment, config, out=tmp_path / precision, device="cpu")
            tables[precision] = pd.read_parquet(result.root / "results.parquet")
    finally:
        sys.modules.pop("precision_probe_experiment", None)
        load_experiment.cache_clear()
    assert list(tables["float32"]["seen"]) == ["float32", "float32"]
    assert "precision" not in tables["float32"].columns
    assert list(tables["bf16-mixed"]["seen"]) == ["bf16-mixed", "bf16-mixed"]
    assert list(tables["bf16-mixed"]["precision"]) == ["bf16-mixed", "bf16-mixed"]
