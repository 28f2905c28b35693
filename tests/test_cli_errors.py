"""Issue 13 items 4, 7, 8: every bad command line exits 2 with one line naming the field.

Each case runs against a folder holding a finished run and asserts that nothing in it changed:
a value that cannot give a meaningful answer is refused before any file is touched.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from robustlab.cli import app
from robustlab.runner import store as store_module

TOY = "toy-sphere-norms"
RANDOM_NET = "random-net-single-step"
SMALL = ["--set", "dim=[4,16]", "--set", "n_pairs=200", "--set", "seeds=2"]

runner = CliRunner()

# (experiment, --set values, text the one error line must hold)
CASES: list[tuple[str, list[str], str]] = [
    (RANDOM_NET, ["max_eta=inf"], "'max_eta' must be finite"),
    (RANDOM_NET, ["max_eta=nan"], "field 'max_eta'"),
    (RANDOM_NET, ["max_eta=-inf"], "'max_eta'"),
    (RANDOM_NET, ["dim=[64,64]"], "'dim' lists 64 more than once"),
    (RANDOM_NET, ['activation=["relu","relu"]'], "'activation' lists 'relu' more than once"),
    (RANDOM_NET, ["seeds=[99999999999999999999]"], "seeds must lie in [0, 2**63)"),
    (RANDOM_NET, ["seeds=[9223372036854775808]"], "seeds must lie in [0, 2**63)"),
    (RANDOM_NET, ["seeds=[-1]"], "seeds must lie in [0, 2**63)"),
    (RANDOM_NET, ["seeds=[0,0]"], "seeds must be distinct"),
    (RANDOM_NET, ["seeds=0"], "seed count must be >= 1"),
    (RANDOM_NET, ["width=[0]"], "'width.0'"),
    (RANDOM_NET, ["width=[-1]"], "'width.0'"),
    (RANDOM_NET, ["dim=[-5]"], "'dim.0'"),
    (RANDOM_NET, ["n_networks=99999999999999999999"], "'n_networks'"),
    (TOY, ["dim=[0]"], "'dim.0'"),
    (TOY, ["dim=[4,4]"], "'dim' lists 4 more than once"),
    (TOY, ["sleep_seconds=nan"], "'sleep_seconds'"),
    ("reflected-grid", ["radius=[0.0]"], "'radius.0'"),
    ("reflected-grid", ["label=3"], "'label' must be a class index below len(x) = 3"),
    ("multiclass-reflected", ["steps=[0]"], "'steps.0'"),
    ("multiclass-reflected", ["nu_255=[-1.0]"], "'nu_255.0'"),
    ("poisoning-sample-size", ["C=[1e400]"], "'C"),
]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results folder holding one finished toy run."""
    out = tmp_path_factory.mktemp("cli-errors") / "results"
    result = runner.invoke(app, ["run", TOY, "--out", str(out), "--device", "cpu", *SMALL])
    assert result.exit_code == 0, result.stderr
    return out


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    return lines[0]


@pytest.mark.parametrize(("name", "values", "expected"), CASES)
def test_a_bad_value_exits_2_with_one_line_and_touches_nothing(
    finished: Path, name: str, values: list[str], expected: str
) -> None:
    before = _snapshot(finished)
    sets = [word for value in values for word in ("--set", value)]
    result = runner.invoke(app, ["run", name, "--out", str(finished), "--device", "cpu", *sets])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert expected in _one_error_line(result.stderr)
    assert _snapshot(finished) == before
    assert not (finished / name).exists() or name == TOY


def test_out_under_a_regular_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a folder")
    result = runner.invoke(app, ["run", TOY, "--out", str(tmp_path / "afile" / "out"), *SMALL])
    assert result.exit_code == 2
    assert "afile is a file, not a folder" in _one_error_line(result.stderr)


def test_a_read_only_out_exits_2_before_any_work(
    finished: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _snapshot(finished)
    # Root may write anywhere, so the test stands in for the permission bits the OS reports.
    monkeypatch.setattr(store_module, "_writable", lambda path: Path(path) != finished)
    result = runner.invoke(app, ["run", RANDOM_NET, "--out", str(finished), "--device", "cpu"])
    assert result.exit_code == 2
    assert f"{finished} is not writable" in _one_error_line(result.stderr)
    assert _snapshot(finished) == before


def test_a_report_that_cannot_be_written_exits_2(tmp_path: Path, finished: Path) -> None:
    (finished / "index.html").mkdir()  # a folder where the page should go
    try:
        result = runner.invoke(app, ["report", str(finished)])
    finally:
        (finished / "index.html").rmdir()
    assert result.exit_code == 2
    assert "cannot write the report into" in _one_error_line(result.stderr)


def test_changed_settings_say_where_the_old_outputs_went(finished: Path) -> None:
    before = (finished / TOY / "results.parquet").read_bytes()
    changed = [*SMALL, "--set", "n_pairs=201"]
    result = runner.invoke(app, ["run", TOY, "--out", str(finished), "--device", "cpu", *changed])
    assert result.exit_code == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if "settings changed" in line)
    moved = Path(line.split(" moved to ")[1].strip())
    assert moved.parent == finished / ".previous"
    assert (moved / "results.parquet").read_bytes() == before
