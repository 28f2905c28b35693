"""The memory preflight of random-net-single-step is an upper bound of measured peaks (issue 13).

Peaks are the resident-set high-water mark (VmHWM, reset through /proc/self/clear_refs) of one
cell run in a fresh process, above the resident set just before it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from robustlab.experiments import get_experiment

NAME = "random-net-single-step"
GIB = 2**30

MEASURE = """
import json, sys
from pathlib import Path
import torch
from robustlab.experiments import get_experiment
from robustlab.experiments.base import CellContext

def status(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)

torch.set_num_threads(1)
experiment = get_experiment("random-net-single-step")
config = experiment.config("quick", json.loads(sys.argv[1]))
cell = experiment.cells(config)[0]
Path("/proc/self/clear_refs").write_text("5")
before = status("VmRSS")
experiment.run_cell(cell, CellContext())
peak = status("VmHWM") - before
print(json.dumps({"peak": peak, "estimate": experiment.estimate_memory(config)}))
"""


def _estimate(**overrides: object) -> int:
    experiment = get_experiment(NAME)
    assert experiment.estimate_memory is not None
    return int(experiment.estimate_memory(experiment.config("quick", overrides)))


@pytest.mark.parametrize(
    ("activation", "measured_gib"), [("relu", 2.5), ("tanh", 9.47), ("softplus", 9.47)]
)
def test_the_estimate_bounds_the_peaks_measured_in_the_issue(
    activation: str, measured_gib: float
) -> None:
    """dim=[256] width=[32768] n_networks=20: peaks measured by the issue's author."""
    estimate = _estimate(dim=[256], width=[32768], n_networks=20, activation=[activation])
    assert estimate >= measured_gib * GIB


def test_float64_and_smooth_activations_raise_the_estimate() -> None:
    relu = _estimate(dim=[64], width=[2048], activation=["relu"])
    tanh = _estimate(dim=[64], width=[2048], activation=["tanh"])
    assert tanh > relu
    assert _estimate(dim=[64], width=[2048], activation=["tanh"], dtype="float64") > tanh


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("activation", ["relu", "tanh", "softplus"])
@pytest.mark.parametrize("width", [512, 2048])
def test_the_estimate_bounds_a_measured_peak(activation: str, width: int) -> None:
    settings = {
        "dim": [64],
        "width": [width],
        "activation": [activation],
        "n_inputs": 100,
        "n_networks": 10,
        "seeds": [0],
    }
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, json.dumps(settings)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["peak"] > 0
    assert result["estimate"] >= result["peak"], result
