"""Speed of robustlab.verify: exact solve time against m and d; certified-bound throughput.

    OMP_NUM_THREADS=1 python benchmarks/verify.py [--quick] [--norms l2 linf] [--points 5]

Table 1, exact minimal perturbation (`exact_minimal_perturbation`, one point at a time): random
Bubeck nets (paper 003 eq. (1)), x on sqrt(d) S^{d-1}, for every (norm, d, m) the median and the
largest CPU time per point, the solver status of the points (points where f(x) = 0 exactly, all
ReLUs off, count as "misclassified" and are left out of the medians), and the median exact
radius. Widths grow until the median exceeds `--stop` seconds for that (norm, d).
Table 2, certified radius (`certified_radius`, batched): points per second at m = 1e3 and 1e4,
d = 784, E = 1, 20 bisection halvings. Times are CPU seconds of this process (time.process_time;
the solvers run single-threaded in process): on a shared machine they do not grow with the load,
as wall-clock times do. Wall time is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from robustlab.data.synthetic import sphere
from robustlab.models import TwoLayerNet
from robustlab.verify import STATUSES, certified_radius, exact_minimal_perturbation


def exact_rows(
    norms: list[str], dims: list[int], widths: list[int], points: int, limit: float, stop: float
) -> list[str]:
    rows = [
        "| norm | d | m | median CPU s / point | max CPU s | wall s (all points) | status | "
        "median exact radius |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    print("\n".join(rows), flush=True)
    for norm in norms:
        for d in dims:
            for m in widths:
                g = torch.Generator().manual_seed(1000 * d + m)
                net = TwoLayerNet.bubeck(1, m, d, generator=g, dtype=torch.float64)
                x = sphere(points, d, radius="sqrt_d", generator=g, dtype=torch.float64).x
                began = time.perf_counter()
                result = exact_minimal_perturbation(net, x, norm=norm, time_limit=limit)
                wall = time.perf_counter() - began
                cpu = result.cpu_time[0].tolist()
                codes = result.status[0].tolist()
                optimal = ", ".join(
                    f"{name} {codes.count(code)}"
                    for code, name in enumerate(STATUSES)
                    if codes.count(code)
                )
                solved = [c for c, s in zip(cpu, codes, strict=True) if s != 3] or [0.0]
                median = statistics.median(solved)
                radii = [r for r, s in zip(result.radius[0].tolist(), codes, strict=True) if s != 3]
                radius = statistics.median(radii or [0.0])
                rows.append(
                    f"| {norm} | {d} | {m} | {median:.3g} | {max(cpu):.3g} | {wall:.3g} | "
                    f"{optimal} | {radius:.4g} |"
                )
                print(rows[-1], flush=True)
                if median > stop:
                    break
    return rows


def certified_rows(norms: list[str], widths: list[int], points: int, repeats: int) -> list[str]:
    rows = [
        "| norm | m | d | points | CPU s (median) | points / CPU s | wall s (median) | "
        "median certified radius |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    print("\n".join(rows), flush=True)
    d = 784
    for norm in norms:
        for m in widths:
            g = torch.Generator().manual_seed(m)
            net = TwoLayerNet.bubeck(1, m, d, generator=g, dtype=torch.float64)
            x = sphere(points, d, radius="sqrt_d", generator=g, dtype=torch.float64).x
            cpu, wall = [], []
            radius = torch.zeros(0)
            for _ in range(repeats):
                c0, w0 = time.process_time(), time.perf_counter()
                radius = certified_radius(net, x, norm=norm)
                cpu.append(time.process_time() - c0)
                wall.append(time.perf_counter() - w0)
            c, w = statistics.median(cpu), statistics.median(wall)
            rows.append(
                f"| {norm} | {m} | {d} | {points} | {c:.3g} | {points / c:.4g} | {w:.3g} | "
                f"{float(radius.median()):.4g} |"
            )
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--norms", nargs="+", default=["l2", "linf"])
    parser.add_argument("--dims", nargs="+", type=int, default=[16, 64, 256, 784])
    parser.add_argument("--widths", nargs="+", type=int, default=[8, 16, 32, 64, 128])
    parser.add_argument("--points", type=int, default=5, help="points per (norm, d, m)")
    parser.add_argument("--time-limit", type=float, default=60.0, help="solver s per point")
    parser.add_argument("--stop", type=float, default=20.0, help="stop widening past this")
    parser.add_argument("--certified-points", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.quick:
        args.dims, args.widths, args.points = [16, 784], [8, 16], 2
        args.certified_points, args.repeats = 20, 1
    torch.set_num_threads(1)
    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"1 thread, load average {[round(v, 1) for v in os.getloadavg()]}"
    )
    print("\n## Exact minimal perturbation, random nets\n")
    exact_rows(args.norms, args.dims, args.widths, args.points, args.time_limit, args.stop)
    print("\n## Certified radius throughput, d = 784\n")
    widths = [100, 1000] if args.quick else [1000, 10_000]
    certified_rows(args.norms, widths, args.certified_points, args.repeats)


if __name__ == "__main__":
    main()
