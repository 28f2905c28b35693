"""The documentation site: generated pages (experiments, papers, tutorials) and a strict build."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from robustlab.experiments import get_experiment, list_experiments
from robustlab.experiments.base import ProtocolRow

ROOT = Path(__file__).resolve().parents[1]


def _hooks() -> ModuleType:
    pytest.importorskip("mkdocs")
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "tools" / "docs_hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_experiment_page_has_claim_protocol_figures_and_settings() -> None:
    hooks = _hooks()
    experiment = get_experiment("poisoning-loss")
    row = ProtocolRow("budget", "S = C sqrt(n) | eq. 5", "", "C = 800 at n = 60000", "")
    page = hooks.experiment_page(dataclasses.replace(experiment, protocol=(row,)))
    assert page.startswith("# poisoning-loss\n") and experiment.description in page
    assert "| budget | S = C sqrt(n) \\| eq. 5 |" in page  # pipes escaped in a table cell
    assert "Robust Learning for Data Poisoning Attacks" in page
    figures = sorted((ROOT / "docs" / "figures" / "poisoning-loss").glob("*.png"))
    assert figures, "commit the quick run's figures (tools/update_docs_figures.py)"
    for png in figures:
        assert f"](../figures/poisoning-loss/{png.name})" in page
        assert experiment.captions[png.stem] in page
    assert "| n_train |" in page and "| quick |" in page


def test_committed_figures_belong_to_experiments_and_have_captions() -> None:
    """docs/figures/<name>/ (tools/update_docs_figures.py): every PNG is captioned; an
    experiment without committed figures gets a page that says how to add them."""
    hooks = _hooks()
    experiments = {e.name: e for e in list_experiments()}
    folders = [f for f in (ROOT / "docs" / "figures").iterdir() if f.is_dir()]
    assert len(folders) >= 12
    for folder in folders:
        assert folder.name in experiments, folder.name
        stems = {png.stem for png in folder.glob("*.png")}
        assert stems and stems <= set(experiments[folder.name].captions), (folder.name, stems)
    missing = dataclasses.replace(experiments["poisoning-loss"], name="not-yet-run")
    assert "No committed figures yet" in hooks.experiment_page(missing)


def test_tutorials_are_the_examples() -> None:
    hooks = _hooks()
    page = hooks.tutorial_page(ROOT / "examples" / "attack.py")
    assert page.startswith("# README attack example")
    assert (ROOT / "examples" / "attack.py").read_text() in page


@pytest.mark.slow
def test_site_builds_strict(tmp_path: Path) -> None:
    """`make docs`: mkdocs --strict fails on a broken link or reference (about 40 s)."""
    pytest.importorskip("mkdocs")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "experiments" / "poisoning-loss" / "index.html").is_file()
    assert "TwoLayerNet" in (tmp_path / "api" / "models" / "index.html").read_text()


def test_readme_cli_examples_are_quoted_and_name_the_data_folder() -> None:
    """zsh expands unquoted brackets: every --set value with brackets is quoted."""
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    commands = [line for block in blocks for line in block.splitlines() if "robustlab " in line]
    assert any("--set" in line for line in commands)
    for line in commands:
        for value in re.findall(r"--set\s+(\S+)", line):
            assert "[" not in value or value[0] in "'\"", line
    cli_section = readme[readme.index("## Experiments") :]
    assert cli_section.index("ROBUSTLAB_DATA") < cli_section.index("robustlab list")
