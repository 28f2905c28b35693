"""poisoning-loss (paper 001 Fig. 1): the quick preset end to end, and the negated-ce loss."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from robustlab.geometry import L21
from robustlab.models import LinearModel
from robustlab.poisoning import clean_label

NAME = "poisoning-loss"


@pytest.fixture(scope="module")
def quick(data_dir: Path, run_quick: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return run_quick(NAME, data_dir=data_dir)


def test_one_cell_per_C_and_every_row(quick: dict[str, Any]) -> None:
    config, table = quick["config"], quick["table"]
    assert quick["result"].total == len(config.C)
    members = table[table["record"] == "member"]
    hist = table[table["record"] == "histogram"]
    assert len(members) == len(config.C) * len(config.losses) * config.members
    assert len(hist) == len(config.C) * len(config.losses) * config.histogram_bins
    # every training sample lands in exactly one bin
    sums = hist.groupby(["C", "loss"])["count"].sum()
    assert (sums == config.n_train).all()


def test_budgets_are_respected(quick: dict[str, Any]) -> None:
    config, table = quick["config"], quick["table"]
    members = table[table["record"] == "member"]
    S = members["C"] * math.sqrt(config.n_train)
    assert (members["budget_S"] - S).abs().max() < 1e-6 * S.max()
    assert (members["spent"] <= members["budget_S"] * (1 + 1e-6)).all()
    assert (members[members["C"] == 0]["spent"] == 0).all()
    # the attack spends (nearly) its whole budget, and no row exceeds the [0, 1] box diameter
    positive = members[members["C"] > 0]
    assert (positive["spent"] >= 0.95 * positive["budget_S"]).all()
    assert (members["max_norm"] <= math.sqrt(784) + 1e-4).all()


def test_accuracy_falls_with_C_and_zero_budget_is_clean(quick: dict[str, Any]) -> None:
    table = quick["table"]
    members = table[table["record"] == "member"]
    clean = members[members["C"] == 0]
    # C = 0: every loss leaves the data untouched, so all losses share the same retrained models
    assert clean.groupby("member")["test_accuracy"].nunique().max() == 1
    assert clean["test_accuracy"].min() > 0.75
    means = members.groupby(["loss", "C"])["test_accuracy"].mean().unstack("C")
    top = max(means.columns)
    assert (means[top] < means[0.0] - 0.1).all()


def test_cross_entropy_piles_up_norm_on_few_samples(quick: dict[str, Any]) -> None:
    """Fig. 1 bottom: CE leaves many samples untouched and pushes a few further than negated."""
    table = quick["table"]
    first = table[(table["record"] == "member") & (table["member"] == 0) & (table["C"] > 0)]
    cells = first.pivot_table(index="C", columns="loss", values=["frac_untouched", "max_norm"])
    assert (cells["frac_untouched"]["ce"] > cells["frac_untouched"]["negated-ce"]).all()
    assert (cells["max_norm"]["ce"] > cells["max_norm"]["negated-ce"]).all()


def test_summary_and_figures(quick: dict[str, Any]) -> None:
    summary, root = quick["summary"], quick["root"]
    assert summary["verdicts"]
    for verdict in summary["verdicts"]:
        assert set(verdict) - {"settle", "compared"} == {
            "claim",
            "verdict",
            "measured",
            "predicted",
            "reason",
        }
        assert verdict["verdict"] in ("consistent", "inconsistent", "inconclusive")
    headline = summary["headline"]
    assert set(headline["test_accuracy"]) == set(quick["config"].losses)
    assert headline["paper"]["code_default_C"] == 800.0
    assert (root / "figures" / "accuracy_and_norms.png").stat().st_size > 0


# --------------------------------------------------------------------------- negated-ce


class _Hidden(nn.Module):
    """A LinearModel without its closed-form input gradient: clean_label uses autograd."""

    def __init__(self, inner: LinearModel) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.inner(x)
        return out


def test_negated_ce_is_minus_ce_of_flipped_logits_closed_form_vs_autograd() -> None:
    """'negated-ce' maximizes -CE(-f(x), y); its closed-form ascent equals autograd's (float64)."""
    g = torch.Generator().manual_seed(3)
    n, d, K = 40, 12, 5
    X = torch.rand(n, d, generator=g, dtype=torch.float64)
    y = torch.randint(0, K, (n,), generator=g)
    model = LinearModel(
        torch.randn(1, K, d, generator=g, dtype=torch.float64),
        torch.randn(1, K, generator=g, dtype=torch.float64),
    )
    budget = L21(2.0)
    closed = clean_label(model, X, y, budget, loss="negated-ce", steps=5)
    generic = clean_label(_Hidden(model), X, y, budget, loss="negated-ce", steps=5)
    torch.testing.assert_close(closed.x, generic.x)
    logits = model(closed.x)[0]
    expected = -torch.nn.functional.cross_entropy(-logits, y)
    torch.testing.assert_close(closed.objective[-1], expected.detach())
    assert closed.objective[-1] > closed.objective[0]  # the ascent made progress
    assert closed.record.spent_sum <= budget.S


def test_negated_ce_equals_negated_for_one_logit() -> None:
    g = torch.Generator().manual_seed(4)
    X = torch.rand(30, 6, generator=g, dtype=torch.float64)
    y = torch.where(torch.rand(30, generator=g) < 0.5, 1.0, -1.0).to(torch.float64)
    model = LinearModel(torch.randn(1, 6, generator=g, dtype=torch.float64))
    a = clean_label(model, X, y, L21(1.5), loss="negated-ce", steps=4)
    b = clean_label(model, X, y, L21(1.5), loss="negated", steps=4)
    torch.testing.assert_close(a.x, b.x)
    torch.testing.assert_close(a.objective, b.objective)


# The quick preset's verdicts, pinned before the claims moved onto robustlab.theory.claims
# (issue 9), in order, by the first 60 characters of each claim: a change here must be
# deliberate.
QUICK_VERDICTS = [
    ("clean test accuracy after poisoning with 'negated-ce' decrea", "consistent"),
    ("clean test accuracy after poisoning with 'negated' decreases", "consistent"),
    ("'negated-ce' poisons harder than 'ce' (lower clean test accu", "inconsistent"),
    ("'negated-ce' poisons harder than 'ce' at the paper's budget ", "inconclusive"),
    ("'ce' leaves more samples virtually untouched and reaches lar", "consistent"),
    ("'negated' poisons harder than 'ce' (lower clean test accurac", "inconsistent"),
    ("'negated' poisons harder than 'ce' at the paper's budget S/n", "inconsistent"),
    ("'ce' leaves more samples virtually untouched and reaches lar", "consistent"),
]


def test_quick_verdicts_are_pinned(quick: dict[str, Any]) -> None:
    found = [(v["claim"][:60], v["verdict"]) for v in quick["summary"]["verdicts"]]
    assert found == QUICK_VERDICTS
