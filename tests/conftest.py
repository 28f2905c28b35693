"""Shared fixtures: float64 generators and the local data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def _data_dir() -> Path | None:
    env = os.environ.get("ROBUSTLAB_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2] / "shared" / "data")
    for path in candidates:
        if (path / "mnist").is_dir():
            return path
    return None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder holding mnist/ and fashion-mnist/; tests that need it skip without it."""
    path = _data_dir()
    if path is None:
        pytest.skip("no local MNIST copy: set ROBUSTLAB_DATA to the folder holding mnist/")
    return path


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(1234)
