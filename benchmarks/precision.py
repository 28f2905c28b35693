"""bfloat16 against float32: the bare products at the training shapes, and the conv net's sgd step.

    OMP_WAIT_POLICY=PASSIVE PYTHONPATH=src python benchmarks/precision.py [--threads 1]

Issue 10 ("mixed precision where it is safe"). Times in CPU seconds of the process
(`time.process_time`), which other load on a shared machine distorts far less than wall time.
1. W x (b, d) x (d, E m) and c^T x (E m, b) x (b, d) at d = 784, b = 64 in float32 and bfloat16
   (operands cast beforehand), GFLOP per CPU second, and the cost of rounding W to bfloat16
   relative to one float32 W x;
2. `sgd` on `PaperConvNet` (paper 001 Fig. 3; batch 128, 10 classes), CPU ms per step
   ((T(k) - T(1)) / (k - 1)), precision float32 against bf16-mixed (torch.autocast).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from robustlab.learners.sgd import sgd
from robustlab.models.conv import PaperConvNet

D, BATCH = 784, 64


def _cpu_seconds(fn: Callable[[], object], repeats: int = 5, budget: float = 0.15) -> float:
    """Median CPU seconds of one call (calls repeated until `budget` CPU seconds pass)."""
    fn()
    runs = []
    for _ in range(repeats):
        start, calls = time.process_time(), 0
        while True:
            fn()
            calls += 1
            if time.process_time() - start > budget:
                break
        runs.append((time.process_time() - start) / calls)
    return statistics.median(runs)


def _mm_rate(a: torch.Tensor, b: torch.Tensor, flops: int) -> float:
    return flops / _cpu_seconds(lambda: torch.mm(a, b)) / 1e9


def _shape(E: int, m: int) -> str:
    W, x, c = torch.randn(E * m, D), torch.randn(BATCH, D), torch.randn(E * m, BATCH)
    low = torch.bfloat16
    flops = 2 * BATCH * D * m * E
    forward = [_mm_rate(x, W.t(), flops), _mm_rate(x.to(low), W.to(low).t(), flops)]
    grad = [_mm_rate(c, x, flops), _mm_rate(c.to(low), x.to(low), flops)]
    cast = _cpu_seconds(lambda: W.to(low)) / _cpu_seconds(lambda: torch.mm(x, W.t()))
    return (
        f"E={E} m={m:>6}: W x {forward[0]:6.1f} {forward[1]:6.1f} "
        f"({forward[1] / forward[0]:.2f}x) | c^T x {grad[0]:6.1f} {grad[1]:6.1f} "
        f"({grad[1] / grad[0]:.2f}x) | W -> bf16 {cast:.2f} of a float32 W x"
    )


def products() -> None:
    print("bare products, GFLOP per CPU second: float32, bfloat16 (ratio)")
    for E, m in ((1, 1000), (1, 10000), (1, 100000), (8, 1000), (8, 10000)):
        print(_shape(E, m))


def _conv_step(net: PaperConvNet, X: torch.Tensor, y: torch.Tensor, steps: int, p: str) -> float:
    start = time.process_time()
    sgd(
        net, X, y, lr=0.01, batch_size=128, max_steps=steps, precision=p,  # type: ignore[arg-type]
        diagnostics=False,
    )  # fmt: skip
    return time.process_time() - start


def conv_net() -> None:
    print("PaperConvNet sgd, batch 128, CPU ms per step: float32, bf16-mixed (speed-up)")
    for m in (1000, 10000, 100000):
        g = torch.Generator().manual_seed(0)
        net = PaperConvNet(m, generator=g)
        k = 6 if m < 100000 else 4
        X = torch.rand(128 * k, 784, generator=g)
        y = torch.randint(0, 10, (128 * k,), generator=g)
        times: dict[str, list[float]] = {"float32": [], "bf16-mixed": []}
        for _ in range(2):  # interleaved repeats
            for p in times:
                one, whole = _conv_step(net, X, y, 1, p), _conv_step(net, X, y, k, p)
                times[p].append((whole - one) / (k - 1) * 1e3)
        full, low = statistics.median(times["float32"]), statistics.median(times["bf16-mixed"])
        print(f"m={m:>6}: {full:7.1f} ms {low:7.1f} ms ({full / low:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    products()
    conv_net()


if __name__ == "__main__":
    main()
