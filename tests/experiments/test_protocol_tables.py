"""The protocol tables of the experiments whose claims moved onto robustlab.theory.claims."""

from __future__ import annotations

import pytest

from robustlab.experiments.registry import get_experiment

WITH_TABLES = (
    "random-net-single-step",
    "universal-perturbation",
    "robust-sample-complexity",
    "poisoning-loss",
    "poisoning-sample-size",
    "reflected-grid",
    "multiclass-reflected",
    "lazy-adversarial-training",
)


@pytest.mark.parametrize("name", WITH_TABLES)
def test_protocol_table_names_paper_presets_and_the_claim(name: str) -> None:
    protocol = get_experiment(name).protocol
    settings = [row.setting for row in protocol]
    assert len(protocol) >= 4 and len(set(settings)) == len(settings)
    assert settings[-1] == "claim judged"
    for row in protocol:
        assert row.paper.strip() and row.robustlab.strip(), row
        if "quick:" in row.robustlab and row.setting != "claim judged":
            assert row.deviation.strip(), f"{name}: a quick-preset cut needs its reason: {row}"
