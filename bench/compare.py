"""Compare the latest bench figures (bench/results) with the stored baseline (bench/baseline).

Prints one line for every figure that got more than 30 % worse (as titiler's benchmark
workflow flags a regression), then a summary. ``--strict`` exits 1 when any did;
``--update`` makes the latest figures the new baseline.

    python bench/compare.py            # after `make bench`
    python bench/compare.py --update   # store the current figures as the baseline
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from record import BASELINE, RESULTS, direction

THRESHOLD = 0.30  # issue 29: a figure more than 30 % worse is flagged, as titiler's benchmark workflow does


def worse_by(name: str, base: float, now: float) -> float | None:
    """Return how much worse ``now`` is than ``base`` (0.3 = 30 % worse), or None when not comparable."""
    way = direction(name)
    if way is None or base is None or now is None or base <= 0 or now <= 0:
        return None
    return now / base - 1.0 if way == "lower" else base / now - 1.0


def compare(results: Path, baseline: Path, *, threshold: float = THRESHOLD) -> tuple[list[str], int]:
    """Return the lines of the figures more than ``threshold`` worse, and how many figures were compared."""
    lines: list[str] = []
    compared = 0
    for path in sorted(results.glob("*.json")):
        base_path = baseline / path.name
        if not base_path.is_file():
            lines.append(f"{path.stem}: no baseline (run `python bench/compare.py --update` to store one)")
            continue
        now = json.loads(path.read_text(encoding="utf-8"))["figures"]
        base = json.loads(base_path.read_text(encoding="utf-8"))["figures"]
        for name, value in now.items():
            if not isinstance(value, int | float) or isinstance(value, bool) or name not in base:
                continue
            change = worse_by(name, base[name], value)
            if change is None:
                continue
            compared += 1
            if change > threshold:
                lines.append(f"{path.stem}.{name}: {base[name]:.4g} -> {value:.4g} ({100 * change:.0f} % worse)")
    return lines, compared


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--strict", action="store_true", help="exit 1 when a figure got more than 30 % worse")
    ap.add_argument("--update", action="store_true", help="store the latest figures as the baseline")
    args = ap.parse_args()
    if args.update:
        BASELINE.mkdir(exist_ok=True)
        for path in sorted(RESULTS.glob("*.json")):
            shutil.copy(path, BASELINE / path.name)
            print(f"baseline {path.name} updated")
        return 0
    if not RESULTS.is_dir():
        print("no results: run `make bench` first")
        return 1
    lines, compared = compare(RESULTS, BASELINE)
    for line in lines:
        print("REGRESSION " + line if "% worse" in line else line)
    regressions = sum("% worse" in line for line in lines)
    print(f"{compared} figures compared with bench/baseline; {regressions} more than {THRESHOLD:.0%} worse")
    return 1 if args.strict and regressions else 0


if __name__ == "__main__":
    sys.exit(main())
