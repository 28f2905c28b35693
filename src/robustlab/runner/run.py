"""Run one experiment end to end: plan its cells, run the missing ones, write every output."""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

import robustlab
from robustlab.experiments.base import (
    VERDICTS,
    Cell,
    ConfigError,
    Experiment,
    ExperimentConfig,
    verdict_to_dict,
)
from robustlab.learners.precision import DEFAULT_PRECISION
from robustlab.runner.backends import BACKENDS, CellTask, make_backend
from robustlab.runner.cells import cell_columns, cell_frame, cell_key
from robustlab.runner.progress import NullProgress, ProgressReporter
from robustlab.runner.resources import check_memory, resolve_device
from robustlab.runner.store import RunStore, check_writable, write_json

__all__ = [
    "RunResult",
    "plan_cells",
    "preflight",
    "reproduce_command",
    "run_experiment",
    "to_jsonable",
]

logger = logging.getLogger(__name__)

_STEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class RunResult:
    """What a run did and where it wrote: cell counts, summary, figure paths."""

    experiment: str
    root: Path
    total: int
    ran: int
    skipped: int
    summary: dict[str, Any]
    figures: list[Path]
    moved_aside: Path | None
    replaced: Path | None = None
    """Where the outputs of other settings went (``DIR/.previous/``), or None."""


def to_jsonable(value: Any) -> Any:
    """``value`` as strict JSON: numpy/torch scalars unwrapped, NaN -> None, inf -> "inf"."""
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    if isinstance(value, torch.Tensor | np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "to_dict"):
        return to_jsonable(value.to_dict())
    return str(value)


def with_precision(cell: Cell, precision: str) -> Cell:
    """``cell`` carrying the config's training ``precision`` as a parameter, unless float32.

    A float32 cell keeps exactly the parameters (and key) it had before the field existed; a
    bf16-mixed cell gets its own key, so the two never share stored results.
    """
    params = {name: value for name, value in cell.items() if name != "precision"}
    if precision != DEFAULT_PRECISION:
        params["precision"] = precision
    return cell if params == dict(cell) else Cell(params)


def plan_cells(experiment: Experiment, config: ExperimentConfig) -> list[tuple[str, Cell]]:
    """The sweep's cells with their keys. Raises ConfigError for two cells with the same key."""
    cells = [with_precision(cell, config.precision) for cell in experiment.cells(config)]
    planned = [(cell_key(experiment.name, experiment.version, cell), cell) for cell in cells]
    seen: dict[str, Cell] = {}
    for key, cell in planned:
        if key in seen:
            raise ConfigError(
                f"experiment {experiment.name!r} yields the same cell twice: {cell!r}; "
                "give each swept value once"
            )
        seen[key] = cell
    return planned


def reproduce_command(experiment: Experiment, config: ExperimentConfig, preset: str) -> str:
    """A ``robustlab run`` command giving ``config``: the preset plus a ``--set`` per change."""
    base = experiment.config(preset).model_dump(mode="json")
    words = ["robustlab", "run", experiment.name, "--preset", preset]
    for name, value in config.model_dump(mode="json").items():
        if base.get(name) != value:
            text = value if isinstance(value, str) else _json(value)
            words += ["--set", f"{name}={text}"]
    return shlex.join(words)


def _union(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The cells' tables in sweep order, with a fresh index (empty tables skipped)."""
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True, sort=False)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _concurrency(backend: str, workers: int | None) -> int:
    if backend == "local":
        return 1
    return workers or os.cpu_count() or 1


def preflight(
    experiment: Experiment,
    config: ExperimentConfig,
    *,
    backend: str = "local",
    device: str = "auto",
    workers: int | None = None,
    out: str | Path | None = None,
) -> tuple[torch.device, list[tuple[str, Cell]]]:
    """Everything checked before a run touches its folder: device, backend, cells, memory.

    Returns the device and the planned (key, cell) pairs. Raises DeviceError, ValueError
    (unknown backend, workers < 1), ConfigError (duplicate cells), ResourceError (memory
    estimate) or OutputError (``out`` given and not writable).
    """
    if out is not None:
        check_writable(Path(out) / experiment.name)
    torch_device = resolve_device(device)
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; allowed: {', '.join(BACKENDS)}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    planned = plan_cells(experiment, config)
    check_memory(
        experiment, config, concurrency=_concurrency(backend, workers), device=torch_device
    )
    return torch_device, planned


def _summary(
    experiment: Experiment,
    config: ExperimentConfig,
    table: pd.DataFrame,
    *,
    preset: str,
    n_cells: int,
) -> dict[str, Any]:
    result = experiment.summarize(table, config)
    verdicts = [to_jsonable(verdict_to_dict(verdict)) for verdict in result.verdicts]
    counts = {kind: sum(v["verdict"] == kind for v in verdicts) for kind in VERDICTS}
    return {
        "experiment": experiment.name,
        "version": experiment.version,
        "preset": preset,
        "paper": experiment.paper,
        "figure": experiment.figure,
        "n_cells": n_cells,
        "n_rows": len(table),
        "headline": to_jsonable(result.headline),
        "predictions": to_jsonable(experiment.theory(config)),
        "verdicts": verdicts,
        "verdict_counts": counts,
    }


def _figures(
    experiment: Experiment, config: ExperimentConfig, table: pd.DataFrame
) -> dict[str, Any]:
    """The experiment's figures by checked file stem (drawn, not yet saved)."""
    figures = dict(experiment.figures(table, config))
    for stem in figures:
        if not _STEM.match(stem):
            raise ValueError(
                f"figure name {stem!r} of {experiment.name!r} must be letters, digits, '_.-'"
            )
    return figures


def _save_figures(figures: Mapping[str, Any], store: RunStore) -> list[Path]:
    from robustlab.plotting import save_figure

    return [save_figure(fig, store.figures_dir / f"{stem}.png") for stem, fig in figures.items()]


def run_experiment(
    experiment: Experiment,
    config: ExperimentConfig,
    *,
    out: str | Path = "results",
    preset: str = "quick",
    backend: str = "local",
    device: str = "auto",
    fresh: bool = False,
    workers: int | None = None,
    ray_address: str | None = None,
    data_dir: str | Path | None = None,
    command: str | None = None,
    progress: ProgressReporter | None = None,
) -> RunResult:
    """Run the cells of ``config`` not yet finished under ``out/NAME`` and write every output.

    Writes ``config.json`` first, each finished cell as ``cells/<key>.parquet`` (atomically,
    as it finishes), then ``results.parquet`` (the sweep's cells in sweep order),
    ``summary.json`` and ``figures/*.png``. With ``fresh`` the folder is first moved to
    ``out/.previous/``; outputs of other settings are moved there only once the new ones are
    computed. A stored cell that fails its checks is set aside and recomputed. Everything that
    can be refused is refused before the folder is touched: raises DeviceError (device),
    ResourceError (memory estimate), ValueError (backend, workers), ConfigError (duplicate
    cells), OutputError (folder not writable); RunLockedError when another run holds the
    folder; CellError when a cell fails (finished cells stay stored); BackendError when Ray
    cannot start.
    """
    progress = progress or NullProgress()
    torch_device, planned = preflight(
        experiment, config, backend=backend, device=device, workers=workers, out=out
    )
    executor = make_backend(
        backend, workers=workers, ray_address=ray_address, device=torch_device.type
    )

    store = RunStore(Path(out) / experiment.name)
    moved = store.move_aside() if fresh else None
    if moved is not None:
        logger.info("moved the previous results of %s to %s", experiment.name, moved)

    settings = config.model_dump(mode="json")
    record = {
        "experiment": experiment.name,
        "version": experiment.version,
        "preset": preset,
        "config": settings,
        "seeds": list(config.seeds),
        "paper": experiment.paper,
        "figure": experiment.figure,
        "description": experiment.description,
        "robustlab_version": robustlab.__version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "command": command,
        "reproduce": reproduce_command(experiment, config, preset),
        "backend": backend,
        "device": str(torch_device),
        "n_cells": len(planned),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    with store.lock():
        removed = store.remove_temporaries()
        if removed:
            logger.info("removed %d partial files left by an interrupted run", removed)
        # Outputs of other settings stay, with their config.json, until this run has its own.
        replaces = not store.outputs_match(settings, experiment.version) and bool(store.outputs())
        if not replaces:
            write_json(store.config_path, record)
        columns = [cell_columns(cell) for _, cell in planned]
        checks = [(key, cell.to_dict(), columns[i]) for i, (key, cell) in enumerate(planned)]
        frames = store.load_cells(checks)
        pending = [
            CellTask(
                index=index,
                experiment=experiment.name,
                module=experiment.module,
                params=cell.to_dict(),
                device=str(torch_device),
                data_dir=str(data_dir) if data_dir is not None else None,
            )
            for index, (key, cell) in enumerate(planned)
            if key not in frames
        ]
        if pending:
            progress.start(experiment.name, total=len(planned), done=len(planned) - len(pending))
            try:
                if backend != "local":
                    logger.info(
                        "%s: starting the %s backend (%d workers; cells start once they have "
                        "loaded torch)",
                        experiment.name,
                        backend,
                        executor.concurrency,
                    )
                with executor as running:
                    for outcome in running.run(pending):
                        key, cell = planned[outcome.index]
                        frame = cell_frame(cell, outcome.rows)
                        store.write_cell(key, cell.to_dict(), columns[outcome.index], frame)
                        frames[key] = frame
                        progress.advance(cell, outcome.seconds)
            finally:
                progress.finish()
        else:
            logger.info("%s: all %d cells already finished", experiment.name, len(planned))

        table = _union([frames[key] for key, _ in planned])
        drawn = _figures(experiment, config, table)
        summary = _summary(experiment, config, table, preset=preset, n_cells=len(planned))
        summary["figures"] = [f"figures/{stem}.png" for stem in drawn]
        # Everything the new outputs need is computed: only now may the old ones move.
        replaced = store.move_outputs_aside() if replaces else None
        if replaced is not None:
            logger.warning(
                "%s: settings changed; the previous outputs were moved to %s (cells are kept)",
                experiment.name,
                replaced,
            )
            write_json(store.config_path, record)
        store.write_results(table)
        figures = _save_figures(drawn, store)
        write_json(store.summary_path, summary)

    return RunResult(
        experiment=experiment.name,
        root=store.root,
        total=len(planned),
        ran=len(pending),
        skipped=len(planned) - len(pending),
        summary=summary,
        figures=figures,
        moved_aside=moved,
        replaced=replaced,
    )
