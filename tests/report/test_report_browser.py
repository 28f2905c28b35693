"""The report in a real headless browser (Chromium through Playwright): no broken image, no
console error, every table-of-contents link lands on its section; a screenshot of each section
is saved as a test artifact.

Slow suite. Needs ``pip install playwright`` and a Chromium (Debian: ``apt-get install
chromium``, at /usr/bin/chromium, or set ``ROBUSTLAB_CHROMIUM``); never ``playwright install``.
By default the test runs four cheap experiments; ``ROBUSTLAB_BROWSER_RESULTS=DIR`` tests the
report of an existing results folder instead (e.g. the twelve quick runs of ``make demo``).
Screenshots go to ``ROBUSTLAB_ARTIFACTS`` (default ``test-artifacts/browser`` in the project).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from robustlab.experiments import get_experiment
from robustlab.report import build_report, find_runs
from robustlab.runner import run_experiment

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHEAP = ("toy-sphere-norms", "reflected-grid", "universal-perturbation", "robust-sample-complexity")


def _chromium() -> str:
    path = os.environ.get("ROBUSTLAB_CHROMIUM") or shutil.which("chromium") or ""
    if not path or not Path(path).is_file():
        pytest.skip("no Chromium: apt-get install chromium, or set ROBUSTLAB_CHROMIUM")
    return path


@pytest.fixture(scope="module")
def artifacts() -> Path:
    folder = Path(os.environ.get("ROBUSTLAB_ARTIFACTS", ROOT / "test-artifacts" / "browser"))
    if folder.is_dir():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Finished runs, plus one broken and one incomplete run, and both report files."""
    given = os.environ.get("ROBUSTLAB_BROWSER_RESULTS")
    if given:
        root = tmp_path_factory.mktemp("browser") / "results"
        shutil.copytree(given, root, ignore=shutil.ignore_patterns("cells", ".previous"))
    else:
        root = tmp_path_factory.mktemp("browser") / "results"
        for name in CHEAP:
            experiment = get_experiment(name)
            run_experiment(experiment, experiment.config("quick"), out=root, device="cpu")
    broken = root / "broken-run"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"experiment": "broken-run", "config": "x"}))
    (broken / "summary.json").write_text(json.dumps({"figures": ["/etc/passwd"]}))
    incomplete = root / "half-done"
    (incomplete / "cells").mkdir(parents=True)
    (incomplete / "config.json").write_text(json.dumps({"experiment": "half-done", "n_cells": 3}))
    build_report(root)
    build_report(root, single_file=True)
    return root


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api")
    executable = _chromium()
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(
            executable_path=executable,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


def _open(browser: Any, path: Path) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, problems


_BROKEN_IMAGES = (
    "[...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
)


@pytest.mark.parametrize("name", ["index.html", "report.html"])
def test_no_broken_images_and_no_console_errors(browser: Any, results: Path, name: str) -> None:
    path = results / name
    if name == "report.html":  # the single file must work alone, away from the run folders
        alone = results.parent / "shared-alone"
        alone.mkdir(exist_ok=True)
        path = Path(shutil.copy(path, alone / name))
    page, problems = _open(browser, path)
    figures = sum(len(run.figures) for run in find_runs(results))
    images = page.evaluate("document.images.length")
    assert figures > 0 and images == figures
    assert page.evaluate(_BROKEN_IMAGES) == []
    assert problems == []
    page.close()


def test_table_of_contents_links_land_and_sections_are_captured(
    browser: Any, results: Path, artifacts: Path
) -> None:
    page, problems = _open(browser, results / "index.html")
    links = page.eval_on_selector_all(
        "table a[href^='#']", "as => as.map(a => a.getAttribute('href'))"
    )
    sections = page.eval_on_selector_all("section[id^='run-']", "ss => ss.map(s => s.id)")
    assert sorted(link.removeprefix("#") for link in links) == sorted(sections)
    page.screenshot(path=str(artifacts / "00-contents.png"))
    for index, link in enumerate(links, start=1):
        page.evaluate("window.scrollTo(0, 0)")
        page.click(f"table a[href='{link}']")
        page.wait_for_function(f"location.hash === '{link}'")
        top = page.evaluate(f"document.getElementById('{link[1:]}').getBoundingClientRect().top")
        at_bottom = page.evaluate(
            "Math.ceil(window.scrollY + window.innerHeight) >= document.body.scrollHeight"
        )
        assert abs(top) < 2 or (at_bottom and top >= 0), (link, top)
        page.locator(link).screenshot(path=str(artifacts / f"{index:02d}-{link[1:]}.png"))
    page.locator("#references").screenshot(path=str(artifacts / "99-references.png"))
    assert problems == []
    text = page.inner_text("body")
    assert "Broken run" in text and "is absolute" in text and "No usable summary" in text
    page.close()


def test_every_figure_has_a_caption(browser: Any, results: Path) -> None:
    page, _ = _open(browser, results / "index.html")
    captions = page.eval_on_selector_all("figure figcaption", "cs => cs.map(c => c.innerText)")
    assert captions and all(": " in caption and len(caption) > 40 for caption in captions), [
        c for c in captions if len(c) <= 40
    ]
    page.close()
