"""Cost before work (issue 10 section 1): FLOPs, peak memory and estimated time of every cell.

``robustlab plan NAME`` and the estimate line of ``robustlab run`` use `plan_config`: the
experiment's cells, its cost model (`COST_MODELS`, one module per paper family), this machine's
probed rate (`machine_rate`, cached) and the calibrated efficiencies (`EFFICIENCY`).
"""

from __future__ import annotations

import os

from robustlab.experiments.base import Experiment, ExperimentConfig
from robustlab.planning.cost import KINDS, CellCost, Shared
from robustlab.planning.plan import (
    DEFAULT_GPU_FLOPS,
    EFFICIENCY,
    STEP_SECONDS,
    CellPlan,
    Plan,
    build_plan,
)
from robustlab.planning.probe import MachineRate, machine_rate
from robustlab.planning.registry import COST_MODELS, cost_model

__all__ = [
    "COST_MODELS",
    "DEFAULT_GPU_FLOPS",
    "EFFICIENCY",
    "KINDS",
    "STEP_SECONDS",
    "CellCost",
    "CellPlan",
    "MachineRate",
    "NoCostModelError",
    "Plan",
    "Shared",
    "build_plan",
    "cost_model",
    "machine_rate",
    "plan_config",
    "run_threads",
]


class NoCostModelError(LookupError):
    """An experiment without a cost model in `COST_MODELS`."""


def run_threads(backend: str) -> tuple[int, int]:
    """(torch threads per worker, workers) a run on `backend` uses by default: the local
    backend min(2, cores) threads in one process; process and ray one thread per core."""
    cores = os.cpu_count() or 1
    if backend == "local":
        return max(1, min(2, cores)), 1
    return 1, cores


def plan_config(
    experiment: Experiment,
    config: ExperimentConfig,
    *,
    backend: str = "local",
    workers: int | None = None,
    gpu_flops: float = DEFAULT_GPU_FLOPS,
    machine: MachineRate | None = None,
) -> Plan:
    """The plan of `config`'s cells; probes this machine (cached) unless `machine` is given.

    Raises NoCostModelError for an experiment without a cost model.
    """
    model = cost_model(experiment.name)
    if model is None:
        raise NoCostModelError(f"experiment {experiment.name!r} has no cost model")
    threads, default_workers = run_threads(backend)
    concurrency = 1 if backend == "local" else (workers or default_workers)
    rate = machine if machine is not None else machine_rate(threads)
    cells = [cell.to_dict() for cell in experiment.cells(config)]
    return build_plan(
        experiment.name, cells, model, rate, concurrency=concurrency, gpu_flops=gpu_flops
    )
