"""Copy the PNG figures of finished runs into docs/figures/<experiment>/ for the site.

    python tools/update_docs_figures.py [RESULTS]   # default: results (from `make demo`)

Only PNGs listed in each run's summary.json are copied; old ones of that experiment are removed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from robustlab.report import find_runs

DOCS = Path(__file__).resolve().parents[1] / "docs" / "figures"


def main(results: str = "results") -> int:
    runs = [run for run in find_runs(results) if run.status == "finished"]
    if not runs:
        print(f"no finished runs under {results}", file=sys.stderr)
        return 2
    for run in runs:
        target = DOCS / run.name
        if target.is_dir():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for figure in run.figures:
            if figure.suffix == ".png" and figure.is_file():
                shutil.copyfile(figure, target / figure.name)
        print(f"{run.name}: {len(list(target.glob('*.png')))} figure(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:2]))
