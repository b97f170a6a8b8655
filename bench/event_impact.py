"""Speed of the event-time impact model (issue 25), measured as clients call it: prints figures; not tests.

Run with ``.venv/bin/python bench/event_impact.py``. It starts the service (`venue-planner
serve`) and times over HTTP, one keep-alive connection, sequentially (three runs each, the
median; the first call of each kind warms the caches a worker builds once):

- one windowed plan with every mode and the queues (`POST /impact`, GeoJSON), for several plans;
- the baseline in the same process: the same plans with the model before time windows
  (`modes={car: 1}`, `profile=flat`, one trip per person, all day);
- the closure-cost atlas for one hour and hold length (`GET /impact/closure-cost`), and the
  CLI as typed (`venue-planner closure-cost --hour 17 --minutes 2 -o atlas.gpkg`), timed whole.

Targets: one windowed plan with modes and queues <= 2 s; the atlas <= 30 s.
"""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from record import save
from run import _start_server

PLANS: dict[str, dict[str, Any]] = {
    "changan_0730_0900": {"streets": ["东长安街", "西长安街"], "window": {"start": "07:30", "end": "09:00"}},
    "changan_hold_1700_2min": {"streets": ["东长安街", "西长安街"], "window": {"start": "17:00", "end": "17:02"}},
    "tiananmen_area_stations_0800_1000": {
        "areas": [{"type": "Polygon", "coordinates": [[[116.385, 39.9], [116.405, 39.9], [116.405, 39.915],
                                                      [116.385, 39.915], [116.385, 39.9]]]}],
        "entrances": ["前门"],
        "window": {"start": "08:00", "end": "10:00"},
    },
    "north_4th_ring_mixed_windows": {
        "streets": ["北四环西路", {"name": "北四环中路", "window": {"start": "18:00", "end": "18:05"}}],
        "window": {"start": "09:00", "end": "12:00"},
    },
}  # fmt: skip
OLD = {"modes": {"car": 1.0}, "profile": "flat", "trips_per_person": 1.0}


def _call(conn: http.client.HTTPConnection, method: str, path: str, body: dict[str, object] | None = None) -> float:
    data = None if body is None else json.dumps(body).encode()
    t = time.perf_counter()
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        raise RuntimeError(f"{method} {path}: {r.status}")
    return time.perf_counter() - t


def main() -> None:
    """Print the figures."""
    proc, base, _ = _start_server()
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=600)
    out: dict[str, float] = {}
    try:
        first = _call(conn, "POST", "/impact", {"plan": PLANS["changan_0730_0900"]})
        out["first_plan_cold_s"] = first
        print(f"first plan (builds the trees, the walk and subway matrices): {first:.2f} s")
        print(f"{'plan':36} {'windowed s':>11} {'old model s':>12} {'ratio':>6}")
        for name, plan in PLANS.items():
            new = statistics.median(_call(conn, "POST", "/impact", {"plan": plan}) for _ in range(3))
            flat = {k: v for k, v in plan.items() if k != "window"}
            flat["streets"] = [s if isinstance(s, str) else s["name"] for s in plan.get("streets", [])]
            old = statistics.median(_call(conn, "POST", "/impact", {"plan": flat, **OLD}) for _ in range(3))
            out[f"{name}_s"] = new
            out[f"{name}_old_model_s"] = old
            print(f"{name:36} {new:11.2f} {old:12.2f} {new / old:6.2f}")
        cold = _call(conn, "GET", "/impact/closure-cost?hour=17&minutes=2")
        warm = statistics.median(_call(conn, "GET", f"/impact/closure-cost?hour={h}&minutes=2") for h in (8, 12, 17))
        out["atlas_http_first_s"] = cold
        out["atlas_http_s"] = warm
        print(f"atlas over HTTP: first {cold:.2f} s (builds the ways round every link), then {warm:.2f} s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(sys.executable).with_name("venue-planner")
        t = time.perf_counter()
        subprocess.run(
            [str(exe), "closure-cost", "--hour", "17", "--minutes", "2", "-q", "-o", str(Path(tmp) / "atlas.gpkg")],
            check=True, capture_output=True,
        )  # fmt: skip
        out["atlas_cli_s"] = time.perf_counter() - t
    print(f"atlas from the CLI as typed (a fresh process): {out['atlas_cli_s']:.2f} s")
    print("targets: one windowed plan with modes and queues <= 2 s; the atlas <= 30 s")
    save("event_impact", out)


if __name__ == "__main__":
    main()
