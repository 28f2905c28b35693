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
    Experiment,
    ExperimentConfig,
    verdict_to_dict,
)
from robustlab.runner.backends import BACKENDS, CellTask, make_backend
from robustlab.runner.cells import cell_frame, cell_key
from robustlab.runner.progress import NullProgress, ProgressReporter
from robustlab.runner.resources import check_memory, resolve_device
from robustlab.runner.store import RunStore, write_json

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


def plan_cells(experiment: Experiment, config: ExperimentConfig) -> list[tuple[str, Cell]]:
    """The sweep's cells with their keys. Raises ValueError for two cells with the same key."""
    cells = experiment.cells(config)
    planned = [(cell_key(experiment.name, experiment.version, cell), cell) for cell in cells]
    seen: dict[str, Cell] = {}
    for key, cell in planned:
        if key in seen:
            raise ValueError(
                f"experiment {experiment.name!r} yields the same cell twice: {cell!r}; "
                "every cell needs distinct parameters"
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
) -> tuple[torch.device, list[tuple[str, Cell]]]:
    """Everything checked before a run touches its folder: device, backend, cells, memory.

    Returns the device and the planned (key, cell) pairs. Raises DeviceError, ValueError
    (unknown backend, workers < 1, duplicate cells) or ResourceError (memory estimate).
    """
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


def _save_figures(
    experiment: Experiment, config: ExperimentConfig, table: pd.DataFrame, store: RunStore
) -> list[Path]:
    from robustlab.plotting import save_figure

    paths = []
    for stem, fig in experiment.figures(table, config).items():
        if not _STEM.match(stem):
            raise ValueError(
                f"figure name {stem!r} of {experiment.name!r} must be letters, digits, '_.-'"
            )
        paths.append(save_figure(fig, store.figures_dir / f"{stem}.png"))
    return paths


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
    ``out/.previous/``. Everything that can be refused is refused before the folder is touched:
    raises DeviceError (device), ResourceError (memory estimate), ValueError (backend,
    workers, duplicate cells); RunLockedError when another run holds the folder; CellError
    when a cell fails (finished cells stay stored); BackendError when Ray cannot start.
    """
    progress = progress or NullProgress()
    torch_device, planned = preflight(
        experiment, config, backend=backend, device=device, workers=workers
    )
    executor = make_backend(
        backend, workers=workers, ray_address=ray_address, device=torch_device.type
    )

    store = RunStore(Path(out) / experiment.name)
    moved = store.move_aside() if fresh else None
    if moved is not None:
        logger.info("moved the previous results of %s to %s", experiment.name, moved)

    with store.lock():
        removed = store.remove_temporaries()
        if removed:
            logger.info("removed %d partial files left by an interrupted run", removed)
        if store.discard_outputs_unless(config.model_dump(mode="json"), experiment.version):
            logger.info(
                "%s: settings changed; old table, summary and figures removed "
                "(their cells are kept)",
                experiment.name,
            )
        write_json(
            store.config_path,
            {
                "experiment": experiment.name,
                "version": experiment.version,
                "preset": preset,
                "config": config.model_dump(mode="json"),
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
            },
        )
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
            if not store.is_finished(key)
        ]
        if pending:
            if backend != "local":
                logger.info("%s: starting the %s backend", experiment.name, backend)
            with executor as running:
                progress.start(
                    experiment.name, total=len(planned), done=len(planned) - len(pending)
                )
                try:
                    for outcome in running.run(pending):
                        key, cell = planned[outcome.index]
                        store.write_cell(key, cell_frame(cell, outcome.rows))
                        progress.advance(cell, outcome.seconds)
                finally:
                    progress.finish()
        else:
            logger.info("%s: all %d cells already finished", experiment.name, len(planned))

        table = store.read_cells([key for key, _ in planned])
        store.write_results(table)
        figures = _save_figures(experiment, config, table, store)
        summary = _summary(experiment, config, table, preset=preset, n_cells=len(planned))
        summary["figures"] = [path.relative_to(store.root).as_posix() for path in figures]
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
    )
