"""One SGD trajectory for every lazy radius (issue 10 section 2) against one stopped run per C0.

    OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE ROBUSTLAB_DATA=... python benchmarks/lazy_path.py \
        [--dim 784] [--width 1000] [--members 1] [--C0 10 20 30 40] [--epochs 3]

Trains the lazy-single-step nets (MNIST 0 vs 1 at d pixels, raw, batch 64, lr 0.1, logistic
loss, one order per member) both ways: `sgd(..., lazy_radius=C0/sqrt m, lazy_mode="stop")` once
per C0, and `lazy_path` once for all C0. Checks that every radius gives the same weights and
step counts, and prints the CPU seconds of each (process time, so other load counts less) and
the factor. Only training is timed: the attack at each C0 costs the same both ways.
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from robustlab.data import mnist_binary
from robustlab.learners import sgd
from robustlab.learners.lazy_path import lazy_path
from robustlab.models import TwoLayerNet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=784)
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--members", type=int, default=1)
    parser.add_argument("--C0", type=float, nargs="+", default=[10.0, 20.0, 30.0, 40.0])
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    data = mnist_binary("train", d=args.dim)
    net = TwoLayerNet.ntk(
        args.members, args.width, args.dim, generator=torch.Generator().manual_seed(0)
    )
    radii = [c / math.sqrt(args.width) for c in sorted(args.C0)]
    common = dict(loss="logistic", lr=0.1, batch_size=64, epochs=args.epochs, shared_order=False)

    start = time.process_time()
    path = lazy_path(
        net, data.x, data.y, radii=radii, generator=torch.Generator().manual_seed(1), **common
    )
    one = time.process_time() - start

    start = time.process_time()
    separate = []
    for radius in radii:
        trained, trace = sgd(
            net,
            data.x,
            data.y,
            lazy_radius=radius,
            lazy_mode="stop",
            generator=torch.Generator().manual_seed(1),
            diagnostics=False,
            **common,
        )
        separate.append((trained.W.detach(), trace.updates))
    each = time.process_time() - start

    for j, (weights, updates) in enumerate(separate):
        assert torch.equal(path.params["W"][j], weights), f"radius {j}: weights differ"
        assert torch.equal(path.updates[j], updates), f"radius {j}: step counts differ"
    steps = path.updates.float().mean(dim=1).tolist()
    print(
        f"d={args.dim} m={args.width} E={args.members} C0={sorted(args.C0)} "
        f"epochs={args.epochs}: steps per C0 {[round(s) for s in steps]} "
        f"(epoch = {path.steps_per_epoch}); one run per C0 {each:.1f} CPU s, one path "
        f"{one:.1f} CPU s, factor {each / one:.2f} (weights identical)"
    )


if __name__ == "__main__":
    main()
