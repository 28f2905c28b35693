"""The exact smallest perturbation that changes the prediction of a two-layer (leaky-)ReLU net.

On each activation region the net is affine, so the minimal perturbation is a mixed-integer
program (Tjeng, Xiao & Tedrake 2019, MIPVerify; for one hidden layer the program below): one
binary per unstable neuron whose output pushes the margin up, big-M constants from interval
bounds over a ball of radius R. R starts at an upper bound (the exact minimal gradient step of
`robustlab.attacks`, one logit) or at twice the certified radius, and grows four-fold while the
program is infeasible; each infeasible solve proves the radius exceeds R. linf and l1: MILP by
HiGHS (scipy); l2: mixed-integer program with a convex quadratic constraint by SCIP
(pyscipopt, the optional extra ``robustlab[verify]``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from robustlab.attacks.gradient_step import minimal_gradient_step
from robustlab.models.two_layer import TwoLayerNet
from robustlab.verify._problem import MarginProblem, check_norm, margin_problem, vector_norm
from robustlab.verify._solvers import (
    Array,
    Solution,
    clock,
    require_scip,
    solve_highs,
    solve_scip,
)
from robustlab.verify.certified import certified_radius

logger = logging.getLogger(__name__)

STATUSES = ("optimal", "time_limit", "no_flip", "misclassified", "solver_error")
"""Codes of `ExactResult.status`: 0 optimal (radius exact up to the solvers' relative gap
1e-7 and the flip margin), 1 time limit (radius is the best flip found, inf if none;
lower <= true radius <= upper), 2 no flip within `max_radius` (radius inf), 3 already
misclassified or on the decision boundary (radius 0), 4 the solver stopped on numerical
trouble (radius and bounds as for a time limit)."""

_GROWTH = 4.0
_NUDGES = 8


@dataclass(frozen=True)
class ExactResult:
    """Outcome of `exact_minimal_perturbation`; shapes (E, n) and delta (E, n, d), float64.

    radius: ||delta|| of the returned perturbation (inf where none was found); delta: the
    perturbation (zeros where none); lower, upper: proved bounds on the smallest flipping
    perturbation (equal up to the solver gap when optimal; upper is inf when no flip is known);
    status: int8 codes into `STATUSES`; flipped: the prediction at x + delta differs (checked
    in float64); solve_time: wall-clock seconds spent on each point; cpu_time: this process's
    CPU seconds on it (the solvers run single-threaded in process); norm: "linf" | "l1" | "l2".
    """

    radius: Tensor
    delta: Tensor
    lower: Tensor
    upper: Tensor
    status: Tensor
    flipped: Tensor
    solve_time: Tensor
    cpu_time: Tensor
    norm: str

    def status_names(self) -> list[list[str]]:
        """The status of every point as text: (E, n) nested lists."""
        return [[STATUSES[int(code)] for code in row] for row in self.status]


@dataclass(frozen=True)
class _Member:
    """One member's first layer in the variables the solver sees: delta = basis @ v."""

    M: Array
    basis: Array | None


def _member(W: Array, norm: str) -> _Member:
    m, d = W.shape
    if norm == "l2" and m < d:
        basis, _ = np.linalg.qr(W.T)
        return _Member(W @ basis, basis)
    return _Member(W, None)


def _solve(
    member: _Member,
    pre: Array,
    coef: Array,
    alpha: float,
    norm: str,
    radius: float,
    target: float,
    time_limit: float | None,
    *,
    strict: bool = False,
    hint: Array | None = None,
) -> Solution:
    """l2 by SCIP in the row space of W; linf / l1 by HiGHS, or by SCIP when `strict`.

    hint: a flipping delta (d,) handed to SCIP as a starting solution, or None.
    """
    if norm == "l2" or strict:
        if hint is not None and member.basis is not None:
            hint = member.basis.T @ hint
        solution = solve_scip(
            member.M,
            pre,
            coef,
            alpha,
            norm=norm,
            radius=radius,
            target=target,
            time_limit=time_limit,
            start=hint,
        )
        if solution.delta is not None and member.basis is not None:
            return Solution(solution.status, member.basis @ solution.delta, solution.lower)
        return solution
    return solve_highs(
        member.M,
        pre,
        coef,
        alpha,
        norm=norm,
        radius=radius,
        target=target,
        time_limit=time_limit,
    )


def _flips_margin(
    weights: Array, pre: Array, coef: Array, alpha: float, solution: Solution, margin: float
) -> bool:
    """False where the solver returned a delta at which the float64 margin (relative to its
    value at x) is above -margin / 2: a flip faked by the solver's tolerances."""
    if solution.delta is None:
        return True
    z = pre + weights @ solution.delta
    return float(coef @ np.where(z > 0, z, alpha * z)) < -0.5 * margin


def _norm(delta: Array, norm: str) -> float:
    return float(vector_norm(torch.from_numpy(delta), norm))


def _flips(problem: MarginProblem, e: int, i: int, delta: Array) -> bool:
    full = torch.zeros_like(problem.x[:, :1])
    full[e, 0] = torch.from_numpy(delta)
    point = MarginProblem(
        problem.W,
        problem.b,
        problem.x[:, i : i + 1],
        problem.pre[:, i : i + 1],
        problem.coef[:, i : i + 1],
        problem.g0[:, i : i + 1],
        problem.valid[:, i : i + 1],
        problem.correct[:, i : i + 1],
        problem.alpha,
    )
    return bool(point.flipped(full)[e, 0])


def _nudge(problem: MarginProblem, e: int, i: int, delta: Array) -> tuple[Array, bool]:
    """Scale delta by 1 + 1e-7 4^k until the float64 net flips (solver tolerances)."""
    for k in range(_NUDGES):
        candidate = delta * (1.0 + (0.0 if k == 0 else 1e-7 * _GROWTH ** (k - 1)))
        if _flips(problem, e, i, candidate):
            return candidate, True
    return delta, False


def _initial_radius(
    model: TwoLayerNet, x: Tensor, problem: MarginProblem, norm: str, y: Tensor | None
) -> tuple[Tensor, Tensor, Tensor | None]:
    """A first radius per point (the minimal gradient step's norm for one logit, else twice the
    certified radius), the certified radius (a lower bound) and, for one logit, the gradient
    step stretched by 1.005 as a starting solution (E, n, d) (NaN where it does not flip)."""
    certified = certified_radius(model, x, y, norm=norm, iterations=8)
    start = 2.0 * certified
    hints = None
    if model.outputs == 1:
        step = minimal_gradient_step(model, problem.x.to(model.W.dtype))
        delta = step.delta.detach().to(torch.float64)
        lengths = vector_norm(delta, norm)
        usable = torch.isfinite(lengths) & (lengths > certified)
        start = torch.where(usable, lengths * 1.01, start)
        hints = torch.where(usable.unsqueeze(-1), 1.005 * delta, torch.nan)
    tiny = 1e-3 * (1.0 + vector_norm(problem.x, norm))
    return torch.where(start > 0, start, tiny), certified, hints


def exact_minimal_perturbation(
    model: TwoLayerNet,
    x: Tensor,
    y: Tensor | None = None,
    *,
    norm: str = "l2",
    time_limit: float | None = None,
    max_radius: float | None = None,
    margin: float = 1e-5,
) -> ExactResult:
    """The smallest ||delta|| that changes the prediction at x + delta, for every point and member.

    model: a ReLU / leaky-ReLU `TwoLayerNet` (one or K logits, with or without hidden bias);
    x: (n, d) or (E, n, d); y: labels ({-1, +1} or 0..K-1) or None (the model's prediction at x);
    norm: "linf" | "l1" (MILP, HiGHS) | "l2" (convex mixed-integer quadratic program, SCIP).
    One logit: the sign of f flips; K logits: some other logit exceeds logit y. A flip means the
    margin reaches -margin |margin at x| (a relative 1e-5 by default, so that the returned delta
    flips strictly rather than landing on a flat zero of the net). `time_limit`: CPU seconds per
    point (SCIP counts CPU time; HiGHS, which counts wall time, gets the CPU time left); a
    point whose solver stops early gets status "time_limit" and proved lower / upper bounds.
    `max_radius`: search no farther (default 1e3 max(1, ||x||)); no flip within it gives
    radius inf and status "no_flip". Returns an `ExactResult`.
    Raises TypeError / ValueError for another model, a smooth activation, a bad norm or bad
    arguments, ImportError (naming the extra) when l2 is asked without pyscipopt.
    """
    check_norm(norm)
    if norm == "l2":
        require_scip()
    if time_limit is not None and not time_limit > 0:
        raise ValueError(f"time_limit must be > 0 seconds or None, got {time_limit}")
    if max_radius is not None and not (math.isfinite(max_radius) and max_radius > 0):
        raise ValueError(f"max_radius must be finite and > 0 or None, got {max_radius}")
    if not 0 < margin < 1:
        raise ValueError(f"margin must lie in (0, 1), got {margin}")
    problem = margin_problem(model, x, y)
    E, n, d = problem.x.shape
    start, start_lower, hints = _initial_radius(model, x, problem, norm, y)
    caps = (
        torch.full((E, n), float(max_radius), dtype=torch.float64)
        if max_radius is not None
        else 1e3 * vector_norm(problem.x, norm).clamp_min(1.0)
    )
    radius = torch.full((E, n), math.inf, dtype=torch.float64)
    lower = torch.zeros(E, n, dtype=torch.float64)
    delta = torch.zeros(E, n, d, dtype=torch.float64)
    status = torch.zeros(E, n, dtype=torch.int8)
    flipped = torch.zeros(E, n, dtype=torch.bool)
    seconds = torch.zeros(E, n, dtype=torch.float64)
    cpu = torch.zeros(E, n, dtype=torch.float64)
    W_np = problem.W.numpy()
    for e in range(E):
        member = _member(W_np[e], norm)
        for i in range(n):
            began, began_cpu = clock(), time.process_time()
            if not bool(problem.correct[e, i]):
                radius[e, i], status[e, i] = 0.0, STATUSES.index("misclassified")
                flipped[e, i] = bool((problem.g0[e, i] <= 0).any())
                continue
            outcome = _solve_point(
                problem,
                member,
                e,
                i,
                norm,
                float(start[e, i]),
                float(caps[e, i]),
                margin,
                time_limit,
                None if hints is None else hints[e, i].numpy(),
            )
            _, best_delta, low, code = outcome
            if best_delta is not None:
                best_delta, ok = _nudge(problem, e, i, best_delta)
                delta[e, i] = torch.from_numpy(best_delta)
                radius[e, i] = _norm(best_delta, norm)
                flipped[e, i] = ok
            lower[e, i] = min(low, float(radius[e, i]))
            status[e, i] = STATUSES.index(code)
            seconds[e, i] = clock() - began
            cpu[e, i] = time.process_time() - began_cpu
    lower = torch.maximum(lower, torch.minimum(start_lower, radius))
    upper = torch.where(status == STATUSES.index("no_flip"), math.inf, radius)
    logger.debug("exact_minimal_perturbation: %d of %d optimal", int((status == 0).sum()), E * n)
    return ExactResult(radius, delta, lower, upper, status, flipped, seconds, cpu, norm)


def _solve_point(
    problem: MarginProblem,
    member: _Member,
    e: int,
    i: int,
    norm: str,
    start: float,
    cap: float,
    margin: float,
    time_limit: float | None,
    hint: Array | None,
) -> tuple[float, Array | None, float, str]:
    """Every margin of one point, smallest first; returns (radius, delta, lower, status).

    hint: a flipping delta for the first margin (one logit), or None / NaN.
    """
    if hint is not None and not bool(np.isfinite(hint).all()):
        hint = None
    deadline = None if time_limit is None else time.process_time() + time_limit
    pre = problem.pre[e, i].numpy()
    weights = problem.W[e].numpy()
    order = torch.argsort(torch.where(problem.valid[e, i], problem.g0[e, i], torch.inf))
    best, best_delta, lower, timed_out, failed = math.inf, None, math.inf, False, False
    for t in order.tolist():
        if not bool(problem.valid[e, i, t]):
            continue
        coef = (problem.coef[e, i, t] / problem.g0[e, i, t]).numpy()
        bound = min(start, cap) if math.isinf(best) else best
        proven = 0.0  # this margin cannot be made negative within `proven` (infeasible solves)
        while True:
            left = None if deadline is None else deadline - time.process_time()
            if left is not None and left <= 0:
                timed_out, lower = True, min(lower, proven)
                break
            solution = _solve(
                member, pre, coef, problem.alpha, norm, bound, -margin, left, hint=hint
            )
            if norm != "l2" and not _flips_margin(
                weights, pre, coef, problem.alpha, solution, margin
            ):
                # HiGHS's integrality tolerance (1e-6) times a big-M can fake a flip: redo
                # this program with SCIP at tolerance 1e-8
                # (without pyscipopt the fake flip is rejected below: status "solver_error")
                left = None if deadline is None else deadline - time.process_time()
                with contextlib.suppress(ImportError):
                    solution = _solve(
                        member, pre, coef, problem.alpha, norm, bound, -margin, left, strict=True
                    )
            if solution.status == "infeasible":
                proven = bound
                if math.isfinite(best) or bound >= cap:
                    lower = min(lower, bound)
                    break
                bound = min(cap, bound * _GROWTH)
                continue
            if not _flips_margin(weights, pre, coef, problem.alpha, solution, margin):
                # still a fake flip (tolerance times a very large big-M): trust only the
                # infeasible solves
                failed, lower = True, min(lower, proven)
                break
            timed_out |= solution.status == "time_limit"
            failed |= solution.status == "solver_error"
            lower = min(lower, solution.lower)
            if solution.delta is not None:
                size = _norm(solution.delta, norm)
                if size < best:
                    best, best_delta = size, solution.delta
            break
    if failed:
        return best, best_delta, lower, "solver_error"
    if timed_out:
        return best, best_delta, lower, "time_limit"
    if best_delta is None:
        return best, None, lower, "no_flip"
    return best, best_delta, lower, "optimal"
