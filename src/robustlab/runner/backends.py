"""Backends that run cells: in process (``local``), a process pool (``process``), Ray (``ray``).

A backend takes picklable ``CellTask``s and yields a ``CellOutcome`` per cell as cells finish,
in any order; the driver alone writes results, so every backend fills the same store with the
same rows. Cells must be pure functions of their parameters (see ``robustlab.experiments.base``).
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import importlib
import logging
import logging.handlers
import multiprocessing
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol

import torch

from robustlab.experiments.base import Cell, CellContext
from robustlab.experiments.registry import load_experiment
from robustlab.learners.precision import DEFAULT_PRECISION, training_precision
from robustlab.runner.cells import normalize_rows

__all__ = [
    "BACKENDS",
    "BACKEND_RTOL",
    "Backend",
    "BackendError",
    "CellError",
    "CellOutcome",
    "CellTask",
    "LocalBackend",
    "ProcessBackend",
    "RayBackend",
    "execute_cell",
    "make_backend",
]

logger = logging.getLogger(__name__)

BACKEND_RTOL = 1e-5
"""Relative tolerance between the tables of different backends for the same config.

The local backend computes with min(2, cores) torch threads, process and Ray workers with one:
float32 reductions then round differently (at most 2.1e-6 relative measured on
random-net-single-step; tests/runner/test_runner_tolerance.py checks this bound). Non-float
columns and verdicts are identical. Cells that reduce nothing in parallel (the toy
experiment) are bit-identical.
"""

BackendName = Literal["local", "process", "ray"]
BACKENDS: tuple[str, ...] = ("local", "process", "ray")
RAY_TASK_RETRIES = 3  # reruns of a cell whose Ray worker or node died (not of its errors)


class BackendError(RuntimeError):
    """A backend that cannot start (e.g. Ray not installed, cluster unreachable)."""


class CellError(RuntimeError):
    """A cell whose ``run_cell`` raised; the message names the experiment and the cell."""


@dataclass(frozen=True)
class CellTask:
    """One cell to run, in a form every backend can ship to a worker."""

    index: int
    experiment: str
    module: str
    params: dict[str, Any]
    device: str = "cpu"
    data_dir: str | None = None


@dataclass(frozen=True)
class CellOutcome:
    """The rows of one finished cell and the seconds its ``run_cell`` took."""

    index: int
    rows: list[dict[str, Any]]
    seconds: float


def execute_cell(task: CellTask) -> CellOutcome:
    """Run one cell in the current process: load its experiment, build its context, call it.

    The cell's ``precision`` parameter (absent: float32) is the learners' default inside it."""
    experiment = load_experiment(task.module, name=task.experiment)
    cell = Cell(task.params)
    ctx = CellContext(
        device=torch.device(task.device),
        dtype=CellContext.dtype_of(str(cell.get("dtype", "float32"))),
        data_dir=Path(task.data_dir) if task.data_dir else None,
    )
    start = time.perf_counter()
    with training_precision(str(cell.get("precision", DEFAULT_PRECISION))):
        rows = normalize_rows(experiment.run_cell(cell, ctx))
    return CellOutcome(task.index, rows, time.perf_counter() - start)


def _describe(task: CellTask) -> str:
    params = ", ".join(f"{k}={v!r}" for k, v in task.params.items())
    return f"cell ({params}) of experiment {task.experiment!r}"


class Backend(Protocol):
    """Runs cells; use as a context manager so pools and clusters are released."""

    name: str
    concurrency: int

    def __enter__(self) -> Backend: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None: ...

    def run(self, tasks: Sequence[CellTask]) -> Iterator[CellOutcome]:
        """Yield each task's outcome as it finishes. Raises CellError on the first failure."""
        ...


class LocalBackend:
    """Cells one after another in this process, with min(2, cores) torch threads."""

    name = "local"
    concurrency = 1

    def __init__(self) -> None:
        self._threads = torch.get_num_threads()

    def __enter__(self) -> LocalBackend:
        self._threads = torch.get_num_threads()
        torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        torch.set_num_threads(self._threads)

    def run(self, tasks: Sequence[CellTask]) -> Iterator[CellOutcome]:
        """Run the tasks in order. Raises CellError naming the first cell that fails."""
        for task in tasks:
            try:
                outcome = execute_cell(task)
            except Exception as err:
                raise CellError(f"{_describe(task)} failed: {err!r}") from err
            yield outcome


_PR_SET_PDEATHSIG = 1
_WATCH_SECONDS = 0.5


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(1)
        time.sleep(_WATCH_SECONDS)


def _die_with_parent(parent: int) -> None:
    """End this worker when the process that started it dies, even by SIGKILL.

    On Linux the kernel sends SIGKILL on the parent's death (prctl PR_SET_PDEATHSIG); a
    daemon thread that watches the parent id covers other systems and a parent that died
    before the signal was armed.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError) as err:  # no prctl: the watcher alone
            logger.debug("prctl(PR_SET_PDEATHSIG) unavailable: %s", err)
    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(
        target=_watch_parent, args=(parent,), name="robustlab-parent-watch", daemon=True
    ).start()


class _WorkerLogHandler(logging.handlers.QueueHandler):
    """Send a worker's log records to the driver, marked with the worker's process id."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record = super().prepare(record)
        record.msg = f"[worker {os.getpid()}] {record.msg}"
        return record


def _init_worker(parent: int, log_queue: Any) -> None:
    torch.set_num_threads(1)
    _die_with_parent(parent)
    log = logging.getLogger("robustlab")
    log.handlers[:] = [_WorkerLogHandler(log_queue)]
    log.setLevel(logging.INFO)
    log.propagate = False


class _Forward(logging.Handler):
    """Hand a record from a worker to the driver's logger of the same name."""

    def emit(self, record: logging.LogRecord) -> None:
        target = logging.getLogger(record.name)
        if target.isEnabledFor(record.levelno):
            target.handle(record)


class ProcessBackend:
    """Cells in a pool of ``workers`` fresh ('spawn') processes with one torch thread each.

    Workers die with the driver (even when it is killed with SIGKILL) and their log records
    (logger ``robustlab``, INFO and above) are forwarded to the driver's loggers.
    """

    name = "process"

    def __init__(self, workers: int | None = None) -> None:
        self.concurrency = workers or os.cpu_count() or 1
        if self.concurrency < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._listener: logging.handlers.QueueListener | None = None

    def __enter__(self) -> ProcessBackend:
        context = multiprocessing.get_context("spawn")
        log_queue = context.Queue()
        self._listener = logging.handlers.QueueListener(log_queue, _Forward())
        self._listener.start()
        self._pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=self.concurrency,
            mp_context=context,
            initializer=_init_worker,
            initargs=(os.getpid(), log_queue),
        )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=error is None, cancel_futures=True)
            self._pool = None
        if self._listener is not None:
            self._listener.stop()
            self._listener = None

    def run(self, tasks: Sequence[CellTask]) -> Iterator[CellOutcome]:
        """Submit every task; yield outcomes as they complete. Raises CellError on a failure."""
        if self._pool is None:
            raise RuntimeError("use ProcessBackend as a context manager")
        futures = {self._pool.submit(execute_cell, task): task for task in tasks}
        try:
            for future in concurrent.futures.as_completed(futures):
                task = futures[future]
                try:
                    outcome = future.result()
                except Exception as err:
                    raise CellError(f"{_describe(task)} failed: {err!r}") from err
                yield outcome
        finally:
            for future in futures:
                future.cancel()


def _ray_execute(task: CellTask) -> CellOutcome:
    torch.set_num_threads(1)
    return execute_cell(task)


def _refresh_ray_auth() -> None:
    """Make an imported Ray re-read RAY_AUTH_MODE / RAY_AUTH_TOKEN from the environment."""
    try:
        raylet: Any = importlib.import_module("ray._raylet")
        raylet.Config.initialize("")
        raylet.AuthenticationTokenLoader.instance().reset_cache()
    except Exception as err:  # private API: a Ray without it has nothing to refresh
        logger.debug("could not refresh Ray's authentication settings: %s", err)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise BackendError(
            "the ray backend needs Ray, which is not installed: pip install 'robustlab[ray]' "
            "(or choose --backend local or process)"
        ) from err
    return ray


class RayBackend:
    """Each cell a Ray task (1 CPU, and 1 GPU when the device is cuda).

    With ``address`` it joins that cluster; otherwise it starts a local one with ``workers``
    CPUs (all cores by default), no dashboard, no worker logs on the driver, and token
    authentication whose token stays in this process's environment (no token file is written).
    A cluster it started is shut down on exit.
    """

    name = "ray"

    def __init__(
        self, *, address: str | None = None, workers: int | None = None, device: str = "cpu"
    ) -> None:
        self.address = address
        self.workers = workers
        self.device = device
        self.concurrency = workers or os.cpu_count() or 1
        self._ray: Any = None
        self._started = False
        self._saved_env: dict[str, str | None] = {}

    def __enter__(self) -> RayBackend:
        imported = sys.modules.get("ray")
        if imported is not None and imported.is_initialized():
            self._ray = imported
            return self
        if not self.address:
            self._set_env("RAY_USAGE_STATS_ENABLED", "0")
            if os.environ.get("RAY_AUTH_MODE") is None:
                # Ray's default writes a token to ~/.ray/auth_token; keep it in memory instead.
                self._set_env("RAY_AUTH_MODE", "token")
                if not os.environ.get("RAY_AUTH_TOKEN"):
                    self._set_env("RAY_AUTH_TOKEN", secrets.token_hex(32))
        try:
            ray = _import_ray()
            if imported is not None:
                _refresh_ray_auth()  # Ray read the auth settings when it was first imported
            self._ray = ray
            quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
            if self.address:
                ray.init(address=self.address, **quiet)
            else:
                ray.init(num_cpus=self.workers, include_dashboard=False, **quiet)
        except BackendError:
            self._restore_env()
            raise
        except Exception as err:
            self._restore_env()
            where = f"cluster at {self.address}" if self.address else "a local cluster"
            raise BackendError(f"could not start Ray ({where}): {err}") from err
        self._started = True
        resources = ray.cluster_resources()
        self.concurrency = max(1, int(resources.get("CPU", self.concurrency)))
        return self

    def _set_env(self, name: str, value: str) -> None:
        self._saved_env.setdefault(name, os.environ.get(name))
        os.environ[name] = value

    def _restore_env(self) -> None:
        if not self._saved_env:
            return
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}
        if "ray" in sys.modules:
            _refresh_ray_auth()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False
        self._restore_env()

    def run(self, tasks: Sequence[CellTask]) -> Iterator[CellOutcome]:
        """Submit every task to Ray; yield outcomes as they complete. Raises CellError."""
        ray = self._ray
        if ray is None:
            raise RuntimeError("use RayBackend as a context manager")
        gpus = 1 if self.device.startswith("cuda") else 0
        # Cells are pure, so a task lost with its worker or node is rerun elsewhere; an
        # exception raised by run_cell is not retried (retry_exceptions stays False).
        remote = ray.remote(_ray_execute).options(
            num_cpus=1, num_gpus=gpus, max_retries=RAY_TASK_RETRIES, retry_exceptions=False
        )
        pending = {remote.remote(task): task for task in tasks}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    task = pending.pop(ref)
                    try:
                        outcome = ray.get(ref)
                    except Exception as err:
                        raise CellError(f"{_describe(task)} failed: {err}") from err
                    yield outcome
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)


def make_backend(
    name: str,
    *,
    workers: int | None = None,
    ray_address: str | None = None,
    device: str = "cpu",
) -> LocalBackend | ProcessBackend | RayBackend:
    """The backend called ``name`` ("local", "process" or "ray"). Raises ValueError otherwise."""
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if name == "local":
        return LocalBackend()
    if name == "process":
        return ProcessBackend(workers)
    if name == "ray":
        return RayBackend(address=ray_address, workers=workers, device=device)
    raise ValueError(f"unknown backend {name!r}; allowed: {', '.join(BACKENDS)}")
