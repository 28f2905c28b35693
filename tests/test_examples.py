"""The README's examples run and print what the README says they print."""

from __future__ import annotations

import itertools
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


def test_own_model_example_on_a_cnn(data_dir: Path) -> None:
    """Issue 11: learners, attacks and poisoners on a plain CNN with batch norm, 10 classes."""
    out = _run_example("own_model.py", data_dir)
    clean = _number(r"clean test accuracy: ([0-9.]+)", out)
    assert clean > 0.85
    for loss in ("ce", "reflected"):
        found = re.search(rf"PGD-linf {loss} robust accuracy at eps \[.*\]: (.*)", out)
        assert found is not None, out
        curve = [float(v) for v in found.group(1).split(", ")]
        assert curve[0] == clean and all(a >= b for a, b in itertools.pairwise(curve))
        assert curve[-1] < 0.2
    assert _number(r"changes the class of ([0-9.]+)", out) > 0.95
    poisoned = re.search(r"after retraining ([0-9.]+) clean, ([0-9.]+) poisoned", out)
    assert poisoned is not None, out
    assert float(poisoned.group(2)) < float(poisoned.group(1))
    standard = _number(r"standard: .* robust accuracy at 0.1 ([0-9.]+)", out)
    assert _number(r"R-PGD-trained: .* robust accuracy at 0.1 ([0-9.]+)", out) > standard + 0.1
    # the same PGD in robustlab, torchattacks and Foolbox 3 (dev extras)
    cross = re.search(r"robustlab ([0-9.]+), torchattacks ([0-9.]+), Foolbox ([0-9.]+)", out)
    assert cross is not None, out
    ours, torchattacks, foolbox = (float(v) for v in cross.groups())
    assert abs(ours - torchattacks) <= 0.006 and abs(ours - foolbox) <= 0.006
