"""Seeds of the paper 001 conv net as one ensemble (issue 10) against one training per seed.

    OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE python benchmarks/conv_ensemble.py [--n 2400]

One SGD epoch (batch 128, cross-entropy, autograd, lr 0.1) for E seeds of PaperConvNet at each
width: E plain trainings one after the other (the loop `torch.optim.SGD` users write) against one
`PaperConvEnsemble` of E members with per-member batches (what poisoning-width's `seed_block`
runs). Random inputs in [0, 1] (speed does not depend on the data). Prints seconds per epoch per
seed and the speed-up; interleaved repeats, median reported.

Measured 2026-12-05 on the shared 2-core machine (load 3-10), `--n 1200 --ensembles 4 8 --widths
100 1000 10000 --repeats 2`: speed-up 1.37x / 0.71x / 0.86x at E = 4 and 0.60x / 0.90x / 0.56x at
E = 8 (widths 100 / 1e3 / 1e4). On this CPU one grouped pass is not faster than E plain passes
(an im2col + bmm variant was slower still); the ensemble is for accelerators.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.nn import functional as F

from robustlab.models import PaperConvEnsemble, PaperConvNet


def _plain_epoch(nets: list[PaperConvNet], X: torch.Tensor, y: torch.Tensor, bs: int) -> None:
    for e, net in enumerate(nets):
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        order = torch.randperm(X.shape[1])
        for start in range(0, X.shape[1], bs):
            idx = order[start : start + bs]
            opt.zero_grad()
            F.cross_entropy(net(X[e, idx]), y[e, idx]).backward()
            opt.step()


def _ensemble_epoch(net: PaperConvEnsemble, X: torch.Tensor, y: torch.Tensor, bs: int) -> None:
    E, n = X.shape[:2]
    rows = torch.arange(E).unsqueeze(1)
    order = torch.stack([torch.randperm(n) for _ in range(E)])
    params = list(net.parameters())
    for start in range(0, n, bs):
        idx = order[:, start : start + bs]
        logits = net(X[rows, idx])
        loss = F.cross_entropy(logits.flatten(0, 1), y[rows, idx].flatten(), reduction="none")
        grads = torch.autograd.grad(loss.view(E, -1).mean(dim=1).sum(), params)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p.sub_(0.1 * g)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2400)
    parser.add_argument("--ensembles", type=int, nargs="+", default=[4])
    parser.add_argument("--widths", type=int, nargs="+", default=[10, 1000, 10_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, n = {args.n}")
    print(f"{'E':>3} {'width':>7} {'plain s/seed':>13} {'ensemble s/seed':>16} {'speed-up':>9}")
    for E in args.ensembles:
        for width in args.widths:
            g = torch.Generator().manual_seed(0)
            X = torch.rand(E, args.n, 784, generator=g)
            y = torch.randint(0, 10, (E, args.n), generator=g)
            nets = [PaperConvNet(width, generator=g) for _ in range(E)]
            ens = PaperConvEnsemble(nets)
            plain, batched = [], []
            for _ in range(args.repeats):
                t = time.perf_counter()
                _plain_epoch(nets, X, y, 128)
                plain.append((time.perf_counter() - t) / E)
                t = time.perf_counter()
                _ensemble_epoch(ens, X, y, 128)
                batched.append((time.perf_counter() - t) / E)
            p, b = statistics.median(plain), statistics.median(batched)
            print(f"{E:>3} {width:>7} {p:>13.3f} {b:>16.3f} {p / b:>8.2f}x", flush=True)


if __name__ == "__main__":
    main()
