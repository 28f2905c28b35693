"""A plan: every cell's cost, the totals, and the estimated wall time here and on a GPU.

Time of a cell = sum over kinds of FLOPs / (machine rate x EFFICIENCY[kind])
+ steps x STEP_SECONDS + fixed_seconds; a run adds RUN_SECONDS (summary and figures). The
efficiencies and the overheads are one calibration per kind of work, measured with
``benchmarks/planning.py`` (docs/benchmarks.md), not per experiment. The GPU estimate uses a
stated FLOP/s (`DEFAULT_GPU_FLOPS`) and stated, not measured, efficiencies: no GPU was
available to calibrate them.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from robustlab.planning.cost import KINDS, CellCost
from robustlab.planning.probe import MachineRate

__all__ = [
    "DEFAULT_GPU_FLOPS",
    "EFFICIENCY",
    "GPU_EFFICIENCY",
    "GPU_STEP_SECONDS",
    "RUN_SECONDS",
    "STEP_SECONDS",
    "CellPlan",
    "Plan",
    "build_plan",
    "cell_seconds",
    "gpu_seconds",
]

EFFICIENCY: Mapping[str, float] = {
    "dense": 0.7,
    "dense-bf16": 0.5,
    "conv": 0.15,
    "elementwise": 0.5,
}
"""Fraction of the probed rate each kind of work reaches in a run, calibrated on this machine
by ``benchmarks/planning.py calibrate`` (same process, CPU time, 2 threads): `sgd` on
TwoLayerNet reached 0.64 (E = 1, m = 1e3 and 1e4) and 0.88 (E = 8, m = 1e3) of the float32
probe; the conv net's training step 0.16 at m = 100 (convolutions dominate); a weight-sized
elementwise pass 0.48 of the elementwise probe. bfloat16 (0.5) is stated, not measured: no
bf16 training path existed when this was calibrated."""

STEP_SECONDS = 6.0e-4
"""Fixed overhead of one Python-level step (an SGD or attack step: dispatch, batch copies,
finiteness and lazy-ball checks, small kernels): 0.64 ms, fitted (non-negative least squares,
with `RUN_SECONDS`; a per-cell term came out 0) to the CPU time of seven quick presets beyond
their FLOP time, measured at load 15-23 on the shared 2-core machine; a bare tiny `sgd` step
measured 0.20 ms at load 11."""

RUN_SECONDS = 5.5
"""Fixed cost of one run beyond its cells (summary, figures, the first data loads and
imports): 5.6 s, from the same fit. It dominates the quick presets."""

DEFAULT_GPU_FLOPS = 6.7e13
"""An H100 / H200 SXM's float32 (non-tensor-core) peak, 67 TFLOP/s: PyTorch's default float32
matmul on such a GPU. bfloat16 products run on tensor cores at `GPU_BF16_FACTOR` times this."""

GPU_BF16_FACTOR = 14.8
"""bfloat16 dense tensor-core peak over float32 peak on H100 / H200 SXM (989 / 67 TFLOP/s)."""

GPU_EFFICIENCY: Mapping[str, float] = {
    "dense": 0.5,
    "dense-bf16": 0.3,
    "conv": 0.3,
    "elementwise": 0.01,
}
"""Stated, not measured (no GPU was available): the fraction of the GPU's float32 peak each
kind reaches; elementwise work is memory-bound (about 1% of peak FLOP/s)."""

GPU_STEP_SECONDS = 2.0e-4
"""Stated: one Python-level step on a GPU launches tens of kernels of about 5-10 us each."""


def _rate(machine: MachineRate, kind: str) -> float:
    if kind == "dense-bf16":
        return machine.bfloat16
    if kind == "elementwise":
        return machine.elementwise
    return machine.float32


def cell_seconds(cost: CellCost, machine: MachineRate, *, with_shared: bool = True) -> float:
    """Estimated seconds of one cell on `machine` (its shared work included by default)."""
    seconds = sum(f / (_rate(machine, k) * EFFICIENCY[k]) for k, f in cost.flops.items())
    steps = cost.steps
    if with_shared:
        seconds += sum(s.flops for s in cost.shared) / (machine.float32 * EFFICIENCY["dense"])
        steps += sum(s.steps for s in cost.shared)
    return seconds + steps * STEP_SECONDS + cost.fixed_seconds


def gpu_seconds(cost: CellCost, gpu_flops: float, *, with_shared: bool = True) -> float:
    """Estimated seconds of one cell on a GPU of `gpu_flops` float32 FLOP/s (stated factors)."""
    if not (math.isfinite(gpu_flops) and gpu_flops > 0):
        raise ValueError(f"gpu_flops must be a finite number > 0, got {gpu_flops}")

    def rate(kind: str) -> float:
        factor = GPU_BF16_FACTOR if kind == "dense-bf16" else 1.0
        return gpu_flops * factor * GPU_EFFICIENCY[kind]

    seconds = sum(f / rate(k) for k, f in cost.flops.items())
    steps = cost.steps
    if with_shared:
        seconds += sum(s.flops for s in cost.shared) / rate("dense")
        steps += sum(s.steps for s in cost.shared)
    return seconds + steps * GPU_STEP_SECONDS + cost.fixed_seconds


@dataclass(frozen=True)
class CellPlan:
    """One cell's parameters, its cost and its estimated seconds here and on the GPU."""

    params: Mapping[str, Any]
    cost: CellCost
    seconds: float
    gpu_seconds: float


@dataclass(frozen=True)
class Plan:
    """Every cell of one experiment's config, with totals.

    Totals count shared work once (one process); `wall_seconds` spreads the cells over
    `concurrency` workers (never less than the longest cell).
    """

    experiment: str
    cells: tuple[CellPlan, ...]
    machine: MachineRate
    concurrency: int
    gpu_flops: float

    @property
    def at_most(self) -> bool:
        """Whether some cell's work depends on the data (the figures are caps)."""
        return any(c.cost.at_most for c in self.cells)

    def _shared(self) -> dict[str, tuple[float, int]]:
        unique: dict[str, tuple[float, int]] = {}
        for c in self.cells:
            for s in c.cost.shared:
                unique[s.key] = (s.flops, s.steps)
        return unique

    @property
    def total_flops(self) -> float:
        """FLOPs of every cell, shared work once."""
        own = sum(sum(c.cost.flops.values()) for c in self.cells)
        return own + sum(f for f, _ in self._shared().values())

    def flops_by_kind(self) -> dict[str, float]:
        """Total FLOPs (elementwise: operations) per kind of work, shared work as dense."""
        totals = dict.fromkeys(KINDS, 0.0)
        for c in self.cells:
            for kind, value in c.cost.flops.items():
                totals[kind] += value
        totals["dense"] += sum(f for f, _ in self._shared().values())
        return {k: v for k, v in totals.items() if v > 0}

    @property
    def peak_bytes(self) -> int:
        """The largest cell's peak bytes."""
        return max((c.cost.peak_bytes for c in self.cells), default=0)

    def _shared_seconds(self, gpu: bool) -> float:
        shared = self._shared().values()
        flops, steps = sum(f for f, _ in shared), sum(s for _, s in shared)
        if gpu:
            return flops / (self.gpu_flops * GPU_EFFICIENCY["dense"]) + steps * GPU_STEP_SECONDS
        return flops / (self.machine.float32 * EFFICIENCY["dense"]) + steps * STEP_SECONDS

    def _own(self, gpu: bool) -> list[float]:
        if gpu:
            return [gpu_seconds(c.cost, self.gpu_flops, with_shared=False) for c in self.cells]
        return [cell_seconds(c.cost, self.machine, with_shared=False) for c in self.cells]

    @property
    def cpu_seconds(self) -> float:
        """Estimated seconds of all cells here, one after another (no run overhead)."""
        return sum(self._own(False)) + self._shared_seconds(False)

    @property
    def wall_seconds(self) -> float:
        """Estimated wall time here with `concurrency` workers, plus `RUN_SECONDS`."""
        longest = max((c.seconds for c in self.cells), default=0.0)
        return max(self.cpu_seconds / self.concurrency, longest) + RUN_SECONDS

    @property
    def gpu_wall_seconds(self) -> float:
        """Estimated wall time on one GPU, cells one after another, plus `RUN_SECONDS`."""
        return sum(self._own(True)) + self._shared_seconds(True) + RUN_SECONDS

    def stats(self, key: Callable[[CellPlan], float]) -> tuple[float, float, float]:
        """(min, median, max) of `key` over the cells."""
        values = [key(c) for c in self.cells] or [0.0]
        return min(values), statistics.median(values), max(values)

    def most_expensive(self) -> CellPlan | None:
        """The cell with the largest estimated time here."""
        return max(self.cells, key=lambda c: c.seconds, default=None)


def build_plan(
    experiment: str,
    cells: Sequence[Mapping[str, Any]],
    model: Callable[[Mapping[str, Any]], CellCost],
    machine: MachineRate,
    *,
    concurrency: int = 1,
    gpu_flops: float = DEFAULT_GPU_FLOPS,
) -> Plan:
    """The plan of `cells` under the cost `model` on `machine` (and a GPU of `gpu_flops`)."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    planned = []
    for params in cells:
        cost = model(params)
        planned.append(
            CellPlan(params, cost, cell_seconds(cost, machine), gpu_seconds(cost, gpu_flops))
        )
    return Plan(experiment, tuple(planned), machine, concurrency, gpu_flops)
