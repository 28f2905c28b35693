"""tools/merge_runs.py and tools/resummarize.py: joined runs equal one run of the joined grid."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from robustlab.experiments.registry import get_experiment
from robustlab.runner import run_experiment

ROOT = Path(__file__).resolve().parents[2]
NAME = "poisoning-width"
TINY = {
    "seeds": 1,
    "regime": ["clean", "C"],
    "n_train": 200,
    "n_test": 200,
    "max_epochs": 3,
    "margin_samples": 0,
}
KEYS = ["family", "regime", "run_seed", "width"]


def _tool(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(out: Path, widths: list[int], data_dir: Path) -> Path:
    experiment = get_experiment(NAME)
    config = experiment.config("quick", {**TINY, "widths": widths})
    run_experiment(experiment, config, out=out, preset="quick", data_dir=data_dir)
    return out / NAME


def _main(module: ModuleType, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["tool", *argv])
    module.main()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    return {
        "narrow": _run(root / "narrow", [10, 100], data_dir),
        "wide": _run(root / "wide", [100, 1000], data_dir),
        "all": _run(root / "all", [10, 100, 1000], data_dir),
    }


def test_merged_runs_equal_one_run_of_the_joined_widths(
    runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = [str(tmp_path), str(runs["narrow"]), str(runs["wide"])]
    _main(_tool("merge_runs"), argv, monkeypatch)
    merged = pd.read_parquet(tmp_path / NAME / "results.parquet")
    direct = pd.read_parquet(runs["all"] / "results.parquet").sort_values(KEYS, ignore_index=True)
    assert list(merged.columns) == list(direct.columns)
    timings = [c for c in direct.columns if c.endswith("seconds")]
    pd.testing.assert_frame_equal(merged.drop(columns=timings), direct.drop(columns=timings))
    joined = json.loads((tmp_path / NAME / "summary.json").read_text())
    one = json.loads((runs["all"] / "summary.json").read_text())
    assert joined["verdicts"] == one["verdicts"] and joined["headline"] == one["headline"]


def test_merge_refuses_runs_that_differ_elsewhere(
    runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    changed = tmp_path / "changed"
    changed.mkdir()
    record = json.loads((runs["wide"] / "config.json").read_text())
    record["config"]["max_epochs"] = 4
    (changed / "config.json").write_text(json.dumps(record))
    with pytest.raises(SystemExit, match="max_epochs"):
        _main(_tool("merge_runs"), [str(tmp_path), str(runs["narrow"]), str(changed)], monkeypatch)


def test_merge_refuses_rows_that_disagree(
    runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    for name in ("config.json", "summary.json"):
        (other / name).write_text((runs["wide"] / name).read_text())
    table = pd.read_parquet(runs["wide"] / "results.parquet")
    table.loc[table["width"] == 100, "test_accuracy"] += 0.01
    table.to_parquet(other / "results.parquet")
    with pytest.raises(SystemExit, match="test_accuracy"):
        _main(_tool("merge_runs"), [str(tmp_path), str(runs["narrow"]), str(other)], monkeypatch)


def test_resummarize_rewrites_the_verdicts_from_the_table(
    runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / NAME
    folder.mkdir()
    for name in ("config.json", "results.parquet"):
        (folder / name).write_bytes((runs["all"] / name).read_bytes())
    summary = json.loads((runs["all"] / "summary.json").read_text())
    (folder / "summary.json").write_text(json.dumps({**summary, "verdicts": []}))
    (folder / "RUN.md").write_text("# run\n")
    _main(_tool("resummarize"), [str(folder), "--note", "re-judged"], monkeypatch)
    again = json.loads((folder / "summary.json").read_text())
    assert again["verdicts"] == summary["verdicts"] and again["figures"] == summary["figures"]
    assert (folder / "RUN.md").read_text().endswith("- re-judged\n")
