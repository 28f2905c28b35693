"""Plans: the time formula, shared work counted once, workers, the GPU estimate, caps."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pytest

from robustlab.experiments.registry import get_experiment
from robustlab.planning import (
    EFFICIENCY,
    STEP_SECONDS,
    CellCost,
    MachineRate,
    Shared,
    build_plan,
    plan_config,
)
from robustlab.planning.plan import (
    DEFAULT_GPU_FLOPS,
    GPU_EFFICIENCY,
    RUN_SECONDS,
    cell_seconds,
    gpu_seconds,
)


def _model(cell: Mapping[str, Any]) -> CellCost:
    return CellCost(
        flops={"dense": float(cell["flops"]), "elementwise": 1e9},
        peak_bytes=int(cell["flops"]),
        steps=10,
        fixed_seconds=0.5,
        at_most=bool(cell.get("capped", False)),
        shared=(Shared(f"ref-{cell['seed']}", 7e10, 4),),
    )


def test_cell_seconds_is_the_stated_formula(machine: MachineRate) -> None:
    cost = _model({"flops": 2e11, "seed": 0})
    expected = (
        2e11 / (machine.float32 * EFFICIENCY["dense"])
        + 1e9 / (machine.elementwise * EFFICIENCY["elementwise"])
        + 7e10 / (machine.float32 * EFFICIENCY["dense"])
        + 14 * STEP_SECONDS
        + 0.5
    )
    assert cell_seconds(cost, machine) == pytest.approx(expected)
    alone = cell_seconds(cost, machine, with_shared=False)
    assert alone == pytest.approx(
        expected - 7e10 / (machine.float32 * EFFICIENCY["dense"]) - 4 * STEP_SECONDS
    )


def test_shared_work_counts_once_in_the_total(machine: MachineRate) -> None:
    cells = [{"flops": 1e11, "seed": 0}, {"flops": 3e11, "seed": 0}, {"flops": 1e11, "seed": 1}]
    plan = build_plan("x", cells, _model, machine)
    assert plan.total_flops == pytest.approx(5e11 + 3e9 + 2 * 7e10)  # elementwise ops count 1
    assert plan.flops_by_kind() == pytest.approx({"dense": 5e11 + 1.4e11, "elementwise": 3e9})
    separately = sum(c.seconds for c in plan.cells)
    shared_once = separately - 1 * (
        7e10 / (machine.float32 * EFFICIENCY["dense"]) + 4 * STEP_SECONDS
    )
    assert plan.cpu_seconds == pytest.approx(shared_once)
    assert plan.peak_bytes == 3e11 and not plan.at_most
    assert plan.most_expensive() is plan.cells[1]
    assert plan.stats(lambda c: c.cost.total_flops) == pytest.approx((1.71e11, 1.71e11, 3.71e11))


def test_workers_divide_the_wall_time_but_never_below_the_longest_cell(
    machine: MachineRate,
) -> None:
    cells = [{"flops": 1e12, "seed": s} for s in range(4)]
    one = build_plan("x", cells, _model, machine, concurrency=1)
    four = build_plan("x", cells, _model, machine, concurrency=4)
    eight = build_plan("x", cells, _model, machine, concurrency=8)
    assert four.wall_seconds - RUN_SECONDS == pytest.approx((one.wall_seconds - RUN_SECONDS) / 4)
    longest = max(c.seconds for c in eight.cells)
    assert eight.wall_seconds == pytest.approx(longest + RUN_SECONDS)
    with pytest.raises(ValueError, match="concurrency must be >= 1, got 0"):
        build_plan("x", cells, _model, machine, concurrency=0)


def test_gpu_estimate_uses_the_stated_rate(machine: MachineRate) -> None:
    cost = CellCost(flops={"dense": 6.7e13}, peak_bytes=0, steps=0)
    assert gpu_seconds(cost, DEFAULT_GPU_FLOPS) == pytest.approx(1 / GPU_EFFICIENCY["dense"])
    plan = build_plan("x", [{"flops": 6.7e13, "seed": 0}], _model, machine)
    assert plan.gpu_wall_seconds == pytest.approx(
        sum(c.gpu_seconds for c in plan.cells) + RUN_SECONDS
    )
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="gpu_flops must be a finite number > 0"):
            gpu_seconds(cost, bad)


def test_at_most_when_any_cell_is_capped(machine: MachineRate) -> None:
    plan = build_plan("x", [{"flops": 1.0, "seed": 0, "capped": True}], _model, machine)
    assert plan.at_most


def test_bf16_precision_is_costed_at_the_bf16_rate(machine: MachineRate) -> None:
    """A cell with precision = "bf16-mixed" trains at the probed bfloat16 rate."""
    experiment = get_experiment("reflected-adversarial-training")
    cell = experiment.cells(experiment.config("quick", {}))[0].to_dict()
    from robustlab.planning import COST_MODELS

    plain = COST_MODELS[experiment.name](cell)
    mixed = COST_MODELS[experiment.name]({**cell, "precision": "bf16-mixed"})
    assert "dense-bf16" not in plain.flops and mixed.flops["dense-bf16"] > 0
    assert plain.total_flops == pytest.approx(mixed.total_flops)
    assert cell_seconds(mixed, machine) < cell_seconds(plain, machine)


def test_plan_grows_with_the_settings_that_drive_cost(machine: MachineRate) -> None:
    experiment = get_experiment("lazy-single-step")
    small = plan_config(experiment, experiment.config("quick", {}), machine=machine)
    wide = plan_config(experiment, experiment.config("quick", {"width": [4000]}), machine=machine)
    longer = plan_config(experiment, experiment.config("quick", {"max_epochs": 6}), machine=machine)
    assert wide.total_flops > 3.5 * small.total_flops
    assert longer.total_flops > 1.5 * small.total_flops
    assert small.at_most and len(small.cells) == 6
