"""``python -m tests.catalogue.counts [-v] [ENTRY | CASE-ID ...]``: every catalogue case, classified, not asserted.

Prints one line per case that did not end as promised, then a table of outcome classes
(``harness.CLASSES``) per entry point. Used to record the catalogue's before/after counts.
"""
from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from .harness import CLASSES, classify
from .test_catalogue import CASES


def main(argv: list[str]) -> int:
    verbose = "-v" in argv  # also print every case's error line
    wanted = set(argv) - {"-v"}
    table: dict[str, Counter] = {}
    t0 = time.monotonic()
    for case in CASES:
        entry = case.id.split("/")[0]
        if wanted and entry not in wanted and case.id not in wanted:
            continue
        with tempfile.TemporaryDirectory(prefix="sfi-case-") as tmp:
            try:
                cls, detail = classify(case, Path(tmp))
            except BaseException as e:  # pytest.skip: the case cannot be set up here
                if type(e).__name__ != "Skipped":
                    raise
                cls, detail = "skipped", str(e)
        table.setdefault(entry, Counter())[cls] += 1
        if cls not in ("clear error", "handled") or verbose:
            print(f"{cls:<10} {case.id}: {detail[:300]}", flush=True)
    cols = [*CLASSES, "skipped"]
    print(f"\n{'entry':<12}" + "".join(f"{c:>13}" for c in cols) + f"{'total':>8}")
    total = Counter()
    for entry, c in table.items():
        total.update(c)
        print(f"{entry:<12}" + "".join(f"{c[k]:>13}" for k in cols) + f"{sum(c.values()):>8}")
    print(f"{'all':<12}" + "".join(f"{total[k]:>13}" for k in cols) + f"{sum(total.values()):>8}")
    print(f"({time.monotonic() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
