"""The result store and in-process runs: atomic files, resume, --fresh, locks, failures."""

from __future__ import annotations

import json
import logging
import sys
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from rich.console import Console

from robustlab.experiments import get_experiment, load_experiment
from robustlab.runner import (
    CellError,
    LogProgress,
    ResourceError,
    RichProgress,
    RunLockedError,
    RunStore,
    backends,
    check_memory,
    make_progress,
    plan_cells,
    run_experiment,
)
from robustlab.runner.resources import available_memory, format_bytes, resolve_device
from robustlab.runner.store import atomic_write

TOY = "toy-sphere-norms"
SMALL = {"dim": [4, 16], "n_pairs": 200, "seeds": 2}


def _run(out: Path, **kwargs: Any) -> Any:
    toy = get_experiment(TOY)
    config = toy.config("quick", {**SMALL, **kwargs.pop("overrides", {})})
    return run_experiment(toy, config, out=out, device="cpu", **kwargs)


def test_run_writes_every_output(tmp_path: Path) -> None:
    result = _run(tmp_path)
    root = tmp_path / TOY
    assert result.root == root and (result.total, result.ran, result.skipped) == (4, 4, 0)
    for name in ("config.json", "results.parquet", "summary.json", "figures/inner_products.png"):
        assert (root / name).is_file(), name
    assert len(list((root / "cells").glob("*.parquet"))) == 4
    table = pd.read_parquet(root / "results.parquet")
    assert len(table) == 8  # two statistics per cell
    for column in ("seed", "dim", "n_pairs", "dtype", "sleep_seconds", "statistic", "value"):
        assert column in table.columns
    assert sorted(set(zip(table["seed"], table["dim"], strict=True))) == [
        (0, 4),
        (0, 16),
        (1, 4),
        (1, 16),
    ]
    assert set(result.summary["verdict_counts"]) == {"consistent", "inconsistent", "inconclusive"}
    assert result.summary["figures"] == ["figures/inner_products.png"]
    assert not list(root.rglob(".*.tmp-*"))


def test_rerun_skips_finished_cells_and_recomputes_missing_ones(tmp_path: Path) -> None:
    first = _run(tmp_path)
    root = tmp_path / TOY
    before = pd.read_parquet(root / "results.parquet")
    again = _run(tmp_path)
    assert (again.ran, again.skipped) == (0, 4)
    cells = sorted((root / "cells").glob("*.parquet"))
    cells[0].unlink()
    cells[2].unlink()
    third = _run(tmp_path)
    assert (third.ran, third.skipped) == (2, 2)
    pd.testing.assert_frame_equal(pd.read_parquet(root / "results.parquet"), before)
    assert first.summary["headline"] == third.summary["headline"]


def test_temporaries_are_never_read_and_corrupt_cells_recomputed(tmp_path: Path) -> None:
    _run(tmp_path)
    root = tmp_path / TOY
    reference = pd.read_parquet(root / "results.parquet")
    cells = sorted((root / "cells").glob("*.parquet"))
    # A writer killed mid-write leaves a hidden temporary next to a missing cell ...
    data = cells[0].read_bytes()
    (root / "cells" / f".{cells[0].name}.tmp-999-abcd").write_bytes(data[: len(data) // 2])
    cells[0].unlink()
    # ... and a file damaged outside robustlab must not be trusted either.
    cells[1].write_bytes(b"PAR1 garbage")
    result = _run(tmp_path)
    assert result.ran == 2
    assert not list((root / "cells").glob(".*.tmp-*"))
    assert (root / "cells" / f"{cells[1].name}.corrupt").is_file()
    pd.testing.assert_frame_equal(pd.read_parquet(root / "results.parquet"), reference)


def test_atomic_write_leaves_nothing_when_the_writer_fails(tmp_path: Path) -> None:
    target = tmp_path / "x.parquet"
    target.write_text("old")

    def fail(tmp: Path) -> None:
        tmp.write_text("partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, fail)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.parquet"]


def test_fresh_moves_old_results_aside(tmp_path: Path) -> None:
    _run(tmp_path)
    old = (tmp_path / TOY / "results.parquet").read_bytes()
    result = _run(tmp_path, fresh=True)
    assert result.moved_aside is not None and result.ran == 4
    assert result.moved_aside.parent == tmp_path / ".previous"
    assert (result.moved_aside / "results.parquet").read_bytes() == old
    assert len(list((result.moved_aside / "cells").glob("*.parquet"))) == 4


def test_a_second_run_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    store = RunStore(tmp_path / TOY)
    with store.lock(), pytest.raises(RunLockedError, match="another robustlab run"):
        _run(tmp_path)
    _run(tmp_path)  # the lock is released with its holder


def test_failing_cell_keeps_finished_cells(tmp_path: Path, monkeypatch: Any) -> None:
    module = tmp_path / "failing_experiment.py"
    module.write_text(
        textwrap.dedent(
            '''
            """A test experiment whose cell with width 3 fails."""
            from robustlab.experiments.base import ExperimentConfig, Summary, grid
            PAPER, FIGURE, VERSION = "none", "none", 1
            class Config(ExperimentConfig):
                width: list[int] = [1, 2, 3, 4]
            PRESETS = {"quick": {}, "paper": {}}
            def cells(config):
                return grid(config, sweep=("width",))
            def run_cell(cell, ctx):
                if cell["width"] == 3:
                    raise FloatingPointError("diverged")
                return [{"value": cell["width"] * 2.0}]
            def theory(config):
                return {}
            def summarize(table, config):
                return Summary(headline={"n": len(table)})
            def figures(table, config):
                return {}
            '''
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    experiment = load_experiment("failing_experiment", name="failing-test")
    config = experiment.config("quick")
    with pytest.raises(CellError, match=r"width=3.*'failing-test' failed.*diverged"):
        run_experiment(experiment, config, out=tmp_path / "out", device="cpu")
    cells = list((tmp_path / "out" / "failing-test" / "cells").glob("*.parquet"))
    assert len(cells) == 2  # widths 1 and 2 finished before width 3 failed
    assert not (tmp_path / "out" / "failing-test" / "results.parquet").exists()
    sys.modules.pop("failing_experiment", None)


def test_memory_estimate_refuses_before_any_work(tmp_path: Path) -> None:
    toy = get_experiment(TOY)
    config = toy.config("quick", {"n_pairs": 10**12})
    with pytest.raises(ResourceError, match=r"estimated .* per cell .* available"):
        run_experiment(toy, config, out=tmp_path, device="cpu")
    assert list(tmp_path.iterdir()) == []
    small = toy.config("quick")
    estimate = check_memory(toy, small, concurrency=2, device=resolve_device("cpu"))
    assert estimate == 3 * 2 * 4000 * 512 * 8
    with pytest.raises(ResourceError, match=r"x 2 concurrent"):
        check_memory(toy, small, concurrency=2, device=resolve_device("cpu"), available=1000)


def test_available_memory_reads_meminfo(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 100 kB\nMemAvailable:   2048 kB\n")
    assert available_memory(meminfo) == 2048 * 1024
    assert available_memory(tmp_path / "absent") > 0
    assert format_bytes(1536) == "1.5 KiB" and format_bytes(12) == "12 B"


def test_progress_is_a_bar_on_terminals_and_log_lines_otherwise(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert isinstance(make_progress(Console(file=open(tmp_path / "f", "w"))), LogProgress)  # noqa: SIM115
    assert isinstance(make_progress(Console(force_terminal=True)), RichProgress)
    with caplog.at_level(logging.INFO, logger="robustlab.runner"):
        _run(tmp_path, progress=LogProgress())
    lines = [r.getMessage() for r in caplog.records if r.name == "robustlab.runner"]
    assert lines[0].startswith(f"{TOY}: 4 cells, 0 already finished")
    assert any("cell 4/4 done" in line for line in lines)


def test_planned_cells_are_distinct_per_setting() -> None:
    toy = get_experiment(TOY)
    keys = [key for key, _ in plan_cells(toy, toy.config("quick", SMALL))]
    assert len(set(keys)) == 4
    other = [key for key, _ in plan_cells(toy, toy.config("quick", {**SMALL, "n_pairs": 201}))]
    assert not set(keys) & set(other)


def test_changed_settings_move_old_outputs_aside_once_new_ones_exist(tmp_path: Path) -> None:
    first = _run(tmp_path)
    root = first.root
    old = {name: (root / name).read_bytes() for name in ("results.parquet", "summary.json")}
    again = _run(tmp_path)  # same settings: nothing moves
    assert again.replaced is None and not (tmp_path / ".previous").exists()
    old_config = (root / "config.json").read_text()
    changed = _run(tmp_path, overrides={"n_pairs": 201})
    assert changed.replaced is not None and changed.replaced.parent == tmp_path / ".previous"
    for name, data in old.items():
        assert (changed.replaced / name).read_bytes() == data
    assert (changed.replaced / "config.json").read_text() == old_config
    assert (changed.replaced / "figures" / "inner_products.png").is_file()
    assert json.loads((root / "config.json").read_text())["config"]["n_pairs"] == 201
    assert len(list(store_cells(root))) == 8  # the cells of both settings stay


def store_cells(root: Path) -> list[Path]:
    return sorted((root / "cells").glob("*.parquet"))


def test_a_failing_run_with_new_settings_leaves_the_finished_run_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _run(tmp_path).root
    before = {
        path.relative_to(root): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and path.parent.name != "cells" and path.name != ".lock"
    }

    def fail(task: Any) -> Any:
        raise FloatingPointError("diverged")

    monkeypatch.setattr(backends, "execute_cell", fail)
    with pytest.raises(CellError, match="diverged"):
        _run(tmp_path, overrides={"n_pairs": 202})
    for name, data in before.items():
        assert (root / name).read_bytes() == data, name
    assert not (tmp_path / ".previous").exists()
