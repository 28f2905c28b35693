"""Paper 004 bounds against independently written formulas; corollaries; monotonicity."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robustlab.theory import adversarial as A

BASE = {"R": 1.0, "nu": 0.1, "gamma": 0.5, "alpha": 0.3, "kappa": 0.2, "m": 64, "omega": 2.0}


def test_theorem32_quantities_hand_computed() -> None:
    assert A.beta_threshold(0.1, alpha=0.3, kappa=0.2, m=64) == pytest.approx(
        2 * 0.1 * 0.7 * 0.2 * 8
    )
    assert A.beta_threshold(0.1, alpha=1.0, kappa=0.2, m=64) == 0.0  # linear case
    assert A.attack_step_size_max(kappa=0.2, m=64, W_fro=3.0) == pytest.approx(1 / (0.04 * 64 * 9))
    assert A.attack_suboptimality(0.5, eta_atk=0.1, T_atk=50) == pytest.approx(4 * 0.25 / 5)
    steps = A.attack_iterations(0.5, eta_atk=0.1, target=0.01)
    assert steps == pytest.approx(4 * 0.25 / (0.1 * 0.01))
    assert A.attack_suboptimality(0.5, eta_atk=0.1, T_atk=steps) == pytest.approx(0.01)


def test_theorem34_hand_computed() -> None:
    eps, W = 0.05, 1.5
    bound = A.theorem34(**BASE, eps=eps, W_fro=W)
    R, nu, gamma, alpha, kappa, m, omega = BASE.values()
    T_tr = (
        64
        * (R + nu) ** 2
        * (1 + omega * gamma * alpha * kappa * math.sqrt(m) * eps)
        / ((gamma - nu) ** 2 * alpha**2 * eps**2)
    )
    assert bound.training_iterations == pytest.approx(T_tr)
    assert bound.training_step_size == pytest.approx(1 / (m * kappa**2 * (R + nu) ** 2))
    eta_atk = 1 / (kappa**2 * m * W**2)
    assert bound.attack_step_size == pytest.approx(eta_atk)
    assert bound.attack_iterations == pytest.approx(8 * nu**2 / (eta_atk * eps))
    assert bound.beta_min == pytest.approx(2 * nu * (1 - alpha) * kappa * math.sqrt(m))
    assert bound.robust_error == pytest.approx(2 * eps)


@settings(max_examples=60, deadline=None)
@given(
    R=st.floats(0.1, 10.0),
    gamma=st.floats(0.05, 5.0),
    ratio=st.floats(0.0, 0.95),
    eps=st.floats(1e-3, 1.0),
    m=st.integers(1, 10_000),
)
def test_corollary35_instantiates_theorem34(
    R: float, gamma: float, ratio: float, eps: float, m: int
) -> None:
    nu = ratio * gamma
    cor = A.corollary35(R=R, nu=nu, gamma=gamma, eps=eps, W_fro=2.0)
    thm = A.theorem34(
        R=R, nu=nu, gamma=gamma, alpha=1.0, kappa=1 / math.sqrt(m), m=m, omega=1 / gamma,
        eps=eps, W_fro=2.0,
    )  # fmt: skip
    # kappa = 1/sqrt(m), omega = 1/gamma, alpha = 1: 64 (1 + eps) <= 128 for eps <= 1
    assert cor.training_iterations >= thm.training_iterations * (1 - 1e-12)
    assert cor.training_iterations == pytest.approx(128 * (R + nu) ** 2 / ((gamma - nu) * eps) ** 2)
    assert cor.training_step_size == pytest.approx(thm.training_step_size)
    assert cor.attack_step_size == pytest.approx(thm.attack_step_size)
    assert cor.attack_iterations == pytest.approx(thm.attack_iterations)
    assert cor.beta_min == thm.beta_min == 0.0


def test_corollary36_instantiates_theorem34() -> None:
    beta, R, nu, gamma, alpha, m, omega, eps, W = 0.05, 1.0, 0.2, 0.6, 0.25, 100, 1.0, 0.1, 2.0
    cor = A.corollary36(
        beta=beta, R=R, nu=nu, gamma=gamma, alpha=alpha, m=m, omega=omega, eps=eps, W_fro=W
    )
    T_tr = (
        64
        * (R + nu) ** 2
        * (1 + omega * gamma * alpha * beta * eps / (2 * nu * (1 - alpha)))
        / ((gamma - nu) ** 2 * alpha**2 * eps**2)
    )
    assert cor.training_iterations == pytest.approx(T_tr)
    assert cor.training_step_size == pytest.approx(
        4 * nu**2 * (1 - alpha) ** 2 / (beta**2 * (R + nu) ** 2)
    )
    assert cor.attack_step_size == pytest.approx(4 * nu**2 * (1 - alpha) ** 2 / (beta**2 * W**2))
    # Theorem 3.4's T_atk = 8 nu^2 / (eta_atk eps), not the printed reciprocal
    assert cor.attack_iterations == pytest.approx(2 * beta**2 * W**2 / ((1 - alpha) ** 2 * eps))
    # the kappa of the corollary makes Theorem 3.4's threshold exactly the requested beta
    kappa = beta / (2 * nu * (1 - alpha) * math.sqrt(m))
    assert A.beta_threshold(nu, alpha=alpha, kappa=kappa, m=m) == pytest.approx(beta)
    assert cor.beta_min == beta
    with pytest.raises(ValueError, match="alpha < 1"):
        A.corollary36(
            beta=beta, R=R, nu=nu, gamma=gamma, alpha=1.0, m=m, omega=omega, eps=eps, W_fro=W
        )


def test_lemma37_as_printed() -> None:
    kwargs = {"eta_tr": 0.3, "nu": 0.1, "gamma": 0.4, "alpha": 0.5, "kappa": 0.1, "m": 25}
    steps = A.lemma37_iterations(**kwargs, W1_fro=2.0, eps=0.04)  # type: ignore[arg-type]
    expected = (
        4
        * (1 + 2.0 * 0.4 * 0.5 * 0.1 * math.sqrt(25 * 0.04))
        / (0.3 * 0.3**2 * 0.25 * 0.01 * 25 * 0.04**2)
    )
    assert steps == pytest.approx(expected)


def test_overall_cost_sum_and_closed_form() -> None:
    nu, eps, omega, eta = 0.2, 0.1, 0.7, 0.05
    brute = sum(8 * nu**2 * (omega**2 + 3 * eta * (t - 1)) / eps for t in range(1, 501))
    assert A.overall_cost_sum(500, nu=nu, eps=eps, omega=omega, eta_tr=eta) == pytest.approx(brute)
    # the paper's choice: omega^2 = 3/(R + nu)^2, eta_tr = (R + nu)^-2, T_tr of Cor. 3.5 (alpha)
    R, gamma, alpha = 1.0, 0.6, 0.8
    T = 128 * (R + nu) ** 2 / ((gamma - nu) ** 2 * alpha**2 * eps**2)
    total = A.overall_cost_sum(
        T, nu=nu, eps=eps, omega=math.sqrt(3) / (R + nu), eta_tr=(R + nu) ** -2
    )
    assert total == pytest.approx(12 * nu**2 * T * (T + 1) / ((R + nu) ** 2 * eps))
    bound = A.overall_cost_bound(R=R, nu=nu, gamma=gamma, eps=eps, alpha=alpha)
    assert bound == pytest.approx(
        196608 * nu**2 * (R + nu) ** 2 / ((gamma - nu) ** 4 * 0.8**4 * 1e-5)
    )
    assert bound == pytest.approx(12 * nu**2 * T**2 / ((R + nu) ** 2 * eps))  # 196608 = 12*128^2
    assert total / bound == pytest.approx((T + 1) / T)
    assert A.weight_norm_growth(2.0, eta_tr=0.1, t=10) == pytest.approx(4 + 3)


@settings(max_examples=60, deadline=None)
@given(
    ratio=st.floats(0.01, 0.9),
    factor=st.floats(1.01, 3.0),
    eps=st.floats(1e-3, 0.5),
)
def test_training_iterations_monotone(ratio: float, factor: float, eps: float) -> None:
    base = dict(BASE, nu=ratio * BASE["gamma"], eps=eps)
    T = A.training_iterations(**base)  # type: ignore[arg-type]
    assert A.training_iterations(**dict(base, eps=eps * factor)) < T  # type: ignore[arg-type]
    assert A.training_iterations(**dict(base, R=BASE["R"] * factor)) > T  # type: ignore[arg-type]
    assert A.training_iterations(**dict(base, gamma=BASE["gamma"] * factor)) < T  # type: ignore[arg-type]
    bigger_nu = min(base["nu"] * factor, 0.999 * BASE["gamma"])
    assert A.training_iterations(**dict(base, nu=bigger_nu)) >= T  # type: ignore[arg-type]
    cost = A.overall_cost_bound(R=1.0, nu=base["nu"], gamma=BASE["gamma"], eps=eps)
    assert A.overall_cost_bound(R=1.0, nu=base["nu"], gamma=BASE["gamma"], eps=eps * factor) < cost


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"nu": 0.5}, "nu < margin gamma"),
        ({"alpha": 0.0}, "alpha must be in"),
        ({"alpha": 1.5}, "alpha must be in"),
        ({"eps": 0.0}, "eps must be"),
        ({"kappa": -1.0}, "kappa must be"),
    ],
)
def test_invalid_arguments_raise(change: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        A.training_iterations(**{**BASE, "eps": 0.1, **change})  # type: ignore[arg-type]
