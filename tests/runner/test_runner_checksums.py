"""Issue 13 items 2, 3, 5: a stored cell is checked before it is trusted.

Each case damages the cells of a finished run as a disk, a careless user or a copy tool
would; the rerun must name the damaged cells, set them aside (never delete them), recompute
exactly those, and end with the table of an uninterrupted run, bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from robustlab.experiments import get_experiment
from robustlab.runner import CellCheckError, RunStore, plan_cells, run_experiment
from robustlab.runner.cells import cell_columns

TOY = "toy-sphere-norms"
SMALL = {"dim": [4, 16], "n_pairs": 200, "seeds": 2}


def _flip(path: Path, where: float) -> None:
    data = bytearray(path.read_bytes())
    data[int(len(data) * where)] ^= 0x10
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _garble_middle(path: Path) -> None:
    """Overwrite bytes inside the column data; the footer (metadata) stays intact."""
    data = bytearray(path.read_bytes())
    for index in range(8, min(40, len(data) - 64)):
        data[index] = (data[index] * 7 + 3) % 256
    path.write_bytes(bytes(data))


def _resign(cells: list[Path], index: int) -> None:
    """Rewrite cell ``index``'s record to match whatever its file now holds (a forged record)."""
    record_path = cells[index].with_suffix(".json")
    record = json.loads(record_path.read_text())
    data = cells[index].read_bytes()
    record["sha256"] = hashlib.sha256(data).hexdigest()
    record["rows"] = len(pd.read_parquet(cells[index]))
    body = {k: v for k, v in record.items() if k != "record_sha256"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    record["record_sha256"] = hashlib.sha256(canonical).hexdigest()
    record_path.write_text(json.dumps(record))


def _copy_over(cells: list[Path]) -> None:
    shutil.copyfile(cells[1], cells[0])


def _copy_with_forged_record(cells: list[Path]) -> None:
    shutil.copyfile(cells[1], cells[0])
    _resign(cells, 0)


def _swap_pairs(cells: list[Path]) -> None:
    for suffix in (".parquet", ".json"):
        first, second = cells[0].with_suffix(suffix), cells[1].with_suffix(suffix)
        tmp = first.with_name("swap")
        first.rename(tmp)
        second.rename(first)
        tmp.rename(second)


def _record_flip(cells: list[Path]) -> None:
    record = cells[0].with_suffix(".json")
    text = record.read_text()
    assert '"n_pairs": 200' in text
    record.write_text(text.replace('"n_pairs": 200', '"n_pairs": 201'))


CASES: dict[str, tuple[Callable[[list[Path]], None], int]] = {
    "bit flip in the middle": (lambda cells: _flip(cells[0], 0.5), 1),
    "bit flip near the start": (lambda cells: _flip(cells[0], 0.05), 1),
    "bit flip in the footer": (lambda cells: _flip(cells[0], 0.97), 1),
    "bit flips in two cells": (lambda cells: (_flip(cells[0], 0.3), _flip(cells[3], 0.6)), 2),
    "truncated file": (lambda cells: _truncate(cells[2]), 1),
    "empty file": (lambda cells: cells[1].write_bytes(b""), 1),
    "garbled data, footer intact": (lambda cells: _garble_middle(cells[0]), 1),
    "another cell's file copied over": (_copy_over, 1),
    "another cell's file with a forged record": (_copy_with_forged_record, 1),
    "two cells' files and records swapped": (_swap_pairs, 2),
    "record missing": (lambda cells: cells[0].with_suffix(".json").unlink(), 1),
    "record not JSON": (lambda cells: cells[0].with_suffix(".json").write_text("{oops"), 1),
    "record edited": (_record_flip, 1),
    "record of another cell": (
        lambda cells: shutil.copyfile(cells[1].with_suffix(".json"), cells[0].with_suffix(".json")),
        1,
    ),
}


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("finished")
    toy = get_experiment(TOY)
    run_experiment(toy, toy.config("quick", SMALL), out=out, device="cpu")
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_damaged_cell_is_named_set_aside_and_recomputed(
    case: str, finished: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    damage, count = CASES[case]
    out = tmp_path / "out"
    shutil.copytree(finished, out)
    root = out / TOY
    reference = (root / "results.parquet").read_bytes()
    toy = get_experiment(TOY)
    config = toy.config("quick", SMALL)
    keys = [key for key, _ in plan_cells(toy, config)]
    cells = [root / "cells" / f"{key}.parquet" for key in keys]
    damage(cells)
    damaged = {path.read_bytes() for path in cells if path.exists()}

    with caplog.at_level(logging.WARNING, logger="robustlab"):
        result = run_experiment(toy, config, out=out, device="cpu")

    assert result.ran == count, case
    named = [r.getMessage() for r in caplog.records if "failed its check" in r.getMessage()]
    assert len(named) == count, named
    kept = list((root / "cells").glob("*.corrupt*"))
    assert kept, "the damaged files must be set aside, not deleted"
    assert damaged <= {path.read_bytes() for path in (root / "cells").iterdir()}
    assert (root / "results.parquet").read_bytes() == reference
    again = run_experiment(toy, config, out=out, device="cpu")
    assert again.ran == 0  # the recomputed cells pass their checks


def test_check_cell_names_the_failing_check(finished: Path, tmp_path: Path) -> None:
    shutil.copytree(finished, tmp_path / "out")
    store = RunStore(tmp_path / "out" / TOY)
    toy = get_experiment(TOY)
    (key, cell), (other, _) = plan_cells(toy, toy.config("quick", SMALL))[:2]
    params, columns = cell.to_dict(), cell_columns(cell)
    assert len(store.check_cell(key, params, columns)) == 2
    with pytest.raises(CellCheckError, match="recorded parameters differ"):
        store.check_cell(key, {**params, "dim": 999}, columns)
    with pytest.raises(CellCheckError, match="column 'dim' holds 4, but this cell's dim is 5"):
        store.check_cell(key, params, {**columns, "dim": 5})
    shutil.copyfile(store.cell_path(other), store.cell_path(key))
    with pytest.raises(CellCheckError, match="SHA-256"):
        store.check_cell(key, params, columns)
    with pytest.raises(FileNotFoundError):
        store.check_cell("0" * 24, params, columns)
