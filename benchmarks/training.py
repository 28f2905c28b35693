"""robustlab's closed-form `sgd` on TwoLayerNet against the plain PyTorch loop and bare products.

    OMP_WAIT_POLICY=PASSIVE PYTHONPATH=src python benchmarks/training.py [--widths 1000 10000]
        [--precision float32 bf16-mixed]

Issue 10 ("inner loops at the machine's limit", "mixed precision"). For each (E, m) at d = 784,
batch 64, logistic loss, float32 weights, side by side in one process, interleaved repeats
(median per step), each robustlab loop and the bare products once per `--precision`:
- robustlab: `sgd(..., inplace=True, diagnostics=False)` unconstrained, with the lazy stop and
  with the projection, radius C0 / sqrt(m) (default C0 = 20, not reached in the timed steps);
  "project@R" uses a radius every step reaches (C0 = 1e-3): the projection's worst case;
- plain: the loop a researcher would write: nn.Linear-style (E, m, d) weights, autograd,
  torch.optim.SGD (unconstrained);
- bare: the step's two matrix products alone (W x and c^T x, `out=` buffers); in bf16-mixed
  with bfloat16 operands, W rounded into a buffer every step as robustlab does.
FLOPs counted as 4 b d m E per step; robustlab's per-step time leaves out the once-per-call work
(entry checks, final record), measured as a one-step call and printed apart. Columns: ms per
step (or CPU ms with `--clock cpu`, which a busy machine distorts far less), GFLOP/s, speed
relative to the float32 plain loop, speed relative to the bare products of
the same precision. Run with PYTHONPATH pointing at an older checkout to time that one (with
`--precision float32`: older checkouts have no precision).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from robustlab.learners.sgd import sgd
from robustlab.models import TwoLayerNet

D, BATCH, LR = 784, 64, 0.1
PRECISIONS = ("float32", "bf16-mixed")
OVERHEAD: dict[str, float] = {}
CLOCK: list[Callable[[], float]] = [time.perf_counter]  # --clock cpu: time.process_time


def _robustlab(
    net: TwoLayerNet,
    X: Tensor,
    y: Tensor,
    steps: int,
    radius: float | None,
    mode: str,
    precision: str,
) -> Callable[[], float]:
    """Per-step time of one `sgd` call: (T(steps) - T(1)) / (steps - 1), so that the per-call
    work (entry checks, the final record) is left out; it is printed apart."""
    own = net.member(slice(None))  # trained in place; reset to W0 before each call (untimed)

    # precision is passed only when not float32, so that older checkouts can be timed
    options: dict[str, Any] = {} if precision == "float32" else {"precision": precision}

    def call(k: int) -> float:
        with torch.no_grad():
            own.W.copy_(own.W0)
        start = CLOCK[0]()
        sgd(
            own, X, y, lr=LR, batch_size=BATCH, max_steps=k, lazy_radius=radius,
            lazy_mode=mode, inplace=True, diagnostics=False, **options,  # type: ignore[arg-type]
        )  # fmt: skip
        return CLOCK[0]() - start

    def run() -> float:
        one = call(1)
        whole = call(steps)
        OVERHEAD[f"{mode if radius else 'none'} {precision}"] = one - (whole - one) / (steps - 1)
        return (whole - one) * steps / (steps - 1)

    return run


def _plain(net: TwoLayerNet, X: Tensor, y: Tensor, steps: int) -> Callable[[], float]:
    W = torch.nn.Parameter(net.W.detach().clone())  # (E, m, d): nn.Linear's (out, in) layout
    a, scale = net.a.detach(), net.scale
    opt = torch.optim.SGD([W], lr=LR)

    def run() -> float:
        begin = CLOCK[0]()
        for start in range(0, steps * BATCH, BATCH):
            xb, yb = X[start : start + BATCH], y[start : start + BATCH]
            out = torch.relu(xb @ W.transpose(1, 2)) @ a.unsqueeze(-1) * scale
            F.softplus(-yb * out.squeeze(-1)).mean(dim=1).sum().backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        return CLOCK[0]() - begin

    return run


def _bare(net: TwoLayerNet, X: Tensor, steps: int, precision: str) -> Callable[[], float]:
    W = net.W.detach()
    E, m, d = W.shape
    low = torch.bfloat16 if precision == "bf16-mixed" else None
    dtype = low or W.dtype
    pre = torch.empty(E, BATCH, m, dtype=dtype)  # bfloat16: (b, E m) memory, as robustlab
    grad = torch.empty(E * m, d, dtype=dtype)
    coef = torch.randn(E * m, BATCH).to(dtype)
    low_w = torch.empty_like(W, dtype=dtype)

    def run() -> float:
        begin = CLOCK[0]()
        for start in range(0, steps * BATCH, BATCH):
            xb = X[start : start + BATCH]
            if low is None:
                torch.matmul(xb, W.transpose(1, 2), out=pre)
                torch.mm(coef, xb, out=grad)
            else:  # W rounded every step (it changes every step), as robustlab does
                low_x = xb.to(low)
                torch.mm(low_x, low_w.copy_(W).view(E * m, d).t(), out=pre.view(BATCH, E * m))
                torch.mm(coef, low_x, out=grad)
        return CLOCK[0]() - begin

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ensembles", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--widths", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--c0", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=0.6, help="per timed call")
    parser.add_argument(
        "--precision", nargs="+", default=["float32", "bf16-mixed"], choices=PRECISIONS
    )
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="cpu: the process's CPU seconds (all threads), robust to other load on the machine",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--min-steps", type=int, default=4, help="fewest steps per timed call")
    args = parser.parse_args()
    if args.clock == "cpu":
        CLOCK[0] = time.process_time
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, d={D}, batch={BATCH}, "
        f"{args.clock} clock"
    )
    header = (
        f"{'E':>2} {'m':>6} {'loop':<10} {'precision':<10} {'ms/step':>9} {'GFLOP/s':>8} "
        f"{'/plain':>7} {'/bare':>6}"
    )
    print(header)
    for E in args.ensembles:
        for m in args.widths:
            net = TwoLayerNet.ntk(E, m, D, generator=torch.Generator().manual_seed(1))
            flops = 4 * BATCH * D * m * E
            probe = torch.randn(BATCH * 2, D)
            one = _bare(net, probe, 2, "float32")() / 2
            steps = max(args.min_steps, min(200, math.ceil(args.seconds / max(one * 3, 1e-6))))
            X = torch.randn(steps * BATCH, D) / math.sqrt(D)
            y = torch.where(torch.rand(steps * BATCH) < 0.5, -1.0, 1.0)
            R = args.c0 / math.sqrt(m)
            loops: dict[tuple[str, str], Callable[[], float]] = {
                ("plain", "float32"): _plain(net, X, y, steps)
            }
            for p in args.precision:
                loops[("bare", p)] = _bare(net, X, steps, p)
                loops[("robustlab", p)] = _robustlab(net, X, y, steps, None, "stop", p)
                loops[("stop", p)] = _robustlab(net, X, y, steps, R, "stop", p)
                loops[("project", p)] = _robustlab(net, X, y, steps, R, "project", p)
                tight = 1e-3 / math.sqrt(m)
                loops[("project@R", p)] = _robustlab(net, X, y, steps, tight, "project", p)
            for fn in loops.values():  # warm-up (allocator, thread pool)
                fn()
            times: dict[tuple[str, str], list[float]] = {key: [] for key in loops}
            for _ in range(args.repeats):
                for key, fn in loops.items():
                    times[key].append(fn() / steps)
            ms = {key: statistics.median(t) * 1e3 for key, t in times.items()}
            plain = ms[("plain", "float32")]
            for (name, p), value in ms.items():
                bare = ms.get(("bare", p), math.nan)
                print(
                    f"{E:>2} {m:>6} {name:<10} {p:<10} {value:>9.2f} {flops / value / 1e6:>8.1f} "
                    f"{plain / value:>6.2f}x {bare / value:>5.2f}x"
                )
            overhead = ", ".join(
                f"{p} {OVERHEAD[f'none {p}'] * 1e3:.0f} ms" for p in args.precision
            )
            print(
                f"   ({steps} steps per call, {args.repeats} repeats, lazy R = {R:.4g}; robustlab "
                f"per-call work outside the steps: {overhead})"
            )


if __name__ == "__main__":
    main()
