"""One mixed-integer program per (point, margin): min ||delta|| with a negative margin (private).

Variables delta, the hidden units h_k = relu(z_k) of the unstable neurons, binaries r_k.
sigma(z) = alpha z + (1 - alpha) relu(z), so the margin sum_k c_k sigma(z_k) is linear in (z, h).
With z_k in [l_k, u_k] (interval bounds over the ball of radius R, the big-M constants):
a neuron with c_k (1 - alpha) > 0 only needs h_k >= max(0, z_k) (the margin constraint pushes
h_k down, so the convex hull is exact and no binary is needed); one with c_k (1 - alpha) < 0
needs h_k <= max(0, z_k): h_k <= u_k r_k, h_k <= z_k - l_k (1 - r_k) (Tjeng, Xiao & Tedrake
2019, eq. (5), one-sided). linf and l1 are MILPs solved by HiGHS (scipy.optimize.milp); l2 is a
mixed-integer program with a convex quadratic constraint solved by SCIP (pyscipopt), in the row
space of W (delta = Q v: the part of delta orthogonal to every w_k only adds to its norm).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

Array = NDArray[np.float64]

logger = logging.getLogger(__name__)

#: Relative optimality gap asked of both solvers.
MIP_GAP = 1e-7


@dataclass(frozen=True)
class Solution:
    """status: "optimal" | "infeasible" | "time_limit" | "solver_error"; delta: (d,) or None
    (no incumbent); lower: proved lower bound on the norm within the ball (R where infeasible)."""

    status: str
    delta: Array | None
    lower: float


@dataclass(frozen=True)
class Encoding:
    """The margin as (constant, coefficient of delta-space variables, unstable neurons).

    Row space of size r (d, or the rank of W for l2). Each neuron k: z_k = pre_k + M_k . v.
    """

    constant: float
    linear: Array  # (r,)
    convex: NDArray[np.intp]  # indices of unstable neurons with gamma > 0
    binary: NDArray[np.intp]  # indices of unstable neurons with gamma < 0
    gamma: Array  # (m,) c_k (1 - alpha)
    low: Array
    high: Array


def encode(M: Array, pre: Array, coef: Array, alpha: float, rho: Array, radius: float) -> Encoding:
    """Interval bounds over the ball of `radius` and the linear part of the margin."""
    low, high = pre - radius * rho, pre + radius * rho
    gamma = coef * (1.0 - alpha)
    active = low >= 0
    unstable = (low < 0) & (high > 0) & (gamma != 0)
    lin = coef * alpha + np.where(active, gamma, 0.0)
    return Encoding(
        constant=float(lin @ pre),
        linear=lin @ M,
        convex=np.flatnonzero(unstable & (gamma > 0)),
        binary=np.flatnonzero(unstable & (gamma < 0)),
        gamma=gamma,
        low=low,
        high=high,
    )


def solve_highs(
    M: Array,
    pre: Array,
    coef: Array,
    alpha: float,
    *,
    norm: str,
    radius: float,
    target: float,
    time_limit: float | None,
) -> Solution:
    """min ||delta||_inf or ||delta||_1 with margin(x + delta) <= target, ||delta|| <= radius.

    M: (m, d) the first layer; pre: W x + b (m,); coef: (m,); target: the margin to reach.
    """
    d = M.shape[1]
    rho = np.abs(M).sum(axis=1) if norm == "linf" else np.abs(M).max(axis=1)
    enc = encode(M, pre, coef, alpha, rho, radius)
    conv, binr = enc.convex, enc.binary
    hidden = np.concatenate([conv, binr])
    nh, nb = hidden.size, binr.size
    aux = 1 if norm == "linf" else d
    n_var = d + aux + nh + nb
    h0, r0 = d + aux, d + aux + nh
    cost = np.zeros(n_var)
    cost[d : d + aux] = 1.0
    blocks: list[Any] = []
    lower: list[Array] = []
    upper: list[Array] = []

    def rows(matrix: Any, lo: Array | float, hi: Array | float) -> None:
        count = matrix.shape[0]
        blocks.append(sparse.csr_matrix(matrix))
        lower.append(np.broadcast_to(np.asarray(lo, dtype=np.float64), (count,)))
        upper.append(np.broadcast_to(np.asarray(hi, dtype=np.float64), (count,)))

    margin = np.zeros((1, n_var))
    margin[0, :d] = enc.linear
    margin[0, h0 : h0 + nh] = enc.gamma[hidden]
    rows(margin, -np.inf, target - enc.constant)
    eye = sparse.identity(d, format="csr")
    if norm == "linf":
        ones = sparse.csr_matrix(np.ones((d, 1)))
        rows(sparse.hstack([-eye, ones, sparse.csr_matrix((d, n_var - d - 1))]), 0.0, np.inf)
        rows(sparse.hstack([eye, ones, sparse.csr_matrix((d, n_var - d - 1))]), 0.0, np.inf)
    else:
        rest = sparse.csr_matrix((d, nh + nb))
        rows(sparse.hstack([-eye, eye, rest]), 0.0, np.inf)
        rows(sparse.hstack([eye, eye, rest]), 0.0, np.inf)
        total = np.zeros((1, n_var))
        total[0, d : 2 * d] = 1.0
        rows(total, -np.inf, radius)
    if conv.size:
        # h_k - w_k . delta >= pre_k
        block = np.zeros((conv.size, n_var))
        block[:, :d] = -M[conv]
        block[np.arange(conv.size), h0 + np.arange(conv.size)] = 1.0
        rows(block, pre[conv], np.inf)
    if nb:
        index = np.arange(nb)
        h_cols = h0 + conv.size + index
        # h_k - u_k r_k <= 0
        block = np.zeros((nb, n_var))
        block[index, h_cols] = 1.0
        block[index, r0 + index] = -enc.high[binr]
        rows(block, -np.inf, 0.0)
        # h_k - w_k . delta - l_k r_k <= pre_k - l_k
        block = np.zeros((nb, n_var))
        block[:, :d] = -M[binr]
        block[index, h_cols] = 1.0
        block[index, r0 + index] = -enc.low[binr]
        rows(block, -np.inf, pre[binr] - enc.low[binr])
    lb = np.concatenate([np.full(d, -radius), np.zeros(aux + nh + nb)])
    ub = np.concatenate([np.full(d + aux, radius), np.maximum(enc.high[hidden], 0.0), np.ones(nb)])
    integrality = np.zeros(n_var)
    integrality[r0:] = 1
    options: dict[str, Any] = {"mip_rel_gap": MIP_GAP, "presolve": True}
    if time_limit is not None:
        options["time_limit"] = max(1e-3, time_limit)
    result = milp(
        cost,
        integrality=integrality,
        bounds=Bounds(lb, ub),
        constraints=LinearConstraint(
            sparse.vstack(blocks, format="csr"), np.concatenate(lower), np.concatenate(upper)
        ),
        options=options,
    )
    if result.status == 2:
        return Solution("infeasible", None, radius)
    delta = None if result.x is None else np.asarray(result.x[:d], dtype=np.float64)
    bound = getattr(result, "mip_dual_bound", None)
    bound = 0.0 if bound is None or not math.isfinite(bound) else float(bound)
    if result.status == 0:
        return Solution("optimal", delta, max(bound, float(result.fun) * (1.0 - MIP_GAP)))
    if result.status == 1:
        return Solution("time_limit", delta, bound)
    logger.warning("HiGHS stopped: status %s, %s", result.status, result.message)
    return Solution("solver_error", delta, bound)


def require_scip() -> Any:
    """The pyscipopt module; ImportError naming the extra when it is not installed."""
    try:
        import pyscipopt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            'exact l2 verification needs the SCIP solver: pip install "robustlab[verify]" '
            "(installs pyscipopt); linf and l1 need only scipy"
        ) from err
    return pyscipopt


def solve_scip(
    M: Array,
    pre: Array,
    coef: Array,
    alpha: float,
    *,
    norm: str,
    radius: float,
    target: float,
    time_limit: float | None,
    start: Array | None = None,
) -> Solution:
    """min ||v|| with margin(x + Q v) <= target, ||v|| <= radius; M = W Q: (m, r).

    start: a v believed feasible, given to SCIP as a partial starting solution (SCIP completes
    and checks it), so that a time limit still returns an upper bound.

    l2: the objective is a variable t with ||v||_2 <= t (a second-order cone); linf and
    l1 are linear (SCIP is then the strict-tolerance fallback of HiGHS). Returns the optimal v
    (for l2 the caller maps it back to delta = Q v).
    """
    scip = require_scip()
    r = M.shape[1]
    rho = {"l2": np.linalg.norm(M, axis=1), "linf": np.abs(M).sum(axis=1)}.get(
        norm, np.abs(M).max(axis=1)
    )
    enc = encode(M, pre, coef, alpha, rho, radius)
    model = scip.Model()
    model.hideOutput()
    model.setParam("limits/gap", MIP_GAP)
    model.setParam("numerics/feastol", 1e-8)
    if time_limit is not None:
        model.setParam("timing/clocktype", 1)  # CPU seconds: a busy machine does not cut it short
        model.setParam("limits/time", max(1e-3, time_limit))
    v = [model.addVar(lb=-radius, ub=radius, name=f"v{i}") for i in range(r)]
    objective = model.addVar(lb=0.0, ub=radius, name="objective")
    hidden: dict[int, Any] = {}
    for k in np.concatenate([enc.convex, enc.binary]).tolist():
        hidden[k] = model.addVar(lb=0.0, ub=max(float(enc.high[k]), 0.0), name=f"h{k}")

    def affine(k: int) -> Any:
        return float(pre[k]) + scip.quicksum(float(M[k, i]) * v[i] for i in range(r))

    model.addCons(
        scip.quicksum(float(enc.linear[i]) * v[i] for i in range(r))
        + scip.quicksum(float(enc.gamma[k]) * h for k, h in hidden.items())
        <= target - enc.constant
    )
    for k in enc.convex.tolist():
        model.addCons(hidden[k] >= affine(k))
    switches: dict[int, Any] = {}
    for k in enc.binary.tolist():
        on = switches[k] = model.addVar(vtype="B", name=f"r{k}")
        model.addCons(hidden[k] <= float(enc.high[k]) * on)
        model.addCons(hidden[k] <= affine(k) - float(enc.low[k]) * (1 - on))
    if norm == "l2":
        # second-order cone ||v|| <= objective: SCIP's SOC handler separates it directly
        model.addCons(scip.quicksum(vi * vi for vi in v) <= objective * objective)
    elif norm == "linf":
        for vi in v:
            model.addCons(vi <= objective)
            model.addCons(-vi <= objective)
    else:
        size = [model.addVar(lb=0.0, ub=radius, name=f"e{i}") for i in range(r)]
        for vi, ei in zip(v, size, strict=True):
            model.addCons(vi <= ei)
            model.addCons(-vi <= ei)
        model.addCons(scip.quicksum(size) <= objective)
    model.setObjective(objective, "minimize")
    if start is not None:
        z = pre + M @ start
        pairs = list(zip(v, start.tolist(), strict=True))
        pairs += [(h, max(float(z[k]), 0.0)) for k, h in hidden.items()]
        pairs += [(on, float(z[k] > 0)) for k, on in switches.items()]
        if norm == "l2":
            pairs.append((objective, float(np.linalg.norm(start))))
        elif norm == "linf":
            pairs.append((objective, float(np.abs(start).max())))
        guess = model.createSol()
        for var, value in pairs:
            model.setSolVal(guess, var, value)
        if norm in ("l2", "linf"):
            accepted = model.addSol(guess)
            logger.debug("starting solution accepted: %s", accepted)
    try:
        model.optimize()
        status = model.getStatus()
    except Exception as err:  # SCIP raises a bare Exception on unresolved LP troubles
        logger.warning("SCIP stopped on numerical trouble: %s", err)
        status = "error"
    if status == "infeasible":
        return Solution("infeasible", None, radius)
    solution = model.getBestSol() if model.getNSols() > 0 else None
    values = None if solution is None else np.array([model.getSolVal(solution, vi) for vi in v])

    def length(value: float) -> float:
        return max(0.0, value)

    bound = length(float(model.getDualbound()))
    if status in ("optimal", "gaplimit"):
        best = length(float(model.getObjVal()) * (1.0 - MIP_GAP))
        return Solution("optimal", values, max(bound, best))
    if status in ("timelimit", "userinterrupt", "nodelimit"):
        return Solution("time_limit", values, bound)
    return Solution("solver_error", values, bound)


def clock() -> float:
    return time.perf_counter()
