"""The Python half of benchmarks/gpu_check.sh: compare two result tables, time paper cells.

    python benchmarks/gpu_check.py compare CPU_DIR GPU_DIR NAME [--rtol R] [--atol A]
    python benchmarks/gpu_check.py time NAME [--preset paper] [--cells 2] [--device cuda]

``compare`` reads NAME/results.parquet under both folders: the same rows in the same order, every
non-float column equal, every float column within |gpu - cpu| <= atol + rtol |cpu| (NaN equal to
NaN, inf to inf of the same sign). It prints one line per experiment and exits 1 on a mismatch.
``time`` runs the first cells of a preset in this process through the runner's own
``execute_cell`` and prints the seconds of each (the first includes CUDA start-up), the number of
cells in the preset, and the naive total "mean timed cell x cells" (cells of one preset differ in
size, so read it as an order of magnitude, not an estimate).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch


def compare(cpu_dir: Path, gpu_dir: Path, name: str, rtol: float, atol: float) -> bool:
    """True when the two tables of ``name`` agree within the tolerance; prints the verdict."""
    cpu = pd.read_parquet(cpu_dir / name / "results.parquet")
    gpu = pd.read_parquet(gpu_dir / name / "results.parquet")
    if list(cpu.columns) != list(gpu.columns) or len(cpu) != len(gpu):
        print(f"FAIL {name}: shapes differ: cpu {cpu.shape} {list(cpu.columns)}, gpu {gpu.shape}")
        return False
    worst, worst_column, problems = 0.0, "", []
    for column in cpu.columns:
        a, b = cpu[column], gpu[column]
        if pd.api.types.is_float_dtype(a) and pd.api.types.is_float_dtype(b):
            x, y = a.to_numpy(np.float64), b.to_numpy(np.float64)
            same = np.isclose(y, x, rtol=rtol, atol=atol, equal_nan=True) | (x == y)
            if not same.all():
                problems.append(f"{column}: {int((~same).sum())} of {len(x)} rows")
            finite = np.isfinite(x) & np.isfinite(y)
            if finite.any() and float(np.abs(y - x)[finite].max()) > worst:
                worst, worst_column = float(np.abs(y - x)[finite].max()), column
        elif not a.equals(b):
            problems.append(f"{column}: {int((a != b).sum())} of {len(a)} rows differ exactly")
    verdict = "ok  " if not problems else "FAIL"
    detail = "; ".join(problems) if problems else f"max |gpu - cpu| = {worst:.3g}"
    where = f" ({worst_column})" if worst_column and not problems else ""
    print(f"{verdict} {name}: {len(cpu)} rows, rtol {rtol:g}, atol {atol:g}: {detail}{where}")
    return not problems


def time_cells(name: str, preset: str, cells: int, device: str) -> None:
    """Run and time the first ``cells`` cells of ``preset`` on ``device``."""
    from robustlab.experiments import get_experiment
    from robustlab.runner.backends import CellTask, execute_cell

    experiment = get_experiment(name)
    planned = experiment.cells(experiment.config(preset))
    data_dir = os.environ.get("ROBUSTLAB_DATA")
    seconds = []
    for index, cell in enumerate(planned[:cells]):
        task = CellTask(index, name, experiment.module, cell.to_dict(), device, data_dir)
        start = time.perf_counter()
        execute_cell(task)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
        print(f"  {name} {preset} cell {index} on {device}: {seconds[-1]:.2f} s  {cell.to_dict()}")
    total = sum(seconds) / max(1, len(seconds)) * len(planned)
    print(
        f"time {name} --preset {preset} on {device}: {len(seconds)} of {len(planned)} cells timed, "
        f"naive total {total:.0f} s = {total / 3600:.2f} h (mean timed cell x cells)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmp = sub.add_parser("compare", help="compare NAME's tables in two result folders")
    cmp.add_argument("cpu_dir", type=Path)
    cmp.add_argument("gpu_dir", type=Path)
    cmp.add_argument("name")
    cmp.add_argument("--rtol", type=float, default=1e-3)
    cmp.add_argument("--atol", type=float, default=1e-4)
    tim = sub.add_parser("time", help="time the first cells of a preset")
    tim.add_argument("name")
    tim.add_argument("--preset", default="paper")
    tim.add_argument("--cells", type=int, default=2)
    tim.add_argument("--device", default="cuda")
    args = parser.parse_args(argv)
    if args.command == "compare":
        return 0 if compare(args.cpu_dir, args.gpu_dir, args.name, args.rtol, args.atol) else 1
    if args.cells < 1:
        parser.error(f"--cells must be >= 1, got {args.cells}")
    time_cells(args.name, args.preset, args.cells, args.device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
