"""The HTML report: a section per run, escaped text, working relative image links."""

from __future__ import annotations

import base64
import html
import json
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from robustlab.experiments import get_experiment, list_experiments
from robustlab.references import REFERENCES
from robustlab.report import build_report, find_runs
from robustlab.report.values import number, value_html, value_text
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
    sections = [i for i in parser.ids if i.startswith("run-")]
    assert len(sections) == 4
    internal = {a.removeprefix("#") for a in parser.anchors if a.startswith("#")}
    assert internal <= set(parser.ids)
    assert set(sections) <= internal  # every section is in the table of contents
    assert ".previous" not in page
    assert "No usable summary: 0 of 5 cells finished" in page
    assert page.count('class="verdict ') == 4 * 2 + 1  # 4 toy claims x 2 runs + hostile
    assert "robustlab run toy-sphere-norms --preset quick --set" in page


def test_report_image_links_resolve_to_files(results: Path) -> None:
    parser = _Collector()
    parser.feed((results / "index.html").read_text())
    assert len(parser.images) == 2
    assert all(src.endswith(".png") for src in parser.images)
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


def test_report_links_each_runs_data_files_and_captions(results: Path) -> None:
    page = (results / "index.html").read_text()
    parser = _Collector()
    parser.feed(page)
    for name in ("results.parquet", "summary.json", "config.json"):
        link = f"{TOY}/{name}"
        assert link in parser.anchors and (results / link).is_file()
    caption = get_experiment(TOY).captions["inner_products"]
    assert html.escape(caption) in page


def test_single_file_report_embeds_every_image(results: Path) -> None:
    path = build_report(results, single_file=True)
    assert path == results / "report.html"
    parser = _Collector()
    parser.feed(path.read_text())
    assert len(parser.images) == 2
    figure = results / TOY / "figures" / "inner_products.png"
    for src in parser.images:
        head, data = src.split(",", 1)
        assert head == "data:image/png;base64"
        assert base64.b64decode(data) == figure.read_bytes()


def test_numbers_are_formatted_and_nested_values_are_tables() -> None:
    assert number(0.44575366718666903) == "0.4458"
    assert number(12.0) == "12" and number(3) == "3" and number(1234567) == "1,234,567"
    assert number(float("nan")) == "nan" and number(2.5e-9) == "2.5e-09"
    assert value_text([0.1234567, True, None, "a"]) == "0.1235, yes, , a"
    nested = value_html({"delta": {"exponent": -0.5000001, "source": "<eq. 3>"}})
    assert nested.count("<table") == 2 and "-0.5" in nested and "&lt;eq. 3&gt;" in nested
    rows = value_html([{"a": 1, "b": 2.0}, {"a": 3}])
    assert "<th>a</th><th>b</th>" in rows and rows.count("<tr>") == 3


def _run(root: Path, name: str, config: object, summary: object | None = None) -> Path:
    folder = root / name
    (folder / "figures").mkdir(parents=True)
    text = config if isinstance(config, str) else json.dumps(config)
    (folder / "config.json").write_text(text)
    if summary is not None:
        (folder / "summary.json").write_text(json.dumps(summary))
    return folder


@pytest.mark.parametrize(
    ("config", "summary", "problem"),
    [
        ({"experiment": "x", "config": "x"}, None, "config.json has invalid values (config:"),
        ("{not json", None, "config.json is not valid JSON"),
        ("[1, 2]", None, "expected a JSON object, got list"),
        ({"experiment": "x"}, {"verdict_counts": {"consistent": "many"}}, "verdict_counts"),
        ({"experiment": "x"}, {"verdicts": [1, 2]}, "summary.json has invalid values (verdicts"),
        ({"experiment": "x"}, {"verdicts": [{"claim": "c", "verdict": "maybe"}]}, "verdict"),
        ({"experiment": "x"}, {"figures": ["/etc/passwd"]}, "is absolute"),
        ({"experiment": "x"}, {"figures": ["../../secret.png"]}, "leaves the run folder"),
        ({"experiment": "x"}, {"figures": ["figures/../config.json"]}, "is not a figure"),
    ],
)
def test_a_malformed_run_is_shown_as_broken(
    tmp_path: Path, config: object, summary: object | None, problem: str
) -> None:
    """Issue 13 item 9: valid JSON with wrong values never crashes the report nor vanishes."""
    (tmp_path / "secret.png").write_bytes(b"not for the report")
    _run(tmp_path / "results", "good", {"experiment": "good"}, {"headline": {"a": 1.5}})
    _run(tmp_path / "results", "bad", config, summary)
    records = {record.folder.name: record for record in find_runs(tmp_path / "results")}
    assert records["good"].status == "finished" and not records["good"].problems
    assert records["bad"].status == "broken"
    assert any(problem in text for text in records["bad"].problems), records["bad"].problems
    assert records["bad"].figures == []
    page = build_report(tmp_path / "results").read_text()
    assert "Broken run" in page and html.escape(problem, quote=True) in page
    assert "/etc/passwd" not in page.split("Broken run")[0]  # no figure read from outside
    single = build_report(tmp_path / "results", single_file=True).read_text()
    assert base64.b64encode(b"not for the report").decode() not in single


def test_inconclusive_verdicts_say_what_would_settle_them(tmp_path: Path) -> None:
    verdicts = [
        {"claim": "c1", "verdict": "inconclusive", "measured": 1, "predicted": 2, "reason": "r"},
        {
            "claim": "c2",
            "verdict": "inconsistent",
            "measured": 1,
            "predicted": 2,
            "reason": "r",
            "settle": "--set seeds=20",
        },
        {"claim": "c3", "verdict": "consistent", "measured": 1, "predicted": 1, "reason": "r"},
    ]
    _run(tmp_path, "exp", {"experiment": "exp", "preset": "quick"}, {"verdicts": verdicts})
    page = build_report(tmp_path).read_text()
    assert "what would settle it" in page
    assert "robustlab run exp --preset paper" in page and "--set seeds=20" in page
    assert page.count("--preset paper") == 1  # not for the consistent claim


def test_every_experiment_has_captions() -> None:
    """CAPTIONS (figure stem -> caption) in every experiment module; the browser test checks
    that each figure of a real run has one."""
    for experiment in list_experiments(include_hidden=True):
        assert experiment.captions, experiment.name
        assert all(len(text) > 40 for text in experiment.captions.values()), experiment.name
    papers = {experiment.paper for experiment in list_experiments()}
    assert set(REFERENCES) <= papers  # every paper of the table is reproduced


def test_a_verdict_may_say_what_would_settle_it() -> None:
    from robustlab.experiments.base import verdict_to_dict

    good = {"claim": "c", "verdict": "inconclusive", "measured": 1, "predicted": 2, "reason": ""}
    assert verdict_to_dict({**good, "settle": "--preset paper"})["settle"] == "--preset paper"
    with pytest.raises(ValueError, match="settle must be text"):
        verdict_to_dict({**good, "settle": 3})
    with pytest.raises(ValueError, match="exactly the keys"):
        verdict_to_dict({**good, "settles": "x"})


def test_records_with_the_same_keys_become_one_matrix() -> None:
    from robustlab.report.values import mapping_html

    data = {
        "n": 3,
        "a | clean": {"ours": 0.1234567, "paper": 0.2},
        "a | pgd": {"ours": 0.5, "paper": None},
        "b | clean": {"ours": 1.0, "paper": 0.25},
        "lonely": {"x": 1.0},
    }
    page = mapping_html(data, ("quantity", "value"))
    assert page.count("<table") == 3  # key-value table (with lonely nested) + the matrix
    matrix = page[page.index("<th>ours</th>") - 40 :]
    assert "<th>quantity</th><th>ours</th><th>paper</th>" in matrix
    assert "<td>a | pgd</td>" in matrix and "0.1235" in matrix
    assert mapping_html({"a": {"x": 1}, "b": {"x": 2}}, ("k", "v")).count("<table") == 3


def test_comparative_verdicts_get_their_own_column(tmp_path: Path) -> None:
    verdicts = [
        {
            "claim": "reflected beats CE",
            "verdict": "inconsistent",
            "measured": 12.0,
            "predicted": 12.0,
            "reason": "the same counts",
            "compared": {"reflected top 1000": 12.0, "CE top 1000": 12.0},
            "settle": "`--preset paper` (800 points per axis)",
        },
        {
            "claim": "slope",
            "verdict": "consistent",
            "measured": -0.4987,
            "predicted": -0.5,
            "reason": "r",
        },
    ]
    _run(tmp_path, "exp", {"experiment": "exp", "preset": "quick"}, {"verdicts": verdicts})
    page = build_report(tmp_path).read_text()
    head = "<th>measured</th><th>predicted</th><th>compared</th><th>reason</th>"
    assert head in page
    row = page.split("reflected beats CE")[1].split("<td>slope</td>")[0]
    assert "reflected top 1000" in row and "CE top 1000" in row
    assert row.count(">12<") == 2  # once per label in the compared table, not in measured/predicted
    assert "800 points per axis" in row and "robustlab run exp --preset paper" not in page
    assert ">-0.4987<" in page  # a plain measurement stays in its column
    counts_only = [verdicts[0]]
    _run(tmp_path / "b", "exp", {"experiment": "exp"}, {"verdicts": counts_only})
    page = build_report(tmp_path / "b").read_text()
    assert "<th>verdict</th><th>compared</th><th>reason</th>" in page  # no empty columns


def test_old_summaries_without_compared_render_as_before(tmp_path: Path) -> None:
    verdicts = [
        {"claim": "c", "verdict": "inconsistent", "measured": 11, "predicted": 12, "reason": "r"}
    ]
    _run(tmp_path, "exp", {"experiment": "exp", "preset": "quick"}, {"verdicts": verdicts})
    page = build_report(tmp_path).read_text()
    assert "<th>compared</th>" not in page
    assert "<th>measured</th><th>predicted</th><th>reason</th>" in page
    assert ">11<" in page and ">12<" in page


def test_a_verdict_may_compare_numbers_by_label() -> None:
    from robustlab.experiments.base import verdict_to_dict

    good = {"claim": "c", "verdict": "inconclusive", "measured": 1, "predicted": 2, "reason": ""}
    assert verdict_to_dict({**good, "compared": {"agree": 1, "of": 2}})["compared"] == {
        "agree": 1,
        "of": 2,
    }
    with pytest.raises(ValueError, match="compared must map labels to numbers"):
        verdict_to_dict({**good, "compared": {"agree": "one"}})
    with pytest.raises(ValueError, match="compared must map labels to numbers"):
        verdict_to_dict({**good, "compared": [1, 2]})
