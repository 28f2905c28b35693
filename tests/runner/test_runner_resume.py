"""A run killed with SIGKILL resumes to exactly the table of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from robustlab.experiments import get_experiment
from robustlab.runner import parse_assignments, resolve_config, run_experiment

TOY = "toy-sphere-norms"
SETTINGS = ["dim=[4,16,64]", "n_pairs=300", "seeds=2", "sleep_seconds=0.5"]


def _command(out: Path) -> list[str]:
    sets = [word for item in SETTINGS for word in ("--set", item)]
    return [sys.executable, "-m", "robustlab.cli", "run", TOY, "--out", str(out), *sets]


def _environment() -> dict[str, str]:
    return {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONUNBUFFERED": "1"}


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    return table.sort_values(["seed", "dim", "statistic"]).reset_index(drop=True)


def test_sigkill_loses_only_cells_in_flight_and_rerun_completes(tmp_path: Path) -> None:
    out = tmp_path / "killed"
    cells = out / TOY / "cells"
    log = (tmp_path / "first.log").open("w")
    process = subprocess.Popen(
        _command(out), stdout=log, stderr=subprocess.STDOUT, env=_environment()
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if cells.is_dir() and len(list(cells.glob("*.parquet"))) >= 2:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    log.close()
    finished = len(list(cells.glob("*.parquet")))
    assert 2 <= finished < 6, (tmp_path / "first.log").read_text()
    assert not (out / TOY / "results.parquet").exists()

    rerun = subprocess.run(
        _command(out), capture_output=True, text=True, env=_environment(), timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr
    assert f"6 cells ({6 - finished} run, {finished} already finished)" in rerun.stdout
    assert not list((out / TOY).rglob(".*.tmp-*"))

    # The uninterrupted reference, run in this process with the same settings.
    toy = get_experiment(TOY)
    config = resolve_config(toy, preset="quick", assignments=parse_assignments(SETTINGS))
    run_experiment(toy, config, out=tmp_path / "reference", device="cpu")
    resumed = pd.read_parquet(out / TOY / "results.parquet")
    reference = pd.read_parquet(tmp_path / "reference" / TOY / "results.parquet")
    assert len(resumed) == 12
    pd.testing.assert_frame_equal(_sorted(resumed), _sorted(reference), check_exact=True)
    pd.testing.assert_frame_equal(resumed, reference, check_exact=True)  # same order too
