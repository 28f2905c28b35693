"""The machine probe and its cache: missing folder, corrupt or stale file, unwritable folder."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from robustlab.planning import probe as probe_module
from robustlab.planning.probe import MachineRate, _cache_file, machine_rate, probe


def _fake_probe(calls: list[int], machine: MachineRate) -> object:
    def fake(threads: int) -> MachineRate:
        calls.append(threads)
        return dataclasses.replace(machine, threads=threads)

    return fake


def test_probe_measures_positive_rates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe_module, "_MIN_SECONDS", 0.005)
    rate = probe(1)
    assert rate.threads == 1
    assert rate.float32 > 1e8 and rate.bfloat16 > 1e8 and rate.elementwise > 1e7
    with pytest.raises(ValueError, match="threads must be >= 1, got 0"):
        probe(0)


def test_missing_folder_is_created_and_the_second_call_reads_the_cache(
    cache: Path, machine: MachineRate, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(probe_module, "probe", _fake_probe(calls, machine))
    assert not cache.exists()
    first = machine_rate(2)
    assert cache.is_dir() and _cache_file(2).is_file()
    second = machine_rate(2)
    assert calls == [2] and first == second
    machine_rate(1)  # another thread count is another key
    assert calls == [2, 1]


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        json.dumps({"cpu": "x"}),
        "",
    ],
)
def test_corrupt_cache_file_is_ignored_and_rewritten(
    cache: Path, machine: MachineRate, monkeypatch: pytest.MonkeyPatch, content: str
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(probe_module, "probe", _fake_probe(calls, machine))
    path = _cache_file(2)
    path.parent.mkdir(parents=True)
    path.write_text(content)
    assert machine_rate(2).float32 == machine.float32
    assert calls == [2]
    assert json.loads(path.read_text())["float32"] == machine.float32


def test_stale_or_absurd_cache_entries_are_measured_again(
    cache: Path, machine: MachineRate, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(probe_module, "probe", _fake_probe(calls, machine))
    path = _cache_file(2)
    path.parent.mkdir(parents=True)
    for stale in (
        dataclasses.replace(machine, threads=2, torch_version="0.0"),
        dataclasses.replace(machine, threads=2, float32=-1.0),
        dataclasses.replace(machine, threads=2, version=0),
    ):
        path.write_text(json.dumps(dataclasses.asdict(stale)))
        machine_rate(2)
    assert calls == [2, 2, 2]


def test_refresh_measures_again(
    cache: Path, machine: MachineRate, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(probe_module, "probe", _fake_probe(calls, machine))
    machine_rate(2)
    machine_rate(2, refresh=True)
    assert calls == [2, 2]


def test_unwritable_cache_folder_still_gives_a_rate(
    tmp_path: Path, machine: MachineRate, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ROBUSTLAB_CACHE", str(blocker / "cache"))
    calls: list[int] = []
    monkeypatch.setattr(probe_module, "probe", _fake_probe(calls, machine))
    assert machine_rate(2).float32 == machine.float32
    assert machine_rate(2).float32 == machine.float32
    assert calls == [2, 2]  # nothing cached, so it probes each time


def test_cache_folder_follows_xdg_when_robustlab_cache_is_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ROBUSTLAB_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert probe_module.cache_dir() == tmp_path / "robustlab"
