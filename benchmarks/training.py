"""robustlab's closed-form `sgd` on TwoLayerNet against the plain PyTorch loop and bare products.

    OMP_WAIT_POLICY=PASSIVE PYTHONPATH=src python benchmarks/training.py [--widths 1000 10000]

Issue 10 ("inner loops at the machine's limit"). For each (E, m) at d = 784, batch 64, logistic
loss, float32, side by side in one process, interleaved repeats (median per step):
- robustlab: `sgd(..., inplace=True, diagnostics=False)` unconstrained, with the lazy stop and
  with the projection, radius C0 / sqrt(m) (default C0 = 20, not reached in the timed steps);
  "project@R" uses a radius every step reaches (C0 = 1e-3): the projection's worst case;
- plain: the loop a researcher would write: nn.Linear-style (E, m, d) weights, autograd,
  torch.optim.SGD (unconstrained);
- bare: the step's two matrix products alone (W x and c^T x, `out=` buffers).
FLOPs counted as 4 b d m E per step; robustlab's per-step time leaves out the once-per-call work
(entry checks, final record), measured as a one-step call and printed apart. Columns: ms per
step, GFLOP/s, robustlab / plain speed, robustlab / bare speed. Run with PYTHONPATH pointing at
an older checkout to time that one.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

from robustlab.learners.sgd import sgd
from robustlab.models import TwoLayerNet

D, BATCH, LR = 784, 64, 0.1
OVERHEAD: dict[str, float] = {}


def _robustlab(
    net: TwoLayerNet, X: Tensor, y: Tensor, steps: int, radius: float | None, mode: str
) -> Callable[[], float]:
    """Per-step time of one `sgd` call: (T(steps) - T(1)) / (steps - 1), so that the per-call
    work (entry checks, the final record) is left out; it is printed apart."""
    own = net.member(slice(None))  # trained in place; reset to W0 before each call (untimed)

    def call(k: int) -> float:
        with torch.no_grad():
            own.W.copy_(own.W0)
        start = time.perf_counter()
        sgd(
            own, X, y, lr=LR, batch_size=BATCH, max_steps=k, lazy_radius=radius,
            lazy_mode=mode, inplace=True, diagnostics=False,  # type: ignore[arg-type]
        )  # fmt: skip
        return time.perf_counter() - start

    def run() -> float:
        one = call(1)
        whole = call(steps)
        OVERHEAD[mode if radius else "none"] = one - (whole - one) / (steps - 1)
        return (whole - one) * steps / (steps - 1)

    return run


def _plain(net: TwoLayerNet, X: Tensor, y: Tensor, steps: int) -> Callable[[], float]:
    W = torch.nn.Parameter(net.W.detach().clone())  # (E, m, d): nn.Linear's (out, in) layout
    a, scale = net.a.detach(), net.scale
    opt = torch.optim.SGD([W], lr=LR)

    def run() -> float:
        begin = time.perf_counter()
        for start in range(0, steps * BATCH, BATCH):
            xb, yb = X[start : start + BATCH], y[start : start + BATCH]
            out = torch.relu(xb @ W.transpose(1, 2)) @ a.unsqueeze(-1) * scale
            F.softplus(-yb * out.squeeze(-1)).mean(dim=1).sum().backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        return time.perf_counter() - begin

    return run


def _bare(net: TwoLayerNet, X: Tensor, steps: int) -> Callable[[], float]:
    W = net.W.detach()
    E, m, d = W.shape
    pre = torch.empty(E, BATCH, m)
    grad = torch.empty(E * m, d)
    coef = torch.randn(E * m, BATCH)

    def run() -> float:
        begin = time.perf_counter()
        for start in range(0, steps * BATCH, BATCH):
            xb = X[start : start + BATCH]
            torch.matmul(xb, W.transpose(1, 2), out=pre)
            torch.mm(coef, xb, out=grad)
        return time.perf_counter() - begin

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ensembles", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--widths", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--c0", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=0.6, help="per timed call")
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, d={D}, batch={BATCH}")
    header = (
        f"{'E':>2} {'m':>6} {'loop':<14} {'ms/step':>9} {'GFLOP/s':>8} {'/plain':>7} {'/bare':>6}"
    )
    print(header)
    for E in args.ensembles:
        for m in args.widths:
            net = TwoLayerNet.ntk(E, m, D, generator=torch.Generator().manual_seed(1))
            flops = 4 * BATCH * D * m * E
            probe = torch.randn(BATCH * 2, D)
            one = _bare(net, probe, 2)() / 2
            steps = max(4, min(200, math.ceil(args.seconds / max(one * 3, 1e-6))))
            X = torch.randn(steps * BATCH, D) / math.sqrt(D)
            y = torch.where(torch.rand(steps * BATCH) < 0.5, -1.0, 1.0)
            R = args.c0 / math.sqrt(m)
            loops = {
                "bare": _bare(net, X, steps),
                "plain": _plain(net, X, y, steps),
                "robustlab": _robustlab(net, X, y, steps, None, "stop"),
                "stop": _robustlab(net, X, y, steps, R, "stop"),
                "project": _robustlab(net, X, y, steps, R, "project"),
                "project@R": _robustlab(net, X, y, steps, 1e-3 / math.sqrt(m), "project"),
            }
            for fn in loops.values():  # warm-up (allocator, thread pool)
                fn()
            times: dict[str, list[float]] = {name: [] for name in loops}
            for _ in range(args.repeats):
                for name, fn in loops.items():
                    times[name].append(fn() / steps)
            ms = {name: statistics.median(t) * 1e3 for name, t in times.items()}
            for name in loops:
                print(
                    f"{E:>2} {m:>6} {name:<14} {ms[name]:>9.2f} {flops / ms[name] / 1e6:>8.1f} "
                    f"{ms['plain'] / ms[name]:>6.2f}x {ms['bare'] / ms[name]:>5.2f}x"
                )
            print(
                f"   ({steps} steps per call, {args.repeats} repeats, lazy R = {R:.4g}; robustlab "
                f"per-call work outside the steps {OVERHEAD['none'] * 1e3:.0f} ms)"
            )


if __name__ == "__main__":
    main()
