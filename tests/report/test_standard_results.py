"""Committed standard results (issue 10 section 3): the report's ``--standard`` sections, the
docs site's "Standard results" page, and ``run all --preset standard``."""

from __future__ import annotations

import importlib.util
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from urllib.parse import unquote

import pytest
from typer.testing import CliRunner

from robustlab.cli import app
from robustlab.experiments import get_experiment, list_experiments
from robustlab.experiments.base import Experiment
from robustlab.report import STANDARD_DIR, build_report, standard_results_page
from robustlab.runner import run_experiment

TOY = "toy-sphere-norms"
ROOT = Path(__file__).resolve().parents[2]
RUN_MD = """# toy-sphere-norms, standard preset

```bash
# a comment inside a fence stays a comment
robustlab run toy-sphere-norms --preset standard --out /tmp/std-toy
```

- wall time: 12 s
"""


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.ids: list[str] = []
        self.anchors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img" and values.get("src"):
            self.images.append(str(values["src"]))
        if tag == "a" and values.get("href"):
            self.anchors.append(str(values["href"]))
        if values.get("id"):
            self.ids.append(str(values["id"]))


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A quick run under results/ and a committed-style standard folder elsewhere: the run
    folder without its cells, plus RUN.md; one more standard run of an experiment that has no
    quick run, and a standard folder with no summary (an unfinished run)."""
    base = tmp_path_factory.mktemp("standard")
    toy = get_experiment(TOY)
    quick = toy.config("quick", {"dim": [4, 16], "n_pairs": 100, "seeds": 1})
    run_experiment(toy, quick, out=base / "results", device="cpu")
    scratch = base / "scratch"
    bigger = toy.config("quick", {"dim": [4, 16, 64], "n_pairs": 100, "seeds": 2})
    run_experiment(toy, bigger, out=scratch, device="cpu")
    standard = base / "docs" / "results" / "standard"
    shutil.copytree(scratch / TOY, standard / TOY, ignore=shutil.ignore_patterns("cells"))
    (standard / TOY / "RUN.md").write_text(RUN_MD)
    other = standard / "other-experiment"
    shutil.copytree(scratch / TOY, other, ignore=shutil.ignore_patterns("cells"))
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "experiment": "other-experiment"}))
    unfinished = standard / "unfinished"
    unfinished.mkdir()
    (unfinished / "config.json").write_text(json.dumps({"experiment": "unfinished"}))
    return base / "results", standard


def test_report_shows_each_standard_run_beside_the_quick_run(folders: tuple[Path, Path]) -> None:
    results, standard = folders
    page = build_report(results, standard=standard).read_text()
    parser = _Images()
    parser.feed(page)
    sections = [i for i in parser.ids if i.startswith("run-")]
    # quick toy, then its standard run, then the standard runs without a quick run
    assert sections == [
        f"run-0-{TOY}",
        f"run-1-{TOY}",
        "run-2-other-experiment",
        "run-3-unfinished",
    ]
    assert {f"#{s}" for s in sections} <= set(parser.anchors)
    assert page.count("— standard preset") == 3
    assert "How it was run (RUN.md)" in page and "wall time: 12 s" in page
    assert "No RUN.md" in page  # the other two standard folders have none
    # the standard figures live outside results/ and still resolve from index.html
    assert len(parser.images) == 3
    for src in parser.images:
        assert (results / unquote(src)).resolve().is_file(), src
    assert sum("../docs/results/standard/" in src for src in parser.images) == 2
    # without --standard the page is the quick run alone
    plain = build_report(results).read_text()
    assert "standard preset" not in plain and "RUN.md" not in plain


def test_report_single_file_embeds_the_standard_figures(folders: tuple[Path, Path]) -> None:
    results, standard = folders
    page = build_report(results, single_file=True, standard=standard).read_text()
    parser = _Images()
    parser.feed(page)
    assert len(parser.images) == 3
    assert all(src.startswith("data:image/png;base64,") for src in parser.images)


def test_report_refuses_a_missing_standard_folder(folders: tuple[Path, Path]) -> None:
    results, standard = folders
    with pytest.raises(FileNotFoundError, match="no standard results folder"):
        build_report(results, standard=standard / "absent")
    outcome = CliRunner().invoke(app, ["report", str(results), "--standard", str(standard / "x")])
    assert outcome.exit_code == 2 and "no standard results folder" in outcome.output


def test_cli_report_with_standard(folders: tuple[Path, Path]) -> None:
    results, standard = folders
    outcome = CliRunner().invoke(app, ["report", str(results), "--standard", str(standard)])
    assert outcome.exit_code == 0, outcome.output
    assert "report of 4 run(s)" in outcome.output
    assert "— standard preset" in (results / "index.html").read_text()


def test_docs_page_lists_command_wall_time_verdicts_and_figures(
    folders: tuple[Path, Path],
) -> None:
    _, standard = folders
    page = standard_results_page(standard, link="results/standard", experiment_pages="experiments")
    assert page.startswith("# Standard results\n")
    assert f"| [{TOY}](#{TOY}) | {TOY} | 4 | 0 | 0 |" in page
    assert f"## {TOY}\n" in page and "## other-experiment\n" in page
    # RUN.md inside the section: headings demoted, fenced lines untouched
    assert "#### toy-sphere-norms, standard preset" in page
    assert "# a comment inside a fence stays a comment" in page
    assert "#### a comment" not in page
    assert "wall time: 12 s" in page
    assert "*No summary.json: the run did not finish.*" in page
    assert f"Claim and protocol: [{TOY}](experiments/{TOY}.md)." in page
    # the verdict table and one figure link per committed PNG, relative to the page
    assert "| claim | verdict | measured vs predicted | reason | what would settle it |" in page
    assert page.count("| **consistent** |") == 8
    pngs = sorted((standard / TOY / "figures").glob("*.png"))
    assert pngs
    captions = get_experiment(TOY).captions
    for png in pngs:
        assert f"](results/standard/{TOY}/figures/{png.name})" in page
        assert f"*{png.stem}*: {captions[png.stem]}" in page


def test_docs_page_without_results_says_so(tmp_path: Path) -> None:
    page = standard_results_page(tmp_path / "none", link="results/standard")
    assert "No standard results are committed yet." in page


def _hooks() -> ModuleType:
    pytest.importorskip("mkdocs")
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "tools" / "docs_hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_hook_generates_the_standard_results_page() -> None:
    """The hook builds the page from this checkout's docs/results/standard; every committed
    folder appears with its figures, and every experiment page names its standard preset."""
    hooks = _hooks()
    page = standard_results_page(
        ROOT / STANDARD_DIR, link="results/standard", experiment_pages="experiments"
    )
    committed = sorted(p.parent for p in (ROOT / STANDARD_DIR).glob("*/summary.json"))
    for folder in committed:
        assert f"## {folder.name}\n" in page
        assert (folder / "RUN.md").is_file(), f"{folder} has no RUN.md"
        for png in (folder / "figures").glob("*.png"):
            assert f"](results/standard/{folder.name}/figures/{png.name})" in page
    for experiment in list_experiments():
        text = hooks.experiment_page(experiment)
        has_preset = "--preset standard\n" in text
        assert has_preset == ("standard" in experiment.presets), experiment.name


def test_every_standard_preset_validates_and_plans_cells() -> None:
    for experiment in list_experiments(include_hidden=True):
        if "standard" not in experiment.presets:
            continue
        config = experiment.config("standard")
        assert experiment.cells(config), experiment.name


def test_run_all_skips_experiments_without_the_preset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Each experiment without a standard preset gets a one-line notice; the others run."""
    import robustlab.cli as cli

    ran: list[str] = []

    def fake_preflight(experiment: object, *args: object, **kwargs: object) -> None:
        return None

    def fake_run(experiment: Experiment, *args: object, **kwargs: object) -> object:
        ran.append(experiment.name)
        raise KeyboardInterrupt

    monkeypatch.setattr("robustlab.runner.run.preflight", fake_preflight)
    monkeypatch.setattr("robustlab.runner.run.run_experiment", fake_run)
    outcome = CliRunner().invoke(
        cli.app, ["run", "all", "--preset", "standard", "--out", str(tmp_path)]
    )
    with_preset = [e.name for e in list_experiments() if "standard" in e.presets]
    without = [e.name for e in list_experiments() if "standard" not in e.presets]
    assert with_preset, "no registered experiment has a standard preset"
    assert ran == with_preset[:1]  # the first one ran (and was interrupted here)
    for name in without:
        assert f"skipped {name}: no preset 'standard'" in outcome.output
    for name in with_preset:
        assert f"skipped {name}:" not in outcome.output
    nowhere = CliRunner().invoke(cli.app, ["run", "all", "--preset", "nope", "--out", "x"])
    assert nowhere.exit_code == 2
    assert "no registered experiment has a preset 'nope'" in nowhere.output


def test_settle_texts_name_presets_that_exist() -> None:
    """A settle text that points to ``--preset P`` points to a preset the experiment has."""
    import importlib
    import re

    from robustlab.experiments.registry import ENTRIES

    for entry in ENTRIES:
        module = importlib.import_module(entry.module)
        presets = set(module.PRESETS)
        for fragment, text in getattr(module, "SETTLE", {}).items():
            for preset in re.findall(r"--preset (\w+)", text):
                assert preset in presets, (entry.name, fragment, preset)
