"""Grid search (paper 004 section 4.1): chunked top-k against brute-force enumeration."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import Tensor

from robustlab.attacks import grid_search, paper_grid_search
from robustlab.attacks._common import loss_and_margin
from robustlab.losses import multiclass_margin, reflected

F64 = torch.float64
X = torch.tensor([3.0, 2.0, 1.0], dtype=F64)


def _brute(
    loss: str, points: int, radius: float, k: int, x: Tensor = X
) -> tuple[Tensor, Tensor, int]:
    axis = torch.linspace(-0.51, 0.51, points, dtype=F64)
    grid = torch.tensor(list(itertools.product(axis.tolist(), repeat=3)), dtype=F64)
    grid = grid[(grid * grid).sum(1) <= radius * radius * (1 + 1e-12)]
    value, margin = loss_and_margin(
        (x + grid).unsqueeze(0), torch.zeros(len(grid), dtype=torch.long), loss
    )
    order = torch.argsort(value[0], descending=True, stable=True)[:k]
    return value[0][order], margin[0][order] <= 0, len(grid)


@pytest.mark.parametrize("loss", ["ce", "reflected", "margin"])
@pytest.mark.parametrize("chunk_size", [1 << 20, 7, 64])
def test_matches_brute_force(loss: str, chunk_size: int) -> None:
    result = grid_search(
        loss,
        X,
        0,
        box=(-0.51, 0.51),
        radius=0.7078,
        points_per_axis=23,
        top_k=(5, 50, 400),
        chunk_size=chunk_size,
    )
    values, flips, count = _brute(loss, 23, 0.7078, 400)
    assert result.points_in_ball == count
    assert result.points_total == 23**3
    assert torch.allclose(result.top_loss, values, rtol=0, atol=1e-12)
    assert result.flips.tolist() == [int(flips[:k].sum()) for k in (5, 50, 400)]
    assert torch.all((result.top_delta * result.top_delta).sum(1) <= 0.7078**2 * (1 + 1e-12))
    assert result.top_delta.abs().max() <= 0.51 + 1e-12


def test_custom_loss_model_and_one_logit() -> None:
    """A margin-based reflected loss -log(1 + e^margin) ranks flipping points first."""

    def reflected_margin(out: Tensor, labels: Tensor) -> Tensor:
        return reflected(multiclass_margin(out, labels))

    near = torch.tensor([3.0, 2.7, 1.0], dtype=F64)  # a wide flipping region
    result = grid_search(
        reflected_margin,
        near,
        0,
        box=(-0.51, 0.51),
        radius=0.7078,
        points_per_axis=41,
        top_k=(1, 10),
    )
    _, flips, _ = _brute("margin", 41, 0.7078, 10, near)
    assert result.flips.tolist() == [1, 10] == [int(flips[:1].sum()), int(flips.sum())]
    assert paper_grid_search("ce", points_per_axis=41, top_k=(10,)).flips.tolist() == [0]
    w = torch.tensor([1.0, -1.0, 0.5], dtype=F64)
    one = grid_search(
        "ce",
        torch.zeros(3, dtype=F64),
        1,
        box=(-1.0, 1.0),
        radius=1.0,
        points_per_axis=11,
        top_k=(3,),
        model=lambda z: z @ w,
    )
    assert torch.all(one.top_flipped)  # the largest logistic losses are on the wrong side
    with pytest.raises(ValueError, match="unknown attack loss"):
        grid_search("hinge", X, 0, box=(-0.5, 0.5), radius=0.5, points_per_axis=3)
    with pytest.raises(ValueError, match=r"\(d,\)"):
        grid_search("ce", X.unsqueeze(0), 0, box=(-0.5, 0.5), radius=0.5, points_per_axis=3)


def test_paper_setting_small_grid() -> None:
    result = paper_grid_search("reflected", points_per_axis=61, top_k=(10, 100))
    _, flips, count = _brute("reflected", 61, 0.7078, 100)
    assert result.points_in_ball == count
    assert result.flips.tolist() == [int(flips[:10].sum()), int(flips.sum())]


@pytest.mark.slow
def test_paper_setting_full_grid() -> None:
    """Paper 004 Fig. 2 at 800 points per axis. Exactly evaluated, the top-1000 grid points of
    both the CE and the greedy reflected loss contain no flip (the flipping region near
    (-0.5, 0.5, 0) holds 172 grid points, all below the top 1000 of either loss); a loss that is
    monotone in the margin ranks all 172 first."""
    ce = paper_grid_search("ce")
    greedy = paper_grid_search("reflected")
    margin = paper_grid_search("margin")
    assert ce.points_in_ball == greedy.points_in_ball == margin.points_in_ball
    assert ce.flips.tolist() == [0, 0, 0]
    assert greedy.flips.tolist() == [0, 0, 0]
    assert margin.flips.tolist() == [10, 100, 172]
