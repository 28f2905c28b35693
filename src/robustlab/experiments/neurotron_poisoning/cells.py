"""neurotron-poisoning's cells and run_cell: one learner against one oracle, E runs batched."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from robustlab.experiments.base import Cell, CellContext
from robustlab.experiments.neurotron_poisoning.config import (
    F64,
    Config,
    InputLaw,
    NoiseShape,
    OracleName,
)
from robustlab.learners.neurotron import Sampler, neurotron, sgd_square_loss
from robustlab.models.single_filter import SensingFamily, SingleFilterNet, perturbed_mean_sensing
from robustlab.poisoning.oracles import AdversarialOracle, RandomOracle, RealizableOracle

_F64 = F64


# --------------------------------------------------------------------------- cells
def _sweeps(config: Config, oracle: str) -> list[tuple[str, list[float], list[float]]]:
    """(sweep name, thetas, betas) of the cells for one oracle; members = thetas x betas."""
    if oracle == "none":
        return [("theta", [0.0], [0.0])]
    if oracle == "realizable":
        # Section II-A corrupts every label, so that w_adv realizes all of them.
        return [("theta", list(config.thetas), [1.0])]
    sweeps = [("theta", list(config.thetas), [config.attack_probability])]
    if config.beta_sweep:
        sweeps.append(("beta", [config.beta_sweep_theta], list(config.beta_sweep)))
    return sweeps


_LOOPED = (
    "seeds",
    "distributions",
    "oracles",
    "learners",
    "thetas",
    "attack_probability",
    "beta_sweep",
    "beta_sweep_theta",
)
"""Fields that reach a cell through the loops of `cells` (one value, or its thetas/betas)."""
_THEORY_ONLY = ("moment_samples",)


def cells(config: Config) -> list[Cell]:
    """One cell per (seed, distribution, oracle, learner, sweep); theta/beta grids batched in E."""
    fixed = {
        name: value
        for name, value in config.model_dump().items()
        if name not in _LOOPED and name not in _THEORY_ONLY
    }
    out = []
    for seed in config.seeds:
        for law in config.distributions:
            for oracle in config.oracles:
                for learner in config.learners:
                    for sweep, thetas, betas in _sweeps(config, oracle):
                        params = {
                            "distribution": law.name,
                            "family": law.family,
                            "scale": law.scale,
                            "df": law.df,
                            "dim": law.dim,
                            "eta": law.eta,
                            "oracle": oracle,
                            "learner": learner,
                            "sweep": sweep,
                            "thetas": thetas,
                            "betas": betas,
                            **fixed,
                            "seed": seed,
                        }
                        out.append(Cell(params))
    return out


# --------------------------------------------------------------------------- the net and oracles
def draw_network(
    law: InputLaw, *, filter_size: int, width: int, generator: torch.Generator
) -> SensingFamily:
    """The A_i = M + c_i C family of one seed, drawn first from its generator in float64."""
    return perturbed_mean_sensing(width, filter_size, law.dim, generator=generator, dtype=_F64)


def insensitive_direction(sensing: Tensor) -> Tensor:
    """Unit u minimising sum_i ||A_i^T u||^2: bottom eigenvector of sum_i A_i A_i^T, (r,)."""
    gram = torch.einsum("krn,ksn->rs", sensing.to(_F64), sensing.to(_F64))
    direction: Tensor = torch.linalg.eigh(gram).eigenvectors[:, 0]
    return direction


def realizable_envelope(
    sensing: Tensor,
    direction: Tensor,
    sampler: Sampler,
    *,
    samples: int,
    generator: torch.Generator,
) -> float:
    """G = max over `samples` draws of (1/k) sum_i |u^T A_i x|.

    |f_{w*+rho u}(x) - f_{w*}(x)| <= rho (1/k) sum_i |u^T A_i x| for alpha in [0, 1], so
    w_adv = w* + (theta / G) u keeps |xi| <= theta on inputs like the calibration draws
    (paper 000 section II-A needs sup_x |xi_x| <= theta; labels beyond it are clipped).
    """
    filters = torch.einsum("r,krn->kn", direction.to(_F64), sensing.to(_F64))
    largest, done = 0.0, 0
    while done < samples:
        size = min(16_384, samples - done)
        x = sampler(size, generator).to(_F64)
        largest = max(largest, float((x @ filters.T).abs().mean(dim=1).max()))
        done += size
    return largest


def make_oracle(
    kind: OracleName,
    model: SingleFilterNet,
    w_star: Tensor,
    *,
    theta: Tensor,
    beta: Tensor,
    noise: NoiseShape,
    M: Tensor,
    w_adv: Tensor | None,
) -> RandomOracle | AdversarialOracle | RealizableOracle:
    """The library's per-member oracle of one cell: theta_e and beta_e per member, (E,) each.

    "none": no noise (theta = beta = 0); "realizable": the labels of w_adv on every sample,
    clipped to [-theta_e, theta_e] (the clipped labels are counted).
    """
    if kind == "none":
        return RandomOracle(
            model, w_star, theta=torch.zeros_like(theta), beta=torch.zeros_like(beta)
        )
    if kind == "random":
        return RandomOracle(model, w_star, theta=theta, beta=beta, kind=noise)
    if kind == "adversarial":
        return AdversarialOracle(model, w_star, theta=theta, M=M, beta=beta)
    if w_adv is None:
        raise ValueError("the realizable oracle needs w_adv")
    return RealizableOracle(model, w_star, w_adv, theta=theta, clip=True)


# --------------------------------------------------------------------------- run_cell
def _law_of(cell: Cell) -> InputLaw:
    return InputLaw(
        name=str(cell["distribution"]),
        family=cell["family"],
        scale=float(cell["scale"]),
        df=None if cell["df"] is None else float(cell["df"]),
        dim=int(cell["dim"]),
        eta=float(cell["eta"]),
    )


def run_cell(cell: Cell, ctx: CellContext) -> list[dict[str, Any]]:
    """E = runs x |thetas| x |betas| runs of one learner against one oracle; ||w_t - w*|| rows.

    Draws, in order from the seed: A_i = M + c_i C, w* (runs, r), then seeds for the data
    stream and the w_adv calibration, so that every learner and oracle of a seed share the
    net, the w* and (for equal E) the inputs.
    """
    law = _law_of(cell)
    r, k, runs = int(cell["filter_size"]), int(cell["width"]), int(cell["runs"])
    thetas = [float(v) for v in cell["thetas"]]
    betas = [float(v) for v in cell["betas"]]
    dtype, device = ctx.dtype, ctx.device
    gen = ctx.generator(cell.seed)
    family = draw_network(law, filter_size=r, width=k, generator=gen)
    w_star_runs = torch.randn(runs, r, generator=gen, dtype=_F64)
    stream_seed, calibration_seed = torch.randint(0, 2**62, (2,), generator=gen).tolist()

    combos = [(theta, beta) for theta in thetas for beta in betas]
    E = len(combos) * runs
    theta = torch.tensor([c[0] for c in combos], dtype=_F64).repeat_interleave(runs)
    beta = torch.tensor([c[1] for c in combos], dtype=_F64).repeat_interleave(runs)
    run_index = torch.arange(runs).repeat(len(combos))
    w_star = w_star_runs.repeat(len(combos), 1)

    w_adv = None
    gap = torch.full((E,), math.nan, dtype=_F64)
    if cell["oracle"] == "realizable":
        u = insensitive_direction(family.sensing)
        envelope = realizable_envelope(
            family.sensing,
            u,
            law.sampler(_F64),
            samples=int(cell["realizable_calibration"]),
            generator=torch.Generator().manual_seed(calibration_seed),
        )
        gap = theta / envelope
        w_adv = w_star + gap[:, None] * u

    stream_sampler = law.sampler(dtype)  # drawn in the compute dtype, on the CPU

    def sampler(num: int, generator: torch.Generator | None) -> Tensor:
        return stream_sampler(num, generator).to(device=device)

    model = SingleFilterNet(
        family.sensing.to(dtype),
        torch.full((E, r), float(cell["w0"]), dtype=dtype),
        alpha=float(cell["alpha"]),
    ).to(device)
    M = family.mean.to(dtype=dtype, device=device)
    oracle = make_oracle(
        cell["oracle"],
        model,
        w_star.to(dtype=dtype, device=device),
        theta=theta.to(dtype=dtype),
        beta=beta.to(dtype=dtype),
        noise=cell["noise"],
        M=M,
        w_adv=None if w_adv is None else w_adv.to(dtype=dtype, device=device),
    )
    steps, batch_size = int(cell["steps"]), int(cell["batch_size"])
    record_every = int(cell["record_every"])
    stream = torch.Generator().manual_seed(stream_seed)
    if cell["learner"] == "neurotron":
        result = neurotron(
            model,
            oracle,
            eta=law.eta,
            steps=steps,
            M=M,
            batch_size=batch_size,
            sampler=sampler,
            generator=stream,
            record_every=record_every,
        )
    else:
        result = sgd_square_loss(
            model,
            oracle,
            eta=law.eta,
            steps=steps,
            batch_size=batch_size,
            sampler=sampler,
            generator=stream,
            record_every=record_every,
            gradient="first-sample" if cell["learner"] == "sgd-published" else "per-sample",
        )

    w_final = result.w.detach().to(_F64).cpu()
    to_adv = (w_final - w_adv).norm(dim=1) if w_adv is not None else torch.full((E,), math.nan)
    labels = max(oracle.labels_seen, 1)
    per_member = {
        "attacked_fraction": (oracle.attacked.cpu().to(_F64) / labels).tolist(),
        "clipped_fraction": (oracle.clipped.cpu().to(_F64) / labels).tolist(),
        "max_noise": oracle.max_noise.cpu().to(_F64).tolist(),
        "w_adv_gap": gap.tolist(),
        "final_error_to_adv": to_adv.tolist(),
        "diverged": (~torch.isfinite(w_final).all(dim=1)).tolist(),
    }
    recorded = result.steps.tolist()
    distance = result.distance.detach().to(_F64).cpu().numpy()
    rows = []
    for e in range(E):
        member = {
            "theta": float(theta[e]),
            "beta": float(beta[e]),
            "run": int(run_index[e]),
            **{name: values[e] for name, values in per_member.items()},
        }
        for i, t in enumerate(recorded):
            rows.append({**member, "t": int(t), "error": float(distance[e, i])})
    return rows


def estimate_memory(config: Config) -> int:
    """Peak bytes of one cell: calibration chunk, per-step tensors, the trace and the rows."""
    n = max(law.dim for law in config.distributions)
    members = config.runs * max(len(config.thetas), len(config.beta_sweep), 1)
    records = config.steps // config.record_every + 2
    step = members * config.batch_size * (n + config.width) * 8 * 12
    rows = members * records * 400
    return 16_384 * n * 8 * 4 + step + rows + 64 * 2**20
