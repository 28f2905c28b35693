"""`robustlab plan`, run's estimate line, and the settle column of the verdict table."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console
from typer.testing import CliRunner

from robustlab.cli import _print_result, app
from robustlab.experiments.registry import experiment_names
from robustlab.planning import MachineRate

runner = CliRunner()
TOY = "toy-sphere-norms"


def _invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("name", experiment_names(include_hidden=True))
def test_plan_of_every_quick_preset_prints_totals(name: str, cached_machine: MachineRate) -> None:
    code, stdout, stderr = _invoke("plan", name)
    assert code == 0, stderr
    assert f"{name} --preset quick:" in stdout
    for row in ("FLOPs", "peak memory", "time here", "time on the GPU", "most expensive cell"):
        assert row in stdout
    assert f"{name}: " in stdout and " cells, " in stdout and "est. " in stdout
    assert "100 GFLOP/s" in stdout  # the cached (fake) machine, not a fresh probe


def test_plan_all_prints_one_row_per_experiment_and_a_total(cached_machine: MachineRate) -> None:
    code, stdout, stderr = _invoke("plan", "all", "--preset", "paper", "--device", "cuda")
    assert code == 0, stderr
    for name in experiment_names():
        assert f"{name}: " in stdout
    assert "total" in stdout and "on a GPU of 67 TFLOP/s (" in stdout


def test_plan_reads_set_and_config_and_gpu_flops(
    cached_machine: MachineRate, tmp_path: Path
) -> None:
    code, small, _ = _invoke("plan", "lazy-single-step", "--gpu-flops", "1e12")
    assert code == 0 and "GPU of 1 TFLOP/s" in small
    code, wide, _ = _invoke("plan", "lazy-single-step", "--set", "width=[9000]")
    assert code == 0 and "width=" not in small.split("most expensive cell:")[1].split("\n")[0]
    assert wide != small
    config = tmp_path / "c.toml"
    config.write_text('["lazy-single-step"]\nmax_epochs = 9\n')
    code, _, stderr = _invoke("plan", "lazy-single-step", "--config", str(config))
    assert code == 0, stderr


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["plan", "no-such-experiment"], "no-such-experiment"),
        (["plan", TOY, "--set", "nonsense=1"], "nonsense"),
        (["plan", TOY, "--set", "dim=[-3]"], "dim"),
        (["plan", TOY, "--preset", "enormous"], "enormous"),
        (["plan", TOY, "--backend", "slurm"], "slurm"),
        (["plan", TOY, "--device", "tpu"], "tpu"),
        (["plan", TOY, "--workers", "0"], "--workers"),
        (["plan", TOY, "--gpu-flops", "0"], "--gpu-flops"),
        (["plan", TOY, "--gpu-flops", "inf"], "--gpu-flops"),
    ],
)
def test_plan_bad_arguments_exit_2_naming_the_field(
    args: list[str], named: str, cached_machine: MachineRate
) -> None:
    code, _, stderr = _invoke(*args)
    assert code == 2
    assert named in stderr


def test_run_prints_the_estimate_line_first(cached_machine: MachineRate, tmp_path: Path) -> None:
    out = tmp_path / "results"
    code, _, stderr = _invoke(
        "run", TOY, "--out", str(out), "--device", "cpu", "--set", "dim=[4,16]",
        "--set", "n_pairs=100",
    )  # fmt: skip
    assert code == 0, stderr
    assert f"estimate: {TOY}: 6 cells, " in stderr
    assert "est. " in stderr and " here, " in stderr


def _result(verdicts: list[dict[str, object]]) -> SimpleNamespace:
    return SimpleNamespace(
        experiment="x", total=1, ran=1, skipped=0, root="r", summary={"verdicts": verdicts}
    )


def _printed(verdicts: list[dict[str, object]]) -> str:
    console = Console(width=300, record=True, highlight=False)
    _print_result(console, _result(verdicts))
    return console.export_text()


def test_verdict_table_prints_settle_for_verdicts_that_are_not_consistent() -> None:
    base = {"measured": 1.0, "predicted": 2.0, "reason": ""}
    text = _printed(
        [
            {"claim": "a", "verdict": "inconclusive", "settle": "the standard preset", **base},
            {"claim": "b", "verdict": "inconsistent", "settle": "more seeds (now 3)", **base},
            {"claim": "c", "verdict": "consistent", "settle": "never shown", **base},
        ]
    )
    assert "what would settle it" in text
    assert "the standard preset" in text and "more seeds (now 3)" in text
    assert "never shown" not in text


def test_verdict_table_has_no_settle_column_when_nothing_needs_settling() -> None:
    base = {"measured": 1.0, "predicted": 2.0, "reason": ""}
    text = _printed([{"claim": "a", "verdict": "consistent", **base}])
    assert "settle" not in text and "consistent" in text
