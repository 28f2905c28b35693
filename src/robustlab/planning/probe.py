"""This machine's measured rates: float32 and bfloat16 matrix products, elementwise work.

`machine_rate(threads)` times a few products (about 1-2 s of CPU in all) with the number of
torch threads a run would use, and caches the result in ``$ROBUSTLAB_CACHE``, else
``$XDG_CACHE_HOME/robustlab``, else ``~/.cache/robustlab``, keyed by CPU model, torch version
and thread count. A cache file that cannot be read or does not match is ignored and rewritten;
a cache folder that cannot be written is skipped (the probe then runs every time).

Rates are measured in process CPU time and scaled by the thread count: the rate of this
machine when it is quiet. Wall time on a loaded machine is longer; the load average at the
probe is kept (`MachineRate.load`) and `robustlab plan` prints the current one beside its
estimate. (Measured on the shared 2-core machine at load 12-14: wall-clock rates of 9-17
GFLOP/s at (64 x 784 x 1e4), CPU-time rates of 99-105 GFLOP/s, steady.)
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

__all__ = [
    "PROBE_SHAPES",
    "MachineRate",
    "cache_dir",
    "cpu_model",
    "load_average",
    "machine_rate",
    "probe",
]

logger = logging.getLogger(__name__)

PROBE_SHAPES: tuple[tuple[int, int, int], ...] = (
    (64, 784, 1000),
    (64, 784, 10000),
    (1000, 784, 1000),
)
"""(n, k, m) of the timed products (n x k) @ (k x m): a minibatch against a width-1e3 and a
width-1e4 layer of MNIST inputs, and a square-ish block; the rate is their median."""

_ELEMENTS = 1 << 22  # elementwise probe: 4M float32 values, multiplied and added in place
_MIN_SECONDS = 0.08  # each shape is timed for at least this long
_VERSION = 1  # bump when the probe's method changes, so old cache files are re-measured


@dataclass(frozen=True)
class MachineRate:
    """Measured rates of one machine at one thread count.

    float32 / bfloat16: FLOP/s of matrix products (median over `PROBE_SHAPES`); elementwise:
    elementwise operations per second (an in-place multiply-add on 4M float32 values); load:
    the 1-minute load average when it was measured.
    """

    cpu: str
    torch_version: str
    threads: int
    float32: float
    bfloat16: float
    elementwise: float
    load: float = 0.0
    version: int = _VERSION


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where present, else the platform's)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def cache_dir() -> Path:
    """The probe cache: $ROBUSTLAB_CACHE, $XDG_CACHE_HOME/robustlab or ~/.cache/robustlab."""
    if os.environ.get("ROBUSTLAB_CACHE"):
        return Path(os.environ["ROBUSTLAB_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "robustlab"


def load_average() -> float:
    """The 1-minute load average (0.0 where the system does not report one)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def _timed(run: Callable[[], object], threads: int) -> float:
    """Quiet-machine seconds per call of `run`: CPU seconds / threads, after a warm-up call,
    over at least _MIN_SECONDS of CPU time (CPU time does not grow when other processes
    take the cores, so the figure does not depend on the load)."""
    run()
    calls, start = 0, time.process_time()
    while True:
        run()
        calls += 1
        elapsed = time.process_time() - start
        if elapsed >= _MIN_SECONDS * threads:
            return elapsed / threads / calls


def _matmul_rate(dtype: torch.dtype, threads: int) -> float:
    rates = []
    generator = torch.Generator().manual_seed(0)
    for n, k, m in PROBE_SHAPES:
        a = torch.randn(n, k, generator=generator).to(dtype)
        b = torch.randn(k, m, generator=generator).to(dtype)
        out = torch.empty(n, m, dtype=dtype)
        call = functools.partial(torch.mm, a, b, out=out)
        rates.append(2.0 * n * k * m / _timed(call, threads))
    return statistics.median(rates)


def probe(threads: int) -> MachineRate:
    """Measure this machine's rates with `threads` torch threads (restored afterwards)."""
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.no_grad():
            float32 = _matmul_rate(torch.float32, threads)
            bfloat16 = _matmul_rate(torch.bfloat16, threads)
            x = torch.ones(_ELEMENTS)
            elementwise = 2.0 * _ELEMENTS / _timed(lambda: x.mul_(1.0).add_(0.0), threads)
    finally:
        torch.set_num_threads(previous)
    return MachineRate(
        cpu_model(), torch.__version__, threads, float32, bfloat16, elementwise, load_average()
    )


def _cache_file(threads: int) -> Path:
    key = f"{cpu_model()}|{torch.__version__}|{threads}|{_VERSION}"
    return cache_dir() / f"probe-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"


def _read(path: Path, threads: int) -> MachineRate | None:
    """The cached rate at `path`, or None when it is missing, unreadable or for another key."""
    try:
        data = json.loads(path.read_text())
        rate = MachineRate(**data)
    except (OSError, ValueError, TypeError):
        return None
    fresh = (rate.cpu, rate.torch_version, rate.threads, rate.version) == (
        cpu_model(),
        torch.__version__,
        threads,
        _VERSION,
    )
    numbers = (rate.float32, rate.bfloat16, rate.elementwise)  # a hand-edited file may hold text
    if not fresh or not all(isinstance(v, int | float) and v > 0 for v in numbers):
        return None
    return rate


def _write(path: Path, rate: MachineRate) -> None:
    """Write the cache file atomically; a folder that cannot be written is logged and skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
            json.dump(asdict(rate), f)
        Path(f.name).replace(path)
    except OSError as err:
        logger.warning("could not cache the machine probe in %s: %s", path.parent, err)


def machine_rate(threads: int, *, refresh: bool = False) -> MachineRate:
    """This machine's rates at `threads` torch threads: cached, else probed (about 1-2 s)."""
    path = _cache_file(threads)
    cached = None if refresh else _read(path, threads)
    if cached is not None:
        return cached
    logger.info("probing this machine's matrix-product rate (%d threads, about 2 s)", threads)
    rate = probe(threads)
    _write(path, rate)
    return rate
