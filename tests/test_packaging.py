"""Install metadata: a supported torch range (the exact pin lives in the Makefile), an SPDX
licence, the citation file, and the references table that `list`, the report and README use."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

from robustlab.references import REFERENCES, reference, short_title

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_torch_is_a_range_in_the_package_and_pinned_in_the_makefile() -> None:
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    torch = next(Requirement(r) for r in project["dependencies"] if r.startswith("torch"))
    assert "2.2.0" in torch.specifier and "2.13.0" in torch.specifier
    assert "3.0.0" not in torch.specifier
    assert all(spec.operator != "==" for spec in torch.specifier)
    assert re.search(r"^TORCH \?= torch==2\.13\.0$", (ROOT / "Makefile").read_text(), re.M)


def test_licence_is_an_spdx_string_with_a_recent_setuptools() -> None:
    data = _pyproject()
    project, build = data["project"], data["build-system"]
    assert isinstance(project, dict) and isinstance(build, dict)
    assert project["license"] == "MIT" and (ROOT / "LICENSE").is_file()
    setuptools = next(Requirement(r) for r in build["requires"] if r.startswith("setuptools"))
    assert "77.0" in setuptools.specifier and "76.0" not in setuptools.specifier
    classifiers = project.get("classifiers", [])
    assert isinstance(classifiers, list)
    assert not any(str(c).startswith("License ::") for c in classifiers)


def test_citation_file_lists_the_papers_of_the_references_table() -> None:
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["license"] == "MIT"
    assert citation["version"] == _pyproject()["project"]["version"]  # type: ignore[index]
    titles = [entry["title"] for entry in citation["references"]]
    assert len(titles) == len(REFERENCES)
    for ref, title in zip(REFERENCES.values(), titles, strict=True):
        assert title.startswith(ref.title)


def test_references_table() -> None:
    assert list(REFERENCES) == ["000", "001", "002", "003", "004"]
    assert reference("001").year == 2021 and "ICML" in reference("001").venue
    assert short_title("002") == "002 Robustness at odds with lazy training"
    assert short_title("999") == "999"
    assert "Wang, Poorya Mianjy" in reference("001").citation()
    try:
        reference("999")
    except KeyError as err:
        assert "known: 000, 001" in str(err)
    else:
        raise AssertionError("an unknown paper must raise")
    papers = ROOT.parent / "shared" / "papers"
    if papers.is_dir():  # the titles are the text copies' own
        for ref in REFERENCES.values():
            text = next(papers.glob(f"{ref.paper}_*.txt")).read_text().lower()
            index = (papers / "INDEX.md").read_text().lower()
            assert ref.title.lower() in text or ref.title.lower() in index, ref.paper
