"""Re-judge a committed result folder with today's claims, from its own table.

    python tools/resummarize.py docs/results/standard/NAME [--note "..."]

Reads the folder's ``config.json`` (experiment, preset, settings) and ``results.parquet``,
summarizes the table again with the experiment's current ``summarize`` and rewrites
``summary.json`` (the figures list kept). No cell is recomputed, so a change to the claims (not
to the measurements) reaches a committed result without a rerun. With ``--note`` the line is
appended to the folder's ``RUN.md``. Prints the verdicts whose outcome changed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from robustlab.experiments.registry import get_experiment
from robustlab.runner.run import _summary
from robustlab.runner.store import write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--note", default=None, help="a line appended to RUN.md")
    args = parser.parse_args()
    folder: Path = args.folder
    record = json.loads((folder / "config.json").read_text())
    experiment = get_experiment(record["experiment"])
    config = experiment.config_type(**record["config"])
    table = pd.read_parquet(folder / "results.parquet")
    old = json.loads((folder / "summary.json").read_text())
    new = _summary(experiment, config, table, preset=record["preset"], n_cells=old["n_cells"])
    new["figures"] = old.get("figures", [])
    write_json(folder / "summary.json", new)
    before = {v["claim"]: v["verdict"] for v in old["verdicts"]}
    for verdict in new["verdicts"]:
        was = before.get(verdict["claim"], "(new claim)")
        if was != verdict["verdict"]:
            print(f"{verdict['claim']}: {was} -> {verdict['verdict']}")
    print(f"verdicts: {old['verdict_counts']} -> {new['verdict_counts']}")
    if args.note:
        run_md = folder / "RUN.md"
        run_md.write_text(run_md.read_text().rstrip("\n") + f"\n- {args.note}\n")


if __name__ == "__main__":
    main()
