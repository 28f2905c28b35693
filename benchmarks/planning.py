"""Calibrate and check `robustlab plan`'s estimates (issue 10 section 1).

    OMP_WAIT_POLICY=PASSIVE PYTHONPATH=src python benchmarks/planning.py calibrate
    OMP_WAIT_POLICY=PASSIVE PYTHONPATH=src ROBUSTLAB_DATA=... python benchmarks/planning.py check \
        lazy-single-step:quick 'lazy-single-step:quick:width=[10000]' ...

calibrate: probes this machine (2 threads, as the local backend runs) and times, in the same
process and like the probe in CPU time / threads (so that other processes' load cancels), one
workload per kind of work: `sgd` on TwoLayerNet (d = 784, b = 64, m = 1e3 and 1e4;
kind "dense"), the paper-001 conv net's training step (b = 64, m = 100 and 1e4; "conv"), a sort
of E m breakpoints and a ball projection ("elementwise"), and tiny `sgd` steps whose FLOPs are
negligible (the per-step overhead). It prints each workload's rate over the probe's rate: the
efficiencies that `robustlab.planning.plan.EFFICIENCY` and `STEP_SECONDS` state.

check: for each EXPERIMENT:PRESET[:field=json;field=json] it probes the machine afresh, prints
the plan's estimate (a quiet machine's wall time), runs the experiment in process (local
backend, 2 threads, a fresh temporary folder) and prints the measured wall time and process
CPU time (both threads together), their ratios to the estimate and the load before and after.
On a quiet machine wall / estimate is the check; on a loaded one the wall time grows with the
load, and CPU / estimate (between 1 and 2 when the estimate is right: 1 for one busy thread,
2 for two) is the steadier figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.nn import functional as F

from robustlab.experiments.registry import get_experiment
from robustlab.learners.sgd import sgd
from robustlab.models import PaperConvNet, TwoLayerNet
from robustlab.planning import plan_config
from robustlab.planning.cost import conv_train_step, sgd_step
from robustlab.planning.probe import probe
from robustlab.runner.run import run_experiment

THREADS = 2


def _load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def _per_step(run: Callable[[int], None], steps: int, threads: int = THREADS) -> float:
    """Quiet-machine seconds per step, (T(steps) - T(1)) / (steps - 1) with T the process CPU
    time / threads (as the probe measures), median of 3; the per-call work is left out."""
    samples = []
    for _ in range(3):
        start = time.process_time()
        run(1)
        one = time.process_time() - start
        start = time.process_time()
        run(steps)
        samples.append((time.process_time() - start - one) / (steps - 1) / threads)
    return statistics.median(samples)


def _sgd(E: int, m: int, d: int, b: int) -> Callable[[int], None]:
    g = torch.Generator().manual_seed(0)
    net = TwoLayerNet.ntk(E, m, d, generator=g)
    X = torch.randn(4096, d, generator=g)
    y = torch.where(torch.randn(4096, generator=g) > 0, 1.0, -1.0)

    def run(k: int) -> None:
        sgd(net, X, y, lr=0.01, batch_size=b, max_steps=k, inplace=True, diagnostics=False)

    return run


def _conv(m: int, b: int) -> Callable[[int], None]:
    g = torch.Generator().manual_seed(0)
    net = PaperConvNet(m, 10, generator=g)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    X = torch.rand(b, 784, generator=g)
    y = torch.randint(0, 10, (b,), generator=g)

    def run(k: int) -> None:
        for _ in range(k):
            opt.zero_grad()
            F.cross_entropy(net(X), y).backward()  # type: ignore[no-untyped-call]
            opt.step()

    return run


def calibrate() -> None:
    torch.set_num_threads(THREADS)
    print(f"load before: {_load()}")
    rate = probe(THREADS)
    print(
        f"probe ({THREADS} threads): float32 {rate.float32 / 1e9:.1f} GFLOP/s, bfloat16 "
        f"{rate.bfloat16 / 1e9:.1f} GFLOP/s, elementwise {rate.elementwise / 1e9:.2f} Gop/s"
    )
    rows: list[tuple[str, float, float]] = []
    for E, m in ((1, 1000), (1, 10000), (8, 1000)):
        seconds = _per_step(_sgd(E, m, 784, 64), 60)
        rows.append(
            (f"dense: sgd E={E} m={m}", sgd_step(64, 784, m, members=E) / seconds, rate.float32)
        )
    for m in (100, 10000):
        seconds = _per_step(_conv(m, 64), 20)
        rows.append((f"conv: train step m={m}", conv_train_step(64, m) / seconds, rate.float32))
    keys = torch.rand(64, 8 * 10000)
    start = time.process_time()
    for _ in range(10):
        keys.sort(dim=1)
    sort_seconds = (time.process_time() - start) / 10 / THREADS
    ops = keys.numel() * torch.log2(torch.tensor(float(keys.shape[1]))).item()
    rows.append(("elementwise: sort of 8e4 keys x 64", ops / sort_seconds, rate.elementwise))
    W = torch.randn(8, 1000, 784)
    start = time.process_time()
    for _ in range(10):
        W.sub_(W.mean()).clamp_(-1, 1)
    seconds = (time.process_time() - start) / 10 / THREADS
    rows.append(("elementwise: W-sized pass", 3 * W.numel() / seconds, rate.elementwise))
    for name, achieved, base in rows:
        print(f"{name:40s} {achieved / 1e9:8.2f} G/s  efficiency {achieved / base:.3f}")
    tiny = _per_step(_sgd(1, 8, 8, 4), 400, threads=1)  # Python overhead runs on one thread
    print(f"step overhead (sgd, E=1 m=8 d=8 b=4): {tiny * 1e6:.0f} us of CPU per step")
    print(f"load after: {_load()}")


def _parse(spec: str) -> tuple[str, str, dict[str, object]]:
    name, preset, *rest = spec.split(":", 2)
    overrides: dict[str, object] = {}
    for item in rest[0].split(";") if rest else []:
        key, value = item.split("=", 1)
        overrides[key] = json.loads(value)
    return name, preset, overrides


def check(specs: list[str]) -> None:
    torch.set_num_threads(THREADS)
    print(
        "| run | cells | estimate (s) | measured wall (s) | wall / estimate | measured CPU (s) "
        "| CPU / estimate | load before, after |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for spec in specs:
        name, preset, overrides = _parse(spec)
        experiment = get_experiment(name)
        config = experiment.config(preset, overrides)
        before = _load()
        plan = plan_config(experiment, config, machine=probe(THREADS))
        with tempfile.TemporaryDirectory() as out:
            start, cpu = time.perf_counter(), time.process_time()
            run_experiment(experiment, config, out=Path(out), preset=preset, device="cpu")
            measured, cpu = time.perf_counter() - start, time.process_time() - cpu
        mark = "<= " if plan.at_most else ""
        estimate = plan.wall_seconds
        print(
            f"| `{spec}` | {len(plan.cells)} | {mark}{estimate:.1f} | {measured:.1f} | "
            f"{measured / estimate:.2f} | {cpu:.1f} | {cpu / estimate:.2f} | {before}, {_load()} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("calibrate")
    checker = sub.add_parser("check")
    checker.add_argument("specs", nargs="+", help="EXPERIMENT:PRESET[:field=json;field=json]")
    args = parser.parse_args()
    if args.command == "calibrate":
        calibrate()
    else:
        check(args.specs)


if __name__ == "__main__":
    main()
