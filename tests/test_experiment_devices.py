"""reflected-grid and robust-sample-complexity honour ``--device`` (issue 10, item 5).

As in ``tests/test_devices.py``: each test runs on "cpu" and, where CUDA is available, on
"cuda" (skipped otherwise), and the rows must match the CPU rows. Because a CPU-only machine
cannot tell "honoured cpu" from "ignored the device", a spy on the ``meta`` device checks that
the cell's tensors are created where ``CellContext.device`` says.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
import torch

from robustlab.attacks import grid_search
from robustlab.data.synthetic import schmidt_gaussian
from robustlab.experiments import reflected_grid as grid_module
from robustlab.experiments import robust_sample_complexity as rsc
from robustlab.experiments.base import Cell, CellContext
from robustlab.experiments.registry import get_experiment

# The cells module by its path: the package attribute ``cells`` is the sweep function.
rsc_cells = importlib.import_module("robustlab.experiments.robust_sample_complexity.cells")

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here"),
    ),
]


def _first_cells(name: str, count: int, **overrides: Any) -> list[Cell]:
    experiment = get_experiment(name)
    config = experiment.config("quick", overrides)
    return list(experiment.cells(config))[:count]


def _assert_rows_match(rows: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert len(rows) == len(expected)
    for row, want in zip(rows, expected, strict=True):
        assert row.keys() == want.keys()
        for key, value in want.items():
            if isinstance(value, float):
                assert row[key] == pytest.approx(value, rel=1e-4, abs=1e-6, nan_ok=True), key
            else:
                assert row[key] == value, key


@pytest.mark.parametrize("device", DEVICES)
def test_reflected_grid_rows_match_the_cpu_rows(device: str) -> None:
    cells = _first_cells("reflected-grid", 2, points_per_axis=[24])
    for cell in cells:
        expected = grid_module.run_cell(cell, CellContext())
        rows = grid_module.run_cell(cell, CellContext(device=torch.device(device)))
        _assert_rows_match(rows, expected)


@pytest.mark.parametrize("device", DEVICES)
def test_robust_sample_complexity_rows_match_the_cpu_rows(device: str) -> None:
    overrides = {"gaussian_dims": [100], "bernoulli_dims": [100], "replicates": 2}
    cells = _first_cells("robust-sample-complexity", 2, **overrides)
    assert {cell["model"] for cell in cells} == {"gaussian", "bernoulli"}
    for cell in cells:
        expected = rsc.run_cell(cell, CellContext())
        rows = rsc.run_cell(cell, CellContext(device=torch.device(device)))
        _assert_rows_match(rows, expected)


def test_reflected_grid_searches_on_the_cell_device(monkeypatch: pytest.MonkeyPatch) -> None:
    """The point x reaches grid_search on ctx.device (meta here: it fails if ignored)."""
    seen: list[torch.device] = []
    cell = _first_cells("reflected-grid", 1, points_per_axis=[16])[0]

    def spy(loss: Any, x: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        seen.append(x.device)  # a meta tensor has no values: search from the cell's point
        return grid_search(loss, torch.tensor(cell["x"], dtype=x.dtype), *args, **kwargs)

    monkeypatch.setattr(grid_module, "grid_search", spy)
    grid_module.run_cell(cell, CellContext(device=torch.device("meta")))
    assert seen == [torch.device("meta")]


def test_robust_sample_complexity_sums_on_the_cell_device() -> None:
    """The sums w = sum_i y_i x_i are accumulated on the requested device (meta here)."""
    generator = torch.Generator().manual_seed(0)

    def draw(count: int) -> Any:
        return schmidt_gaussian(count, 8, sigma=1.0, generator=generator)

    sums = rsc_cells._sums(draw, [1, 3], replicates=2, d=8, device=torch.device("meta"))
    assert [w.device.type for w in sums] == ["meta", "meta"]
    cpu = rsc_cells._sums(draw, [1, 3], replicates=2, d=8)
    assert [w.device.type for w in cpu] == ["cpu", "cpu"]


def test_robust_sample_complexity_run_cell_passes_its_device(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[torch.device | None] = []
    real = rsc_cells._sums

    def spy(*args: Any, **kwargs: Any) -> list[torch.Tensor]:
        seen.append(args[4] if len(args) > 4 else kwargs.get("device"))
        return [w.to("cpu") for w in real(*args[:4])]

    monkeypatch.setattr(rsc_cells, "_sums", spy)
    overrides = {"gaussian_dims": [100], "bernoulli_dims": [100], "replicates": 2}
    for cell in _first_cells("robust-sample-complexity", 2, **overrides):
        rsc.run_cell(cell, CellContext(device=torch.device("meta")))
    assert seen == [torch.device("meta"), torch.device("meta")]
