"""The HTML report: a section per run, escaped text, working relative image links."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from robustlab.experiments import get_experiment
from robustlab.report import build_report, find_runs
from robustlab.runner import run_experiment

TOY = "toy-sphere-norms"


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.anchors: list[str] = []
        self.ids: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img" and values.get("src"):
            self.images.append(str(values["src"]))
        if tag == "a" and values.get("href"):
            self.anchors.append(str(values["href"]))
        if values.get("id"):
            self.ids.append(str(values["id"]))
        if tag == "script":
            raise AssertionError("the report must not contain scripts")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two finished runs (one nested deeper), one incomplete, one moved aside, one hostile."""
    root = tmp_path_factory.mktemp("report") / "results"
    toy = get_experiment(TOY)
    config = toy.config("quick", {"dim": [4, 16], "n_pairs": 200, "seeds": 2})
    run_experiment(toy, config, out=root, device="cpu")
    run_experiment(toy, config, out=root / "sweep 2", device="cpu")
    run_experiment(toy, config, out=root, device="cpu", fresh=True)  # old one to .previous/
    incomplete = root / "half-done"
    (incomplete / "cells").mkdir(parents=True)
    (incomplete / "config.json").write_text(
        json.dumps({"experiment": "half-done", "n_cells": 5, "config": {"width": [1, 2]}})
    )
    hostile = root / "hostile"
    hostile.mkdir()
    (hostile / "config.json").write_text(
        json.dumps(
            {
                "experiment": "hostile",
                "description": "<script>alert('x')</script> & co",
                "config": {"label": '"><img src=x onerror=alert(1)>'},
                "reproduce": "robustlab run hostile --set 'a=<b>'",
            }
        )
    )
    (hostile / "summary.json").write_text(
        json.dumps(
            {
                "verdicts": [
                    {
                        "claim": "a < b",
                        "verdict": "consistent",
                        "measured": 1.0,
                        "predicted": 2.0,
                        "reason": "<b>bold</b>",
                    }
                ],
                "headline": {"<k>": "<v>"},
                "figures": [],
            }
        )
    )
    build_report(root)
    return root


def test_report_has_a_section_per_run_and_skips_previous(results: Path) -> None:
    runs = [record.folder.relative_to(results).as_posix() for record in find_runs(results)]
    assert runs == ["half-done", "hostile", "sweep 2/toy-sphere-norms", TOY]
    page = (results / "index.html").read_text()
    parser = _Collector()
    parser.feed(page)
    assert len(parser.ids) == 4
    assert sorted(a.removeprefix("#") for a in parser.anchors) == sorted(parser.ids)
    assert ".previous" not in page
    assert "Incomplete run: 0 of 5 cells finished" in page
    assert page.count('class="verdict ') == 4 * 2 + 1  # 4 toy claims x 2 runs + hostile
    assert "robustlab run toy-sphere-norms --preset quick --set" in page


def test_report_image_links_resolve_to_files(results: Path) -> None:
    parser = _Collector()
    parser.feed((results / "index.html").read_text())
    assert len(parser.images) == 2
    for src in parser.images:
        assert not src.startswith(("/", "http")), src
        assert (results / unquote(src)).is_file(), src


def test_report_escapes_all_text(results: Path) -> None:
    page = (results / "index.html").read_text()
    assert "<script>" not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "onerror=alert(1)&gt;" in page and "<img src=x" not in page
    assert "--set &#x27;a=&lt;b&gt;&#x27;" in page


def test_report_of_an_empty_folder(tmp_path: Path) -> None:
    page = build_report(tmp_path).read_text()
    assert "No results yet" in page
    with pytest.raises(FileNotFoundError, match="no results folder"):
        build_report(tmp_path / "absent")
