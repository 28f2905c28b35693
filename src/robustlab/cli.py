"""The ``robustlab`` command: list, show, run and report experiments.

    robustlab list [--all]
    robustlab show NAME
    robustlab run NAME|all [--preset quick|standard|paper] [--set key=value ...]
                  [--config FILE.toml]
                  [--out DIR] [--backend local|process|ray] [--device auto|cpu|cuda] [--fresh]
                  [--ray-address ADDR] [--workers N] [--data-dir DIR]
    robustlab plan NAME|all [--preset P] [--set key=value ...] [--config FILE.toml]
                   [--device auto|cpu|cuda] [--backend local|process|ray] [--workers N]
                   [--gpu-flops F] [--refresh-probe]
    robustlab report [DIR] [--single-file] [--standard FOLDER]
    robustlab --version | -h | --install-completion | --show-completion

Usage errors (unknown experiment, field, value, preset, backend or device; a config that
cannot fit in memory) exit with status 2 before any result is touched; a failing cell exits 1.
"""

from __future__ import annotations

import os

# Before torch and matplotlib load in this process and the workers it spawns: OpenMP threads
# that sleep instead of spinning (small shared CPU machines) and a display-free plot backend.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MPLBACKEND", "Agg")

import json
import logging
import math
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from robustlab import __version__
from robustlab.experiments.base import ConfigError, Experiment, ExperimentConfig
from robustlab.experiments.registry import (
    UnknownExperimentError,
    experiment_names,
    get_experiment,
    list_experiments,
)
from robustlab.references import REFERENCES, short_title


def _flags_without_type(params: list[Any]) -> list[Any]:
    """Boolean flags take no value: show ``--fresh``, not ``--fresh <bool>`` (typer's help
    prints an option's metavar, else its type; a flag's metavar is set to nothing)."""
    for param in params:
        if getattr(param, "is_flag", False) and getattr(param, "metavar", "") is None:
            param.metavar = ""
    return params


class _Command(typer.core.TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _flags_without_type(super().get_params(ctx))


class _Group(typer.core.TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _flags_without_type(super().get_params(ctx))


app = typer.Typer(
    name="robustlab",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"]},
)

USAGE_ERROR = 2
RUN_ERROR = 1
INTERRUPTED = 130
_LOG_HANDLER = "robustlab-cli"
VERDICT_STYLE = {"consistent": "green", "inconsistent": "red", "inconclusive": "yellow"}


def _stdout() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal:
        # Pipes and CI logs: one line per table row rather than wrapping at 80 columns.
        console = Console(highlight=False, width=max(console.width, 200))
    return console


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def _fail(message: str, code: int = USAGE_ERROR) -> NoReturn:
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    for line in message.splitlines() or [""]:
        console.print(f"[bold red]error:[/] {escape(line)}")
    raise typer.Exit(code)


def _experiment(name: str) -> Experiment:
    try:
        return get_experiment(name)
    except UnknownExperimentError as err:
        _fail(str(err))


def _setup_logging(console: Console) -> None:
    """Send robustlab's log records to stderr: rich on a terminal, plain lines otherwise."""
    log = logging.getLogger("robustlab")
    for old in list(log.handlers):
        if old.get_name() == _LOG_HANDLER:
            log.removeHandler(old)
    handler: logging.Handler
    if console.is_terminal:
        handler = RichHandler(console=console, show_path=False, markup=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    handler.set_name(_LOG_HANDLER)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def _print_version(value: bool) -> None:
    if value:
        import torch

        _stdout().print(f"robustlab {__version__} (torch {torch.__version__})")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the robustlab and torch versions and exit.",
        ),
    ] = False,
) -> None:
    """Reproduce the robustness experiments of two-layer networks, theory beside measurement.

    Real data sets (MNIST, Fashion-MNIST, CIFAR-10) are read from $ROBUSTLAB_DATA (or --data-dir)
    and downloaded with checksums when absent.
    """


@app.command("list", cls=_Command)
def list_command(
    all_: Annotated[
        bool, typer.Option("--all", help="Also list hidden test and example experiments.")
    ] = False,
) -> None:
    """List the experiments with the paper and figure each reproduces."""
    experiments = list_experiments(include_hidden=all_)
    console = _stdout()
    if not experiments:
        console.print("No experiments registered (robustlab list --all shows test experiments).")
        return
    table = Table("name", "paper", "figure", "description", show_lines=False)
    for experiment in experiments:
        name = experiment.name + (" (hidden)" if experiment.hidden else "")
        table.add_row(
            escape(name),
            escape(short_title(experiment.paper)),
            escape(experiment.figure),
            escape(experiment.description),
        )
    table.columns[0].no_wrap = True
    table.columns[1].no_wrap = True
    console.print(table)


def _format_value(value: Any) -> str:
    """A default or preset value as text; pydantic models (nested config parts) as their JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, default=_jsonable)


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return str(value)


@app.command(cls=_Command)
def show(
    name: Annotated[str, typer.Argument(metavar="NAME", help="An experiment name.")],
) -> None:
    """Show an experiment's claim, its config fields with defaults, and its presets."""
    experiment = _experiment(name)
    console = _stdout()
    console.print(f"[bold]{escape(experiment.name)}[/] (version {experiment.version})")
    console.print(f"paper {escape(short_title(experiment.paper))}, {escape(experiment.figure)}")
    reference = REFERENCES.get(experiment.paper)
    if reference is not None:
        console.print(escape(reference.citation()))
    console.print()
    console.print(escape(experiment.claim))
    console.print()
    fields = Table("field", "type", "default", "description", title="Config fields")
    for info in experiment.fields():
        fields.add_row(
            escape(info.name),
            escape(info.type),
            escape(_format_value(info.default)),
            escape(info.description),
        )
    fields.columns[0].no_wrap = True
    console.print(fields)
    presets = Table("preset", "settings (overrides of the defaults)", title="Presets")
    for preset, values in experiment.presets.items():
        text = ", ".join(f"{k}={_format_value(v)}" for k, v in values.items()) or "(defaults)"
        presets.add_row(escape(preset), escape(text))
    console.print(presets)
    _print_protocol(console, experiment)
    if experiment.captions:
        figures = Table("figure", "caption", title="Figures")
        for stem, caption in experiment.captions.items():
            figures.add_row(escape(stem), escape(caption))
        figures.columns[0].no_wrap = True
        console.print(figures)
    console.print(
        f"Run: robustlab run {escape(experiment.name)} --preset quick [--set FIELD=VALUE ...]"
    )


def _print_protocol(console: Console, experiment: Experiment) -> None:
    """The experiment's protocol table: paper, authors' code, robustlab, deviation."""
    if not experiment.protocol:
        console.print("Protocol: this experiment has no protocol table yet.")
        return
    table = Table(
        "setting", "paper", "authors' code", "robustlab", "deviation and why", title="Protocol"
    )
    for row in experiment.protocol:
        table.add_row(
            *(escape(text) for text in (row.setting, row.paper, row.authors_code, row.robustlab)),
            escape(row.deviation),
        )
    console.print(table)


def _invocation(words: list[str]) -> str:
    """The command as typed when run as `robustlab`/`python -m robustlab.cli`, else rebuilt."""
    program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    if program.name == "robustlab" or program.resolve() == Path(__file__).resolve():
        return shlex.join(["robustlab", *sys.argv[1:]])
    return shlex.join(["robustlab", *words])


def _print_result(console: Console, result: Any) -> None:
    summary = result.summary
    console.print(
        f"[bold]{escape(result.experiment)}[/]: {result.total} cells "
        f"({result.ran} run, {result.skipped} already finished) -> {escape(str(result.root))}"
    )
    verdicts = summary.get("verdicts", [])
    if verdicts:
        settles = [_settle(verdict) for verdict in verdicts]
        columns = ["claim", "verdict", "measured", "predicted"]
        table = Table(*columns, *(["what would settle it"] if any(settles) else []))
        for verdict, settle in zip(verdicts, settles, strict=True):
            kind = str(verdict["verdict"])
            cells = [
                escape(str(verdict["claim"])),
                f"[{VERDICT_STYLE.get(kind, 'white')}]{escape(kind)}[/]",
                escape(_short(verdict["measured"])),
                escape(_short(verdict["predicted"])),
            ]
            table.add_row(*cells, *([escape(settle)] if any(settles) else []))
        console.print(table)


def _settle(verdict: dict[str, Any]) -> str:
    """A verdict's `settle` text (what would decide it) when it is not consistent, else ''."""
    if verdict.get("verdict") == "consistent":
        return ""
    settle = verdict.get("settle")
    return "" if settle is None else str(settle)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _experiments(name: str) -> list[Experiment]:
    """The experiment `name`, or every visible one for 'all' (exit 2 when none or unknown)."""
    if name == "all":
        names = experiment_names()
        if not names:
            _fail("no experiments are registered; see robustlab list --all")
    else:
        names = [name]
    return [_experiment(n) for n in names]


def _configs(
    experiments: list[Experiment], preset: str, set_: list[str] | None, config: Path | None
) -> list[ExperimentConfig]:
    """Each experiment's Config: preset < --config file < --set (exit 2 naming a bad field)."""
    from robustlab.runner.config import load_config_file, parse_assignments, resolve_config

    sections = experiment_names(include_hidden=True)
    configs: list[ExperimentConfig] = []
    try:
        assignments = parse_assignments(set_ or [])
        for experiment in experiments:
            file_values = (
                load_config_file(config, experiment=experiment.name, sections=sections)
                if config is not None
                else {}
            )
            configs.append(
                resolve_config(
                    experiment, preset=preset, file_values=file_values, assignments=assignments
                )
            )
    except ConfigError as err:
        _fail(str(err))
    return configs


def _duration(seconds: float) -> str:
    """Seconds as text: '42 s', '3.5 min', '2.1 h', '4.0 days'."""
    if seconds < 90:
        return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _quantity(value: float, unit: str) -> str:
    """A count with an SI prefix: 1.2e13 FLOPs -> '12 TFLOP', bytes -> '1.5 GiB'."""
    binary: tuple[tuple[str, float], ...] = (("Gi", 2.0**30), ("Mi", 2.0**20), ("Ki", 2.0**10))
    decimal: tuple[tuple[str, float], ...] = (
        ("E", 1e18), ("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6),
    )  # fmt: skip
    if unit == "B":
        for prefix, size in binary:
            if value >= size:
                return f"{value / size:.3g} {prefix}B"
        return f"{value:.0f} B"
    for prefix, size in decimal:
        if value >= size:
            return f"{value / size:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def _estimate_line(plan: Any, device: str) -> str:
    """One line: cells, FLOPs, peak memory per cell and the estimated wall time."""
    cap = "at most " if plan.at_most else ""
    here = f"{cap}{_duration(plan.wall_seconds)} here"
    gpu = f"{cap}{_duration(plan.gpu_wall_seconds)} on a GPU of {plan.gpu_flops / 1e12:.3g} TFLOP/s"
    timing = f"{gpu} ({here})" if device == "cuda" else f"{here}, {gpu}"
    return (
        f"{plan.experiment}: {len(plan.cells)} cells, {cap}{_quantity(plan.total_flops, 'FLOP')}, "
        f"peak {_quantity(plan.peak_bytes, 'B')} per cell; est. {timing}"
    )


def _print_estimate(
    console: Console,
    experiment: Experiment,
    config: ExperimentConfig,
    *,
    backend: str,
    workers: int | None,
    device: str,
) -> None:
    """`robustlab run`'s one-line estimate before it starts (nothing for a model-less one)."""
    from robustlab.planning import NoCostModelError, plan_config

    try:
        plan = plan_config(experiment, config, backend=backend, workers=workers)
    except NoCostModelError:
        return
    except (KeyError, TypeError, ValueError) as err:  # a cost model behind a changed Config
        console.print(f"[yellow]estimate unavailable:[/] {escape(experiment.name)}: {err!r}")
        return
    line = _estimate_line(plan, _headline(device))
    console.print(f"estimate: {escape(line)}", soft_wrap=True)


def _headline(device: str) -> str:
    """'cuda' when the run computes on a GPU (asked for, or 'auto' with one present)."""
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return "cuda" if device == "cuda" else "cpu"


def _with_preset(experiments: list[Experiment], preset: str) -> list[Experiment]:
    """``run all --preset P``: the experiments that define P; each other one is skipped with a
    one-line notice on stderr (``standard`` exists only where quick leaves claims undecided).
    Fails when none defines P."""
    kept = [e for e in experiments if preset in e.presets]
    console = _stderr()
    for experiment in (e for e in experiments if preset not in e.presets):
        allowed = ", ".join(experiment.presets)
        console.print(
            f"skipped {experiment.name}: no preset {escape(repr(preset))} "
            f"(it has {escape(allowed)})"
        )
    if not kept:
        _fail(f"no registered experiment has a preset {preset!r}; try --preset quick")
    return kept


@app.command(cls=_Command)
def run(
    name: Annotated[str, typer.Argument(metavar="NAME|all", help="An experiment name, or 'all'.")],
    preset: Annotated[
        str,
        typer.Option(
            help="Preset: quick, standard or paper (with 'all', experiments without it are "
            "skipped)."
        ),
    ] = "quick",
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a config field: key=value (JSON or text)."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML file of config fields.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Results folder.")] = Path("results"),
    backend: Annotated[str, typer.Option(help="local, process or ray.")] = "local",
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Start over; move old results to OUT/.previous/.")
    ] = False,
    ray_address: Annotated[
        str | None, typer.Option(help="Join this Ray cluster instead of starting one.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Parallel cells (process and ray backends).")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Folder with mnist/ etc. (default: $ROBUSTLAB_DATA).")
    ] = None,
) -> None:
    """Run an experiment (or all): finished cells are kept, so an interrupted run resumes."""
    from robustlab.runner.backends import BACKENDS, BackendError, CellError
    from robustlab.runner.progress import make_progress
    from robustlab.runner.resources import DEVICES, DeviceError, ResourceError
    from robustlab.runner.run import preflight, run_experiment
    from robustlab.runner.store import OutputError, RunLockedError

    if backend not in BACKENDS:
        _fail(f"unknown backend {backend!r}; allowed: {', '.join(BACKENDS)}")
    if device not in DEVICES:
        _fail(f"unknown device {device!r}; allowed: {', '.join(DEVICES)}")
    if workers is not None and workers < 1:
        _fail(f"--workers must be >= 1, got {workers}")
    experiments = _experiments(name)
    if name == "all":
        experiments = _with_preset(experiments, preset)
    configs = _configs(experiments, preset, set_, config)
    try:
        for experiment, cfg in zip(experiments, configs, strict=True):
            preflight(experiment, cfg, backend=backend, device=device, workers=workers, out=out)
    except (ConfigError, DeviceError, ResourceError, OutputError) as err:
        _fail(str(err))

    err_console = _stderr()
    _setup_logging(err_console)
    for experiment, cfg in zip(experiments, configs, strict=True):
        _print_estimate(
            err_console, experiment, cfg, backend=backend, workers=workers, device=device
        )
    words = ["run", name, "--preset", preset]
    for item in set_ or []:
        words += ["--set", item]
    if config is not None:
        words += ["--config", str(config)]
    words += ["--out", str(out), "--backend", backend, "--device", device]
    command = _invocation(words)
    console = _stdout()
    for experiment, cfg in zip(experiments, configs, strict=True):
        try:
            result = run_experiment(
                experiment,
                cfg,
                out=out,
                preset=preset,
                backend=backend,
                device=device,
                fresh=fresh,
                workers=workers,
                ray_address=ray_address,
                data_dir=data_dir,
                command=command,
                progress=make_progress(err_console),
            )
        except (DeviceError, ResourceError, RunLockedError, OutputError) as err:
            _fail(str(err))
        except (CellError, BackendError) as err:
            _fail(str(err), RUN_ERROR)
        except OSError as err:  # the disk filled up or the folder changed under the run
            _fail(f"{experiment.name}: could not write its results: {err}", RUN_ERROR)
        except KeyboardInterrupt:
            _fail(
                f"{experiment.name} interrupted; finished cells are kept, rerun to resume",
                INTERRUPTED,
            )
        if result.moved_aside is not None:
            console.print(f"previous results moved to {escape(str(result.moved_aside))}")
        if result.replaced is not None:
            console.print(
                f"settings changed: the previous table, summary and figures moved to "
                f"{escape(str(result.replaced))}"
            )
        _print_result(console, result)


@app.command(cls=_Command)
def plan(
    name: Annotated[str, typer.Argument(metavar="NAME|all", help="An experiment name, or 'all'.")],
    preset: Annotated[str, typer.Option(help="Preset: quick, paper, ...")] = "quick",
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a config field: key=value (JSON or text)."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML file of config fields.")
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda: the headline estimate.")] = "auto",
    backend: Annotated[str, typer.Option(help="local, process or ray.")] = "local",
    workers: Annotated[
        int | None, typer.Option(help="Parallel cells (process and ray backends).")
    ] = None,
    gpu_flops: Annotated[
        float | None,
        typer.Option(help="The GPU's float32 FLOP/s (default: H100/H200 SXM, 6.7e13)."),
    ] = None,
    refresh_probe: Annotated[
        bool, typer.Option("--refresh-probe", help="Measure this machine again.")
    ] = False,
) -> None:
    """Estimate a run before it starts: cells, FLOPs, peak memory, time here and on a GPU.

    FLOPs and memory come from each experiment's cost model; time here from a short probe of
    this machine's matrix-product rate (cached) and calibrated efficiencies; the GPU time from
    --gpu-flops and stated efficiencies. "at most": early stopping can end cells sooner.
    """
    from robustlab.planning import (
        DEFAULT_GPU_FLOPS,
        NoCostModelError,
        machine_rate,
        plan_config,
        run_threads,
    )
    from robustlab.planning.probe import load_average
    from robustlab.runner.backends import BACKENDS
    from robustlab.runner.resources import DEVICES

    if backend not in BACKENDS:
        _fail(f"unknown backend {backend!r}; allowed: {', '.join(BACKENDS)}")
    if device not in DEVICES:
        _fail(f"unknown device {device!r}; allowed: {', '.join(DEVICES)}")
    if workers is not None and workers < 1:
        _fail(f"--workers must be >= 1, got {workers}")
    flops = DEFAULT_GPU_FLOPS if gpu_flops is None else gpu_flops
    if not (math.isfinite(flops) and flops > 0):
        _fail(f"--gpu-flops must be a finite number > 0 (FLOP/s, e.g. 6.7e13), got {gpu_flops}")
    experiments = _experiments(name)
    if name == "all":
        experiments = _with_preset(experiments, preset)
    configs = _configs(experiments, preset, set_, config)
    _setup_logging(_stderr())
    threads, _ = run_threads(backend)
    machine = machine_rate(threads, refresh=refresh_probe)
    console = _stdout()
    console.print(
        f"this machine: {escape(machine.cpu)}, {threads} torch thread(s) per cell; probed "
        f"float32 {machine.float32 / 1e9:.0f} GFLOP/s, bfloat16 {machine.bfloat16 / 1e9:.0f} "
        f"GFLOP/s (CPU time, i.e. a quiet machine; load now {load_average():.1f} on "
        f"{os.cpu_count()} cores: wall time grows with it)"
    )
    plans = []
    for experiment, cfg in zip(experiments, configs, strict=True):
        try:
            result = plan_config(
                experiment, cfg, backend=backend, workers=workers, gpu_flops=flops, machine=machine
            )
        except NoCostModelError as err:
            _fail(str(err))
        plans.append(result)
        _print_plan(console, result, preset)
    headline = _headline(device)
    if len(plans) > 1:
        _print_plans(console, plans, preset)
    for result in plans:
        console.print(escape(_estimate_line(result, headline)), soft_wrap=True)


def _print_plan(console: Console, plan: Any, preset: str) -> None:
    """One experiment's plan: per-cell min / median / max, the total, the dearest cell."""
    cap = " (at most: early stopping)" if plan.at_most else ""
    table = Table(
        "per cell", "min", "median", "max", "total",
        title=f"{plan.experiment} --preset {preset}: {len(plan.cells)} cells{cap}",
    )  # fmt: skip
    rows = (
        ("FLOPs", lambda c: c.cost.total_flops, plan.total_flops, "FLOP"),
        ("peak memory", lambda c: float(c.cost.peak_bytes), None, "B"),
        ("time here", lambda c: c.seconds, plan.wall_seconds, "s"),
        ("time on the GPU", lambda c: c.gpu_seconds, plan.gpu_wall_seconds, "s"),
    )
    for label, key, total, unit in rows:
        low, mid, high = plan.stats(key)
        show = _duration if unit == "s" else (lambda v, u=unit: _quantity(v, u))
        table.add_row(label, show(low), show(mid), show(high), "" if total is None else show(total))
    console.print(table)
    dearest = plan.most_expensive()
    if dearest is not None:
        varying = [
            key
            for key in dearest.params
            if len({json.dumps(c.params[key]) for c in plan.cells if key in c.params}) > 1
        ]
        where = ", ".join(f"{key}={json.dumps(dearest.params[key])}" for key in varying)
        console.print(
            f"most expensive cell: {escape(where or 'every cell alike')}: "
            f"{_quantity(dearest.cost.total_flops, 'FLOP')}, {_duration(dearest.seconds)} here",
            soft_wrap=True,
        )


def _print_plans(console: Console, plans: list[Any], preset: str) -> None:
    """The plans of several experiments side by side, with the grand total."""
    table = Table(
        "experiment", "cells", "FLOPs", "peak / cell", "time here", "GPU time",
        title=f"--preset {preset}",
    )  # fmt: skip
    for plan in plans:
        cap = "<= " if plan.at_most else ""
        table.add_row(
            escape(plan.experiment),
            str(len(plan.cells)),
            cap + _quantity(plan.total_flops, "FLOP"),
            _quantity(plan.peak_bytes, "B"),
            cap + _duration(plan.wall_seconds),
            cap + _duration(plan.gpu_wall_seconds),
        )
    table.add_row(
        "total",
        str(sum(len(p.cells) for p in plans)),
        _quantity(sum(p.total_flops for p in plans), "FLOP"),
        _quantity(max(p.peak_bytes for p in plans), "B"),
        _duration(sum(p.wall_seconds for p in plans)),
        _duration(sum(p.gpu_wall_seconds for p in plans)),
    )
    console.print(table)


@app.command(cls=_Command)
def report(
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="Results folder (default ./results).")
    ] = Path("results"),
    single_file: Annotated[
        bool,
        typer.Option(
            "--single-file",
            help="Write DIR/report.html with every image embedded: one file to share.",
        ),
    ] = False,
    standard: Annotated[
        Path | None,
        typer.Option(
            help="Also show the standard runs under this folder (e.g. docs/results/standard), "
            "each beside the same experiment's run.",
        ),
    ] = None,
) -> None:
    """Write DIR/index.html: every experiment's figures, settings, verdicts and command."""
    from robustlab.report import build_report, find_runs

    try:
        path = build_report(directory, single_file=single_file, standard=standard)
    except FileNotFoundError as err:
        _fail(str(err))
    except OSError as err:  # a read-only or full results folder: say so in one line
        _fail(f"cannot write the report into {directory}: {err.strerror or err}")
    records = find_runs(directory) + (find_runs(standard) if standard is not None else [])
    _stdout().print(f"report of {len(records)} run(s) written to {escape(str(path))}")
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    for record in records:
        for problem in record.problems:
            console.print(f"[yellow]warning:[/] {escape(str(record.folder))}: {escape(problem)}")


def main() -> None:
    """Entry point of ``python -m robustlab.cli``."""
    app()


if __name__ == "__main__":
    main()
