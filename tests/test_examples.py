"""The README's examples run and print what the README says they print."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run_example(name: str, data_dir: Path) -> str:
    """Run examples/NAME in a fresh interpreter on the local data and return what it printed."""
    env = {**os.environ, "ROBUSTLAB_DATA": str(data_dir)}
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=300,
    ).stdout


def _number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    assert found is not None, f"{pattern!r} not in output:\n{text}"
    return float(found.group(1))


def test_quickstart_runs_on_mnist(data_dir: Path) -> None:
    out = _run_example("quickstart.py", data_dir)
    accuracy = _number(r"accuracy at init: ([0-9.]+)", out)
    assert 0.2 < accuracy < 0.8  # random nets: chance level on a balanced pair
    assert _number(r"input-gradient norm: ([0-9.]+)", out) > 0


def test_attack_example_runs_on_mnist(data_dir: Path) -> None:
    out = _run_example("attack.py", data_dir)
    # paper 002: one gradient step flips (almost) every prediction of a lazily trained net
    assert _number(r"flipped by one step: ([0-9.]+)", out) > 0.9
    assert "robust accuracy at eps" in out


def test_poison_example_negated_beats_ce(data_dir: Path) -> None:
    out = _run_example("poison.py", data_dir)
    negated = _number(r"negated: spent .* after retraining ([0-9.]+)", out)
    ce = _number(r"ce: spent .* after retraining ([0-9.]+)", out)
    assert negated < ce  # paper 001 Fig. 1 at this budget
