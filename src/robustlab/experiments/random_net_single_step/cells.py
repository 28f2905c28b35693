"""random-net-single-step: the sweep and the cell (the exact minimal flipping step per pair)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from robustlab.attacks import GradientStepResult, gradient_step, minimal_gradient_step
from robustlab.data.synthetic import sphere
from robustlab.experiments.base import Cell, CellContext, grid
from robustlab.experiments.random_net_single_step.config import Config
from robustlab.models import TwoLayerNet
from robustlab.models.activations import get_activation

#: Networks drawn per block: bounds memory (W is block x k x d) and fixes the random stream,
#: so the same seed gives the same networks whatever the machine.
NETWORK_BLOCK = 10
#: Smooth activations: first search |eta| <= min(max_eta, BRACKET_FACTOR * |f| / ||grad f||^2)
#: on SCAN_POINTS points, then the whole |eta| <= max_eta for the rays not flipped there; the
#: root is bracketed to a relative width ROOT_RTOL (far below the spread of |eta|).
BRACKET_FACTOR = 4.0
SCAN_POINTS = 32
ROOT_RTOL = 1e-4


def cells(config: Config) -> list[Cell]:
    """One cell per (seed, d, k, activation)."""
    return grid(config, sweep=("dim", "width", "activation"))


def _cell_seed(seed: int, d: int, k: int) -> int:
    """A seed for (seed, d, k): independent draws across (d, k), the same across activations."""
    return int(np.random.SeedSequence([seed, d, k]).generate_state(1, dtype=np.uint32)[0])


def run_cell(cell: Cell, ctx: CellContext) -> list[dict[str, Any]]:
    """Exact minimal flipping step of n_networks nets x n_inputs inputs: one row per pair."""
    d, k = int(cell["dim"]), int(cell["width"])
    activation = str(cell["activation"])
    n, networks = int(cell["n_inputs"]), int(cell["n_networks"])
    max_eta = float(cell["max_eta"])
    generator = ctx.generator(_cell_seed(cell.seed, d, k))
    x = sphere(n, d, radius="sqrt_d", generator=generator, dtype=ctx.dtype).x.to(ctx.device)
    input_norm = x.norm(dim=1)
    rows: list[dict[str, Any]] = []
    for first in range(0, networks, NETWORK_BLOCK):
        size = min(NETWORK_BLOCK, networks - first)
        net = TwoLayerNet.bubeck(
            size, k, d, activation=activation, generator=generator, dtype=ctx.dtype
        ).to(ctx.device)
        result = _minimal_step(net, x, max_eta=max_eta)
        eta = result.eta.to(torch.float64)
        grad_norm = result.grad_norm.to(torch.float64)
        f_clean = result.f_clean.to(torch.float64)
        columns = {
            "eta": eta,
            "abs_eta": eta.abs(),
            "delta_norm": result.delta_norm.to(torch.float64),
            "relative_delta": result.delta_norm.to(torch.float64) / input_norm.to(torch.float64),
            "grad_norm": grad_norm,
            "f_clean": f_clean,
            "eta_linear": f_clean.abs() / grad_norm.square(),
            "flipped": result.flipped & (eta.abs() <= max_eta),
        }
        network = torch.arange(first, first + size).unsqueeze(1).expand(size, n)
        sample = torch.arange(n).unsqueeze(0).expand(size, n)
        frame = {"network": network.reshape(-1), "input": sample.reshape(-1)}
        frame.update({name: value.reshape(-1).cpu() for name, value in columns.items()})
        records = pd.DataFrame({key: v.numpy() for key, v in frame.items()}).to_dict("records")
        rows.extend({str(key): value for key, value in record.items()} for record in records)
    return rows


def _minimal_step(net: TwoLayerNet, x: torch.Tensor, *, max_eta: float) -> GradientStepResult:
    """`minimal_gradient_step` per pair: exact for ReLU; two-stage bracket for smooth nets.

    Smooth nets first search |eta| <= min(max_eta, 4 |f| / ||grad f||^2) (the flip sits near the
    linearized step |f| / ||grad f||^2, so a coarse scan there is cheap), then search the whole
    |eta| <= max_eta (the slides' range) for the pairs not flipped in the first stage.
    """
    if net.activation.piecewise_linear:
        return minimal_gradient_step(net, x)
    clean = gradient_step(net, x, 0.0)
    linear = clean.f_clean.abs() / clean.grad_norm.square().clamp_min(1e-30)
    first = minimal_gradient_step(
        net,
        x,
        max_eta=torch.clamp(BRACKET_FACTOR * linear, max=max_eta),
        rtol=ROOT_RTOL,
        scan_points=SCAN_POINTS,
    )
    missing = ~torch.isfinite(first.eta)
    if not bool(missing.any()):
        return first
    second = minimal_gradient_step(
        net,
        x,
        max_eta=torch.where(missing, max_eta, 0.0),
        rtol=ROOT_RTOL,
        scan_points=SCAN_POINTS * 8,
    )
    keep = missing & torch.isfinite(second.eta)
    fields = {}
    for name in ("eta", "delta_norm", "f_adv", "flipped"):
        fields[name] = torch.where(keep, getattr(second, name), getattr(first, name))
    delta = torch.where(keep.unsqueeze(-1), second.delta, first.delta)
    return GradientStepResult(
        eta=fields["eta"],
        delta=delta,
        delta_norm=fields["delta_norm"],
        grad_norm=first.grad_norm,
        f_clean=first.f_clean,
        f_adv=fields["f_adv"],
        flipped=fields["flipped"],
    )


#: Peak bytes per (network of a block, input, hidden unit) of the ray scans, measured with
#: /proc/self/status VmHWM (tests/experiments/test_random_net_memory.py): ReLU at most 150, tanh
#: and softplus about 300 (9.47 GiB at d=256, k=32768, 100 inputs, a block of 10) in float32.
SCAN_BYTES_RELU = 192
SCAN_BYTES_SMOOTH_FLOAT32 = 320
#: The interpreter's and torch's own allocations beside a cell's tensors.
OVERHEAD_BYTES = 128 * 2**20


def estimate_memory(config: Config) -> int:
    """An upper bound of one cell's peak bytes: a block of W, its ray scans and the row frames.

    The smooth activations' two-stage bracket search keeps about twice ReLU's scan in memory;
    float64 doubles it. Tested against measured peaks (issue 13, "Also measured").
    """
    d, k, n = max(config.dim), max(config.width), config.n_inputs
    block = min(NETWORK_BLOCK, config.n_networks)
    smooth = any(not get_activation(name).piecewise_linear for name in config.activation)
    width_bytes = 2 if config.dtype == "float64" else 1
    per_unit = max(SCAN_BYTES_RELU, SCAN_BYTES_SMOOTH_FLOAT32 * width_bytes * smooth)
    weights = 3 * block * k * d * 8
    scan = per_unit * block * n * max(d, k)
    rows = config.n_networks * n * 1000
    return OVERHEAD_BYTES + weights + scan + rows
