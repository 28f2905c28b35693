"""The process backend: workers die with their driver (issue 13 item 6), their log lines reach
the driver and progress starts before the first cell (issue 14)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from robustlab.experiments import load_experiment
from robustlab.runner import run_experiment

TOY = "toy-sphere-norms"

LOGGING_EXPERIMENT = '''
"""A test experiment whose cells log a line."""
import logging
from robustlab.experiments.base import ExperimentConfig, Summary, grid
PAPER, FIGURE, VERSION = "none", "none", 1
class Config(ExperimentConfig):
    width: list[int] = [1, 2]
PRESETS = {"quick": {}, "paper": {}}
def cells(config):
    return grid(config, sweep=("width",))
def run_cell(cell, ctx):
    logging.getLogger("robustlab.test_worker").info("hello from width %d", cell["width"])
    return [{"value": cell["width"] * 2.0}]
def theory(config):
    return {}
def summarize(table, config):
    return Summary(headline={"n": len(table)})
def figures(table, config):
    return {}
'''


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class _Events:
    def __init__(self) -> None:
        self.events: list[str] = []

    def start(self, experiment: str, *, total: int, done: int) -> None:
        self.events.append(f"start {total} {done}")

    def advance(self, params: Mapping[str, Any], seconds: float) -> None:
        self.events.append("advance")

    def finish(self) -> None:
        self.events.append("finish")


@pytest.mark.slow
def test_worker_log_lines_reach_the_driver_and_progress_starts_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "logging_experiment.py").write_text(textwrap.dedent(LOGGING_EXPERIMENT))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), *sys.path]))
    experiment = load_experiment("logging_experiment", name="logging-test")
    collect = _Collect()
    log = logging.getLogger("robustlab")
    log.addHandler(collect)
    old_level = log.level
    log.setLevel(logging.INFO)
    events = _Events()
    try:
        result = run_experiment(
            experiment,
            experiment.config("quick"),
            out=tmp_path / "out",
            backend="process",
            workers=2,
            device="cpu",
            progress=events,
        )
    finally:
        log.removeHandler(collect)
        log.setLevel(old_level)
        sys.modules.pop("logging_experiment", None)
    assert result.ran == 2
    forwarded = [m for m in collect.messages if "hello from width" in m]
    lines = sorted(m.split("] ")[1] for m in forwarded)
    assert lines == ["hello from width 1", "hello from width 2"]
    assert all(m.startswith("[worker ") for m in forwarded)
    assert events.events == ["start 2 0", "advance", "advance", "finish"]
    started = next(
        index
        for index, message in enumerate(collect.messages)
        if message.startswith(f"{experiment.name}: starting the process backend (2 workers")
    )
    assert started < collect.messages.index(forwarded[0])


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("PPid:") and int(line.split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in state


DRIVER = """
import sys
from robustlab.experiments import get_experiment
from robustlab.runner import run_experiment
toy = get_experiment("toy-sphere-norms")
config = toy.config("quick", {"dim": [4, 8, 16, 32], "n_pairs": 50, "sleep_seconds": 30.0})
run_experiment(toy, config, out=sys.argv[1], backend="process", workers=2, device="cpu")
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_sigkill_of_the_driver_ends_its_workers(tmp_path: Path) -> None:
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(tmp_path / "out")],
        env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
        start_new_session=True,
    )
    children: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            children = _children(driver.pid)
            workers = [pid for pid in children if b"spawn_main" in _cmdline(pid)]
            if len(workers) == 2 and (tmp_path / "out" / TOY / "config.json").exists():
                break
            time.sleep(0.2)
        assert len(children) >= 2, "the workers never started"
        time.sleep(3.0)  # let the workers import torch and arm their parent-death watch
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(map(_alive, children)):
            time.sleep(0.2)
        left = [pid for pid in children if _alive(pid)]
        assert not left, f"still alive after the driver's SIGKILL: {left}"
    finally:
        for pid in children:  # only the processes this test started, should they be left
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if driver.poll() is None:
            driver.kill()


def _cmdline(pid: int) -> bytes:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes()
    except OSError:
        return b""
