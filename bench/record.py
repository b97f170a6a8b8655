"""Benchmarks as data: each bench writes its figures as JSON, and `compare.py` checks them against a baseline.

A figure's name says its unit, and the unit says which way is better: times (``_s``, ``_ms``,
``_us``, ``_us_per_pair``) and sizes (``_mb``) are better lower; rates (``_per_s``) and
speed-ups (``_x``, ``speedup``) better higher. Other figures (agreement, counts) are stored
and shown but not compared.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import math
import os
import platform
import sys
from pathlib import Path
from typing import Any

__all__ = ["BASELINE", "RESULTS", "direction", "save"]

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"  # written by every run (not committed)
BASELINE = BENCH / "baseline"  # the stored figures a run is compared with (committed)
_PACKAGES = ("numpy", "scipy", "shapely", "networkx", "osmnx", "routingkit-cch", "fastapi", "uvicorn", "pyproj")


def direction(name: str) -> str | None:
    """Return "lower" or "higher" (which way the figure named ``name`` is better), or None for no comparison."""
    n = name.lower()
    if n.endswith(("_per_s", "_x")) or "speedup" in n or n.endswith("requests_per_s"):
        return "higher"
    if n.endswith(("_s", "_ms", "_us", "_us_per_pair", "_mb")):
        return "lower"
    return None


def _machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": cpu, "platform": platform.platform()}


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def save(bench: str, figures: dict[str, Any], *, folder: Path = RESULTS) -> Path:
    """Write ``figures`` of the bench named ``bench`` as JSON and return the file.

    Numbers are kept as they are (NaN and infinity as null); booleans and text too.
    """
    clean: dict[str, Any] = {}
    for k, v in figures.items():
        if isinstance(v, float) and not math.isfinite(v):
            clean[k] = None
        elif isinstance(v, bool | int | float | str) or v is None:
            clean[k] = v
        else:
            clean[k] = float(v)  # numpy scalars
    doc = {
        "bench": bench,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "versions": _versions(),
        "figures": clean,
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{bench}.json"
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"figures written to {path.relative_to(BENCH.parent) if path.is_relative_to(BENCH.parent) else path}")
    return path
