"""The `robustlab` command: list, show, run (errors exit 2 and touch nothing), report."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from robustlab.cli import app
from robustlab.experiments import registry

TOY = "toy-sphere-norms"
SMALL = ["--set", "dim=[4,16]", "--set", "n_pairs=200", "--set", "seeds=2"]

runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results folder holding one finished toy run."""
    out = tmp_path_factory.mktemp("cli") / "results"
    code, stdout, stderr = _invoke("run", TOY, "--out", str(out), "--device", "cpu", *SMALL)
    assert code == 0, stderr
    assert f"{TOY}: 4 cells (4 run, 0 already finished)" in stdout
    return out


def test_list_hides_test_experiments_unless_all() -> None:
    code, stdout, _ = _invoke("list")
    assert code == 0 and TOY not in stdout
    code, stdout, _ = _invoke("list", "--all")
    assert code == 0
    line = next(line for line in stdout.splitlines() if TOY in line)
    assert "003" in line and "Random directions are nearly orthogonal" in line


def test_show_prints_fields_defaults_and_presets() -> None:
    code, stdout, _ = _invoke("show", TOY)
    assert code == 0
    for text in ("n_pairs", "sleep_seconds", "seeds", "dtype", "list[int]", "4000"):
        assert text in stdout
    assert "quick" in stdout and "paper" in stdout and "n_pairs=100000" in stdout
    assert "Gamma(d/2)" in stdout  # the claim


def test_unknown_experiment_exits_2_and_lists_the_names() -> None:
    for command in (["show", "nope"], ["run", "nope"]):
        code, _, stderr = _invoke(*command)
        assert code == 2
        assert "unknown experiment 'nope'" in stderr and TOY in stderr


@pytest.mark.parametrize(
    ("assignment", "expected"),
    [
        ("n_pair=3", ["unknown field 'n_pair'", "n_pairs", "sleep_seconds"]),
        ("n_pairs=abc", ["'n_pairs'", "given 'abc'", "allowed: int"]),
        ("dtype=float16", ["'dtype'", "'float16'", "'float32' | 'float64'"]),
        ("dim=[4,-1.5]", ["'dim.1'", "-1.5", "list[int >= 1]"]),
        ("novalue", ["--set expects key=value"]),
    ],
)
def test_bad_set_exits_2_and_leaves_results_untouched(
    finished: Path, assignment: str, expected: list[str]
) -> None:
    before = _snapshot(finished)
    code, _, stderr = _invoke("run", TOY, "--out", str(finished), *SMALL, "--set", assignment)
    assert code == 2
    flat = " ".join(stderr.split())
    for text in expected:
        assert text in flat, flat
    assert _snapshot(finished) == before


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--preset", "slow"], "unknown preset 'slow'"),
        (["--backend", "dask"], "unknown backend 'dask'; allowed: local, process, ray"),
        (["--device", "tpu"], "unknown device 'tpu'; allowed: auto, cpu, cuda"),
        (["--workers", "0"], "--workers must be >= 1"),
        (["--set", "n_pairs=1000000000000"], "per cell"),
    ],
)
def test_bad_options_exit_2_before_any_work(tmp_path: Path, args: list[str], expected: str) -> None:
    code, _, stderr = _invoke("run", TOY, "--out", str(tmp_path / "r"), *args)
    assert code == 2
    assert expected in " ".join(stderr.split())
    assert not (tmp_path / "r").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_exits_2(tmp_path: Path) -> None:
    code, _, stderr = _invoke("run", TOY, "--out", str(tmp_path), "--device", "cuda")
    assert code == 2 and "no CUDA device" in stderr


def test_rerun_skips_and_fresh_moves_aside(finished: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    code, _, _ = _invoke("run", TOY, "--out", str(out), "--device", "cpu", *SMALL)
    assert code == 0
    old = (out / TOY / "results.parquet").read_bytes()
    code, stdout, _ = _invoke("run", TOY, "--out", str(out), "--device", "cpu", *SMALL)
    assert code == 0 and "(0 run, 4 already finished)" in stdout
    code, stdout, _ = _invoke("run", TOY, "--out", str(out), "--device", "cpu", "--fresh", *SMALL)
    assert code == 0 and "(4 run, 0 already finished)" in stdout
    assert "previous results moved to" in stdout
    (previous,) = (out / ".previous").iterdir()
    assert previous.name.startswith(f"{TOY}-")
    assert (previous / "results.parquet").read_bytes() == old
    assert (out / TOY / "results.parquet").read_bytes() == old  # same config, same table


def test_config_file_then_set_precedence(tmp_path: Path) -> None:
    toml = tmp_path / "settings.toml"
    toml.write_text("dim = [4, 8]\nn_pairs = 100\nseeds = 1\n[toy-sphere-norms]\nn_pairs = 120\n")
    out = tmp_path / "results"
    code, _, stderr = _invoke("run", TOY, "--out", str(out), "--config", str(toml))
    assert code == 0, stderr
    saved = json.loads((out / TOY / "config.json").read_text())
    assert saved["config"]["n_pairs"] == 120 and saved["config"]["dim"] == [4, 8]
    code, _, _ = _invoke(
        "run", TOY, "--out", str(out), "--config", str(toml), "--set", "n_pairs=150"
    )
    assert code == 0
    saved = json.loads((out / TOY / "config.json").read_text())
    assert saved["config"]["n_pairs"] == 150
    assert saved["preset"] == "quick" and saved["seeds"] == [0]
    assert saved["version"] == 1 and saved["robustlab_version"]
    assert saved["command"].startswith(f"robustlab run {TOY}")
    assert "--config" in saved["command"]
    assert shlex.split(saved["reproduce"]) == [
        *("robustlab", "run", TOY, "--preset", "quick"),
        *("--set", "seeds=[0]", "--set", "dim=[4,8]", "--set", "n_pairs=150"),
    ]
    code, _, stderr = _invoke("run", TOY, "--out", str(out), "--config", str(tmp_path / "x"))
    assert code == 2 and "does not exist" in stderr


def test_run_all_runs_every_visible_experiment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        registry, "ENTRIES", (registry.Entry(TOY, "robustlab.experiments.toy", hidden=True),)
    )
    code, _, stderr = _invoke("run", "all", "--out", str(tmp_path / "none"))
    assert code == 2 and "no experiments are registered" in stderr
    entries = (
        registry.Entry("toy-a", "robustlab.experiments.toy"),
        registry.Entry("toy-b", "robustlab.experiments.toy"),
        registry.Entry(TOY, "robustlab.experiments.toy", hidden=True),
    )
    monkeypatch.setattr(registry, "ENTRIES", entries)
    out = tmp_path / "all"
    code, stdout, stderr = _invoke("run", "all", "--out", str(out), *SMALL)
    assert code == 0, stderr
    assert "toy-a: 4 cells" in stdout and "toy-b: 4 cells" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["toy-a", "toy-b"]
    table_a = pd.read_parquet(out / "toy-a" / "results.parquet")
    assert len(table_a) == 8
    code, _, stderr = _invoke("run", "all", "--out", str(out), "--set", "bogus=1")
    assert code == 2 and "unknown field 'bogus' for experiment 'toy-a'" in stderr


def test_report_command_writes_index(finished: Path, tmp_path: Path) -> None:
    code, stdout, _ = _invoke("report", str(finished))
    assert code == 0 and "report of 1 run(s)" in stdout
    page = (finished / "index.html").read_text()
    assert TOY in page
    code, _, stderr = _invoke("report", str(tmp_path / "missing"))
    assert code == 2 and "no results folder" in stderr


def test_show_formats_nested_model_defaults() -> None:
    from pydantic import BaseModel

    from robustlab.cli import _format_value

    class Part(BaseModel):
        name: str = "gaussian"
        dim: int = 100

    assert _format_value([Part()]) == '[{"name": "gaussian", "dim": 100}]'
    assert _format_value("text") == "text" and _format_value(0.5) == "0.5"


def test_version_and_short_help() -> None:
    from robustlab import __version__

    code, stdout, _ = _invoke("--version")
    assert code == 0 and stdout.startswith(f"robustlab {__version__} (torch {torch.__version__}")
    code, stdout, _ = _invoke("-h")
    assert code == 0 and "Usage:" in stdout and "ROBUSTLAB_DATA" in stdout
    code, stdout, _ = _invoke("run", "-h")
    assert code == 0 and "--preset" in stdout


def test_boolean_flags_are_shown_without_a_value() -> None:
    for args, flags in ((("run", "-h"), ("--fresh",)), (("report", "-h"), ("--single-file",))):
        code, stdout, _ = _invoke(*args)
        assert code == 0
        for flag in (*flags, "--help"):
            line = next(line for line in stdout.splitlines() if flag in line)
            assert "<bool>" not in line, line
        assert "<str>" in _invoke("run", "-h")[1]  # options with values keep their type


def test_shell_completion_script(monkeypatch: pytest.MonkeyPatch) -> None:
    # typer finds the shell by walking the parent processes (shellingham); a test run whose
    # shell has exited (nohup, a detached job) has none, so the shell is fixed here.
    import shellingham

    monkeypatch.setattr(shellingham, "detect_shell", lambda *a, **k: ("bash", "/bin/bash"))
    result = runner.invoke(app, ["--show-completion"])
    assert result.exit_code == 0, (result.exception, result.stderr)
    assert "_ROBUSTLAB_COMPLETE" in result.stdout and "complete " in result.stdout


def test_list_and_show_name_the_papers() -> None:
    from robustlab.references import REFERENCES

    code, stdout, _ = _invoke("list")
    assert code == 0
    line = next(line for line in stdout.splitlines() if "lazy-single-step" in line)
    assert "002 " + REFERENCES["002"].short in " ".join(line.split())
    code, stdout, _ = _invoke("show", "poisoning-loss")
    assert code == 0 and "Robust Learning for Data Poisoning Attacks" in stdout
    assert "accuracy_and_norms" in stdout  # the captions of its figures


def test_show_prints_the_protocol_table(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from robustlab import cli
    from robustlab.experiments import get_experiment
    from robustlab.experiments.base import ProtocolRow

    row = ProtocolRow("attack", "PGD, 10 steps (sec. 5)", "20 steps", "10 steps", "")
    experiment = dataclasses.replace(get_experiment(TOY), protocol=(row,))
    monkeypatch.setattr(cli, "_experiment", lambda name: experiment)
    code, stdout, _ = _invoke("show", TOY)
    assert code == 0 and "Protocol" in stdout and "authors' code" in stdout
    assert "PGD, 10 steps (sec. 5)" in stdout and "20 steps" in stdout


def test_report_single_file_and_broken_runs(finished: Path) -> None:
    code, stdout, _ = _invoke("report", str(finished), "--single-file")
    assert code == 0 and "report.html" in stdout
    assert "data:image/png;base64," in (finished / "report.html").read_text()
    broken = finished / "broken-run"
    broken.mkdir()
    (broken / "config.json").write_text("{oops")
    try:
        code, stdout, stderr = _invoke("report", str(finished))
        assert code == 0 and "report of 2 run(s)" in stdout
        assert "warning:" in stderr and "config.json is not valid JSON" in stderr
        assert "Broken run" in (finished / "index.html").read_text()
    finally:
        (broken / "config.json").unlink()
        broken.rmdir()


def test_report_into_an_unwritable_folder_is_one_line(
    finished: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import robustlab.report

    def refuse(*args: object, **kwargs: object) -> Path:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(robustlab.report, "build_report", refuse)
    code, _, stderr = _invoke("report", str(finished))
    assert code == 2 and stderr.count("error:") == 1 and "Permission denied" in stderr
