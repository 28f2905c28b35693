"""Census of the deterministic fuzz cases: how each bad call ends (issue 13's counts).

    PYTHONPATH=src python tests/fuzz/census.py [--list CATEGORY]

Categories: "held" (ValueError/TypeError naming the argument), "unnamed" (ValueError/TypeError
that does not name it), "crash" (any other exception: RuntimeError, IndexError, ...) and
"silent" (no exception: an answer was returned). Uses the public API only, so pointing
PYTHONPATH at an older source tree counts the same cases against it.
"""

from __future__ import annotations

import re
import sys
import warnings
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzz_cases import enumerate_cases


def outcome(slot: object, value: object) -> tuple[str, str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            slot.call(value)  # type: ignore[attr-defined]
    except (ValueError, TypeError) as err:
        word = re.escape(slot.word)  # type: ignore[attr-defined]
        named = re.search(rf"(?<![A-Za-z0-9_]){word}(?![A-Za-z0-9_])", str(err))
        return ("held" if named else "unnamed"), f"{type(err).__name__}: {err}"[:160]
    except Exception as err:
        return "crash", f"{type(err).__name__}: {err}"[:160]
    return "silent", "returned an answer"


def main() -> None:
    shown = sys.argv[2] if len(sys.argv) > 2 and sys.argv[1] == "--list" else None
    counts: Counter[str] = Counter()
    cases = enumerate_cases()
    for slot, name, value in cases:
        category, detail = outcome(slot, value)
        counts[category] += 1
        if category == shown:
            print(f"{slot!r} [{name}] -> {detail}")
    parts = ", ".join(f"{k} {counts[k]}" for k in ("held", "unnamed", "crash", "silent"))
    print(f"{len(cases)} cases: {parts}")


if __name__ == "__main__":
    main()
