"""The experiment protocol: what an experiment module holds and how the runner uses it.

An experiment is one Python module, ``robustlab/experiments/<name>.py``, registered by one line
in ``robustlab/experiments/registry.py``. It reads top to bottom, and holds nothing else:

1. **The claim** (module docstring). First line: a one-line description (``robustlab list``
   prints it). Then one paragraph: the theorem or figure it probes, citing paper and
   equation ("Paper 002, Theorem 4; Figure 3").
2. **Metadata**: ``PAPER = "002"`` (the paper, as in ``shared/papers/INDEX.md``),
   ``FIGURE = "Fig. 3"`` (figure or table reproduced), ``VERSION = 1`` (an integer; bump it
   whenever ``run_cell`` changes what it measures, so finished cells of the old version are not
   reused: the version is part of every cell's key).
3. **``class Config(ExperimentConfig)``**: a pydantic model, validated, unknown fields refused.
   Swept fields are lists (``width: list[int] = [100, 1000]``); the sweep runs over their
   product times ``seeds``. Give every field a ``Field(description=...)``: ``robustlab show``
   prints it. ``ExperimentConfig`` already has ``seeds`` (a list, or an int n meaning
   ``range(n)``) and ``dtype`` ("float32" by default; set ``"float64"`` where a theory check
   needs it).
4. **``PRESETS = {"quick": {...}, "paper": {...}}``**: field overrides on the defaults. ``paper``
   reproduces the paper's settings; ``quick`` runs in well under a minute on 2 CPU cores.
   The command line applies preset < ``--config FILE.toml`` < ``--set key=value``.
5. **``def cells(config: Config) -> list[Cell]``**: the sweep, usually
   ``return grid(config, sweep=("width", "dim"))``. A cell's parameters are every input of
   ``run_cell``: ``grid`` puts the swept fields (one value each), ``seed`` and every other
   config field (unless listed in ``exclude=``) in each cell, so a change to any setting gives
   new cells instead of silently reusing stale ones.
6. **``def run_cell(cell: Cell, ctx: CellContext) -> list[dict]``**: one cell of the sweep, a
   pure function of ``cell`` (parameters and seed): take randomness only from ``cell.seed``
   (``ctx.generator(cell.seed)``), put tensors on ``ctx.device`` in ``ctx.dtype``, load real
   data with ``data_dir=ctx.data_dir`` (None: ``$ROBUSTLAB_DATA``). Returns
   one dict per measurement with scalar values (int, float, bool, str; 0-d tensors and numpy
   scalars are converted). The runner adds every cell parameter as a column, so rows need
   not repeat them (and must not use a parameter's name for a measurement). Library code
   logs, never prints.
7. **``def theory(config: Config) -> dict[str, Any]``**: what theory predicts from the
   settings alone (exponents, bounds, constants), JSON-serialisable; written to
   ``summary.json`` under ``predictions``.
8. **``def summarize(table: pd.DataFrame, config: Config) -> Summary``**: measured against
   predicted. ``Summary(headline={...}, verdicts=[...])``; each verdict has exactly the keys
   ``claim``, ``verdict`` ("consistent", "inconsistent" or "inconclusive"), ``measured``,
   ``predicted``, ``reason`` (and optionally ``settle``: what would settle an inconsistent or
   inconclusive verdict, e.g. "the paper preset: n up to 60000"): state each as a claim of
   ``robustlab.theory.claims`` (``exponent``, ``bound``, ``trend``, ``paired_difference``,
   ``fraction``, ``within_factor``, ``paper_table``, ``rank_order``, ``every``, ...), which
   return ``Verdict`` records.
9. **``def figures(table: pd.DataFrame, config: Config) -> dict[str, Figure]``**: matplotlib
   figures by file stem (saved as ``figures/<stem>.png``), the theory curve drawn beside the
   measurement, axes labelled in the paper's notation; use ``robustlab.plotting``.
10. Optional **``def estimate_memory(config: Config) -> int``**: peak bytes of one cell. The
    runner refuses a config whose estimate (times the number of concurrent cells) exceeds the
    available memory, before any work.
11. **``PROTOCOL: tuple[ProtocolRow, ...]``** (optional until every module has one): the
    protocol table. One row per setting that matters (data, model, initialization, training,
    attack, budget, seeds, ...): what the paper says, what the authors' public code does where it
    exists and differs (else ``""``), what robustlab's presets do, and the deviation's reason
    (``""`` when robustlab follows the paper). ``robustlab show`` and the report print it.
12. **``CAPTIONS: dict[str, str]``** (optional; placed right after ``PRESETS``): a caption per
    figure stem that ``figures`` returns: what the figure shows and which paper figure it
    reproduces. The report and the documentation print it under the figure.

``table`` is ``results.parquet``: the rows of every cell, one column per cell parameter plus
the measurement columns. List-valued parameters that are not swept appear in the table as JSON
text (``run_cell`` still receives the list).

See ``robustlab/experiments/toy.py`` for a small complete example. To test an experiment,
run a small config in process and check a property of its output::

    experiment = get_experiment("my-name")
    config = experiment.config("quick", {"width": [10, 20]})
    result = run_experiment(experiment, config, out=tmp_path, device="cpu")
    table = pd.read_parquet(result.root / "results.parquet")
"""

from __future__ import annotations

import itertools
import json
import math
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import pandas as pd
import torch
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

__all__ = [
    "VERDICTS",
    "Cell",
    "CellContext",
    "ConfigError",
    "Experiment",
    "ExperimentConfig",
    "FieldInfo",
    "NonNegativeFloat",
    "PositiveFloat",
    "PositiveInt",
    "ProtocolRow",
    "Summary",
    "grid",
]

VERDICTS: tuple[str, ...] = ("consistent", "inconsistent", "inconclusive")
"""The allowed values of a verdict's ``verdict`` key."""

REQUIRED_PRESETS: tuple[str, ...] = ("quick", "paper")

_DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "float64": torch.float64}

SEED_LIMIT = 2**63
"""Seeds lie in [0, SEED_LIMIT): torch.Generator.manual_seed takes a signed 64-bit integer."""

PositiveInt = Annotated[int, Field(ge=1)]
"""An integer >= 1: a width, a dimension, a sample count (use as ``list[PositiveInt]``)."""

PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
"""A finite float > 0: a radius, a learning rate, a budget that must move something."""

NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
"""A finite float >= 0: a budget (0 means no attack), a noise level."""

REPEATS_ALLOWED = "repeats_allowed"
"""``Field(json_schema_extra={REPEATS_ALLOWED: True})`` lets a list field hold equal values
(a point's coordinates); every other list field must list distinct values."""


@dataclass(frozen=True)
class ProtocolRow:
    """One row of an experiment's protocol table (``PROTOCOL`` in the module).

    setting: what is set ("data", "initialization", "attack", ...); paper: what the paper
    says (section or equation cited); authors_code: what the authors' public code does where it
    differs from the paper ("" when there is no code or it agrees); robustlab: what the presets
    do; deviation: why robustlab differs ("" when it follows the paper).
    """

    setting: str
    paper: str
    authors_code: str
    robustlab: str
    deviation: str = ""


class ConfigError(ValueError):
    """A configuration that cannot be used: unknown field, bad value, missing preset."""


class ExperimentConfig(BaseModel):
    """Base of every experiment's ``Config``: validated, frozen, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    seeds: list[int] = Field(
        default=[0],
        description="seeds of the sweep; an integer n means range(n)",
    )
    dtype: Literal["float32", "float64"] = Field(
        default="float32", description="floating point precision of the computation"
    )
    precision: Literal["float32", "bf16-mixed"] = Field(
        default="float32",
        description=(
            "training precision: bf16-mixed takes bfloat16 matrix products with float32 "
            "weights in the learners' training steps (sgd, adversarial_training); attacks, "
            "evaluations and theory stay in dtype"
        ),
    )

    @field_validator("seeds", mode="before")
    @classmethod
    def _seeds_from_count(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 1:
                raise ValueError(f"a seed count must be >= 1, got {value}")
            return list(range(value))
        return value

    @field_validator("seeds")
    @classmethod
    def _seeds_distinct(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("seeds must not be empty")
        if len(set(value)) != len(value):
            raise ValueError(f"seeds must be distinct, got {value}")
        bad = [seed for seed in value if not 0 <= seed < SEED_LIMIT]
        if bad:
            raise ValueError(f"seeds must lie in [0, 2**63), got {bad[0]}")
        return value

    @model_serializer(mode="wrap")
    def _default_precision_unseen(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Leave ``precision`` out while it is "float32": cells, keys, config.json and the
        reproduce command of a default run stay exactly as before the field existed."""
        data = handler(self)
        if isinstance(data, dict) and data.get("precision") == "float32":
            del data["precision"]
        return data

    @model_validator(mode="after")
    def _finite_and_distinct(self) -> ExperimentConfig:
        """Refuse non-finite floats anywhere and repeated values in list fields.

        A NaN or infinite setting cannot give a meaningful answer, and a repeated swept value
        would run the same cell twice; both are found here, before the runner touches a file.
        """
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            _check_finite(value, name)
            extra = info.json_schema_extra
            repeats = isinstance(extra, dict) and bool(extra.get(REPEATS_ALLOWED))
            if isinstance(value, list) and not repeats:
                _check_distinct(value, name)
        return self


def _check_finite(value: Any, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"field {where!r} must be finite, got {value}; give a finite number")
    if isinstance(value, int) and not -SEED_LIMIT <= value < SEED_LIMIT:
        raise ValueError(f"field {where!r} must lie in [-2**63, 2**63), got {value}")
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_finite(item, f"{where}[{index}]")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_finite(item, f"{where}.{key}")
    elif isinstance(value, BaseModel):
        for key in type(value).model_fields:
            _check_finite(getattr(value, key), f"{where}.{key}")


def _check_distinct(values: list[Any], where: str) -> None:
    seen: list[Any] = []
    for item in values:
        probe = item.model_dump(mode="json") if isinstance(item, BaseModel) else item
        if probe in seen:
            raise ValueError(
                f"field {where!r} lists {probe!r} more than once; give each value once "
                "(a repeated value would run the same cells twice)"
            )
        seen.append(probe)


JSONValue = Any
"""A JSON value: None, bool, int, float, str, or lists and string-keyed dicts of them."""


def _check_json(value: Any, where: str) -> JSONValue:
    """Return ``value`` with tuples turned into lists; raise TypeError for non-JSON values."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"{where}: non-finite float {value!r} cannot be a cell parameter")
        return value
    if isinstance(value, list | tuple):
        return [_check_json(item, where) for item in value]
    if isinstance(value, Mapping) and all(isinstance(key, str) for key in value):
        return {key: _check_json(item, where) for key, item in value.items()}
    raise TypeError(
        f"{where}: cell parameters must be JSON values (bool, int, float, str, lists, dicts), "
        f"got {type(value).__name__}"
    )


class Cell(Mapping[str, JSONValue]):
    """One point of a sweep: a read-only mapping of parameter names to JSON values.

    ``cell["width"]`` reads a parameter; ``cell.seed`` is the seed (the ``seed`` parameter).
    Raises TypeError for a parameter value that is not JSON (so it can be hashed stably and
    stored as a column), KeyError when ``seed`` is missing.
    """

    __slots__ = ("_params",)

    def __init__(self, params: Mapping[str, Any]) -> None:
        if "seed" not in params:
            raise KeyError(f"a cell needs a 'seed' parameter, got {sorted(params)}")
        self._params: dict[str, JSONValue] = {
            str(name): _check_json(value, f"cell parameter {name!r}")
            for name, value in params.items()
        }

    def __getitem__(self, name: str) -> JSONValue:
        return self._params[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._params.items())
        return f"Cell({inner})"

    def __reduce__(self) -> tuple[type[Cell], tuple[dict[str, JSONValue]]]:
        return (Cell, (self._params,))

    @property
    def seed(self) -> int:
        """The cell's seed, the only source of its randomness."""
        return int(self._params["seed"])

    def to_dict(self) -> dict[str, JSONValue]:
        """A plain dict copy of the parameters."""
        return json.loads(json.dumps(self._params))  # type: ignore[no-any-return]


def grid(
    config: ExperimentConfig,
    *,
    sweep: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> list[Cell]:
    """The cells of ``config``: the product of the ``sweep`` list fields, times ``config.seeds``.

    Each cell holds one value of every swept field (under the field's name), ``seed``, and every
    other field of ``config`` except those in ``exclude``. Seeds vary slowest, so a partial run
    covers the whole grid for the first seeds. Raises ConfigError for a swept field that is not
    a list/tuple field of the config, or a name in ``exclude`` that is not a field.
    """
    fields = type(config).model_fields
    values = config.model_dump()
    for name in (*sweep, *exclude):
        if name not in fields:
            raise ConfigError(
                f"{name!r} is not a field of {type(config).__name__}; fields: " + ", ".join(fields)
            )
    for name in sweep:
        if not isinstance(values[name], list | tuple):
            raise ConfigError(
                f"swept field {name!r} must be a list, got {type(values[name]).__name__}"
            )
        if name == "seeds":
            raise ConfigError("'seeds' is swept always; do not list it in sweep")
    fixed = {
        name: value
        for name, value in values.items()
        if name not in sweep and name not in exclude and name != "seeds"
    }
    cells = []
    for seed in config.seeds:
        for combination in itertools.product(*(values[name] for name in sweep)):
            params = dict(zip(sweep, combination, strict=True))
            cells.append(Cell({**params, **fixed, "seed": seed}))
    return cells


@dataclass(frozen=True)
class CellContext:
    """Where and how a cell computes: device, floating dtype, local data folder.

    None of these enter a cell's key: a cell's rows must not depend on them beyond rounding.
    """

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    dtype: torch.dtype = torch.float32
    data_dir: Path | None = None

    @staticmethod
    def dtype_of(name: str) -> torch.dtype:
        """The torch dtype named ``name`` ("float32" or "float64"). Raises ConfigError."""
        if name not in _DTYPES:
            raise ConfigError(f"dtype must be one of {sorted(_DTYPES)}, got {name!r}")
        return _DTYPES[name]

    def generator(self, seed: int) -> torch.Generator:
        """A CPU ``torch.Generator`` seeded with ``seed``.

        Draw on the CPU and move to ``self.device``: the same seed then gives the same numbers
        on every device and backend.
        """
        return torch.Generator(device="cpu").manual_seed(int(seed))


@dataclass(frozen=True)
class Summary:
    """What ``summarize`` returns: headline figures and one verdict per theory claim."""

    headline: dict[str, Any]
    verdicts: list[Any] = field(default_factory=list)


def verdict_to_dict(verdict: Any) -> dict[str, Any]:
    """A verdict (dict or object with ``to_dict()``) as a checked dict.

    Raises ValueError when keys differ from claim/verdict/measured/predicted/reason (plus the
    optional ``settle``: for an inconsistent or inconclusive verdict, the preset or setting
    that would settle it, and ``compared``: a comparative claim's numbers by label, both shown
    by the report) or the verdict is not one of VERDICTS.
    """
    data = verdict.to_dict() if hasattr(verdict, "to_dict") else dict(verdict)
    keys = {"claim", "verdict", "measured", "predicted", "reason"}
    if set(data) - {"settle", "compared"} != keys:
        raise ValueError(f"a verdict needs exactly the keys {sorted(keys)}, got {sorted(data)}")
    if "settle" in data and not isinstance(data["settle"], str):
        raise ValueError(f"a verdict's settle must be text, got {data['settle']!r}")
    compared = data.get("compared")
    if "compared" in data and not (
        isinstance(compared, dict)
        and all(isinstance(k, str) and isinstance(v, int | float) for k, v in compared.items())
    ):
        raise ValueError(
            f"a verdict's compared must map labels to numbers, e.g. {{'agree': 3, 'of': 4}}, "
            f"got {compared!r}"
        )
    if data["verdict"] not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {data['verdict']!r}")
    return data


@dataclass(frozen=True)
class FieldInfo:
    """One config field as ``robustlab show`` prints it."""

    name: str
    type: str
    default: Any
    description: str


def type_name(annotation: Any) -> str:
    """A readable name for a type annotation: ``int``, ``list[int]``, ``'a' | 'b'``."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        base, *metadata = typing.get_args(annotation)
        bounds = [_bound(item) for item in metadata]
        text = " ".join(bound for bound in bounds if bound)
        return f"{type_name(base)} {text}" if text else type_name(base)
    if origin is Literal:
        return " | ".join(repr(value) for value in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(arg) for arg in typing.get_args(annotation))
    if origin is not None:
        args = ", ".join(type_name(arg) for arg in typing.get_args(annotation))
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{args}]" if args else name
    if annotation is type(None):
        return "None"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _bound(metadata: Any) -> str:
    """``>= 1`` for the bounds a ``Field(ge=1)`` in an ``Annotated`` carries ("" otherwise)."""
    parts = []
    for item in getattr(metadata, "metadata", [metadata]):
        for attr, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            bound = getattr(item, attr, None)
            if bound is not None:
                parts.append(f"{sign} {bound}")
    return " ".join(parts)


def _describe_error(
    experiment: str, config_type: type[ExperimentConfig], error: Mapping[str, Any]
) -> str:
    loc = error.get("loc", ())
    name = str(loc[0]) if loc else "?"
    where = ".".join(str(part) for part in loc)
    info = config_type.model_fields.get(name)
    expected = type_name(info.annotation) if info is not None else "?"
    given = error.get("input")
    if not loc:  # a check of the whole Config names its field in the message
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        return f"invalid config of experiment {experiment!r}: {message}"
    return (
        f"invalid value for field {where!r} of experiment {experiment!r}: given {given!r}; "
        f"allowed: {expected} ({error.get('msg', 'invalid')})"
    )


def _captions(module: types.ModuleType) -> dict[str, str]:
    """The module's optional ``CAPTIONS`` (figure stem -> caption), checked."""
    captions = getattr(module, "CAPTIONS", {})
    if not isinstance(captions, Mapping) or not all(
        isinstance(key, str) and isinstance(text, str) for key, text in captions.items()
    ):
        raise TypeError(f"{module.__name__}.CAPTIONS must map figure stems (str) to captions (str)")
    return dict(captions)


@dataclass(frozen=True)
class Experiment:
    """A loaded experiment module: its metadata, Config, presets and functions.

    Built by ``Experiment.from_module`` (the registry does it); the module is the source of
    truth, this is its checked, typed view.
    """

    name: str
    module: str
    paper: str
    figure: str
    description: str
    claim: str
    version: int
    hidden: bool
    config_type: type[ExperimentConfig]
    presets: Mapping[str, Mapping[str, Any]]
    cells: Callable[[Any], list[Cell]]
    run_cell: Callable[[Cell, CellContext], list[dict[str, Any]]]
    theory: Callable[[Any], dict[str, Any]]
    summarize: Callable[[pd.DataFrame, Any], Summary]
    figures: Callable[[pd.DataFrame, Any], Mapping[str, Any]]
    estimate_memory: Callable[[Any], int] | None = None
    protocol: tuple[ProtocolRow, ...] = ()
    captions: Mapping[str, str] = field(default_factory=dict)

    REQUIRED: ClassVar[tuple[str, ...]] = (
        "PAPER",
        "FIGURE",
        "VERSION",
        "Config",
        "PRESETS",
        "cells",
        "run_cell",
        "theory",
        "summarize",
        "figures",
    )

    @classmethod
    def from_module(
        cls, module: types.ModuleType, *, name: str, hidden: bool = False
    ) -> Experiment:
        """Check ``module`` against the protocol and wrap it. Raises TypeError naming what lacks."""
        missing = [attr for attr in cls.REQUIRED if not hasattr(module, attr)]
        if missing:
            raise TypeError(
                f"experiment module {module.__name__} lacks {', '.join(missing)} "
                "(see robustlab.experiments.base)"
            )
        config_type = module.Config
        if not (isinstance(config_type, type) and issubclass(config_type, ExperimentConfig)):
            raise TypeError(f"{module.__name__}.Config must subclass ExperimentConfig")
        presets = module.PRESETS
        absent = [preset for preset in REQUIRED_PRESETS if preset not in presets]
        if absent:
            raise TypeError(f"{module.__name__}.PRESETS lacks {', '.join(absent)}")
        doc = (module.__doc__ or "").strip()
        if not doc:
            raise TypeError(f"experiment module {module.__name__} needs a claim docstring")
        return cls(
            name=name,
            module=module.__name__,
            paper=str(module.PAPER),
            figure=str(module.FIGURE),
            description=doc.splitlines()[0].strip(),
            claim=doc,
            version=int(module.VERSION),
            hidden=hidden,
            config_type=config_type,
            presets={key: dict(value) for key, value in presets.items()},
            cells=module.cells,
            run_cell=module.run_cell,
            theory=module.theory,
            summarize=module.summarize,
            figures=module.figures,
            estimate_memory=getattr(module, "estimate_memory", None),
            protocol=tuple(getattr(module, "PROTOCOL", ())),
            captions=_captions(module),
        )

    def fields(self) -> list[FieldInfo]:
        """The Config fields with their types, defaults and descriptions."""
        return [
            FieldInfo(
                name=name,
                type=type_name(info.annotation),
                default=info.get_default(call_default_factory=True),
                description=info.description or "",
            )
            for name, info in self.config_type.model_fields.items()
        ]

    def config(
        self, preset: str = "quick", overrides: Mapping[str, Any] | None = None
    ) -> ExperimentConfig:
        """The validated Config: ``preset`` overridden by ``overrides``.

        Raises ConfigError naming the unknown preset or field (with the allowed ones) or the
        invalid value (with the given value and the allowed type or values).
        """
        if preset not in self.presets:
            raise ConfigError(
                f"unknown preset {preset!r} for experiment {self.name!r}; "
                f"allowed: {', '.join(self.presets)}"
            )
        overrides = dict(overrides or {})
        known = self.config_type.model_fields
        for key in overrides:
            if key not in known:
                raise ConfigError(
                    f"unknown field {key!r} for experiment {self.name!r}; "
                    f"allowed fields: {', '.join(known)}"
                )
        values = {**self.presets[preset], **overrides}
        try:
            return self.config_type(**values)
        except ValidationError as err:
            messages = [_describe_error(self.name, self.config_type, e) for e in err.errors()]
            raise ConfigError("\n".join(messages)) from None
