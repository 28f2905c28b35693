"""Build an experiment's Config from a preset, a TOML file and ``--set key=value`` assignments.

Precedence: preset < file < ``--set``. Values of ``--set`` are read as JSON when they parse
(``[1,2]``, ``3``, ``1e-3``, ``true``) and as plain text otherwise (``dtype=float64``).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from robustlab.experiments.base import ConfigError, Experiment, ExperimentConfig

__all__ = ["Assignment", "load_config_file", "parse_assignments", "resolve_config"]


@dataclass(frozen=True)
class Assignment:
    """One ``--set key=value``: the key, the text given and the value it parses to."""

    key: str
    raw: str
    value: Any


def parse_assignments(items: Iterable[str]) -> list[Assignment]:
    """Parse ``key=value`` strings. Raises ConfigError for an item without ``=`` or a key."""
    parsed = []
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        parsed.append(Assignment(key, raw, value))
    return parsed


def load_config_file(
    path: str | Path, *, experiment: str, sections: Iterable[str] = ()
) -> dict[str, Any]:
    """The settings a TOML file gives ``experiment``.

    Top-level keys apply to every experiment; a table named after an experiment (one of
    ``sections``) applies to that one only, and wins. Raises ConfigError for a missing or
    malformed file.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"config file {path} is not readable TOML: {err}") from None
    names = {*sections, experiment}
    common = {key: value for key, value in data.items() if key not in names}
    own = data.get(experiment, {})
    if not isinstance(own, dict):
        raise ConfigError(f"config file {path}: [{experiment}] must be a table, got {own!r}")
    return {**common, **own}


def _choose(config_type: type[ExperimentConfig], assignment: Assignment) -> Any:
    """The JSON reading of a value unless only its text fits the field (``name=1`` for a str)."""
    info = config_type.model_fields.get(assignment.key)
    if info is None or info.annotation is None or isinstance(assignment.value, str):
        return assignment.value
    adapter: TypeAdapter[Any] = TypeAdapter(info.annotation)
    try:
        adapter.validate_python(assignment.value)
    except ValidationError:
        try:
            adapter.validate_python(assignment.raw)
        except ValidationError:
            return assignment.value
        return assignment.raw
    return assignment.value


def resolve_config(
    experiment: Experiment,
    *,
    preset: str = "quick",
    file_values: Mapping[str, Any] | None = None,
    assignments: Iterable[Assignment] = (),
) -> ExperimentConfig:
    """The validated Config of ``experiment``: preset < ``file_values`` < ``assignments``.

    Raises ConfigError naming the unknown preset or field and the allowed ones, or the field,
    the value given and the allowed type or values.
    """
    overrides: dict[str, Any] = dict(file_values or {})
    for assignment in assignments:
        overrides[assignment.key] = _choose(experiment.config_type, assignment)
    return experiment.config(preset, overrides)
