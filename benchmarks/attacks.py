"""Speed of robustlab's attacks, measured side by side with the obvious alternatives.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/attacks.py [--quick] [--repeats 3]

Rows (same model, same batch, same machine, one run, interleaved repeats, median reported):
1. PGD-linf, 50 steps, cross-entropy, no random start: robustlab (closed-form gradients of the
   TwoLayerNet) against torchattacks.PGD (autograd) on the one-logit net wrapped as two logits;
   robustlab also with early_stop=True (same success mask) and a 5-budget curve in one call
   against 5 torchattacks calls.
2. The smallest flipping gradient step: robustlab's exact `minimal_gradient_step` against a dense
   line search over 1000 candidate steps (1000 forward passes).
3. Grid search throughput (paper 004 section 4.1) in grid points per second.

Model: TwoLayerNet with d = 784, m = 1000 (NTK init), trained 300 SGD steps on MNIST 0 vs 1 when
the local copy is found (ROBUSTLAB_DATA), else random inputs in [0, 1]; batch 1000 test points.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from robustlab import TwoLayerNet
from robustlab.attacks import minimal_gradient_step, paper_grid_search, pgd


class TwoLogits(nn.Module):
    """A one-logit net as the two logits [-f/2, f/2] (softmax CE = logistic loss of y f)."""

    def __init__(self, net: TwoLayerNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        f = self.net(x)[0]
        return torch.stack([-f / 2, f / 2], dim=1)


def _data(width: int, batch: int) -> tuple[TwoLayerNet, Tensor, Tensor, str]:
    g = torch.Generator().manual_seed(0)
    net = TwoLayerNet.ntk(1, width, 784, generator=g)
    root = os.environ.get("ROBUSTLAB_DATA")
    candidates = [Path(root)] if root else []
    candidates.append(Path(__file__).resolve().parents[2] / "shared" / "data")
    folder = next((p for p in candidates if (p / "mnist").is_dir()), None)
    if folder is None:
        x = torch.rand(batch, 784, generator=g)
        return net, x, torch.sign(net(x)[0]).detach(), "uniform random inputs, random net"
    from robustlab.data import mnist_binary

    train = mnist_binary("train", data_dir=folder)
    test = mnist_binary("test", data_dir=folder)
    with torch.no_grad():
        for _ in range(300):
            idx = torch.randint(0, train.x.shape[0], (64,), generator=g)
            xb, yb = train.x[idx], train.y[idx]
            net.W -= 0.5 * net.param_grad(xb, yb * -torch.sigmoid(-yb * net(xb)[0]) / 64)
    return net, test.x[:batch], test.y[:batch], "MNIST 0 vs 1 test points, net trained 300 steps"


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _line_search(net: TwoLayerNet, x: Tensor, candidates: int) -> Tensor:
    """The obvious way: f(x - sign f * t_j * grad f) at `candidates` steps t_j on
    (0, 10 |f| / ||grad f||^2], first flip per sample (inf if none)."""
    with torch.no_grad():
        f = net(x)[0]
        grad = net.input_grad(x)[0]
        top = 10 * f.abs() / grad.pow(2).sum(dim=1)
        ray = -f.sign().unsqueeze(1) * grad
        best = torch.full_like(f, torch.inf)
        for j in range(candidates, 0, -1):
            t = top * (j / candidates)
            flipped = net(x + t.unsqueeze(1) * ray)[0] * f < 0
            best = torch.where(flipped, t, best)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import torchattacks

    width, batch, steps, candidates, grid_points = 1000, 1000, 50, 1000, 800
    repeats = args.repeats
    if args.quick:
        width, batch, steps, candidates, grid_points, repeats = 200, 200, 10, 100, 100, 1
    net, x, y, source = _data(width, batch)
    eps = 0.05
    alpha = 2.5 * eps / steps
    wrapped = TwoLogits(net).eval()
    labels = (y > 0).long()
    budgets = [0.02, 0.035, 0.05, 0.075, 0.1]

    def ours() -> Tensor:
        r = pgd(
            net, x, y, eps=eps, steps=steps, step_size=alpha, random_start=False, box=(0.0, 1.0)
        )
        return (~r.success).sum()

    def ours_early() -> Tensor:
        r = pgd(
            net,
            x,
            y,
            eps=eps,
            steps=steps,
            step_size=alpha,
            random_start=False,
            box=(0.0, 1.0),
            early_stop=True,
        )
        return (~r.success).sum()

    def theirs() -> Tensor:
        attack = torchattacks.PGD(wrapped, eps=eps, alpha=alpha, steps=steps, random_start=False)
        adv = attack(x, labels)
        with torch.no_grad():
            return (wrapped(adv).argmax(dim=1) == labels).sum()

    def ours_curve() -> Tensor:
        r = pgd(
            net,
            x,
            y,
            eps=budgets,
            steps=steps,
            step_size=alpha,
            random_start=False,
            box=(0.0, 1.0),
            early_stop=True,
        )
        return (~r.success).sum(dim=-1).flatten()

    def theirs_curve() -> Tensor:
        counts = []
        for b in budgets:
            attack = torchattacks.PGD(wrapped, eps=b, alpha=alpha, steps=steps, random_start=False)
            adv = attack(x, labels)
            with torch.no_grad():
                counts.append((wrapped(adv).argmax(dim=1) == labels).sum())
        return torch.stack(counts)

    def exact() -> Tensor:
        return minimal_gradient_step(net, x).eta.abs()[0]

    def dense() -> Tensor:
        return _line_search(net, x, candidates)

    jobs: dict[str, Callable[[], object]] = {
        "pgd_ours": ours,
        "pgd_ours_early": ours_early,
        "pgd_torchattacks": theirs,
        "curve_ours": ours_curve,
        "curve_torchattacks": theirs_curve,
        "minimal_exact": exact,
        "minimal_line_search": dense,
    }
    times: dict[str, list[float]] = {k: [] for k in jobs}
    outputs: dict[str, object] = {}
    for _ in range(repeats):
        for name, job in jobs.items():
            seconds, outputs[name] = _timed(job)
            times[name].append(seconds)
    grid_seconds, grid = _timed(lambda: paper_grid_search("reflected", points_per_axis=grid_points))
    med = {k: statistics.median(v) for k, v in times.items()}

    exact_eta = outputs["minimal_exact"]
    dense_eta = outputs["minimal_line_search"]
    assert isinstance(exact_eta, Tensor) and isinstance(dense_eta, Tensor)
    both = torch.isfinite(exact_eta) & torch.isfinite(dense_eta)
    gap = ((dense_eta[both] - exact_eta[both]) / exact_eta[both]).abs()

    print(f"# robustlab attack benchmark{' (--quick)' if args.quick else ''}")
    print(
        f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}"
    )
    print(f"model: TwoLayerNet d=784, m={width}, ReLU; batch {batch}; data: {source}")
    print(f"median of {repeats} interleaved repeats (all runs in seconds in brackets)\n")
    print("| measurement | robustlab | reference | speed-up | result |")
    print("| --- | --- | --- | --- | --- |")

    def runs(name: str) -> str:
        return ", ".join(f"{t:.2f}" for t in times[name])

    print(
        f"| PGD-linf {steps} steps, eps={eps}, CE (robustlab vs torchattacks.PGD) | "
        f"{med['pgd_ours']:.2f} s [{runs('pgd_ours')}] | {med['pgd_torchattacks']:.2f} s "
        f"[{runs('pgd_torchattacks')}] | {med['pgd_torchattacks'] / med['pgd_ours']:.2f}x | "
        f"robust {int(outputs['pgd_ours'])} vs {int(outputs['pgd_torchattacks'])} "  # type: ignore[call-overload]
        f"of {batch} |"
    )
    print(
        f"| same, robustlab early_stop=True (identical success mask) | "
        f"{med['pgd_ours_early']:.2f} s [{runs('pgd_ours_early')}] | "
        f"{med['pgd_torchattacks']:.2f} s | "
        f"{med['pgd_torchattacks'] / med['pgd_ours_early']:.2f}x | "
        f"robust {int(outputs['pgd_ours_early'])} of {batch} |"
    )  # type: ignore[call-overload]
    curve_ours = outputs["curve_ours"]
    curve_theirs = outputs["curve_torchattacks"]
    assert isinstance(curve_ours, Tensor) and isinstance(curve_theirs, Tensor)
    print(
        f"| robust-accuracy curve, {len(budgets)} budgets {budgets}: one robustlab call "
        f"(early stop) vs {len(budgets)} torchattacks calls | {med['curve_ours']:.2f} s "
        f"[{runs('curve_ours')}] | {med['curve_torchattacks']:.2f} s "
        f"[{runs('curve_torchattacks')}] | "
        f"{med['curve_torchattacks'] / med['curve_ours']:.2f}x | robust "
        f"{curve_ours.tolist()} vs {curve_theirs.tolist()} |"
    )
    print(
        f"| minimal flipping gradient step (exact) vs dense line search, {candidates} "
        f"candidates | {med['minimal_exact']:.3f} s [{runs('minimal_exact')}] | "
        f"{med['minimal_line_search']:.2f} s [{runs('minimal_line_search')}] | "
        f"{med['minimal_line_search'] / med['minimal_exact']:.1f}x | flips found "
        f"{int(torch.isfinite(exact_eta).sum())} vs {int(torch.isfinite(dense_eta).sum())}; "
        f"median relative gap of the line search {float(gap.median()):.1e} |"
    )
    rate = grid.points_total / grid_seconds  # type: ignore[attr-defined]
    print(
        f"| grid search, paper 004 sec. 4.1, {grid_points}^3 points, greedy reflected loss | "
        f"{grid_seconds:.1f} s | | | {rate / 1e6:.1f} M points/s, "
        f"{grid.points_in_ball} in the ball, top-k flips "  # type: ignore[attr-defined]
        f"{dict(zip(grid.top_k, grid.flips.tolist(), strict=True))} |"
    )  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
