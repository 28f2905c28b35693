"""reflected-grid (paper 004 section 4.1, Figure 2): the quick preset end to end, and helpers."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from robustlab.experiments import reflected_grid as experiment
from robustlab.experiments.registry import get_experiment
from robustlab.losses import reflected

NAME = "reflected-grid"


@pytest.fixture(scope="module")
def quick(run_quick: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return run_quick(NAME)


def _ball_count(points: int, radius: float, half: float) -> int:
    """Grid points of linspace(-h, h, points)^3 with ||delta|| <= radius, counted in numpy."""
    axis = np.linspace(-half, half, points)
    sq = axis**2
    total = sq[:, None, None] + sq[None, :, None] + sq[None, None, :]
    return int((total <= radius * radius * (1 + 1e-12)).sum())


def test_rows_cover_the_grid(quick: dict[str, Any]) -> None:
    config, table = quick["config"], quick["table"]
    cells = len(config.points_per_axis) * len(config.radius) * len(config.loss)
    assert quick["result"].total == cells
    assert len(table) == cells * len(config.top_k)
    assert set(table["loss"]) == set(config.loss)


def test_counts_are_top_k_counts(quick: dict[str, Any]) -> None:
    table = quick["table"]
    assert (table["flips"] >= 0).all()
    assert (table["flips"] <= table["k"]).all()
    for _, rows in table.groupby(["points_per_axis", "radius", "loss"]):
        rows = rows.sort_values("k")
        flips, ks = rows["flips"].to_numpy(), rows["k"].to_numpy()
        assert (np.diff(flips) >= 0).all()  # a larger top-k holds the smaller one
        assert (np.diff(flips) <= np.diff(ks)).all()


def test_margin_ranking_is_the_ceiling(quick: dict[str, Any]) -> None:
    """Ranking by the margin puts every flipping point first: no loss can beat it."""
    table = quick["table"]
    ideal = table[table["loss"] == "margin"].set_index(["points_per_axis", "radius", "k"])
    for key, row in table.set_index(["points_per_axis", "radius", "k"]).iterrows():
        assert row["flips"] <= ideal.loc[key, "flips"]
    # where the ideal count is below k it is the exact number of flipping grid points
    for _, rows in table[table["loss"] == "margin"].groupby(["points_per_axis", "radius"]):
        counts = rows.sort_values("k")["flips"].to_numpy()
        ks = rows.sort_values("k")["k"].to_numpy()
        below = counts < ks
        if below.any():
            assert len(set(counts[below])) == 1


def test_points_in_ball_match_an_independent_count(quick: dict[str, Any]) -> None:
    config, table = quick["config"], quick["table"]
    for (n, r), rows in table.groupby(["points_per_axis", "radius"]):
        expected = _ball_count(int(n), float(r), config.box_half_width)
        assert (rows["points_in_ball"] == expected).all()
        assert (rows["points_total"] == int(n) ** 3).all()


def test_flips_exist_only_where_theory_allows(quick: dict[str, Any]) -> None:
    config, table = quick["config"], quick["table"]
    predicted = experiment.theory(config)["by_radius"]
    found = table[table["loss"] == "margin"].groupby("radius")["flips"].max()
    for radius, flips in found.items():
        if flips > 0:
            assert predicted[str(radius)]["flip_exists"]


def test_summary_headline_and_verdicts(quick: dict[str, Any]) -> None:
    config, summary = quick["config"], quick["summary"]
    headline = summary["headline"]
    assert headline["headline_setting"] == {
        "points_per_axis": max(config.points_per_axis),
        "radius": config.radius[0],
    }
    assert headline["points_in_ball"] == _ball_count(
        max(config.points_per_axis), config.radius[0], config.box_half_width
    )
    flips = headline["topk_flips"]
    assert {"ce", "reflected"} <= set(flips)
    for loss in ("ce", "reflected"):
        assert set(flips[loss]) == {str(k) for k in config.top_k}
    assert len(headline["by_setting"]) == len(config.points_per_axis) * len(config.radius)
    keys = {"claim", "verdict", "measured", "predicted", "reason"}
    assert summary["verdicts"]
    for verdict in summary["verdicts"]:
        assert keys <= set(verdict) <= keys | {"settle", "compared"}
        assert verdict["verdict"] in ("consistent", "inconsistent", "inconclusive")
        if "compared" in verdict:  # flips per k side by side, the largest k last
            assert list(verdict["compared"].values())[-2:] == [
                verdict["measured"],
                verdict["predicted"],
            ]
            assert len(verdict["compared"]) == 2 * len(config.top_k)
        if verdict["verdict"] != "consistent":
            assert "--preset paper" in verdict["settle"]
    assert (quick["root"] / "figures" / "topk_flips.png").stat().st_size > 0


def test_reflected_top2_is_the_binary_reflected_loss_of_the_top_two_margin() -> None:
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(50, 4, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 4, (50,), generator=g)
    picked = logits.gather(1, labels[:, None])[:, 0]
    others = logits.scatter(1, labels[:, None], -math.inf).amax(dim=1)
    expected = -torch.log1p(torch.exp(picked - others))
    torch.testing.assert_close(experiment.reflected_top2(logits, labels), expected)
    # with two classes it is the reflected loss of the binary margin
    two = logits[:, :2]
    y = labels % 2
    z = two.gather(1, y[:, None])[:, 0] - two.gather(1, (1 - y)[:, None])[:, 0]
    torch.testing.assert_close(experiment.reflected_top2(two, y), reflected(z))


def test_max_margin_reduction_against_a_dense_sample() -> None:
    g = torch.Generator().manual_seed(0)
    for radius, half in ((0.7078, 0.51), (0.9, 0.5), (0.3, 1.0)):
        # delta_j - delta_y over the ball and box: sample directions densely near the optimum
        delta = torch.randn(200_000, 3, generator=g, dtype=torch.float64)
        delta = delta / delta.norm(dim=1, keepdim=True) * radius
        delta = delta.clamp(-half, half)
        sampled = float((delta[:, 1] - delta[:, 0]).max())
        exact = experiment.max_margin_reduction(radius, half)
        assert sampled <= exact + 1e-12
        assert sampled >= exact - 0.02


def test_paper_radius_holds_the_paper_example() -> None:
    theory = experiment.theory(experiment.Config())
    # ||[-0.501, 0.5, 0]|| = 0.707814: the paper's 0.7078 is rounded down, so the example itself
    # lies 1.4e-5 outside the ball; flips inside it still exist (0.7078 sqrt 2 > 1)
    assert theory["paper_example_norm"] == pytest.approx(experiment.PAPER_RADIUS, abs=1e-4)
    assert not theory["paper_example_inside_ball"]
    assert theory["by_radius"][str(experiment.PAPER_RADIUS)]["flip_exists"]
    x = np.array([3.0, 2.0, 1.0]) + np.array(experiment.PAPER_EXAMPLE_DELTA)
    assert int(np.argmax(x)) == 1  # f(x + delta) = [2.499, 2.5, 1] predicts the second class


def test_config_rejects_bad_values() -> None:
    exp = get_experiment(NAME)
    from robustlab.experiments.base import ConfigError

    with pytest.raises(ConfigError):
        exp.config("quick", {"loss": ["hinge"]})
    with pytest.raises(ConfigError):
        exp.config("quick", {"points_per_axis": [1]})


def test_module_is_registered(quick: dict[str, Any]) -> None:
    assert get_experiment(NAME).paper == "004"
    assert isinstance(quick["root"], Path)


# The quick preset's verdicts, pinned before the claims moved onto robustlab.theory.claims
# (issue 9), in order, by the first 60 characters of each claim: a change here must be
# deliberate.
QUICK_VERDICTS = [
    ("reflected (greedy) finds at least as many flips among the to", "consistent"),
    ("reflected (greedy) is more effective than CE at finding flip", "inconsistent"),
    ("reflected top-2 margin finds at least as many flips among th", "consistent"),
    ("reflected top-2 margin is more effective than CE at finding ", "consistent"),
    ("reflected (greedy) finds at least as many flips among the to", "consistent"),
    ("reflected (greedy) is more effective than CE at finding flip", "consistent"),
    ("reflected top-2 margin finds at least as many flips among th", "consistent"),
    ("reflected top-2 margin is more effective than CE at finding ", "consistent"),
]


def test_quick_verdicts_are_pinned(quick: dict[str, Any]) -> None:
    found = [(v["claim"][:60], v["verdict"]) for v in quick["summary"]["verdicts"]]
    assert found == QUICK_VERDICTS
