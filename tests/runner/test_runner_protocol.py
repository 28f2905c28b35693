"""The experiment protocol, the registry, cell keys, cell tables and config resolution."""

from __future__ import annotations

import pickle
import shlex
import types
from typing import Any

import numpy as np
import pytest
import torch
from pydantic import Field

from robustlab.experiments import (
    Cell,
    ConfigError,
    Experiment,
    ExperimentConfig,
    UnknownExperimentError,
    experiment_names,
    get_experiment,
    grid,
    list_experiments,
)
from robustlab.experiments.base import type_name, verdict_to_dict
from robustlab.runner.cells import cell_columns, cell_frame, cell_key, normalize_rows
from robustlab.runner.config import load_config_file, parse_assignments, resolve_config
from robustlab.runner.run import plan_cells, reproduce_command, to_jsonable

TOY = "toy-sphere-norms"


class _Sweep(ExperimentConfig):
    width: list[int] = Field(default=[10, 20])
    dim: list[int] = Field(default=[3])
    lr: float = 0.1
    name: str = "x"
    grid_eps: list[float] = Field(default=[0.1, 0.2])


# --- registry -------------------------------------------------------------------------------


def test_every_registered_experiment_follows_the_protocol() -> None:
    """Each registered module loads, both presets validate, and its cells have distinct keys."""
    for experiment in list_experiments(include_hidden=True):
        assert experiment.description and experiment.paper and experiment.figure
        for preset in ("quick", "paper"):
            config = experiment.config(preset)
            planned = plan_cells(experiment, config)
            assert planned, f"{experiment.name} {preset} has no cells"
            assert len({key for key, _ in planned}) == len(planned)
            assert all("seed" in cell for _, cell in planned)


def test_toy_is_hidden_and_unknown_names_list_the_allowed_ones() -> None:
    assert TOY not in experiment_names()
    assert TOY in experiment_names(include_hidden=True)
    with pytest.raises(UnknownExperimentError, match=r"unknown experiment 'nope'.*hidden: .*toy"):
        get_experiment("nope")


# --- configs --------------------------------------------------------------------------------


def test_config_seeds_count_and_extra_fields_refused() -> None:
    assert _Sweep(seeds=3).seeds == [0, 1, 2]
    assert _Sweep(seeds=[5, 7]).seeds == [5, 7]
    with pytest.raises(ValueError, match="distinct"):
        _Sweep(seeds=[1, 1])
    with pytest.raises(ValueError, match="Extra inputs"):
        _Sweep(widht=[1])  # type: ignore[call-arg]


def test_experiment_config_errors_name_field_value_and_allowed() -> None:
    toy = get_experiment(TOY)
    with pytest.raises(ConfigError, match=r"unknown preset 'slow'.*allowed: quick, paper"):
        toy.config("slow")
    with pytest.raises(ConfigError, match=r"unknown field 'n_pair'.*allowed fields: .*n_pairs"):
        toy.config("quick", {"n_pair": 3})
    with pytest.raises(ConfigError, match=r"'n_pairs'.*given 'abc'.*allowed: int"):
        toy.config("quick", {"n_pairs": "abc"})
    with pytest.raises(ConfigError, match=r"'dtype'.*given 'float16'.*'float32' \| 'float64'"):
        toy.config("quick", {"dtype": "float16"})
    with pytest.raises(ConfigError, match=r"'n_pairs'.*given 1.*greater than or equal to 2"):
        toy.config("quick", {"n_pairs": 1})


def test_type_names_are_readable() -> None:
    from typing import Literal

    assert type_name(int) == "int"
    assert type_name(list[int]) == "list[int]"
    assert type_name(Literal["a", "b"]) == "'a' | 'b'"
    assert type_name(int | None) == "int | None"


def test_parse_assignments_reads_json_else_text() -> None:
    parsed = {a.key: a.value for a in parse_assignments(["a=[1,2]", "b=3", "c=1e-3", "d=true"])}
    assert parsed == {"a": [1, 2], "b": 3, "c": 1e-3, "d": True}
    assert parse_assignments(["dtype=float64"])[0].value == "float64"
    assert parse_assignments(["x=a=b"])[0].value == "a=b"
    with pytest.raises(ConfigError, match="key=value"):
        parse_assignments(["novalue"])
    with pytest.raises(ConfigError, match="key=value"):
        parse_assignments(["=3"])


def test_resolve_config_precedence_preset_file_set(tmp_path: Any) -> None:
    toy = get_experiment(TOY)
    path = tmp_path / "c.toml"
    path.write_text(f'n_pairs = 100\ndim = [4, 8]\n["{TOY}"]\nn_pairs = 150\n["other"]\nx = 1\n')
    values = load_config_file(path, experiment=TOY, sections=[TOY, "other"])
    assert values == {"n_pairs": 150, "dim": [4, 8]}
    assert resolve_config(toy, preset="quick").n_pairs == 4000  # type: ignore[attr-defined]
    from_file = resolve_config(toy, preset="quick", file_values=values)
    assert (from_file.n_pairs, from_file.dim) == (150, [4, 8])  # type: ignore[attr-defined]
    with_set = resolve_config(
        toy, preset="quick", file_values=values, assignments=parse_assignments(["n_pairs=200"])
    )
    assert (with_set.n_pairs, with_set.dim) == (200, [4, 8])  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="does not exist"):
        load_config_file(tmp_path / "missing.toml", experiment=TOY)
    (tmp_path / "bad.toml").write_text("n_pairs = = 3")
    with pytest.raises(ConfigError, match="not readable TOML"):
        load_config_file(tmp_path / "bad.toml", experiment=TOY)


def test_reproduce_command_gives_back_the_config() -> None:
    toy = get_experiment(TOY)
    config = toy.config("quick", {"dim": [4, 8], "n_pairs": 10})
    command = reproduce_command(toy, config, "quick")
    assert command.startswith(f"robustlab run {TOY} --preset quick")
    words = shlex.split(command)
    sets = [words[i + 1] for i, word in enumerate(words) if word == "--set"]
    again = resolve_config(toy, preset="quick", assignments=parse_assignments(sets))
    assert again == config


# --- cells ----------------------------------------------------------------------------------


def test_grid_is_product_with_seeds_slowest_and_fixed_fields() -> None:
    config = _Sweep(seeds=2, width=[10, 20], dim=[3, 4])
    cells = grid(config, sweep=("width", "dim"), exclude=("name",))
    assert len(cells) == 8
    assert [c.seed for c in cells] == [0] * 4 + [1] * 4
    assert [(c["width"], c["dim"]) for c in cells[:4]] == [(10, 3), (10, 4), (20, 3), (20, 4)]
    assert cells[0]["lr"] == 0.1 and cells[0]["grid_eps"] == [0.1, 0.2]
    assert "name" not in cells[0] and "seeds" not in cells[0]
    with pytest.raises(ConfigError, match="must be a list"):
        grid(config, sweep=("lr",))
    with pytest.raises(ConfigError, match="not a field"):
        grid(config, sweep=("depth",))


def test_cell_rejects_non_json_and_round_trips_pickle() -> None:
    with pytest.raises(KeyError, match="seed"):
        Cell({"width": 3})
    with pytest.raises(TypeError, match="JSON"):
        Cell({"seed": 0, "x": torch.tensor(1.0)})
    with pytest.raises(TypeError, match="non-finite"):
        Cell({"seed": 0, "x": float("nan")})
    cell = Cell({"seed": 1, "eps": (0.1, 0.2)})
    assert cell["eps"] == [0.1, 0.2]
    assert pickle.loads(pickle.dumps(cell)) == cell


def test_cell_key_is_stable_and_sensitive() -> None:
    cell = Cell({"seed": 0, "width": 10, "lr": 0.1, "eps": [0.5, 1.0]})
    # A fixed value: changing the key scheme silently invalidates every stored result.
    assert cell_key("exp", 1, cell) == "f3e0b5dd513127f844d9f5b0"
    reordered = Cell({"eps": [0.5, 1.0], "lr": 0.1, "width": 10, "seed": 0})
    assert cell_key("exp", 1, reordered) == cell_key("exp", 1, cell)
    others = [
        cell_key("exp", 2, cell),
        cell_key("exp2", 1, cell),
        cell_key("exp", 1, Cell({**cell, "seed": 1})),
        cell_key("exp", 1, Cell({**cell, "lr": 0.1000001})),
        cell_key("exp", 1, Cell({**cell, "width": 10.0})),
    ]
    assert len({cell_key("exp", 1, cell), *others}) == 6


def test_normalize_rows_unwraps_scalars_and_refuses_arrays() -> None:
    rows = normalize_rows(
        [{"a": torch.tensor(1.5), "b": np.float32(2.0), "c": np.int64(3), "d": np.bool_(True)}]
    )
    assert rows == [{"a": 1.5, "b": 2.0, "c": 3, "d": True}]
    assert type(rows[0]["c"]) is int and type(rows[0]["d"]) is bool
    with pytest.raises(TypeError, match="scalars"):
        normalize_rows([{"a": torch.ones(2)}])
    with pytest.raises(TypeError, match="list of dicts"):
        normalize_rows({"a": 1})  # type: ignore[arg-type]


def test_cell_frame_adds_every_parameter_as_a_column() -> None:
    cell = Cell({"seed": 3, "width": 10, "eps": [0.1, 0.2]})
    frame = cell_frame(cell, [{"value": 1.0}, {"value": 2.0}])
    assert list(frame.columns) == ["seed", "width", "eps", "value"]
    assert frame["eps"].tolist() == ["[0.1,0.2]"] * 2
    assert cell_columns(cell)["width"] == 10
    with pytest.raises(ValueError, match="reuses cell parameter"):
        cell_frame(cell, [{"width": 3}])
    assert list(cell_frame(cell, []).columns) == ["seed", "width", "eps"]


def test_verdicts_are_checked_and_json_is_strict() -> None:
    good = {"claim": "c", "verdict": "consistent", "measured": 1.0, "predicted": 1.0, "reason": ""}
    assert verdict_to_dict(good) == good
    with pytest.raises(ValueError, match="one of"):
        verdict_to_dict({**good, "verdict": "fine"})
    with pytest.raises(ValueError, match="exactly the keys"):
        verdict_to_dict({"claim": "c", "verdict": "consistent"})
    value = {"a": float("nan"), "b": float("inf"), "c": np.float64(2.0), "d": torch.tensor([1])}
    assert to_jsonable(value) == {"a": None, "b": "inf", "c": 2.0, "d": [1]}


def _sweep_experiment() -> Experiment:
    module = types.ModuleType("sweep_module", "A test experiment with a text field.")
    module.PAPER, module.FIGURE, module.VERSION = "none", "none", 1  # type: ignore[attr-defined]
    module.Config = _Sweep  # type: ignore[attr-defined]
    module.PRESETS = {"quick": {}, "paper": {"lr": 0.5}}  # type: ignore[attr-defined]
    for name in ("cells", "run_cell", "theory", "summarize", "figures"):
        setattr(module, name, lambda *args: None)
    return Experiment.from_module(module, name="sweep-test")


def test_set_values_fall_back_to_text_only_where_text_fits() -> None:
    experiment = _sweep_experiment()
    config = resolve_config(
        experiment,
        preset="paper",
        assignments=parse_assignments(["name=1", "width=[1,2]", "lr=1", "dim=[1e3]"]),
    )
    assert config == _Sweep(name="1", width=[1, 2], lr=1.0, dim=[1000])
    with pytest.raises(ConfigError, match=r"'width.0'.*given 'a'"):
        resolve_config(experiment, assignments=parse_assignments(['width=["a"]']))


def test_modules_breaking_the_protocol_are_named() -> None:
    module = types.ModuleType("broken_module", "Broken.")
    with pytest.raises(TypeError, match="broken_module lacks PAPER, FIGURE"):
        Experiment.from_module(module, name="broken")
    good = _sweep_experiment()
    assert [f.name for f in good.fields()] == [
        "seeds",
        "dtype",
        "precision",
        "width",
        "dim",
        "lr",
        "name",
        "grid_eps",
    ]
    assert good.description == "A test experiment with a text field."
