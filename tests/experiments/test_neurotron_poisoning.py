"""neurotron-poisoning: per-member oracles against the library's, w_adv sizing, the quick run."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

from robustlab.experiments import get_experiment
from robustlab.experiments.base import CellContext, ConfigError
from robustlab.experiments.neurotron_poisoning import (
    Config,
    InputLaw,
    cells,
    insensitive_direction,
    make_oracle,
    realizable_envelope,
    run_cell,
    theory,
)
from robustlab.learners.neurotron import GaussianInputs
from robustlab.models.single_filter import SingleFilterNet, perturbed_mean_sensing
from robustlab.poisoning.oracles import AdversarialOracle, RandomOracle, RealizableOracle
from robustlab.runner.run import run_experiment

NAME = "neurotron-poisoning"
F64 = torch.float64


def _net(E: int, *, seed: int = 0, dim: int = 12, r: int = 4, k: int = 4) -> tuple[Any, ...]:
    g = torch.Generator().manual_seed(seed)
    family = perturbed_mean_sensing(k, r, dim, generator=g, dtype=F64)
    w_star = torch.randn(E, r, generator=g, dtype=F64)
    w = torch.randn(E, r, generator=g, dtype=F64)
    x = torch.randn(E, 9, dim, generator=g, dtype=F64)
    return SingleFilterNet(family.sensing, w), family, w_star, w, x


# --------------------------------------------------------------------------- oracles
def test_make_oracle_builds_the_library_per_member_oracles() -> None:
    model, family, w_star, w, x = _net(3)
    theta = torch.tensor([0.0, 0.5, 1.0], dtype=F64)
    beta = torch.tensor([1.0, 0.5, 1.0], dtype=F64)
    common = {"theta": theta, "beta": beta, "noise": "alternating", "M": family.mean}
    none = make_oracle("none", model, w_star, w_adv=None, **common)
    assert torch.equal(none.labels(x, w).xi, torch.zeros(3, 9, dtype=F64))
    assert isinstance(make_oracle("random", model, w_star, w_adv=None, **common), RandomOracle)
    adversarial = make_oracle("adversarial", model, w_star, w_adv=None, **common)
    assert isinstance(adversarial, AdversarialOracle)
    realizable = make_oracle("realizable", model, w_star, w_adv=w_star + 1.0, **common)
    assert isinstance(realizable, RealizableOracle) and realizable.clip
    with pytest.raises(ValueError, match="needs w_adv"):
        make_oracle("realizable", model, w_star, w_adv=None, **common)


# --------------------------------------------------------------------------- w_adv sizing
def test_envelope_bounds_the_realizable_noise() -> None:
    """|f_{w*+rho u}(x) - f_{w*}(x)| <= rho (1/k) sum_i |u^T A_i x|, checked on fresh draws."""
    model, family, w_star, _, _ = _net(4, dim=20, r=6, k=6)
    u = insensitive_direction(family.sensing)
    sampler = GaussianInputs(20, dtype=F64)
    envelope = realizable_envelope(
        family.sensing, u, sampler, samples=5000, generator=torch.Generator().manual_seed(2)
    )
    x = sampler(4000, torch.Generator().manual_seed(9))
    filters = torch.einsum("r,krn->kn", u, family.sensing)
    per_x = (x @ filters.T).abs().mean(dim=1)
    assert float(per_x.max()) <= envelope * 1.5  # the calibration max is the same law's max
    for rho in (0.01, 0.3, 2.0):
        gap = model.output(x, w_star + rho * u) - model.output(x, w_star)
        assert bool((gap.abs() <= rho * per_x + 1e-12).all())


def test_insensitive_direction_minimises_the_sensed_norm() -> None:
    _, family, _, _, _ = _net(1, dim=15, r=5, k=4)
    u = insensitive_direction(family.sensing)
    assert math.isclose(float(u.norm()), 1.0, rel_tol=1e-12)

    def sensed(v: torch.Tensor) -> float:
        return float(torch.einsum("r,krn->kn", v, family.sensing).pow(2).sum())

    others = torch.randn(200, 5, dtype=F64, generator=torch.Generator().manual_seed(0))
    others = others / others.norm(dim=1, keepdim=True)
    assert sensed(u) <= min(sensed(v) for v in others) + 1e-9


# --------------------------------------------------------------------------- config, cells, theory
def test_config_validation() -> None:
    with pytest.raises(ValueError, match="needs df"):
        InputLaw(name="t", family="student_t", dim=30, eta=1e-4)
    experiment = get_experiment(NAME)
    with pytest.raises(ConfigError, match="even"):
        experiment.config("quick", {"width": 5})
    law = {"name": "a", "family": "gaussian", "dim": 30, "eta": 1e-4}
    with pytest.raises(ConfigError, match=r"distributions.*more than once"):
        experiment.config("quick", {"distributions": [law, law]})


def test_paper_cells_and_members() -> None:
    config = get_experiment(NAME).config("paper")
    assert isinstance(config, Config)
    assert [law.name for law in config.distributions] == ["N(0,1)", "N(0,9)", "Laplace(2)", "t(4)"]
    assert [(law.dim, law.eta) for law in config.distributions] == [
        (100, 1e-4),
        (50, 5e-5),
        (50, 5e-5),
        (100, 1e-4),
    ]
    planned = cells(config)
    # per law and learner: none 1, random 2 (theta, beta), adversarial 2, realizable 1
    assert len(planned) == 4 * 3 * 6  # three learners: neurotron, sgd, sgd-published
    random_beta = [c for c in planned if c["oracle"] == "random" and c["sweep"] == "beta"]
    assert random_beta[0]["thetas"] == [0.25]
    assert random_beta[0]["betas"] == [0.0, 0.005, 0.05, 0.1, 0.2, 0.5, 0.9]
    random_theta = [c for c in planned if c["oracle"] == "random" and c["sweep"] == "theta"]
    assert random_theta[0]["thetas"] == [0.0, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0]
    assert random_theta[0]["betas"] == [0.5]


def test_theory_student_t4_has_infinite_m4_and_gaussian_is_vacuous() -> None:
    config = get_experiment(NAME).config(
        "paper", {"moment_samples": 5000, "steps": 100, "record_every": 50}
    )
    assert isinstance(config, Config)
    laws = theory(config)["distributions"]
    t4 = laws["t(4)"]["0"]
    assert t4["defined"] and math.isinf(t4["m4"]) and t4["vacuous"]
    assert "infinite" in t4["reason"] and math.isfinite(t4["c_tradeoff"])
    gauss = laws["N(0,1)"]["0"]
    assert gauss["c_tradeoff"] <= 0 and gauss["vacuous"]
    # m1 = E||x|| of N(0, I_100) (Lemma II.2 closed form) enters c_trade-off
    expected_m1 = math.sqrt(2) * math.exp(math.lgamma(50.5) - math.lgamma(50))
    assert math.isclose(gauss["m1"], expected_m1, rel_tol=1e-12)
    assert gauss["case1_contraction_at_eta"] > 1  # the recursion does not contract at 1e-4


def test_cells_share_the_net_and_the_inputs_across_learners() -> None:
    """Same seed: same A_i, w* and data stream, so Neuro-Tron and SGD see the same labels."""
    config = get_experiment(NAME).config(
        "quick", {"steps": 20, "record_every": 10, "oracles": ["random"], "thetas": [0.0, 1.0]}
    )
    assert isinstance(config, Config)
    tron, sgd, _published = cells(config)
    rows = {c["learner"]: pd.DataFrame(run_cell(c, CellContext())) for c in (tron, sgd)}
    for frame in rows.values():
        assert len(frame) == 2 * 3 * 3  # thetas x runs x recorded steps (0, 10, 20)
    start = [rows[k][rows[k]["t"] == 0]["error"].to_numpy() for k in rows]
    torch.testing.assert_close(torch.tensor(start[0]), torch.tensor(start[1]))
    attacked = [rows[k].groupby("theta")["attacked_fraction"].first() for k in rows]
    pd.testing.assert_series_equal(attacked[0], attacked[1])


# --------------------------------------------------------------------------- the quick run
@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, dict[str, Any]]:
    experiment = get_experiment(NAME)
    config = experiment.config("quick")
    result = run_experiment(experiment, config, out=tmp_path_factory.mktemp("nt"), device="cpu")
    table = pd.read_parquet(result.root / "results.parquet")
    summary = json.loads((result.root / "summary.json").read_text())
    return result.root, table, summary


def test_quick_table_shape(quick: tuple[Path, pd.DataFrame, dict[str, Any]]) -> None:
    _, table, _ = quick
    config = get_experiment(NAME).config("quick")
    assert isinstance(config, Config)
    records = config.steps // config.record_every + 1
    expected = 0
    for cell in cells(config):
        expected += config.runs * len(cell["thetas"]) * len(cell["betas"]) * records
    assert len(table) == expected
    for column in ("distribution", "theta", "beta", "oracle", "learner", "seed", "t", "error"):
        assert column in table.columns


def test_quick_noise_respects_theta_and_beta(
    quick: tuple[Path, pd.DataFrame, dict[str, Any]],
) -> None:
    _, table, _ = quick
    final = table[table["t"] == table["steps"]]
    assert bool((final["max_noise"] <= final["theta"] * (1 + 1e-6)).all())
    random = final[final["oracle"] == "random"]
    labels = random["steps"] * random["batch_size"]
    spread = 5 * (random["beta"] * (1 - random["beta"]) / labels) ** 0.5
    assert bool(((random["attacked_fraction"] - random["beta"]).abs() <= spread).all())
    assert bool((final[final["oracle"] == "realizable"]["attacked_fraction"] == 1.0).all())


def test_quick_neurotron_recovers_and_error_grows_with_theta(
    quick: tuple[Path, pd.DataFrame, dict[str, Any]],
) -> None:
    _, table, _ = quick
    tron = table[(table["learner"] == "neurotron") & (table["oracle"] == "random")]
    start = tron[tron["t"] == 0].groupby("theta")["error"].mean()
    end = tron[tron["t"] == tron["steps"]].groupby("theta")["error"].mean()
    assert end[0.0] < 0.01 * start[0.0]
    assert list(end.index) == sorted(end.index)
    assert all(a < b for a, b in zip(end.to_numpy()[:-1], end.to_numpy()[1:], strict=True))


def test_quick_sgd_converges_to_w_adv(quick: tuple[Path, pd.DataFrame, dict[str, Any]]) -> None:
    """SGD reaches w_adv (its error is ||w_adv - w*||) in the runs where it recovers at all."""
    _, table, _ = quick
    final = table[(table["t"] == table["steps"]) & (table["oracle"] == "realizable")]
    sgd = final[(final["learner"] == "sgd") & (final["theta"] > 0)]
    ratio = (sgd["error"] / sgd["w_adv_gap"]).median()
    assert 0.9 < ratio < 1.1
    assert float(sgd["final_error_to_adv"].median()) < 0.1 * float(sgd["w_adv_gap"].min())


def test_quick_summary_and_figures(quick: tuple[Path, pd.DataFrame, dict[str, Any]]) -> None:
    root, _, summary = quick
    keys = {"claim", "verdict", "measured", "predicted", "reason"}
    assert all(set(v) - {"settle", "compared"} == keys for v in summary["verdicts"])
    by_claim = {v["claim"]: v for v in summary["verdicts"]}
    bound = next(v for c, v in by_claim.items() if "Theorem II.1's bound" in c)
    assert bound["verdict"] == "inconclusive" and "vacuous" in bound["reason"]
    grows = next(v for c, v in by_claim.items() if "grows with theta" in c)
    assert grows["verdict"] == "consistent"
    head = summary["headline"]["N(0,1)"]
    assert head["vacuous"] is True and head["c_tradeoff"] < 0
    assert summary["predictions"]["distributions"]["N(0,1)"]["0"]["vacuous"] is True
    for stem in ("error_vs_iterations", "final_error_vs_theta"):
        assert (root / "figures" / f"{stem}.png").stat().st_size > 10_000


def test_bound_is_checked_where_it_is_informative(tmp_path: Path) -> None:
    """With eta below lambda_1 / (lambda_2^2 lambda_3 m_4) the theta = 0 recursion contracts."""
    law = {"name": "g", "family": "gaussian", "dim": 40, "eta": 1e-9}
    overrides = {
        "distributions": [law],
        "oracles": ["none"],
        "learners": ["neurotron"],
        "steps": 40,
        "record_every": 20,
        "runs": 3,
    }
    experiment = get_experiment(NAME)
    config = experiment.config("quick", overrides)
    assert isinstance(config, Config)
    info = theory(config)["distributions"]["g"]["0"]
    assert info["case1_contraction_at_eta"] < 1 and info["bound_at_eta"]["0.0"]["informative"]
    result = run_experiment(experiment, config, out=tmp_path, device="cpu")
    summary = json.loads((result.root / "summary.json").read_text())
    bound = next(v for v in summary["verdicts"] if "Theorem II.1's bound" in v["claim"])
    assert bound["verdict"] == "consistent"
    assert bound["measured"] <= bound["predicted"]


def test_field_defaults_print_as_json() -> None:
    """`robustlab show` prints every default as JSON, the structured input laws included."""
    fields = {f.name: f.default for f in get_experiment(NAME).fields()}
    assert json.loads(json.dumps(fields["distributions"]))[3]["df"] == 4.0
    for value in fields.values():
        json.dumps(value)


def test_quick_shows_the_published_sgd_beside_the_corrected_one(
    quick: tuple[Path, pd.DataFrame, dict[str, Any]],
) -> None:
    """Issue 9 item 6: the published baseline (first sample's gradient) is a named learner; it
    sees the same labels as the corrected SGD, ends elsewhere, and has its own verdict."""
    _, table, summary = quick
    final = table[(table["t"] == table["steps"]) & (table["oracle"] == "random")]
    ours = final[final["learner"] == "sgd"].sort_values(["theta", "run"])
    published = final[final["learner"] == "sgd-published"].sort_values(["theta", "run"])
    assert len(ours) == len(published) > 0
    assert (ours["attacked_fraction"].to_numpy() == published["attacked_fraction"].to_numpy()).all()
    assert not (ours["error"].to_numpy() == published["error"].to_numpy()).all()
    claims = [v["claim"] for v in summary["verdicts"]]
    assert any("Neuro-Tron ends below SGD (" in c for c in claims)
    assert any("Neuro-Tron ends below SGD as published" in c for c in claims)
