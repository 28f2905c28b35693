"""Merge finished runs of one experiment whose settings differ only in one list field.

    python tools/merge_runs.py OUT RUN_FOLDER RUN_FOLDER [...] [--field widths]

Each RUN_FOLDER is a finished run's experiment folder (``--out DIR`` gives ``DIR/NAME``). Their
``config.json`` settings must agree on every field but ``--field`` (default ``widths``), whose
values are joined; rows measured by more than one run (a value of the field in several runs) must
be equal there, which shows that the runs share data, poison and initializations, and are kept
once. OUT/NAME then gets ``config.json`` (the joined settings, with ``merged_from``),
``results.parquet``, ``summary.json`` (the experiment's current claims) and the figures, as a
run of the joined settings would write them, but without recomputing a cell. For sweeps whose
cells hold every value of the field (poisoning-width trains every width in one cell), so that a
wider or narrower grid would otherwise recompute everything.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pandas as pd

from robustlab.experiments.registry import get_experiment
from robustlab.runner.run import _figures, _save_figures, _summary
from robustlab.runner.store import RunStore, write_json


def _records(folders: list[Path]) -> list[dict[str, Any]]:
    records = [json.loads((f / "config.json").read_text()) for f in folders]
    kinds = {(r["experiment"], r["version"]) for r in records}
    if len(kinds) != 1:
        raise SystemExit(f"runs of different experiments or versions: {sorted(kinds)}")
    return records


def _joined(records: list[dict[str, Any]], field: str) -> dict[str, Any]:
    """The common settings with `field` joined; exits naming any other field that differs."""
    first = {k: v for k, v in records[0]["config"].items() if k != field}
    for record in records[1:]:
        other = {k: v for k, v in record["config"].items() if k != field}
        differ = sorted(k for k in first.keys() | other.keys() if first.get(k) != other.get(k))
        if differ:
            raise SystemExit(f"the runs differ in {differ}, not only in {field!r}")
    values = sorted({v for r in records for v in r["config"][field]})
    return {**records[0]["config"], field: values}


def _table(folders: list[Path], keys: list[str], field: str) -> pd.DataFrame:
    """The runs' rows, each key once; exits if rows two runs measured differ (timings aside)."""
    tables = [pd.read_parquet(f / "results.parquet").drop(columns=[field]) for f in folders]
    merged = tables[0]
    for table in tables[1:]:
        both = merged.merge(table, on=keys, suffixes=("", "_other"))
        values = [c for c in table.columns if c not in keys and not c.endswith("seconds")]
        for c in values:
            if not both[c].equals(both[f"{c}_other"]):
                raise SystemExit(f"rows measured by two runs differ in {c!r}: not the same runs")
        print(f"{len(both)} rows measured twice, equal in all {len(values)} other columns")
        seen = table.merge(merged[keys], on=keys, how="left", indicator=True)["_merge"]
        merged = pd.concat([merged, table[(seen == "left_only").to_numpy()]], ignore_index=True)
    return merged.sort_values(keys, kind="stable", ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--field", default="widths", help="the list field the runs differ in")
    parser.add_argument(
        "--keys",
        default="family,regime,run_seed,width",
        help="the columns that name one measured row (comma-separated)",
    )
    args = parser.parse_args()
    records = _records(args.runs)
    settings = _joined(records, args.field)
    experiment = get_experiment(records[0]["experiment"])
    config = experiment.config_type(**settings)
    table = _table(args.runs, args.keys.split(","), args.field)
    order = pd.read_parquet(args.runs[0] / "results.parquet").columns
    table[args.field] = json.dumps(settings[args.field], separators=(",", ":"))
    table = table[list(order)]
    store = RunStore(args.out / experiment.name)
    store.root.mkdir(parents=True, exist_ok=True)
    n_cells = sum(json.loads((f / "summary.json").read_text())["n_cells"] for f in args.runs)
    record = {**records[0], "config": settings, "merged_from": [str(f) for f in args.runs]}
    write_json(store.config_path, record)
    store.write_results(table)
    drawn = _figures(experiment, config, table)
    summary = _summary(experiment, config, table, preset=record["preset"], n_cells=n_cells)
    summary["figures"] = [f"figures/{stem}.png" for stem in drawn]
    _save_figures(drawn, store)
    write_json(store.summary_path, summary)
    print(f"{len(table)} rows -> {store.root}; verdicts {summary['verdict_counts']}")


if __name__ == "__main__":
    main()
