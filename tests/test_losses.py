"""Margin losses and their multiclass versions against float64 formulas, autograd and torch."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from robustlab import losses

F64 = torch.float64
MODERATE = torch.linspace(-30, 30, 241, dtype=F64)
HUGE = torch.tensor([-1e4, -1e3, -100.0, -1.0, 0.0, 1.0, 100.0, 1e3, 1e4])


def _direct(fn: object) -> torch.Tensor:
    return torch.tensor([fn(float(z)) for z in MODERATE], dtype=F64)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("name", "formula"),
    [
        ("logistic", lambda z: math.log1p(math.exp(-z))),
        ("ce", lambda z: math.log1p(math.exp(-z))),
        ("reflected", lambda z: -math.log1p(math.exp(z))),
        ("negated", lambda z: -math.log1p(math.exp(z))),
        ("exponential", lambda z: math.exp(-z)),
        ("margin", lambda z: -z),
    ],
)
def test_values_match_direct_formulas(name: str, formula: object) -> None:
    value = losses.get_margin_loss(name)(MODERATE)
    torch.testing.assert_close(value, _direct(formula), rtol=1e-12, atol=1e-12)


def test_reflected_is_the_negated_logistic_loss() -> None:
    """Paper 001 section 5: l_--(z) = -l(-z)."""
    torch.testing.assert_close(losses.reflected(MODERATE), -losses.logistic(-MODERATE))
    assert losses.negated is losses.reflected


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("name", ["logistic", "reflected", "margin"])
def test_huge_margins_stay_finite_and_exact(name: str, dtype: torch.dtype) -> None:
    z = HUGE.to(dtype)
    value = losses.get_margin_loss(name)(z)
    assert bool(torch.isfinite(value).all())
    # asymptotes: logistic ~ max(-z, 0), reflected ~ -max(z, 0), margin = -z
    asymptote = {"logistic": (-z).clamp_min(0), "reflected": -z.clamp_min(0), "margin": -z}[name]
    far = z.abs() >= 100
    torch.testing.assert_close(value[far], asymptote[far])
    zz = z.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(losses.get_margin_loss(name)(zz).sum(), zz)
    assert bool(torch.isfinite(grad).all())


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_exponential_saturates_finite(dtype: torch.dtype) -> None:
    z = HUGE.to(dtype)
    value = losses.exponential(z)
    assert bool(torch.isfinite(value).all())
    big = torch.finfo(dtype).max
    assert float(value[0]) == pytest.approx(big, rel=1e-6)  # e^{1e4} saturates
    assert float(value[-1]) == 0.0
    assert bool((value[:-1] >= value[1:]).all())  # still nonincreasing
    torch.testing.assert_close(losses.margin_derivative("exponential", z), -value)


ALL_MARGIN_LOSSES = ["logistic", "ce", "reflected", "negated", "exponential", "margin"]


@pytest.mark.parametrize("name", ALL_MARGIN_LOSSES)
def test_margin_derivative_matches_autograd(name: str) -> None:
    z = MODERATE.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(losses.get_margin_loss(name)(z).sum(), z)
    torch.testing.assert_close(losses.margin_derivative(name, MODERATE), auto, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", ["logistic", "reflected"])
def test_margin_derivative_finite_for_huge_margins(name: str) -> None:
    slope = losses.margin_derivative(name, HUGE)
    assert bool(torch.isfinite(slope).all())
    assert bool(((slope <= 0) & (slope >= -1)).all())


def test_unknown_names_list_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match="unknown margin loss 'hinge'; allowed: logistic"):
        losses.get_margin_loss("hinge")
    with pytest.raises(ValueError, match=r"unknown margin loss .hinge.; allowed: .*reflected"):
        losses.margin_derivative("hinge", MODERATE)


def test_square() -> None:
    p, t = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.0, 1.0, 0.5])
    torch.testing.assert_close(losses.square(p, t), torch.tensor([0.5, 4.5, 0.0]))


# --------------------------------------------------------------------------- multiclass
def _logits(*shape: int, scale: float = 3.0) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=F64) * scale


def test_cross_entropy_matches_torch() -> None:
    logits = _logits(4, 9, 7)
    labels = torch.randint(0, 7, (4, 9), generator=torch.Generator().manual_seed(1))
    expected = F.cross_entropy(logits.reshape(-1, 7), labels.reshape(-1), reduction="none")
    torch.testing.assert_close(losses.cross_entropy(logits, labels), expected.reshape(4, 9))
    # float labels (as y tensors often are) are accepted
    torch.testing.assert_close(losses.cross_entropy(logits, labels.double()), expected.view(4, 9))


def test_cross_entropy_finite_for_huge_logits() -> None:
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]])
    value = losses.cross_entropy(logits, torch.tensor([1, 1]))
    assert bool(torch.isfinite(value).all())
    torch.testing.assert_close(value, torch.tensor([2e4, 0.0]))


def test_most_likely_wrong_class_brute_force() -> None:
    logits = _logits(50, 5).round()  # rounding creates ties
    labels = torch.randint(0, 5, (50,), generator=torch.Generator().manual_seed(2))
    got = losses.most_likely_wrong_class(logits, labels)
    for i in range(50):
        wrong = [j for j in range(5) if j != int(labels[i])]
        best = max(float(logits[i, j]) for j in wrong)
        assert int(got[i]) == min(j for j in wrong if float(logits[i, j]) == best)


def test_greedy_reflected_targets_the_most_likely_wrong_class() -> None:
    """Paper 004 section 4.3: log softmax of the most likely wrong class."""
    logits = _logits(6, 20, 5)
    labels = torch.randint(0, 5, (6, 20), generator=torch.Generator().manual_seed(3))
    value = losses.greedy_reflected(logits, labels)
    log_p = torch.log_softmax(logits, dim=-1)
    wrong = log_p.scatter(-1, labels.unsqueeze(-1), float("-inf"))
    torch.testing.assert_close(value, wrong.amax(dim=-1))
    assert bool((value <= 0).all())


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_greedy_reflected_is_reflected_for_two_classes(dtype: torch.dtype) -> None:
    """Logits [0, f] with label y in {0, 1} <-> margin z = (2y - 1) f: greedy = reflected(z)."""
    f = torch.cat([MODERATE, HUGE.double()]).to(dtype)
    for label in (0, 1):
        logits = torch.stack([torch.zeros_like(f), f], dim=-1)
        labels = torch.full(f.shape, label)
        z = f if label == 1 else -f
        value = losses.greedy_reflected(logits, labels)
        assert bool(torch.isfinite(value).all())
        torch.testing.assert_close(value, losses.reflected(z))


def test_multiclass_margin_sign_is_correctness() -> None:
    logits = _logits(200, 6)
    labels = torch.randint(0, 6, (200,), generator=torch.Generator().manual_seed(4))
    margin = losses.multiclass_margin(logits, labels)
    correct = logits.argmax(dim=-1) == labels
    assert bool(((margin > 0) == correct).all())
    assert correct.any() and (~correct).any()
    for i in range(200):
        others = [float(logits[i, j]) for j in range(6) if j != int(labels[i])]
        assert float(margin[i]) == pytest.approx(float(logits[i, labels[i]]) - max(others))


def test_multiclass_margin_binary_case() -> None:
    f = MODERATE
    logits = torch.stack([torch.zeros_like(f), f], dim=-1)
    torch.testing.assert_close(losses.multiclass_margin(logits, torch.ones_like(f)), f)
