"""The Ray backend on a real multi-node cluster: a head and two worker nodes on this machine.

Each node is its own ``ray start --block`` process (one CPU, 127.0.0.1, its own temp dir and
ports) in its own session, so ``kill -9`` of that session's processes is the loss of a whole node
(raylet, agents and the worker running a cell). The sweep goes through the CLI with
``--backend ray --ray-address``; one worker node is killed while it runs a cell, and the sweep
must still finish (Ray retries the lost task on a surviving node) with the table of a local run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TOY = "toy-sphere-norms"
# 9 cells of >= 4 s each: enough for a node to be killed while it runs one.
SETS = ["dim=[4, 16, 64]", "n_pairs=300", "seeds=3", "sleep_seconds=4.0"]
START_TIMEOUT = 180.0
SWEEP_TIMEOUT = 420.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ray_executable() -> str:
    ray = Path(sys.executable).with_name("ray")
    if not ray.exists():
        pytest.skip("the ray command is not installed next to this Python")
    return str(ray)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
    )
    env.update(
        RAY_USAGE_STATS_ENABLED="0",
        OMP_NUM_THREADS="1",
        # A node that stops answering is declared dead after ~3 s instead of ~30 s.
        RAY_health_check_period_ms="1000",
        RAY_health_check_timeout_ms="1000",
        RAY_health_check_failure_threshold="3",
    )
    env.pop("RAY_ADDRESS", None)
    env.pop("RAY_AUTH_MODE", None)
    env.pop("RAY_AUTH_TOKEN", None)
    return env


def _state(pid: int) -> str:
    """The one-letter state of a process ("Z" for a zombie), "" when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


@dataclass
class Node:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """kill -9 every process of this node: its ``ray start``, raylet, agents and workers."""
        for _ in range(5):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
        self.process.wait(timeout=30)

    def pids(self) -> list[int]:
        """Live processes of this node's session (Ray gives each worker its own group)."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    pid = int(entry.name)
                    if os.getsid(pid) == self.process.pid and _state(pid) != "Z":
                        found.append(pid)
                except (ProcessLookupError, PermissionError):
                    continue
        return found

    def running_cell(self) -> bool:
        """True when a Ray worker of this node is executing a cell (its title names the task)."""
        for pid in self.pids():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "ray::_ray_execute" in cmd and "IDLE" not in cmd:
                return True
        return False


def _start_node(ray: str, name: str, root: Path, env: dict[str, str], head: str | None) -> Node:
    temp = root / name
    temp.mkdir()
    log = root / f"{name}.log"
    ports = {
        "--node-manager-port": _free_port(),
        "--object-manager-port": _free_port(),
        "--metrics-export-port": _free_port(),
        "--dashboard-agent-listen-port": _free_port(),
        "--dashboard-agent-grpc-port": _free_port(),
        "--runtime-env-agent-port": _free_port(),
    }
    args = [ray, "start", "--block", "--num-cpus=1", "--num-gpus=0"]
    args += ["--node-ip-address=127.0.0.1", f"--temp-dir={temp}", "--disable-usage-stats"]
    args += [f"{flag}={port}" for flag, port in ports.items()]
    if head is None:
        args += ["--head", f"--port={_free_port()}", "--include-dashboard=false"]
    else:
        args += [f"--address={head}"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Node(name, process, log)


def _head_address(node: Node) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        text = node.log.read_text(errors="replace")
        for line in text.splitlines():
            if "ray start --address=" in line:
                return line.split("--address=")[1].strip().strip("'\"")
        if not node.alive():
            raise AssertionError(f"the head node exited:\n{text}")
        time.sleep(0.5)
    raise AssertionError(f"the head node did not start in {START_TIMEOUT} s")


def _wait_for_cpus(address: str, cpus: int, env: dict[str, str]) -> None:
    probe = (
        "import ray, sys, time\n"
        f"ray.init(address={address!r}, logging_level='ERROR', log_to_driver=False)\n"
        f"deadline = time.monotonic() + {START_TIMEOUT}\n"
        f"while ray.cluster_resources().get('CPU', 0) < {cpus}:\n"
        "    if time.monotonic() > deadline: sys.exit('nodes did not join')\n"
        "    time.sleep(0.5)\n"
    )
    subprocess.run([sys.executable, "-c", probe], env=env, check=True, timeout=START_TIMEOUT + 60)


@pytest.fixture
def cluster(request: pytest.FixtureRequest) -> Iterator[tuple[str, list[Node], dict[str, str]]]:
    """A head and two worker nodes, one CPU each; every node is killed in the finalizer."""
    ray = _ray_executable()
    # Ray's socket paths must stay under ~107 bytes: a short root, not pytest's tmp_path.
    root = Path(tempfile.mkdtemp(prefix="rlray-", dir="/tmp"))
    env = _env()
    nodes: list[Node] = []

    def stop() -> None:
        for node in nodes:
            node.kill()
        shutil.rmtree(root, ignore_errors=True)

    request.addfinalizer(stop)
    nodes.append(_start_node(ray, "head", root, env, None))
    address = _head_address(nodes[0])
    for name in ("worker1", "worker2"):
        nodes.append(_start_node(ray, name, root, env, address))
    _wait_for_cpus(address, 3, env)
    yield address, nodes, env


def _cli(out: Path, *extra: str) -> list[str]:
    args = [sys.executable, "-m", "robustlab.cli", "run", TOY, "--out", str(out)]
    for item in SETS:
        args += ["--set", item]
    return [*args, "--device", "cpu", *extra]


def test_sweep_survives_the_loss_of_a_worker_node(
    cluster: tuple[str, list[Node], dict[str, str]], tmp_path: Path
) -> None:
    address, nodes, env = cluster
    victim = nodes[1]
    started = time.monotonic()
    with (tmp_path / "ray.log").open("wb") as log:
        sweep = subprocess.Popen(
            _cli(tmp_path / "ray", "--backend", "ray", "--ray-address", address),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    try:
        deadline = time.monotonic() + SWEEP_TIMEOUT
        while not victim.running_cell():
            assert sweep.poll() is None, "the sweep ended before a cell ran on worker1"
            assert time.monotonic() < deadline, "no cell ever ran on worker1"
            time.sleep(0.2)
        victim.kill()
        assert not victim.alive() and victim.pids() == []
        rc = sweep.wait(timeout=SWEEP_TIMEOUT)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    seconds = time.monotonic() - started
    output = (tmp_path / "ray.log").read_text(errors="replace")
    assert rc == 0, f"the sweep failed after the node was killed (rc {rc}):\n{output}"
    print(f"ray sweep with one node killed: {seconds:.1f} s")

    local = subprocess.run(
        _cli(tmp_path / "local", "--backend", "local"),
        env=env,
        capture_output=True,
        cwd=tmp_path,
        timeout=SWEEP_TIMEOUT,
    )
    assert local.returncode == 0, local.stdout.decode() + local.stderr.decode()
    ray_table = pd.read_parquet(tmp_path / "ray" / TOY / "results.parquet")
    local_table = pd.read_parquet(tmp_path / "local" / TOY / "results.parquet")
    assert len(local_table) == 18
    pd.testing.assert_frame_equal(local_table, ray_table, check_exact=True)
