"""A fixed machine for planning tests: no probe runs, and no cache outside tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from robustlab.planning import probe as probe_module
from robustlab.planning.probe import MachineRate, _cache_file, cpu_model

FAKE_RATE = 1.0e11


@pytest.fixture
def machine() -> MachineRate:
    """100 GFLOP/s float32, 200 bfloat16, 10 G elementwise ops/s."""
    import torch

    return MachineRate(cpu_model(), torch.__version__, 2, FAKE_RATE, 2 * FAKE_RATE, 1e10)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty probe cache folder (ROBUSTLAB_CACHE) under tmp_path."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("ROBUSTLAB_CACHE", str(folder))
    return folder


@pytest.fixture
def cached_machine(cache: Path, machine: MachineRate) -> MachineRate:
    """The fake machine written to the cache for 1 and 2 threads, so the CLI never probes."""
    import dataclasses
    import json

    for threads in (1, 2):
        rate = dataclasses.replace(machine, threads=threads)
        path = _cache_file(threads)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(dataclasses.asdict(rate)))
    assert probe_module.cache_dir() == cache
    return machine
