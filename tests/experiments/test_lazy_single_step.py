"""lazy-single-step: the quick preset end to end, the summary's verdict logic, the helpers."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from robustlab.experiments import lazy_single_step as experiment
from robustlab.experiments.base import Cell, CellContext
from robustlab.experiments.registry import get_experiment
from robustlab.learners import sgd
from robustlab.models import TwoLayerNet
from robustlab.runner import run_experiment

NAME = "lazy-single-step"
TRAIN_SIZE = 12665  # MNIST 0 vs 1 training set (paper 002, Sec. 5)


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> dict[str, Any]:
    exp = get_experiment(NAME)
    config = exp.config("quick")
    out = tmp_path_factory.mktemp("lazy_single_step")
    result = run_experiment(exp, config, out=out, preset="quick", data_dir=data_dir)
    root = out / NAME
    return {
        "config": config,
        "result": result,
        "table": pd.read_parquet(root / "results.parquet"),
        "summary": json.loads((root / "summary.json").read_text()),
        "root": root,
    }


def test_one_row_per_net_and_test_point(quick: dict[str, Any]) -> None:
    config, table = quick["config"], quick["table"]
    grid = len(config.dim) * len(config.width) * len(config.normalization) * len(config.seeds)
    assert quick["result"].total == grid  # one cell trains once for every C0
    assert len(table) == grid * len(config.C0) * config.members * config.test_points
    for column in ("dim", "width", "C0", "seed", "eta", "delta_norm", "grad_norm", "flipped"):
        assert column in table.columns
    assert "test_accuracy" in table.columns
    per_net = table.groupby(["dim", "width", "C0", "seed", "member"])["test_index"]
    assert (per_net.nunique() == config.test_points).all()


def test_nets_stay_in_the_lazy_ball_and_stop_only_at_its_boundary(quick: dict[str, Any]) -> None:
    config, table = quick["config"], quick["table"]
    nets = table.groupby(["dim", "seed", "member"]).first()
    assert (nets["distance_ratio"] <= 1.0 + 1e-5).all()
    assert (nets["distance_ratio"] > 0.3).all()  # they did train
    cap = config.max_epochs * math.ceil(TRAIN_SIZE / config.batch_size)
    stopped = nets["reached_boundary"].astype(bool)
    assert (nets.loc[stopped, "train_steps"] < cap).all()
    assert (nets.loc[~stopped, "train_steps"] == cap).all()
    assert (nets["test_accuracy"] >= 0.98).all()


def test_steps_are_consistent_and_flip_every_point(quick: dict[str, Any]) -> None:
    table = quick["table"]
    assert table["flipped"].all()
    assert (np.sign(table["eta"]) == -np.sign(table["f_clean"])).all()
    np.testing.assert_allclose(
        table["delta_norm"] * table["x_norm"], table["eta"].abs() * table["grad_norm"], rtol=1e-4
    )
    # raw pixels: ||x|| grows with d, never 1 (the unit-norm variant is another sweep value)
    assert (table["x_norm"] > 0).all()
    # the exact minimal step is at least the first-order one up to curvature: never < 1/4 of it
    linear = table["f_clean"].abs() / table["grad_norm"] ** 2
    assert (table["eta"].abs() >= 0.25 * linear).all()


def test_perturbation_shrinks_and_gradient_grows_with_dimension(quick: dict[str, Any]) -> None:
    means = quick["table"].groupby("dim")[["delta_norm", "grad_norm"]].median()
    dims = sorted(means.index)
    assert means.loc[dims[-1], "delta_norm"] < 0.5 * means.loc[dims[0], "delta_norm"]
    assert means.loc[dims[-1], "grad_norm"] > 2.0 * means.loc[dims[0], "grad_norm"]


def test_summary_has_the_slope_verdicts_and_paper_value(quick: dict[str, Any]) -> None:
    summary = quick["summary"]
    keys = {"claim", "verdict", "measured", "predicted", "reason"}
    assert all(set(v) - {"settle", "compared"} == keys for v in summary["verdicts"])
    by_claim = {v["claim"]: v for v in summary["verdicts"]}
    predicted = {"delta_norm": -0.5, "grad_norm": 0.5, "step": -1.0}
    for quantity, exponent in predicted.items():
        verdict = by_claim[f"raw inputs, m=1000, C0=10: slope of {quantity} in d"]
        assert verdict["predicted"] == exponent
        assert verdict["verdict"] in {"consistent", "inconsistent", "inconclusive"}
        assert abs(verdict["measured"] - exponent) < 0.3
    headline = summary["headline"]
    assert headline["paper Fig. 7 perturbation (d=784, C0=10)"] == 0.045
    assert 0.01 < headline["median delta_norm (raw, d=784, m=1000, C0=10)"] < 0.2
    assert summary["predictions"]["exponents"]["step"]["exponent"] == -1.0
    figures = {path.name for path in (quick["root"] / "figures").glob("*.png")}
    assert {"fig2_raw_by_width.png", "fig7_histograms.png"} <= figures


# --- run_cell on a tiny cell ----------------------------------------------------------------


def _tiny_cell(**changes: Any) -> Cell:
    config = experiment.Config(
        dim=[25],
        width=[40],
        C0=[10.0],
        normalization=["unit"],
        members=3,
        max_epochs=1,
        test_points=16,
    )
    params = experiment.cells(config)[0].to_dict()
    return Cell({**params, **changes})


def test_run_cell_is_a_pure_function_of_its_parameters(data_dir: Path) -> None:
    ctx = CellContext(data_dir=data_dir)
    first = pd.DataFrame(experiment.run_cell(_tiny_cell(), ctx))
    again = pd.DataFrame(experiment.run_cell(_tiny_cell(), ctx))
    pd.testing.assert_frame_equal(first, again)
    assert len(first) == 3 * 16
    np.testing.assert_allclose(first["x_norm"], 1.0, rtol=1e-5)  # unit-norm inputs
    other = pd.DataFrame(experiment.run_cell(_tiny_cell(seed=1), ctx))
    assert not np.allclose(first["grad_norm"], other["grad_norm"])


def test_one_trajectory_gives_the_rows_of_one_run_per_C0(data_dir: Path) -> None:
    """Issue 10 section 2: training once for all C0 gives, in float64, exactly the rows of a
    separate stopped run per C0 (`lazy_path`; tests/learners/test_lazy_path.py checks each
    radius against `sgd` itself). The largest C0 is never reached, the others are."""
    ctx = CellContext(dtype=torch.float64, data_dir=data_dir)
    c0s = [0.5, 2.0, 1000.0]
    together = pd.DataFrame(
        experiment.run_cell(_tiny_cell(C0s=c0s, normalization="raw", lr=0.5), ctx)
    )
    apart = pd.concat(
        [
            pd.DataFrame(experiment.run_cell(_tiny_cell(C0s=[c], normalization="raw", lr=0.5), ctx))
            for c in c0s
        ],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(together, apart, check_exact=True)
    stopped = together.groupby("C0")["reached_boundary"].mean()
    assert stopped[0.5] == 1.0 and stopped[1000.0] == 0.0
    assert together.groupby("C0")["train_steps"].max().is_monotonic_increasing


def test_memory_budget_batches_members_without_changing_the_rows_shape(data_dir: Path) -> None:
    ctx = CellContext(data_dir=data_dir)
    assert experiment.group_size(40, 25, members=3, memory_mb=64) == 3
    # 64 MiB holds 8 copies of a 40 x 25 net many times; a width of 10^5 at d = 784 does not
    assert experiment.group_size(100_000, 784, members=5, memory_mb=2048) == 1
    rows = pd.DataFrame(experiment.run_cell(_tiny_cell(members=2), ctx))
    assert sorted(rows["member"].unique()) == [0, 1]


def test_memory_estimate_is_bounded_for_the_paper_preset() -> None:
    paper = experiment.Config(**experiment.PRESETS["paper"])
    estimate = experiment.estimate_memory(paper)
    weights = 100_000 * 784 * 4  # one W at m = 10^5, d = 784
    # the SGD step's arrays plus one stopped iterate per C0 (4) of the single member trained
    assert 2 * weights < estimate < 6 * 2**30
    bigger = experiment.Config(**{**experiment.PRESETS["paper"], "memory_mb": 16_384})
    assert experiment.estimate_memory(bigger) > estimate


# --- summarize on constructed tables ---------------------------------------------------------


def _table(slopes: dict[str, float], *, c0_growth: float = 0.0) -> pd.DataFrame:
    """Rows following exact power laws in d (and C0^c0_growth), 2 members, 3 points each."""
    records = []
    for dim in (25, 100, 400, 784):
        for c0 in (10.0, 20.0):
            for member in range(2):
                for point in range(3):
                    scale = (c0 / 10.0) ** c0_growth * (1.0 + 0.01 * member)
                    delta = 0.3 * dim ** slopes["delta_norm"] * scale
                    grad = 3.0 * dim ** slopes["grad_norm"] * scale
                    x_norm = 0.3 * math.sqrt(dim)
                    records.append(
                        {
                            "normalization": "raw", "dim": dim, "width": 1000, "C0": c0,
                            "seed": 0, "member": member, "test_index": point, "label": 1.0,
                            "x_norm": x_norm, "f_clean": 1.0,
                            "eta": -delta * x_norm / grad, "grad_norm": grad,
                            "delta_norm_abs": delta * x_norm, "delta_norm": delta,
                            "flipped": True, "correct": True, "test_accuracy": 0.995,
                            "train_steps": 500, "reached_boundary": True,
                            "distance_ratio": 0.99,
                        }
                    )  # fmt: skip
    return pd.DataFrame(records)


def test_summary_verdicts_follow_the_measured_slopes() -> None:
    config = experiment.Config(
        dim=[25, 100, 400, 784], width=[1000], C0=[10.0, 20.0], reference_width=1000
    )
    good = experiment.summarize(_table({"delta_norm": -0.5, "grad_norm": 0.5}), config)
    verdicts = {v.claim: v for v in good.verdicts}
    for quantity, exponent in (("delta_norm", -0.5), ("grad_norm", 0.5), ("step", -1.0)):
        verdict = verdicts[f"raw inputs, m=1000, C0=10: slope of {quantity} in d"]
        assert verdict.verdict == "consistent"
        assert verdict.measured == pytest.approx(exponent, abs=1e-6)
    flat = experiment.summarize(_table({"delta_norm": 0.0, "grad_norm": 0.0}), config)
    verdicts = {v.claim: v for v in flat.verdicts}
    assert verdicts["raw inputs, m=1000, C0=10: slope of delta_norm in d"].verdict == "inconsistent"
    # Fig. 3: the quantities grow with C0 only when the table says so
    grows = experiment.summarize(
        _table({"delta_norm": -0.5, "grad_norm": 0.5}, c0_growth=0.3), config
    )
    by_claim = {v.claim: v.verdict for v in grows.verdicts}
    assert by_claim["raw inputs, m=1000: grad_norm grows with C0 (Fig. 3)"] == "consistent"
    shrinks = experiment.summarize(
        _table({"delta_norm": -0.5, "grad_norm": 0.5}, c0_growth=-0.3), config
    )
    by_claim = {v.claim: v.verdict for v in shrinks.verdicts}
    assert by_claim["raw inputs, m=1000: grad_norm grows with C0 (Fig. 3)"] == "inconsistent"
    # no net stopped below the largest C0: every C0 trained the same nets, nothing to judge
    unstopped = _table({"delta_norm": -0.5, "grad_norm": 0.5}).assign(reached_boundary=False)
    by_claim = {v.claim: v for v in experiment.summarize(unstopped, config).verdicts}
    same = by_claim["raw inputs, m=1000: grad_norm grows with C0 (Fig. 3)"]
    assert same.verdict == "inconclusive" and "same nets" in same.reason
    figures = experiment.figures(_table({"delta_norm": -0.5, "grad_norm": 0.5}), config)
    assert set(figures) == {"fig2_raw_by_width", "fig3_raw_by_C0", "fig7_histograms"}


# --- library changes made for this experiment -------------------------------------------------


def test_sgd_without_diagnostics_trains_the_same_weights() -> None:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(50, 6, generator=generator, dtype=torch.float64)
    y = torch.where(x[:, 0] > 0, 1.0, -1.0).to(torch.float64)
    net = TwoLayerNet.ntk(2, 30, 6, generator=generator, dtype=torch.float64)
    kwargs: dict[str, Any] = {"lr": 0.1, "batch_size": 8, "epochs": 2, "lazy_radius": 0.5}
    full, full_trace = sgd(net, x, y, generator=torch.Generator().manual_seed(1), **kwargs)
    lean, lean_trace = sgd(
        net, x, y, generator=torch.Generator().manual_seed(1), diagnostics=False, **kwargs
    )
    torch.testing.assert_close(full.W, lean.W, rtol=0, atol=0)
    torch.testing.assert_close(full_trace.distance_from_init, lean_trace.distance_from_init)
    assert torch.isnan(lean_trace.loss).all() and torch.isnan(lean_trace.sign_changes).all()
    assert not torch.isnan(full_trace.loss).any()


def test_param_grad_reuses_a_given_preactivation() -> None:
    generator = torch.Generator().manual_seed(2)
    net = TwoLayerNet.ntk(3, 20, 5, generator=generator, dtype=torch.float64)
    x = torch.randn(7, 5, generator=generator, dtype=torch.float64)
    weights = torch.randn(3, 7, generator=generator, dtype=torch.float64)
    direct = net.param_grad(x, weights)
    reused = net.param_grad(x, weights, preactivation=net.preactivation(x))
    torch.testing.assert_close(direct, reused, rtol=0, atol=0)
    W = net.W.detach().clone().requires_grad_(True)
    f = torch.relu(torch.einsum("nd,emd->enm", x, W)) @ net.a.detach().unsqueeze(-1) * net.scale
    (grad,) = torch.autograd.grad((f.squeeze(-1) * weights).sum(), W)
    torch.testing.assert_close(reused, grad)


def test_downsampling_and_hidden_bias_options_change_the_cell(data_dir: Path) -> None:
    """Issue 9 item 5: bilinear resizing (the authors' code) and the section 5.1 hidden bias
    are options; each gives other inputs or another net, and still flips every point."""
    ctx = CellContext(data_dir=data_dir)
    area = pd.DataFrame(experiment.run_cell(_tiny_cell(normalization="raw"), ctx))
    bilinear = pd.DataFrame(
        experiment.run_cell(_tiny_cell(normalization="raw", downsample="bilinear"), ctx)
    )
    assert not np.allclose(area["x_norm"], bilinear["x_norm"])
    biased = pd.DataFrame(
        experiment.run_cell(_tiny_cell(normalization="raw", hidden_bias=True), ctx)
    )
    np.testing.assert_allclose(area["x_norm"], biased["x_norm"])
    assert not np.allclose(area["f_clean"], biased["f_clean"])
    for rows in (bilinear, biased):
        assert rows["flipped"].astype(bool).all()
    config = get_experiment(NAME).config("paper")
    assert config.downsample == "area" and config.hidden_bias is False


def test_slope_tolerance_comes_from_the_seed_to_seed_spread() -> None:
    """Default tolerance: the 95% half-width of the per-run slopes' mean; a set value wins."""
    from scipy import stats

    from robustlab.theory import claims

    dims = [25, 100, 400]
    slopes = [-0.4, -0.5, -0.6, -0.5]
    rows = [
        {"seed": 0, "member": r, "dim": d, "delta_norm": float(d) ** s}
        for r, s in enumerate(slopes)
        for d in dims
    ]
    curve = pd.DataFrame(rows)
    tolerance, count, _ = claims.run_spread(curve["dim"], curve["delta_norm"], curve["member"])
    expected = stats.t.ppf(0.975, 3) * np.std(slopes, ddof=1) / 2
    assert tolerance == pytest.approx(expected, rel=1e-6) and count == 4
    judged = claims.exponent_over_runs(
        curve["dim"], curve["delta_norm"], curve["member"], -0.5, claim="c"
    )
    assert "4 runs" in judged.reason and judged.verdict == "consistent"
    fixed = claims.exponent_over_runs(
        curve["dim"], curve["delta_norm"], curve["member"], -0.5, claim="c", tolerance=0.1
    )
    assert "0.1 (set)" in fixed.reason
    single = curve[curve["member"] == 0]
    assert claims.run_spread(single["dim"], single["delta_norm"], single["member"])[0] == 0.0


#: The quick preset's verdicts before the claims became a declarative list (issue 9); pinned.
QUICK_VERDICTS = {
    "raw inputs, m=1000, C0=10: slope of delta_norm in d": "consistent",
    "raw inputs, m=1000, C0=10: slope of grad_norm in d": "inconsistent",
    "raw inputs, m=1000, C0=10: slope of step in d": "consistent",
    "one gradient step flips the prediction of every test point (Theorem 3.1)": "consistent",
    "every trained net (C0 >= 10) has test error below 1% (Sec. 5.1)": "consistent",
}


def test_quick_verdicts_are_pinned(quick: dict[str, Any]) -> None:
    found = {v["claim"]: v["verdict"] for v in quick["summary"]["verdicts"]}
    assert found == QUICK_VERDICTS


def test_accuracy_claim_judges_the_nets_the_paper_trains() -> None:
    """Sec. 5.1's "below 1%" is judged from min(10, reference C0) up; earlier stops are named."""
    from robustlab.experiments.lazy_single_step.claims import _accuracy_claim

    runs = pd.DataFrame({"C0": [4.0, 8.0, 8.0], "test_accuracy": [0.81, 0.995, 0.993]})
    cut = _accuracy_claim(runs, ref_c0=8.0)
    assert cut.verdict == "consistent" and "C0 >= 8" in cut.claim
    assert "1 nets stopped at C0 < 8" in cut.reason and "0.19" in cut.reason
    worse = _accuracy_claim(runs.assign(test_accuracy=[0.81, 0.995, 0.97]), ref_c0=8.0)
    assert worse.verdict == "inconsistent"
    paper = _accuracy_claim(runs.assign(C0=[10.0, 20.0, 40.0]), ref_c0=10.0)
    assert paper.verdict == "inconsistent" and "not judged" not in paper.reason
