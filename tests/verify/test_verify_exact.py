"""exact_minimal_perturbation against brute-force enumeration of the activation regions.

On every region (one sign pattern of the m pre-activations, m <= 6) the net is affine; the
smallest flipping perturbation within the region is an LP (linf, l1: scipy.optimize.linprog)
or a convex QP (l2: scipy.optimize.minimize, SLSQP); the exact radius is their minimum.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.optimize import linprog, minimize

from robustlab.models import TwoLayerNet
from robustlab.verify import STATUSES, exact_minimal_perturbation
from robustlab.verify._problem import margin_problem, vector_norm

MARGIN = 1e-4  # well above the LP solvers' absolute tolerances (1e-7 to 1e-9)


def _region_minimum(A: np.ndarray, b: np.ndarray, norm: str) -> float:
    """min ||delta|| s.t. A delta <= b (inf when empty)."""
    d = A.shape[1]
    if norm == "l2":
        feasible = linprog(np.zeros(d), A_ub=A, b_ub=b, bounds=[(None, None)] * d)
        if feasible.status != 0:
            return math.inf
        best = math.inf
        for start in (feasible.x, np.zeros(d)):
            result = minimize(
                lambda v: v @ v,
                start,
                jac=lambda v: 2 * v,
                constraints=[{"type": "ineq", "fun": lambda v: b - A @ v, "jac": lambda v: -A}],
                method="SLSQP",
                options={"ftol": 1e-14, "maxiter": 500},
            )
            if result.success and bool(np.all(A @ result.x <= b + 1e-9)):
                best = min(best, float(np.linalg.norm(result.x)))
        return best
    # variables (delta, e): linf with e scalar, l1 with e in R^d
    if norm == "linf":
        cost = np.r_[np.zeros(d), 1.0]
        eye = np.eye(d)
        rows = np.block([[eye, -np.ones((d, 1))], [-eye, -np.ones((d, 1))]])
        full_a = np.hstack([A, np.zeros((A.shape[0], 1))])
    else:
        cost = np.r_[np.zeros(d), np.ones(d)]
        eye = np.eye(d)
        rows = np.block([[eye, -eye], [-eye, -eye]])
        full_a = np.hstack([A, np.zeros((A.shape[0], d))])
    result = linprog(
        cost,
        A_ub=np.vstack([full_a, rows]),
        b_ub=np.r_[b, np.zeros(2 * d)],
        bounds=[(None, None)] * d + [(0, None)] * (cost.size - d),
    )
    return float(result.fun) if result.status == 0 else math.inf


def brute_force(net: TwoLayerNet, x: torch.Tensor, norm: str) -> np.ndarray:
    """Exact radius (E, n) by enumerating the 2^m activation regions, every margin."""
    problem = margin_problem(net, x, None)
    E, n, T, m = problem.coef.shape
    W = problem.W.numpy()
    out = np.full((E, n), math.inf)
    alpha = problem.alpha
    for e, i in itertools.product(range(E), range(n)):
        pre = problem.pre[e, i].numpy()
        for pattern in itertools.product((0.0, 1.0), repeat=m):
            on = np.array(pattern)
            sign = np.where(on > 0, -1.0, 1.0)  # on: z >= 0 -> -z <= 0; off: z <= 0
            region_a = sign[:, None] * W[e]
            region_b = -sign * pre
            slope = alpha + (1 - alpha) * on
            for t in range(T):
                if not bool(problem.valid[e, i, t]):
                    continue
                c = problem.coef[e, i, t].numpy() * slope / float(problem.g0[e, i, t])
                # margin / margin at x: c . (pre + W delta) <= -MARGIN
                A = np.vstack([region_a, c @ W[e]])
                b = np.r_[region_b, -MARGIN - c @ pre]
                out[e, i] = min(out[e, i], _region_minimum(A, b, norm))
    return out


def _net(
    seed: int, *, m: int, d: int, outputs: int = 1, bias: bool = False, alpha: float = 0.0
) -> TwoLayerNet:
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(2, m, d, generator=g, dtype=torch.float64)
    shape = (2, m) if outputs == 1 else (2, outputs, m)
    a = torch.randn(shape, generator=g, dtype=torch.float64)
    b = torch.randn(2, m, generator=g, dtype=torch.float64) if bias else None
    activation = "leaky_relu" if alpha > 0 else "relu"
    return TwoLayerNet(W, a, b, activation=activation, alpha=alpha, scale=1 / math.sqrt(m))


CASES = [
    pytest.param({"m": 5, "d": 3}, id="relu"),
    pytest.param({"m": 6, "d": 4, "bias": True}, id="relu-bias"),
    pytest.param({"m": 5, "d": 3, "alpha": 0.2, "bias": True}, id="leaky-bias"),
    pytest.param({"m": 4, "d": 3, "outputs": 3}, id="three-logits"),
    pytest.param({"m": 4, "d": 2, "outputs": 3, "bias": True, "alpha": 0.1}, id="three-leaky"),
]


@pytest.mark.parametrize("norm", ["linf", "l1", "l2"])
@pytest.mark.parametrize("spec", CASES)
def test_matches_brute_force(spec: dict[str, float], norm: str) -> None:
    net = _net(7, **spec)  # type: ignore[arg-type]
    x = torch.randn(3, net.dim, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    result = exact_minimal_perturbation(net, x, norm=norm, margin=MARGIN)
    reference = brute_force(net, x, norm)
    radius = result.radius.numpy()
    finite = np.isfinite(reference)
    assert np.array_equal(np.isfinite(radius), finite) or not finite.all()
    np.testing.assert_allclose(radius[finite], reference[finite], rtol=2e-5, atol=1e-7)
    optimal = result.status == STATUSES.index("optimal")
    assert bool(result.flipped[optimal].all())
    lengths = vector_norm(result.delta, norm)
    torch.testing.assert_close(lengths[optimal], result.radius[optimal])
    assert bool((result.lower <= result.radius + 1e-9).all())


def test_returned_delta_changes_the_argmax() -> None:
    net = _net(11, m=5, d=3, outputs=4, bias=True)
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    result = exact_minimal_perturbation(net, x, norm="linf")
    before = net(x).argmax(dim=-1)
    after = net(x.unsqueeze(0) + result.delta).argmax(dim=-1)
    assert bool((before != after).all())


def test_labels_and_misclassified_points() -> None:
    net = _net(5, m=4, d=3)
    x = torch.randn(6, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    f = net(x)[0]
    y = torch.where(f > 0, 1.0, -1.0)
    y[0] = -y[0]
    result = exact_minimal_perturbation(net.member(0), x, y, norm="linf")
    assert float(result.radius[0, 0]) == 0.0
    assert result.status_names()[0][0] == "misclassified"
    assert bool((result.radius[0, 1:] > 0).all())


def test_no_flip_gives_inf() -> None:
    # every output weight positive and ReLU: f >= 0 everywhere, so a positive point never flips
    W = torch.randn(1, 3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    net = TwoLayerNet(W, torch.ones(1, 3, dtype=torch.float64), scale=1.0)
    x = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    x = x if float(net(x).detach()[0, 0]) > 0 else -x
    result = exact_minimal_perturbation(net, x, norm="linf", max_radius=50.0)
    assert math.isinf(float(result.radius[0, 0]))
    assert result.status_names() == [["no_flip"]]
    assert float(result.lower[0, 0]) == pytest.approx(50.0)


def test_time_limit_gives_bounds() -> None:
    g = torch.Generator().manual_seed(0)
    net = TwoLayerNet.bubeck(1, 60, 40, generator=g, dtype=torch.float64)
    x = torch.randn(1, 40, generator=g, dtype=torch.float64) * math.sqrt(40) / 6
    result = exact_minimal_perturbation(net, x, norm="linf", time_limit=0.01)
    assert bool((result.lower <= result.upper).all())
    assert result.status_names()[0][0] in ("optimal", "time_limit")


def test_bad_arguments() -> None:
    net = _net(0, m=3, d=2)
    x = torch.zeros(2, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="norm"):
        exact_minimal_perturbation(net, x, norm="l3")
    with pytest.raises(ValueError, match="time_limit"):
        exact_minimal_perturbation(net, x, norm="linf", time_limit=0)
    with pytest.raises(TypeError, match="TwoLayerNet"):
        exact_minimal_perturbation(torch.nn.Linear(2, 1), x)  # type: ignore[arg-type]
    smooth = TwoLayerNet(net.W.detach(), net.a.detach(), activation="tanh")
    with pytest.raises(ValueError, match="activation"):
        exact_minimal_perturbation(smooth, x)


def test_missing_scip_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pyscipopt", None)
    net = _net(0, m=3, d=2)
    x = torch.ones(1, 2, dtype=torch.float64)
    with pytest.raises(ImportError, match=r"robustlab\[verify\]"):
        exact_minimal_perturbation(net, x, norm="l2")
