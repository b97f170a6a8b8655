"""Public transport over HTTP, beside the drive engine's figures in the same run (issue 24's targets).

Run with ``.venv/bin/python bench/transit.py`` (part of ``make bench``). It starts the
service (`venue-planner serve`) and times, with one keep-alive connection, sequentially:

- a single transit route (POST /routes, mode=transit, a 60-minute window) between random
  points of central Beijing (the p50 over the pairs answered; a pair with no station
  within the walk limit is refused and timed apart), beside GET /routes by car between
  the same points (target: p50 <= 5 ms);
- a 45-minute transit isochrone at p50 and at p90 over a 60-minute window (two POST
  /isochrones; their sum per origin), beside a 45-minute drive isochrone from the same
  points (target <= 300 ms);
- a 131 x 131 township matrix by transit (POST /routes/matrix), beside the same matrix by
  car (target <= 2 s).
"""

from __future__ import annotations

import http.client
import json
import time

import geopandas as gpd
import numpy as np
import shapely
from record import save
from run import _start_server, pct

from api.settings import Settings

CENTRAL = (116.25, 39.83, 116.52, 40.03)  # well inside the central walk network


def _post(conn: http.client.HTTPConnection, path: str, body: dict[str, object]) -> tuple[float, int]:
    data = json.dumps(body).encode()
    t = time.perf_counter()
    conn.request("POST", path, body=data, headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    return time.perf_counter() - t, r.status


def _get(conn: http.client.HTTPConnection, path: str) -> tuple[float, int]:
    t = time.perf_counter()
    conn.request("GET", path)
    r = conn.getresponse()
    r.read()
    return time.perf_counter() - t, r.status


def townships(n: int) -> list[list[float]]:
    """Return ``n`` township points (representative points) inside the central walk network."""
    t = gpd.read_file(Settings().seeds_dir / "townships.geojson").sort_values("township_id")
    pts = t.geometry.representative_point()
    box = shapely.box(116.15, 39.79, 116.61, 40.09)
    inside = [[round(p.x, 6), round(p.y, 6)] for p in pts if box.contains(p)]
    return inside[:n]


def main() -> None:
    rng = np.random.default_rng(2024)
    pts = np.column_stack([rng.uniform(CENTRAL[0], CENTRAL[2], 400), rng.uniform(CENTRAL[1], CENTRAL[3], 400)]).round(6)
    proc, base, start_s = _start_server()
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    out: dict[str, float] = {"warm_start_s": start_s}
    try:
        pairs = [(pts[i], pts[i + 1]) for i in range(0, 400, 2)]
        for a, b in pairs[:10]:  # warm the Python paths
            _post(conn, "/routes", {"origin": a.tolist(), "destination": b.tolist(), "mode": "transit"})
        tr, dr, refused, ok = [], [], [], 0
        for a, b in pairs:
            dt, status = _post(conn, "/routes", {"origin": a.tolist(), "destination": b.tolist(), "mode": "transit"})
            if status == 200:  # the answered ones only (a pair with no station near is refused, faster)
                tr.append(dt)
            else:
                refused.append(dt)
            ok += status == 200
            dt, _ = _get(conn, f"/routes?origin={a[0]},{a[1]}&destination={b[0]},{b[1]}")
            dr.append(dt)
        out |= {
            "transit_route_p50_ms": pct(tr, 50) * 1e3,
            "transit_route_p90_ms": pct(tr, 90) * 1e3,
            "transit_route_answered": float(ok),
            "transit_route_refused_p50_ms": pct(refused, 50) * 1e3 if refused else float("nan"),
            "transit_route_pairs": float(len(pairs)),
            "drive_route_p50_ms": pct(dr, 50) * 1e3,
        }
        iso_t, iso_d = [], []
        for p in pts[:30]:
            t50, s50 = _post(conn, "/isochrones", {"origin": p.tolist(), "mode": "transit", "bands_min": [15, 30, 45]})
            t90, s90 = _post(
                conn,
                "/isochrones",
                {"origin": p.tolist(), "mode": "transit", "bands_min": [15, 30, 45], "percentile": 90},
            )
            if s50 == s90 == 200:
                iso_t.append(t50 + t90)
            td, sd = _post(conn, "/isochrones", {"origin": p.tolist(), "mode": "drive", "bands_min": [15, 30, 45]})
            if sd == 200:
                iso_d.append(td)
        out |= {
            "transit_isochrone_p50_and_p90_ms": pct(iso_t, 50) * 1e3,
            "transit_isochrone_p50_and_p90_p90_ms": pct(iso_t, 90) * 1e3,
            "transit_isochrones_answered": float(len(iso_t)),
            "drive_isochrone_45_ms": pct(iso_d, 50) * 1e3,
        }
        towns = townships(131)
        body = {"origins": towns, "destinations": towns}
        mt, status = _post(conn, "/routes/matrix", {**body, "mode": "transit"})
        md, status_d = _post(conn, "/routes/matrix", {**body, "mode": "drive"})
        out |= {
            "transit_matrix_131_s": mt if status == 200 else float("nan"),
            "drive_matrix_131_s": md if status_d == 200 else float("nan"),
            "matrix_size": float(len(towns)),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    out["transit_over_drive_route_ratio"] = out["transit_route_p50_ms"] / out["drive_route_p50_ms"]
    out["transit_over_drive_matrix_ratio"] = out["transit_matrix_131_s"] / out["drive_matrix_131_s"]
    print("public transport over HTTP (one keep-alive connection, sequential)")
    print(
        f"  route   transit p50 {out['transit_route_p50_ms']:.1f} ms (p90 {out['transit_route_p90_ms']:.1f}; "
        f"{ok}/{len(pairs)} answered 200) | drive p50 {out['drive_route_p50_ms']:.1f} ms | target <= 5 ms"
    )
    print(
        f"  45-min isochrone, p50 + p90 bands: {out['transit_isochrone_p50_and_p90_ms']:.0f} ms median "
        f"(p90 {out['transit_isochrone_p50_and_p90_p90_ms']:.0f}) | drive 45-min {out['drive_isochrone_45_ms']:.0f} ms "
        "| target <= 300 ms"
    )
    print(
        f"  {len(towns)} x {len(towns)} township matrix: transit {out['transit_matrix_131_s']:.2f} s | drive "
        f"{out['drive_matrix_131_s']:.2f} s | target <= 2 s"
    )
    save("transit", out)


if __name__ == "__main__":
    main()
