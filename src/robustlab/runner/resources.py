"""Devices and memory: resolve ``--device`` and refuse configs that cannot fit, before any work."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from robustlab.experiments.base import Experiment, ExperimentConfig

__all__ = [
    "DEVICES",
    "DeviceError",
    "ResourceError",
    "available_memory",
    "check_memory",
    "format_bytes",
    "resolve_device",
]

DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")


class DeviceError(ValueError):
    """A device that is unknown or not available here."""


class ResourceError(ValueError):
    """A config whose estimated memory exceeds what is available."""


def resolve_device(name: str) -> torch.device:
    """``auto``: cuda when available, else cpu; ``cpu``; ``cuda`` (DeviceError when absent)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError("--device cuda was given but no CUDA device is available here")
        return torch.device("cuda")
    raise DeviceError(f"unknown device {name!r}; allowed: {', '.join(DEVICES)}")


def available_memory(meminfo: str | Path = "/proc/meminfo") -> int:
    """Bytes of host memory available to a new process (MemAvailable, else free pages)."""
    try:
        for line in Path(meminfo).read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))


def format_bytes(count: float) -> str:
    """``1536`` -> ``'1.5 KiB'``."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1024
    raise AssertionError("unreachable")


def check_memory(
    experiment: Experiment,
    config: ExperimentConfig,
    *,
    concurrency: int,
    device: torch.device,
    available: int | None = None,
) -> int | None:
    """Refuse ``config`` when ``estimate_memory`` x ``concurrency`` exceeds the free memory.

    Checks host memory (or the free memory of the CUDA device when ``device`` is cuda; the host
    otherwise). Returns the per-cell estimate in bytes, or None when the experiment gives none.
    Raises ResourceError with the estimate and what is available.
    """
    if experiment.estimate_memory is None:
        return None
    per_cell = int(experiment.estimate_memory(config))
    if available is None:
        if device.type == "cuda":
            available = int(torch.cuda.mem_get_info(device)[0])
        else:
            available = available_memory()
    where = "GPU" if device.type == "cuda" else "host"
    total = per_cell * max(1, concurrency)
    if total > available:
        raise ResourceError(
            f"experiment {experiment.name!r} needs an estimated {format_bytes(per_cell)} per cell"
            f" x {concurrency} concurrent cell(s) = {format_bytes(total)}, but only "
            f"{format_bytes(available)} of {where} memory is available; reduce the largest "
            "sizes (width, dimension, samples) or --workers"
        )
    return per_cell
