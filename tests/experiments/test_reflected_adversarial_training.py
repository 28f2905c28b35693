"""reflected-adversarial-training (paper 004 Table 1): quick preset on MNIST, attack helpers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

from robustlab.experiments import reflected_adversarial_training as experiment
from robustlab.experiments.base import ConfigError
from robustlab.experiments.reflected_adversarial_training import ATTACKS
from robustlab.experiments.registry import get_experiment
from robustlab.models import TwoLayerNet
from robustlab.runner import run_experiment

NAME = "reflected-adversarial-training"


@pytest.fixture(scope="module")
def quick(data_dir: Path, run_quick: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return run_quick(NAME, data_dir=data_dir)


def _wide(table: pd.DataFrame) -> pd.DataFrame:
    return table.pivot_table(
        index=["train_top", "raw_step_loss", "training", "seed", "member"],
        columns="attack",
        values="robust_error",
    )


def test_rows_cover_every_training_variant_member_and_attack(quick: dict[str, Any]) -> None:
    config, table = quick["config"], quick["table"]
    assert config.train_top == [False, True]  # both variants of Algorithm 2, judged apart
    cells = len(config.training) * len(config.train_top) * len(config.seeds)
    assert quick["result"].total == cells
    per_cell = config.members * (len(config.attacks) + 1) * len(config.raw_step_losses)
    assert len(table) == per_cell * cells
    assert set(table["attack"]) == {"clean", *config.attacks}
    assert set(table["train_top"]) == {False, True}


def test_budgets_are_respected(quick: dict[str, Any]) -> None:
    table = quick["table"]
    attacked = table[table["attack"] != "clean"]
    assert (attacked["max_norm"] <= attacked["budget"] * (1 + 1e-5)).all()
    assert (attacked[attacked["attack_norm"] == "l2"]["budget"] == 2.0).all()
    assert (attacked[attacked["attack_norm"] == "linf"]["budget"] == 0.1).all()


def test_attacks_never_beat_the_clean_error_downwards(quick: dict[str, Any]) -> None:
    table = quick["table"]
    assert (table["robust_error"] >= table["clean_error"] - 1e-12).all()
    assert (table["clean_error"] < 0.05).all()  # MNIST 0 vs 1 is nearly separable


def test_sign_attacks_do_not_see_the_reflection(quick: dict[str, Any]) -> None:
    """Both losses' gradients are negative multiples of y grad f: same signs, same iterates."""
    wide = _wide(quick["table"])
    pd.testing.assert_series_equal(wide["FGSM"], wide["R-FGSM"], check_names=False)
    pd.testing.assert_series_equal(wide["BIM"], wide["R-BIM"], check_names=False)


def test_reflected_pgd2_is_stronger_on_average(quick: dict[str, Any]) -> None:
    wide = _wide(quick["table"])
    assert wide["R-PGD-2"].mean() > wide["PGD-2"].mean()
    assert wide["R-PGD-inf"].mean() >= wide["PGD-inf"].mean()


def test_summary_has_the_table_with_the_papers_numbers(quick: dict[str, Any]) -> None:
    config, summary = quick["config"], quick["summary"]
    headline = summary["headline"]
    assert headline["runs_per_training"] == config.members * len(config.seeds)  # per variant
    labels = ["W only, per-sample raw steps", "both layers, per-sample raw steps"]
    assert headline["variants"] == labels
    cells = {key for key in headline if " | " in key}
    assert cells == {
        f"{v} | {t} | {a}" for v in labels for t in config.training for a in ["clean", *ATTACKS]
    }
    assert headline[f"{labels[0]} | standard | FGSM"]["paper"] == 0.236
    assert headline[f"{labels[1]} | R-PGD-2 | R-PGD-2"]["paper"] == 0.008
    assert headline[f"{labels[0]} | standard | clean"]["paper"] is None
    table = quick["table"]
    for key in cells:  # means over every run, as the paper reports them
        label, training, attack = key.split(" | ")
        here = table["train_top"] == (label == labels[1])
        rows = table[here & (table["training"] == training) & (table["attack"] == attack)]
        assert headline[key]["ours"] == pytest.approx(rows["robust_error"].mean(), abs=1e-4)
    assert set(headline["unstable_runs"]) == set(labels)
    assert set(headline["unstable_runs"][labels[0]]) == set(config.training)
    predictions = summary["predictions"]["paper_table1"]
    assert predictions["PGD-2"]["PGD-inf"] == 0.022
    keys = {"claim", "verdict", "measured", "predicted", "reason"}
    claims = [v["claim"] for v in summary["verdicts"]]
    assert any("R-PGD-2 is at least as strong" in c for c in claims)
    for verdict in summary["verdicts"]:
        assert set(verdict) - {"settle", "compared"} == keys
        assert verdict["verdict"] in ("consistent", "inconsistent", "inconclusive")
    identical = [v for v in summary["verdicts"] if "unchanged" in v["claim"]]
    assert [v["verdict"] for v in identical] == ["consistent"] * 2
    for stem in ("table1", "losses"):
        assert (quick["root"] / "figures" / f"{stem}.png").stat().st_size > 0
    rows = [v for v in summary["verdicts"] if "] Table 1 row" in v["claim"]]
    assert len(rows) == 2 * len(config.training) * 2


def _tiny_net() -> TwoLayerNet:
    g = torch.Generator().manual_seed(1)
    return experiment.initial_net(
        2, 7, 5, train_top=True, hidden_bias=True, generator=g, dtype=torch.float64
    )


def test_pgd_takes_unnormalized_gradient_steps() -> None:
    """Algorithm 1: one step moves x by eta * l'(z) y grad f(x), so the plain (logistic) step is
    e^{-z} times the reflected one; a sign step (BIM) is the same for both losses."""
    net = _tiny_net()
    g = torch.Generator().manual_seed(2)
    x = torch.rand(6, 5, generator=g, dtype=torch.float64)
    y = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0, -1.0], dtype=torch.float64)
    eta = 1e-3
    moves = {}
    for name in ("PGD-2", "R-PGD-2"):
        attack = experiment.make_attack(
            name,
            nu_linf=0.1,
            nu_l2=10.0,
            steps=1,
            step_size=eta,
            decay=1.0,
            decay_every=1,
            box=False,
        )
        moves[name] = attack(net, x, y).x_adv[0] - x  # (E, n, d)
    with torch.no_grad():
        z = y * net(x)
        grad = net.input_grad(x)  # (E, n, d)
    # the best iterate may be x itself where the step lowered the loss; compare moved points
    for name, slope in (("PGD-2", torch.sigmoid(-z)), ("R-PGD-2", torch.sigmoid(z))):
        expected = -eta * (slope * y).unsqueeze(-1) * grad  # eta l'(z) y grad f
        moved = moves[name].abs().amax(dim=-1) > 0
        assert moved.any()
        torch.testing.assert_close(moves[name][moved], expected[moved])
    sign = {}
    for name in ("BIM", "R-BIM"):
        attack = experiment.make_attack(
            name,
            nu_linf=0.05,
            nu_l2=2.0,
            steps=3,
            step_size=0.02,
            decay=1.0,
            decay_every=1,
            box=False,
        )
        sign[name] = attack(net, x, y).x_adv
    torch.testing.assert_close(sign["BIM"], sign["R-BIM"], rtol=0, atol=0)


def test_make_attack_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown attack"):
        experiment.make_attack(
            "CW",
            nu_linf=0.1,
            nu_l2=2.0,
            steps=1,
            step_size=1.0,
            decay=1.0,
            decay_every=1,
            box=False,
        )
    with pytest.raises(ConfigError):
        get_experiment(NAME).config("quick", {"training": ["PGD-2", "PGD-2"]})


def test_initial_net_uses_fan_in_bounds() -> None:
    net = experiment.initial_net(
        3, 50, 784, train_top=False, hidden_bias=False, generator=torch.Generator().manual_seed(0)
    )
    assert net.b is None and not net.a.requires_grad
    assert float(net.W.detach().abs().max()) <= 1 / 784**0.5
    assert float(net.a.detach().abs().max()) <= 1 / 50**0.5


def _synthetic_table(errors: dict[str, dict[str, list[float]]], train_error: float = 0.001):
    """Rows of a fake run: errors[training][attack] = per-member robust errors."""
    rows = []
    for training, by_attack in errors.items():
        for attack, values in by_attack.items():
            for member, value in enumerate(values):
                rows.append(
                    {
                        "training": training,
                        "seed": 0,
                        "member": member,
                        "attack": attack,
                        "robust_error": value,
                        "train_error": train_error,
                    }
                )
    return pd.DataFrame(rows)


def test_unstable_runs_stay_in_the_means_and_are_shown_apart() -> None:
    config = experiment.Config(training=["PGD-2", "R-PGD-2"], attacks=["PGD-2", "R-PGD-2"])
    rows = []
    for training in config.training:
        for member in range(4):
            collapsed = training == "PGD-2" and member == 3
            for attack in ("clean", "PGD-2", "R-PGD-2"):
                error = 0.5 if collapsed else 0.01 * (member + 1) + 0.01 * (attack == "R-PGD-2")
                rows.append(
                    {
                        "training": training,
                        "seed": 0,
                        "member": member,
                        "attack": attack,
                        "robust_error": 0.0 if attack == "clean" and not collapsed else error,
                        "train_error": 0.45 if collapsed else 0.001,
                    }
                )
    summary = experiment.summarize(pd.DataFrame(rows), config)
    headline = summary.headline
    assert headline["unstable_runs"] == {"PGD-2": 1, "R-PGD-2": 0}
    assert headline["PGD-2 | PGD-2"]["ours"] == pytest.approx((0.06 + 0.5) / 4)
    assert headline["PGD-2 | PGD-2"]["stable_runs"] == pytest.approx(0.02)
    assert "stable_runs" not in headline["R-PGD-2 | PGD-2"]
    dominance = next(v for v in summary.verdicts if "training with R-PGD-2" in v.claim)
    assert "over 4 pairs" in dominance.reason


def _paper_like(scale: float = 1.0, members: int = 4) -> dict[str, dict[str, list[float]]]:
    """Every run at the paper's value times `scale`, with a small member-to-member spread."""
    return {
        training: {
            attack: [scale * value + 1e-4 * member for member in range(members)]
            for attack, value in experiment.PAPER_TABLE1[training].items()
        }
        for training in experiment.TRAININGS
    }


def test_the_paper_table_itself_is_consistent_with_every_claim() -> None:
    summary = experiment.summarize(_synthetic_table(_paper_like()), experiment.Config())
    by_kind = {v.claim: v.verdict for v in summary.verdicts}
    rows = [claim for claim in by_kind if claim.startswith("Table 1 row")]
    assert len(rows) == 10
    assert all(by_kind[claim] == "consistent" for claim in rows)
    assert by_kind["the gain of R-PGD-inf over PGD-inf is largest against the standard model"] == (
        "consistent"
    )


def test_an_all_zero_table_fails_the_comparison() -> None:
    """The old 'within 0.05 absolute' score passed 34 of 40 cells of an all-zero table."""
    zero = _paper_like(scale=0.0)
    summary = experiment.summarize(_synthetic_table(zero), experiment.Config())
    agreement = [v for v in summary.verdicts if "every robust error within" in v.claim]
    assert len(agreement) == 5
    assert all(v.verdict == "inconsistent" for v in agreement)
    ranks = [v for v in summary.verdicts if "rank as in the paper" in v.claim]
    assert all(v.verdict != "consistent" for v in ranks)


def test_a_table_off_by_a_factor_two_fails_every_row() -> None:
    summary = experiment.summarize(_synthetic_table(_paper_like(scale=2.0)), experiment.Config())
    agreement = [v for v in summary.verdicts if "every robust error within" in v.claim]
    assert [v.verdict for v in agreement] == ["inconsistent"] * 5
    ranks = [v for v in summary.verdicts if "rank as in the paper" in v.claim]
    assert [v.verdict for v in ranks] == ["consistent"] * 5  # the order survives a scale


def test_swapped_attacks_break_the_rank_order() -> None:
    table = _paper_like()
    table["standard"]["PGD-2"], table["standard"]["R-PGD-2"] = (
        table["standard"]["R-PGD-2"],
        table["standard"]["PGD-2"],
    )
    summary = experiment.summarize(_synthetic_table(table), experiment.Config())
    rank = next(v for v in summary.verdicts if v.claim.startswith("Table 1 row 'standard': the"))
    assert rank.verdict == "inconsistent"
    assert "R-PGD-2" in rank.reason
    stronger = next(v for v in summary.verdicts if v.claim.startswith("R-PGD-2 is stronger"))
    assert stronger.verdict == "inconsistent"


def test_default_trains_only_the_first_layer_as_algorithm_2() -> None:
    assert experiment.Config().train_top == [False]
    assert experiment.Config().raw_step_losses == ["per-sample"]
    for preset in ("standard", "paper"):
        config = get_experiment(NAME).config(preset)
        assert config.train_top == [False, True]
        assert config.raw_step_losses == ["per-sample", "batch-mean"]
    assert {row.setting for row in experiment.PROTOCOL} >= {"trained parameters", "attacks"}


#: The quick verdicts, in order: the W-only variant's are those of the single-variant module
#: before the claims became declarative (unchanged on purpose), then the both-layers variant's,
#: then the finding (2 epochs cannot reproduce the standard row with either variant).
PER_VARIANT = ["Table 1 row"] * 10 + [
    "unchanged",
    "R-FGSM is at least",
    "R-PGD-inf is at least",
    "R-BIM is at least",
    "R-PGD-2 is at least",
    "stronger than PGD-2 against every",
    "largest against the standard",
    "still gives robustness",
    "training with R-PGD-inf",
    "training with R-PGD-2",
]
I, C, N = "inconsistent", "consistent", "inconclusive"
QUICK_VERDICTS = [
    *[I, I, I, N, I, C, I, I, I, I, C, C, C, C, C, N, C, I, N, N],
    *[I, I, I, C, I, C, I, I, I, I, C, C, C, C, C, N, N, I, N, C],
    I,
]


def test_quick_verdicts_are_pinned(quick: dict[str, Any]) -> None:
    verdicts = quick["summary"]["verdicts"]
    assert [v["verdict"] for v in verdicts] == QUICK_VERDICTS
    labels = ["[W only, per-sample raw steps] ", "[both layers, per-sample raw steps] "]
    for i, (verdict, fragment) in enumerate(zip(verdicts, PER_VARIANT * 2, strict=False)):
        assert verdict["claim"].startswith(labels[i // len(PER_VARIANT)])
        assert fragment in verdict["claim"]
    assert verdicts[-1]["claim"].startswith("finding: the sign-attack columns")


def test_step_batches_split_the_test_set_into_loss_batches() -> None:
    assert experiment.step_batches(2115, "per-sample", 100) == [(0, 2115, 1)]
    assert experiment.step_batches(2115, "batch-mean", 100) == [(0, 2100, 100), (2100, 2115, 15)]
    assert experiment.step_batches(100, "batch-mean", 100) == [(0, 100, 100)]
    assert experiment.step_batches(40, "batch-mean", 100) == [(0, 40, 40)]
    assert experiment.takes_raw_steps("R-PGD-2") and not experiment.takes_raw_steps("R-BIM")


def test_a_batch_mean_raw_step_is_the_gradient_of_the_averaged_loss() -> None:
    """Algorithm 1 with the logistic loss averaged over a batch (autograd, float64): one raw
    step equals the attack's step with step_size / batch size."""
    net = _tiny_net()
    g = torch.Generator().manual_seed(3)
    x = torch.rand(6, 5, generator=g, dtype=torch.float64)
    y = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0, -1.0], dtype=torch.float64)
    eta = 0.5
    xe = x.expand(net.ensemble, -1, -1).clone().requires_grad_(True)
    margins = y * torch.stack([net(xe[e])[e] for e in range(net.ensemble)])
    loss = torch.nn.functional.softplus(-margins).mean(dim=1).sum()  # batch mean per member
    (grad,) = torch.autograd.grad(loss, xe)
    expected = eta * grad
    ((first, stop, divisor),) = experiment.step_batches(6, "batch-mean", 6)
    attack = experiment.make_attack(
        "PGD-2",
        nu_linf=0.1,
        nu_l2=10.0,
        steps=1,
        step_size=eta / divisor,
        decay=1.0,
        decay_every=1,
        box=False,
    )
    moved = attack(net, x[first:stop], y[first:stop]).x_adv[0] - x  # (E, n, d)
    changed = moved.abs().amax(dim=-1) > 0  # the best iterate may be x itself
    assert changed.any()
    torch.testing.assert_close(moved[changed], expected[changed])


def test_batch_mean_rows_share_the_sign_attacks_and_scale_the_raw_steps(
    data_dir: Path, tmp_path: Path
) -> None:
    experiment_ = get_experiment(NAME)
    config = experiment_.config(
        "quick",
        {
            "training": ["standard"],
            "train_top": [True],
            "attacks": ["FGSM", "R-BIM", "PGD-2", "R-PGD-2"],
            "raw_step_losses": ["per-sample", "batch-mean"],
            "n_train": 300,
            "n_test": 150,
            "epochs": 1,
            "members": 2,
            "seeds": [0],
        },
    )
    result = run_experiment(experiment_, config, out=tmp_path, device="cpu", data_dir=data_dir)
    table = pd.read_parquet(result.root / "results.parquet")
    wide = _wide(table)
    each = wide.xs("per-sample", level="raw_step_loss")
    mean = wide.xs("batch-mean", level="raw_step_loss")
    pd.testing.assert_frame_equal(each[["FGSM", "R-BIM"]], mean[["FGSM", "R-BIM"]])
    # a raw step 100 (or 50) times shorter moves less: PGD-2 can only get weaker
    assert (mean["PGD-2"] <= each["PGD-2"] + 1e-12).all()
    moved = table[table["attack"] == "PGD-2"].groupby("raw_step_loss")["max_norm"].max()
    assert moved["batch-mean"] < moved["per-sample"]


def _variant_table(top_matches: bool) -> pd.DataFrame:
    """Two train_top variants: one at the paper's standard row, the other 10x below it."""
    frames = []
    for top in (False, True):
        scale = 1.0 if top == top_matches else 0.1
        errors = {
            "standard": {
                attack: [scale * value + 1e-4 * member for member in range(4)]
                for attack, value in experiment.PAPER_TABLE1["standard"].items()
            }
        }
        frames.append(_synthetic_table(errors).assign(train_top=top, raw_step_loss="per-sample"))
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize(("top_matches", "expected"), [(True, C), (False, I)])
def test_the_top_layer_finding_can_fail(top_matches: bool, expected: str) -> None:
    config = experiment.Config(training=["standard"], train_top=[False, True])
    summary = experiment.summarize(_variant_table(top_matches), config)
    finding = next(v for v in summary.verdicts if v.claim.startswith("finding: the sign"))
    assert finding.verdict == expected
    assert any(v.claim.startswith("[both layers, per-sample raw steps] ") for v in summary.verdicts)
    assert set(summary.headline["unstable_runs"]) == {
        "W only, per-sample raw steps",
        "both layers, per-sample raw steps",
    }


@pytest.mark.parametrize(("mean_matches", "expected"), [(True, C), (False, I)])
def test_the_raw_step_findings_can_fail(mean_matches: bool, expected: str) -> None:
    """Batch-mean rows at the paper's PGD-2 value and 10x its PGD-inf value, per-sample rows the
    other way round (or everything swapped)."""
    frames = []
    for step_loss in ("per-sample", "batch-mean"):
        near = {"PGD-2": step_loss == "batch-mean", "PGD-inf": step_loss == "per-sample"}
        errors = {
            "standard": {
                attack: [
                    value * (1.0 if near.get(attack, True) == mean_matches else 10.0)
                    + 1e-4 * member
                    for member in range(4)
                ]
                for attack, value in experiment.PAPER_TABLE1["standard"].items()
            }
        }
        table = _synthetic_table(errors).assign(train_top=True, raw_step_loss=step_loss)
        frames.append(table)
    config = experiment.Config(
        training=["standard"], train_top=[True], raw_step_losses=["per-sample", "batch-mean"]
    )
    summary = experiment.summarize(pd.concat(frames, ignore_index=True), config)
    findings = [v for v in summary.verdicts if v.claim.startswith("finding (both layers)")]
    assert [v.claim.split("'s ")[1].split(" column")[0] for v in findings] == ["PGD-2", "PGD-inf"]
    assert [v.verdict for v in findings] == [expected, expected]
