"""Shared fixture: run an experiment's quick preset once and read back everything it wrote."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from robustlab.experiments import get_experiment
from robustlab.runner import run_experiment

QuickRun = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session")
def run_quick(tmp_path_factory: pytest.TempPathFactory) -> QuickRun:
    """`run_quick(name, data_dir=None)`: config, table, summary, output folder and RunResult."""

    def run(name: str, *, data_dir: Path | None = None) -> dict[str, Any]:
        experiment = get_experiment(name)
        config = experiment.config("quick")
        out = tmp_path_factory.mktemp(name.replace("-", "_"))
        result = run_experiment(
            experiment, config, out=out, preset="quick", device="cpu", data_dir=data_dir
        )
        root = out / name
        return {
            "config": config,
            "table": pd.read_parquet(root / "results.parquet"),
            "summary": json.loads((root / "summary.json").read_text()),
            "root": root,
            "result": result,
        }

    return run
