"""Issue 13 item 7: figures() and summarize() cope with any table the Config admits.

Every experiment runs end to end on a degenerate sweep (one value per swept list, one seed),
and poisoning-sample-size on the two sweeps the issue found failing (a zero budget beside one
size; one size whose excess loss is negative, so a log axis has nothing positive to show).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from robustlab.experiments import experiment_names, get_experiment
from robustlab.plotting import (
    NO_POSITIVE_NOTE,
    guard_log_axes,
    loglog,
    new_figure,
    plot_measured,
    save_figure,
)
from robustlab.runner import run_experiment

REAL_DATA = {
    "lazy-adversarial-training",
    "poisoning-loss",
    "poisoning-sample-size",
    "poisoning-width",
    "reflected-adversarial-training",
    "multiclass-reflected",
}


def _one_point(name: str) -> dict[str, Any]:
    """The quick preset cut to the first value of every list field the Config lets shrink."""
    experiment = get_experiment(name)
    overrides: dict[str, Any] = {"seeds": [0]}
    for field, value in experiment.config("quick").model_dump().items():
        if isinstance(value, list) and len(value) > 1 and field != "seeds":
            try:
                experiment.config("quick", {**overrides, field: value[:1]})
            except ValueError:
                continue  # the Config needs more than one value here (a fit, a point)
            overrides[field] = value[:1]
    return overrides


def _run(name: str, overrides: dict[str, Any], out: Path, data_dir: Path | None) -> Any:
    experiment = get_experiment(name)
    config = experiment.config("quick", overrides)
    result = run_experiment(experiment, config, out=out, device="cpu", data_dir=data_dir)
    summary = json.loads((out / name / "summary.json").read_text())
    assert summary["n_cells"] == result.total
    assert all((out / name / figure).is_file() for figure in summary["figures"])
    return result


@pytest.mark.slow
@pytest.mark.parametrize("name", experiment_names())
def test_one_point_one_seed(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    data_dir = request.getfixturevalue("data_dir") if name in REAL_DATA else None
    _run(name, _one_point(name), tmp_path, data_dir)


@pytest.mark.slow
@pytest.mark.parametrize(
    "overrides",
    [
        {"n": [100], "C": [0.0, 20.0]},  # KeyError in figures() before the fix
        {"n": [20000], "C": [60.0]},  # "Data cannot be log-scaled" before the fix
    ],
)
def test_poisoning_sample_size_on_the_sweeps_that_failed(
    overrides: dict[str, Any], tmp_path: Path, data_dir: Path
) -> None:
    _run("poisoning-sample-size", overrides, tmp_path, data_dir)


def _empty_measurement(ax: Any) -> None:
    """What an experiment draws when a sweep leaves nothing positive: an empty mean and band."""
    empty = np.array([])
    plot_measured(ax, empty, empty, low=empty, high=empty)
    loglog(ax, xlabel="n", ylabel="loss")


def test_a_log_axis_with_nothing_positive_is_drawn_linear_and_says_so(tmp_path: Path) -> None:
    fig, axes = new_figure(2)
    _empty_measurement(axes[0])
    axes[1].plot([1.0, 10.0], [1.0, 100.0])  # fine: stays log-log
    loglog(axes[1], xlabel="n", ylabel="loss")
    assert guard_log_axes(fig) == 2
    assert (axes[0].get_xscale(), axes[0].get_yscale()) == ("linear", "linear")
    assert (axes[1].get_xscale(), axes[1].get_yscale()) == ("log", "log")
    assert [text.get_text() for text in axes[0].texts] == [f"{NO_POSITIVE_NOTE} (x, y)"]
    assert not axes[1].texts
    path = save_figure(fig, tmp_path / "degenerate.png")
    assert path.stat().st_size > 0


def test_saving_an_unguarded_figure_would_fail() -> None:
    """The case the guard exists for really breaks matplotlib (so the test above can fail)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig, ax = new_figure(1)
    _empty_measurement(ax)
    with pytest.raises(ValueError, match="cannot be log-scaled"):
        FigureCanvasAgg(fig).draw()
