"""Every backend gives the same table for the same config; Ray leaves no files behind."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from robustlab.experiments import get_experiment
from robustlab.runner import BackendError, make_backend, run_experiment
from robustlab.runner.backends import CellTask, execute_cell

TOY = "toy-sphere-norms"
SMALL = {"dim": [4, 16, 64], "n_pairs": 300, "seeds": 2}


def _table(out: Path, backend: str, **kwargs: object) -> pd.DataFrame:
    toy = get_experiment(TOY)
    result = run_experiment(
        toy, toy.config("quick", SMALL), out=out, backend=backend, device="cpu", **kwargs
    )
    assert result.ran == 6
    return pd.read_parquet(out / TOY / "results.parquet")


def test_local_and_process_backends_give_identical_tables(tmp_path: Path) -> None:
    local = _table(tmp_path / "local", "local")
    process = _table(tmp_path / "process", "process", workers=2)
    assert len(local) == 12
    pd.testing.assert_frame_equal(local, process, check_exact=True)


def test_execute_cell_is_a_pure_function_of_the_cell() -> None:
    toy = get_experiment(TOY)
    cell = toy.cells(toy.config("quick", SMALL))[1]
    task = CellTask(0, TOY, toy.module, cell.to_dict())
    assert execute_cell(task).rows == execute_cell(task).rows


def test_unknown_backend_and_bad_workers_are_refused() -> None:
    with pytest.raises(ValueError, match="allowed: local, process, ray"):
        make_backend("dask")
    with pytest.raises(ValueError, match="workers must be >= 1"):
        make_backend("process", workers=0)


def test_ray_backend_matches_local_and_leaves_no_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One Ray start (~10 s on 2 cores): same table as local; no token file, env restored."""
    pytest.importorskip("ray")
    token = Path.home() / ".ray" / "auth_token"
    token_existed = token.exists()
    env_before = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    local = _table(tmp_path / "local", "local")
    ray_table = _table(tmp_path / "ray", "ray", workers=2)
    pd.testing.assert_frame_equal(local, ray_table, check_exact=True)
    assert token.exists() == token_existed
    assert {k: os.environ.get(k) for k in env_before} == env_before
    assert os.listdir(workdir) == []
    ray_files = sorted(
        p.relative_to(tmp_path / "ray").as_posix() for p in (tmp_path / "ray").rglob("*")
    )
    local_files = sorted(
        p.relative_to(tmp_path / "local").as_posix() for p in (tmp_path / "local").rglob("*")
    )
    assert ray_files == local_files
    import ray

    assert not ray.is_initialized()


def test_missing_ray_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_ray(name: str, *args: object, **kwargs: object) -> object:
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(BackendError, match=r"pip install 'robustlab\[ray\]'"):
        make_backend("ray").__enter__()
