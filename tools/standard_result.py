"""Copy a finished standard run into ``docs/results/standard/NAME/`` with its ``RUN.md``.

    python tools/standard_result.py RUN_FOLDER --commit SHA --start ISO --end ISO \\
        --load-start "..." --load-end "..." [--note "..."] [--wall-note "..."]

Copies config.json, summary.json, figures/*.png|svg and results.parquet (when under 2 MB) of
RUN_FOLDER (the ``--out`` folder's experiment folder), then writes RUN.md: the command, the
source commit, the wall time, the ``uptime`` load at start and end, and the verdict counts
(owners' convention for committed standard results, issue 10 section 3). The docs site's
"Standard results" page and ``robustlab report --standard`` read this layout.
"""

from __future__ import annotations

import argparse
import json
import shutil
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "results" / "standard"
MAX_TABLE_BYTES = 2_000_000


def _minutes(start: str, end: str) -> float:
    delta = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    return delta.total_seconds() / 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--commit", required=True)
    parser.add_argument("--start", required=True, help="ISO time the run started (UTC)")
    parser.add_argument("--end", required=True, help="ISO time the run ended (UTC)")
    parser.add_argument("--load-start", required=True)
    parser.add_argument("--load-end", required=True)
    parser.add_argument("--wall-note", default="", help="e.g. how an interrupted run resumed")
    parser.add_argument("--note", action="append", default=[], help="a line for RUN.md")
    args = parser.parse_args()
    config = json.loads((args.run / "config.json").read_text())
    summary = json.loads((args.run / "summary.json").read_text())
    name = config["experiment"]
    target = TARGET / name
    if target.exists():
        shutil.rmtree(target)
    (target / "figures").mkdir(parents=True)
    for file in ("config.json", "summary.json"):
        shutil.copy2(args.run / file, target / file)
    for figure in sorted((args.run / "figures").iterdir()):
        if figure.suffix in (".png", ".svg"):
            shutil.copy2(figure, target / "figures" / figure.name)
    table = args.run / "results.parquet"
    kept_table = table.is_file() and table.stat().st_size < MAX_TABLE_BYTES
    if kept_table:
        shutil.copy2(table, target / table.name)
    counts = summary.get("verdict_counts", {})
    tally = ", ".join(
        f"{counts.get(k, 0)} {k}" for k in ("consistent", "inconsistent", "inconclusive")
    )
    wall = _minutes(args.start, args.end)
    lines = [
        f"# {name}, standard preset",
        "",
        "```bash",
        "PYTHONPATH=$PWD/src OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE "
        "ROBUSTLAB_DATA=/work/shared/data \\",
        f"  nice -n 5 {config.get('command') or config.get('reproduce')}",
        "```",
        "",
        f"- source commit: `{args.commit}` (run from a frozen worktree of it)",
        f"- started {args.start}, ended {args.end}: wall time {wall:.1f} min"
        + (f" ({args.wall_note})" if args.wall_note else ""),
        f"- load at start: `{args.load_start.strip()}`",
        f"- load at end: `{args.load_end.strip()}`",
        "- machine: 2 CPU cores shared with six other developers' runs; one worker, "
        "OMP_NUM_THREADS=1",
        f"- cells: {summary.get('n_cells')}, rows: {summary.get('n_rows')}"
        + ("" if kept_table else " (results.parquet over 2 MB: not committed)"),
        f"- verdicts: {tally}",
        *(f"- {note}" for note in args.note),
        "",
    ]
    (target / "RUN.md").write_text("\n".join(lines))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
