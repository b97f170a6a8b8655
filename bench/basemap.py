"""The offline basemap's tiles over HTTP (issue 28: a tile <= 20 ms from the server, read by range).

Starts ``venue-planner serve`` on the warm cache, then asks for every zoom-14 and zoom-12 tile of
central Beijing in turn (as a page panning over it does), each once, with gzip; prints the p50, p90
and max per zoom, beside /health in the same run, and writes bench/results/basemap.json.

Run: ``.venv/bin/python bench/basemap.py``
"""

from __future__ import annotations

import http.client
import math
import statistics
import tempfile
import time
from pathlib import Path

from hosts import env_for, free_port, serve
from record import save


def tiles(z: int, west: float, south: float, east: float, north: float) -> list[tuple[int, int, int]]:
    n = 2**z

    def xy(lon: float, lat: float) -> tuple[int, int]:
        return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)

    x0, y0 = xy(west, north)
    x1, y1 = xy(east, south)
    return [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def timed(c: http.client.HTTPConnection, path: str) -> tuple[float, int]:
    t = time.perf_counter()
    c.request("GET", path, headers={"accept-encoding": "gzip"})
    r = c.getresponse()
    r.read()
    return (time.perf_counter() - t) * 1000, r.status


def main() -> None:
    cache = Path.home() / ".cache" / "venue-planner"
    base = Path(tempfile.mkdtemp(prefix="vp-basemap-"))
    port = free_port()
    proc, _ = serve(env_for(base, "sqlite", cache), port)
    out: dict[str, float] = {}
    try:
        time.sleep(5)  # let the warm-up behind /health finish (it holds the interpreter for a few seconds)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        out["health_p50_ms"] = statistics.median(timed(c, "/health")[0] for _ in range(200))
        out["first_request_ms"] = timed(c, "/basemap.json")[0]  # the process's first behind the key check
        for z in (12, 14):
            got = [timed(c, f"/basemap/{z}/{x}/{y}.mvt") for z, x, y in tiles(z, 116.20, 39.80, 116.55, 40.02)]
            ms = sorted(t for t, s in got if s in (200, 204))
            assert len(ms) == len(got), "a tile of central Beijing was refused"
            out[f"z{z}_tiles"] = len(ms)
            out[f"z{z}_p50_ms"] = statistics.median(ms)
            out[f"z{z}_p90_ms"] = ms[int(0.9 * (len(ms) - 1))]
            out[f"z{z}_max_ms"] = ms[-1]
            out[f"z{z}_first_ms"] = got[0][0]
    finally:
        proc.terminate()
        proc.wait()
    print("offline basemap tiles over HTTP (loopback, one connection, gzip):")
    for k, v in out.items():
        print(f"  {k:<20} {v:10.2f}")
    print(f"target: a tile <= 20 ms: p90 at zoom 14 {out['z14_p90_ms']:.2f} ms, max {out['z14_max_ms']:.2f} ms")
    save("basemap", out)


if __name__ == "__main__":
    main()
