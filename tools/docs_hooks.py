"""MkDocs hooks: pages generated at build time from the package, so the site cannot drift.

* ``experiments/<name>.md`` for every registered experiment: the claim (module docstring), the
  paper it reproduces, the protocol table, the config fields and presets, and the figures of the
  committed quick run (``docs/figures/<name>/<stem>.png``, refreshed by
  ``tools/update_docs_figures.py``) with their captions;
* ``experiments/index.md``, the list; ``references.md``, the papers table;
* ``standard-results.md``: every committed standard run under ``docs/results/standard/NAME/``
  (how it was run, verdicts, figures; ``robustlab.report.standard``);
* ``tutorials/<example>.md`` for every script in ``examples/``: its docstring and its code.

Referenced from ``mkdocs.yml`` (``hooks:``); ``make docs`` builds the site with ``--strict``.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # document this checkout, whatever the venv points at

from robustlab.experiments import list_experiments  # noqa: E402
from robustlab.experiments.base import Experiment  # noqa: E402
from robustlab.references import REFERENCES, short_title  # noqa: E402
from robustlab.report.standard import (  # noqa: E402
    STANDARD_DIR,
    markdown_cell,
    markdown_table,
    standard_results_page,
)

FIGURES = ROOT / "docs" / "figures"
EXAMPLES = ROOT / "examples"


_cell = markdown_cell
_table = markdown_table


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, default=lambda v: getattr(v, "model_dump", lambda: str(v))())


def experiment_page(experiment: Experiment) -> str:
    """The markdown page of one experiment."""
    claim = experiment.claim.split("\n", 1)
    reference = REFERENCES.get(experiment.paper)
    parts = [
        f"# {experiment.name}\n",
        f"**{claim[0].strip()}**\n",
        (claim[1].strip() + "\n") if len(claim) > 1 else "",
        f"Paper: [{short_title(experiment.paper)}](../references.md#paper-{experiment.paper})"
        + (f", {reference.citation()}" if reference is not None else "")
        + f" Reproduces: {experiment.figure}.\n",
        "```bash\n"
        f"robustlab show {experiment.name}\n"
        f"robustlab run {experiment.name} --preset quick\n"
        + (
            f"robustlab run {experiment.name} --preset standard\n"
            if "standard" in experiment.presets
            else ""
        )
        + f"robustlab run {experiment.name} --preset paper\n```\n",
        _standard_note(experiment),
        "## Protocol\n",
    ]
    if experiment.protocol:
        rows = [
            [row.setting, row.paper, row.authors_code, row.robustlab, row.deviation]
            for row in experiment.protocol
        ]
        header = ["setting", "paper", "authors' code", "robustlab", "deviation and why"]
        parts.append(_table(header, rows))
    else:
        parts.append("This experiment has no protocol table yet (`PROTOCOL` in its module).\n")
    parts.append("## Figures (quick preset)\n")
    folder = FIGURES / experiment.name
    pngs = sorted(folder.glob("*.png")) if folder.is_dir() else []
    if not pngs:
        parts.append(
            "No committed figures yet: `robustlab run "
            f"{experiment.name} --preset quick`, then `python tools/update_docs_figures.py`.\n"
        )
    for png in pngs:
        caption = experiment.captions.get(png.stem, png.stem)
        parts.append(f"![{_cell(caption)}](../figures/{experiment.name}/{png.name})\n")
        parts.append(f"*{png.stem}*: {caption}\n")
    parts.append("## Settings\n")
    fields = [[f.name, f.type, _value(f.default), f.description] for f in experiment.fields()]
    parts.append(_table(["field", "type", "default", "description"], fields))
    presets = [
        [name, ", ".join(f"{k}={_value(v)}" for k, v in values.items()) or "(defaults)"]
        for name, values in experiment.presets.items()
    ]
    parts.append(_table(["preset", "overrides of the defaults"], presets))
    return "\n".join(part for part in parts if part)


def _standard_note(experiment: Experiment) -> str:
    """A link to the experiment's committed standard run, when there is one."""
    if not (ROOT / STANDARD_DIR / experiment.name / "summary.json").is_file():
        return ""
    anchor = experiment.name.lower()
    return f"Its committed standard run: [Standard results](../standard-results.md#{anchor}).\n"


def experiments_index(experiments: list[Experiment]) -> str:
    rows = [
        [f"[{e.name}]({e.name}.md)", short_title(e.paper), e.figure, e.description]
        for e in experiments
    ]
    return (
        "# Experiments\n\nEach experiment is one command; its page gives the claim, the protocol "
        "against the paper's, the figures of the quick run and every setting.\n\n"
        + _table(["experiment", "paper", "reproduces", "claim"], rows)
    )


def references_page() -> str:
    parts = [
        "# Papers\n",
        "The five papers robustlab reproduces (`robustlab.references.REFERENCES`). Fields the "
        "papers' own text does not give are left empty.\n",
    ]
    for ref in REFERENCES.values():
        parts.append(f"## {short_title(ref.paper)} {{#paper-{ref.paper}}}\n")
        rows = [
            ["title", ref.title],
            ["authors", ref.authors],
            ["venue", ref.venue],
            ["year", ref.year or ""],
            ["link", ref.link],
            ["authors' code", ref.code],
            ["note", ref.note],
        ]
        parts.append(_table(["", ""], [row for row in rows if row[1]]))
    return "\n".join(parts)


def tutorial_page(script: Path) -> str:
    """An example script as a tutorial: its docstring as the text, then the code to run."""
    source = script.read_text()
    doc = ast.get_docstring(ast.parse(source)) or script.stem
    title, _, rest = doc.partition("\n")
    return (
        f"# {title.strip()}\n\n{rest.strip()}\n\n"
        f"Run it from the project root (MNIST from `ROBUSTLAB_DATA`):\n\n"
        f"```bash\npython examples/{script.name}\n```\n\n"
        f"```python\n{source}```\n"
    )


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """List every registered experiment's page under "Experiments" in the navigation."""
    for entry in config.nav or []:
        if isinstance(entry, dict) and "Experiments" in entry:
            entry["Experiments"] = ["experiments/index.md"] + [
                {e.name: f"experiments/{e.name}.md"} for e in list_experiments()
            ]
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated pages to the site."""
    experiments = list_experiments()
    pages = {
        "experiments/index.md": experiments_index(experiments),
        "references.md": references_page(),
        "standard-results.md": standard_results_page(
            ROOT / STANDARD_DIR, link="results/standard", experiment_pages="experiments"
        ),
    }
    for experiment in experiments:
        pages[f"experiments/{experiment.name}.md"] = experiment_page(experiment)
    for script in sorted(EXAMPLES.glob("*.py")):
        pages[f"tutorials/{script.stem}.md"] = tutorial_page(script)
    for uri, content in pages.items():
        files.append(File.generated(config, uri, content=content))
    return files
