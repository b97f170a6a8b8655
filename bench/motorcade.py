"""Motorcade requests over HTTP (issue 27): one trip on the central network, one across the region, a programme.

Run with ``.venv/bin/python bench/motorcade.py``. Starts ``venue-planner serve`` on the
default cache (warm it first with ``venue-planner warm``), then times, as a client sees them:
``POST /motorcades`` Forbidden City -> Diaoyutai and Capital Airport -> Forbidden City
(central, target <= 3 s), Capital Airport -> Yanqi Lake (regional, <= 10 s), and a
programme of three convoys from Capital Airport to Diaoyutai within an hour (<= 10 s). Each
request's first answer in a fresh server (each compute worker builds the trip flows and
fastest-route trees of a network on its first motorcade) and the median of the next ones are
printed; the ratio is against a plain ``POST /routes`` of the same trip in the same run.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import time

from hosts import free_port, serve
from record import save

DIAOYUTAI = [116.3056, 39.9236]
CASES = {
    "central_palace_diaoyutai": ("/motorcades", {"origin": "forbidden-city", "destination": DIAOYUTAI, "depart_at": "17:30"}),
    "central_airport_palace": ("/motorcades", {"origin": "capital-airport", "destination": "forbidden-city", "depart_at": "09:00"}),
    "regional_airport_yanqi": ("/motorcades", {"origin": "capital-airport", "destination": "yanqi-lake", "depart_at": "09:00"}),
    "programme_three_convoys": (
        "/motorcades/programme",
        {
            "convoys": [
                {"origin": "capital-airport", "destination": DIAOYUTAI, "depart_at": t} for t in ("09:00", "09:20", "09:40")
            ]
        },
    ),
}  # fmt: skip
TARGETS = {"central": 3.0, "regional": 10.0, "programme": 10.0}


def timed(port: int, path: str, body: object) -> float:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    t = time.perf_counter()
    c.request("POST", path, body=json.dumps(body), headers={"content-type": "application/json"})
    r = c.getresponse()
    r.read()
    took = time.perf_counter() - t
    if r.status != 200:
        raise SystemExit(f"POST {path} answered {r.status}")
    return took


def main() -> None:
    """Print the figures."""
    port = free_port()
    env = {**os.environ, "VENUE_PLANNER_ALLOWED_HOSTS": '["127.0.0.1", "localhost"]'}
    proc, _ = serve(env, port)
    out: dict[str, float] = {}
    try:
        time.sleep(3)  # the warm-up behind /health
        for name, (path, body) in CASES.items():
            first = [timed(port, path, body) for _ in range(2)]  # one per compute worker (the default 2)
            rest = [timed(port, path, body) for _ in range(5)]
            route = (
                statistics.median(
                    timed(port, "/routes", {k: body[k] for k in ("origin", "destination")}) for _ in range(5)
                )
                if path == "/motorcades"
                else float("nan")
            )
            out[f"{name}_first_s"] = max(first)
            out[f"{name}_s"] = statistics.median(rest)
            target = TARGETS[name.split("_")[0]]
            extra = (
                f", {statistics.median(rest) / route:.0f}x a plain route ({route * 1000:.0f} ms)"
                if route == route
                else ""
            )
            print(
                f"{name:<28} first {max(first):5.2f} s, then {statistics.median(rest):5.2f} s (target <= {target:g} s){extra}"
            )
    finally:
        proc.terminate()
        proc.wait()
    save("motorcade", out)


if __name__ == "__main__":
    main()
