"""robust-sample-complexity: the sweep and one cell (the exact errors of w = sum_i y_i x_i)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from robustlab.data.synthetic import schmidt_bernoulli, schmidt_gaussian
from robustlab.experiments.base import Cell, CellContext
from robustlab.experiments.robust_sample_complexity.config import Config, _tau
from robustlab.theory.schmidt import bernoulli_linear_error_curve, gaussian_linear_error

_CHUNK_ENTRIES = 1 << 23  # samples x d drawn at once (64 MiB in float64)


_SHARED = ("n_samples", "replicates", "dtype")


def cells(config: Config) -> list[Cell]:
    """One cell per (seed, model, d); each holds only the settings its model uses."""
    values = config.model_dump()
    shared = {name: values[name] for name in _SHARED}
    out = []
    for seed in config.seeds:
        for d in config.gaussian_dims:
            params = {"eps": values["eps"], "sigma_coef": values["sigma_coef"]}
            out.append(Cell({"model": "gaussian", "dim": d, **params, **shared, "seed": seed}))
        for d in config.bernoulli_dims:
            params = {
                "bernoulli_eps_over_tau": values["bernoulli_eps_over_tau"],
                "tau_coef": values["tau_coef"],
            }
            out.append(Cell({"model": "bernoulli", "dim": d, **params, **shared, "seed": seed}))
    return out


def _sums(
    draw: Any,
    n_grid: list[int],
    replicates: int,
    d: int,
    device: torch.device | None = None,
) -> list[torch.Tensor]:
    """w = sum_i y_i x_i (replicates, d) float64 at every n of n_grid, samples drawn in chunks.

    The samples are drawn on the CPU (the same numbers on every device) and summed on
    ``device``; the sums stay there (the caller copies them out once per n).
    """
    device = torch.device("cpu") if device is None else device
    w = torch.zeros(replicates, d, dtype=torch.float64, device=device)
    sums, done = [], 0
    rounds_per_chunk = max(1, _CHUNK_ENTRIES // (replicates * d))
    for n in n_grid:
        while done < n:
            rounds = min(rounds_per_chunk, n - done)
            batch = draw(rounds * replicates)
            x, y = batch.x.to(device, non_blocking=True), batch.y.to(device, non_blocking=True)
            signed = (y[:, None] * x).to(torch.float64)
            w += signed.reshape(rounds, replicates, d).sum(dim=0)
            done += rounds
        sums.append(w.clone())
    return sums


def run_cell(cell: Cell, ctx: CellContext) -> list[dict[str, Any]]:
    """Exact standard and robust errors of w = sum_{i<=n} y_i x_i for every n, eps, replicate.

    Rows: one per (n, classifier, epsilon) with the mean, std, min and max over replicates.
    """
    d, seed = int(cell["dim"]), cell.seed
    generator = ctx.generator(seed)
    replicates, n_grid = int(cell["replicates"]), [int(n) for n in cell["n_samples"]]
    dtype = CellContext.dtype_of(str(cell["dtype"]))
    rows: list[dict[str, Any]] = []

    def add(
        n: int,
        classifier: str,
        epsilon: float,
        errors: npt.NDArray[np.float64],
        **extra: float,
    ) -> None:
        rows.append(
            {
                "n": n,
                "classifier": classifier,
                "epsilon": epsilon,
                **extra,
                "error_mean": float(errors.mean()),
                "error_std": float(errors.std()),
                "error_min": float(errors.min()),
                "error_max": float(errors.max()),
            }
        )

    if cell["model"] == "gaussian":
        sigma = float(cell["sigma_coef"]) * d**0.25
        theta = torch.randn(d, generator=generator, dtype=torch.float64)
        theta *= math.sqrt(d) / theta.norm()

        def draw_gaussian(count: int) -> Any:
            return schmidt_gaussian(
                count, d, sigma=sigma, theta=theta, generator=generator, dtype=dtype
            )

        theta_np = theta.numpy()
        gaussian_budgets = [0.0, *(float(e) for e in cell["eps"])]
        sums = _sums(draw_gaussian, n_grid, replicates, d, ctx.device)
        for n, w in zip(n_grid, sums, strict=True):
            w_np = w.cpu().numpy()  # the closed-form errors are evaluated on the host
            for epsilon in gaussian_budgets:
                errors = gaussian_linear_error(w_np, theta_np, sigma=sigma, eps=epsilon)
                add(n, "linear", epsilon, errors)
        return rows

    tau = _tau(float(cell["tau_coef"]), d)
    theta = torch.randint(0, 2, (d,), generator=generator).to(torch.float64) * 2 - 1

    def draw_bernoulli(count: int) -> Any:
        return schmidt_bernoulli(count, d, tau=tau, theta=theta, generator=generator, dtype=dtype)

    ratios = [0.0, *(float(r) for r in cell["bernoulli_eps_over_tau"])]
    budgets = np.array([r * tau for r in ratios])
    theta_np = theta.numpy()
    sums = _sums(draw_bernoulli, n_grid, replicates, d, ctx.device)
    for n, w in zip(n_grid, sums, strict=True):
        # One FFT per training set gives every budget; a loop over replicates, not samples.
        errors = np.stack(
            [
                bernoulli_linear_error_curve(row, theta_np, tau=tau, eps=budgets)
                for row in w.cpu().numpy()
            ]
        )  # (replicates, len(ratios))
        for k, (ratio, epsilon) in enumerate(zip(ratios, budgets.tolist(), strict=True)):
            add(n, "linear", epsilon, errors[:, k], eps_over_tau=ratio, tau=tau)
            # f o sgn: for eps < 1 the adversary cannot change sgn(x), so its robust error is
            # the standard error of w (column 0), exactly.
            add(n, "thresholded", epsilon, errors[:, 0], eps_over_tau=ratio, tau=tau)
    return rows


def estimate_memory(config: Config) -> int:
    """Peak bytes of one cell: a chunk of drawn samples (x3 for temporaries) and the sums."""
    d = max([*config.gaussian_dims, *config.bernoulli_dims])
    per_chunk = max(_CHUNK_ENTRIES, config.replicates * d) * 8 * 3
    return per_chunk + 4 * config.replicates * d * 8
