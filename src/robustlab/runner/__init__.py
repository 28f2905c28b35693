"""The runner: sweeps of cells, the resumable result store, backends, progress.

``run_experiment(experiment, config, out=..., backend=...)`` runs what is missing of a sweep
and writes ``config.json``, ``cells/*.parquet``, ``results.parquet``, ``summary.json`` and
``figures/*.png`` under ``out/NAME``.
"""

from robustlab.runner.backends import (
    BACKENDS,
    BackendError,
    CellError,
    LocalBackend,
    ProcessBackend,
    RayBackend,
    make_backend,
)
from robustlab.runner.cells import cell_frame, cell_key
from robustlab.runner.config import (
    Assignment,
    load_config_file,
    parse_assignments,
    resolve_config,
)
from robustlab.runner.progress import LogProgress, NullProgress, RichProgress, make_progress
from robustlab.runner.resources import (
    DEVICES,
    DeviceError,
    ResourceError,
    available_memory,
    check_memory,
    resolve_device,
)
from robustlab.runner.run import RunResult, plan_cells, reproduce_command, run_experiment
from robustlab.runner.store import CellCheckError, OutputError, RunLockedError, RunStore

__all__ = [
    "BACKENDS",
    "DEVICES",
    "Assignment",
    "BackendError",
    "CellCheckError",
    "CellError",
    "DeviceError",
    "LocalBackend",
    "LogProgress",
    "NullProgress",
    "OutputError",
    "ProcessBackend",
    "RayBackend",
    "ResourceError",
    "RichProgress",
    "RunLockedError",
    "RunResult",
    "RunStore",
    "available_memory",
    "cell_frame",
    "cell_key",
    "check_memory",
    "load_config_file",
    "make_backend",
    "make_progress",
    "parse_assignments",
    "plan_cells",
    "reproduce_command",
    "resolve_config",
    "resolve_device",
    "run_experiment",
]
