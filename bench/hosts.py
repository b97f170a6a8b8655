"""Several hosts (issue 26): single-request figures on SQLite and PostgreSQL, and wrk load on one host and on two behind nginx.

Everything is measured the way a client meets it, over HTTP on loopback:

1. One ``venue-planner serve`` on the SQLite store (the default), warm cache: the warm start
   (process start to the first 200 from /health), then sequential single requests (p50 of
   300, after 50 to warm up): /health, POST /routes, the same route with street closures (西长安街, 东长安街 and
   an area), POST /isochrones and a proposal write; then ``wrk -t1 -c32`` on GET /routes
   between random points of central Beijing (the points that a route answers for).
2. A throwaway PostgreSQL 15 + PostGIS cluster (tests/pgcluster.py) and two replicas on it
   (each with its own data and cache folder) behind Debian's nginx: the same single
   requests on a replica, and the same wrk load through nginx.

Prints each figure and the ratios the issue's targets are about (closure route over
/health, route over /health, PostgreSQL write over SQLite write); writes them to
bench/results/hosts.json. Needs wrk, nginx and PostgreSQL's server (.ci/run installs them).

Run: ``.venv/bin/python bench/hosts.py [--seconds 15]``
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from record import save  # noqa: E402

from tests.api.test_replicas import NGINX  # noqa: E402 - the replica test's nginx configuration
from tests.pgcluster import throwaway_cluster  # noqa: E402

AREA = {"type": "Polygon", "coordinates": [[[116.395, 39.905], [116.400, 39.905], [116.400, 39.909],
                                            [116.395, 39.909], [116.395, 39.905]]]}  # fmt: skip
ROUTE = {"origin": "116.36,39.90", "destination": "116.43,39.91"}
CLOSED = {**ROUTE, "closures": {"streets": ["西长安街", "东长安街"], "areas": [AREA]}}
ISO = {"origin": [116.39, 39.91], "bands_min": [5, 10, 15]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(env: dict[str, str], port: int) -> tuple[subprocess.Popen[bytes], float]:
    """Start a server; return it and the seconds from process start to its first 200 from /health."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(REPO / ".venv/bin/venue-planner"), "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return proc, time.perf_counter() - start
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"the server on port {port} did not start")


WARM_UP, SAMPLES = 50, 300  # a request's steady figure: the first ones after a start warm caches and the allocator


def p50_ms(port: int, method: str, path: str, body: object = None, headers: dict[str, str] | None = None) -> float:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times = []
    for i in range(WARM_UP + SAMPLES):
        payload = body(i) if callable(body) else body
        t = time.perf_counter()
        c.request(method, path, body=None if payload is None else json.dumps(payload),
                  headers={"content-type": "application/json", **(headers or {})})  # fmt: skip
        r = c.getresponse()
        r.read()
        times.append((time.perf_counter() - t) * 1000)
        if r.status >= 300:
            raise SystemExit(f"{method} {path} answered {r.status}")
    return statistics.median(times[WARM_UP:])


def singles(port: int, key: str) -> dict[str, float]:
    auth = {"authorization": f"Bearer {key}"}

    def proposal(i: int) -> dict[str, object]:
        x = 116.30 + 0.003 * (i % 50)
        ring = [[x, 39.93], [x + 0.001, 39.93], [x + 0.001, 39.931], [x, 39.931], [x, 39.93]]
        return {"name": f"bench {i}", "footprint": {"type": "Polygon", "coordinates": [ring]}, "use": "hall"}

    out = {
        "health_ms": p50_ms(port, "GET", "/health"),
        "route_ms": p50_ms(port, "POST", "/routes", ROUTE),
        "closure_route_ms": p50_ms(port, "POST", "/routes", CLOSED),
        "isochrone_ms": p50_ms(port, "POST", "/isochrones", ISO),
        "proposal_write_ms": p50_ms(port, "POST", "/proposals", proposal, auth),
    }
    out["route_over_health_ms"] = out["route_ms"] - out["health_ms"]
    out["closure_over_health_ms"] = out["closure_route_ms"] - out["health_ms"]
    return out


def wrk_paths(port: int, n: int = 2000) -> Path:
    """Write a wrk script of GET /routes between random central points that the service routes."""
    rng = random.Random(26)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    paths = []
    while len(paths) < n:
        a = (rng.uniform(116.30, 116.48), rng.uniform(39.85, 39.97))
        b = (rng.uniform(116.30, 116.48), rng.uniform(39.85, 39.97))
        path = f"/routes?origin={a[0]:.5f},{a[1]:.5f}&destination={b[0]:.5f},{b[1]:.5f}"
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        if r.status == 200:
            paths.append(path)
    script = Path(tempfile.mkdtemp(prefix="vp-wrk-")) / "routes.lua"
    script.write_text(
        "paths = {" + ",".join(f'"{p}"' for p in paths) + "}\n"
        "i = 0\nrequest = function()\n  i = i % #paths + 1\n  return wrk.format('GET', paths[i])\nend\n"
    )
    return script


def wrk(port: int, script: Path, seconds: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", "-c32", f"-d{seconds}s", "--latency", "-s", str(script), f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip

    def ms(label: str) -> float:
        m = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out)
        assert m, out
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert rate, out
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "requests_per_s": float(rate.group(1)),
        "p50_ms": ms("50%"),
        "p99_ms": ms("99%"),
        "errors": float((int(errors.group(1)) if errors else 0) + (sum(map(int, sock.groups())) if sock else 0)),
    }


def env_for(base: Path, name: str, cache: Path, url: str | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "VENUE_PLANNER_DATA_DIR": str(base / f"data-{name}"),
        "VENUE_PLANNER_CACHE_DIR": str(cache),
        "VENUE_PLANNER_ALLOWED_HOSTS": '["127.0.0.1", "localhost"]',
    }
    if url:
        env["VENUE_PLANNER_DATABASE_URL"] = url
    return env


def key_for(env: dict[str, str], name: str) -> str:
    out = subprocess.run([str(REPO / ".venv/bin/venue-planner"), "keys", "add", name, "--role", "editor"],
                         env=env, capture_output=True, text=True, check=True)  # fmt: skip
    return out.stdout.strip().splitlines()[-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=15)
    args = ap.parse_args()
    cache = Path(os.environ.get("VENUE_PLANNER_CACHE_DIR", Path.home() / ".cache" / "venue-planner"))
    base = Path(tempfile.mkdtemp(prefix="vp-hosts-"))
    res: dict[str, float] = {}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        port = free_port()
        env = env_for(base, "sqlite", cache)
        proc, _cold = serve(env, port)  # builds whatever the cache lacks
        proc.terminate()
        proc.wait()
        proc, res["warm_start_s"] = serve(env, port)
        procs.append(proc)
        time.sleep(3)  # let the warm-up behind /health finish
        for k, v in singles(port, key_for(env, "bench")).items():
            res[f"sqlite_{k}"] = v
        script = wrk_paths(port)
        for k, v in wrk(port, script, args.seconds).items():
            res[f"one_host_get_routes_c32_{k}"] = v
        proc.terminate()
        proc.wait()
        procs.clear()
        with throwaway_cluster() as cluster:
            url = cluster.new_database()
            ports = [free_port(), free_port()]
            for i, p in enumerate(ports):
                own = base / f"cache-{i}"
                shutil.copytree(cache, own)
                procs.append(serve(env_for(base, f"pg{i}", own, url), p)[0])
            time.sleep(3)
            for k, v in singles(ports[0], key_for(env_for(base, "pg0", base / "cache-0", url), "bench")).items():
                res[f"postgres_{k}"] = v
            lb = free_port()
            (base / "nginx").mkdir()
            conf = base / "nginx" / "nginx.conf"
            user = "user root;" if os.geteuid() == 0 else ""
            conf.write_text(NGINX.format(user=user, tmp=base / "nginx", a=ports[0], b=ports[1], port=lb))
            procs.append(subprocess.Popen(["nginx", "-c", str(conf), "-p", str(base / "nginx")]))
            time.sleep(1)
            for k, v in wrk(lb, script, args.seconds).items():
                res[f"two_hosts_nginx_get_routes_c32_{k}"] = v
            for p in procs:
                p.terminate()
                p.wait()
            procs.clear()
    finally:
        for p in procs:
            p.kill()
        shutil.rmtree(base, ignore_errors=True)
    res["postgres_over_sqlite_write"] = res["postgres_proposal_write_ms"] / res["sqlite_proposal_write_ms"]
    width = max(map(len, res))
    print("several hosts (issue 26), over HTTP on loopback:")
    for k, v in res.items():
        print(f"  {k:<{width}}  {v:10.2f}")
    print(
        f"targets: closure route over /health {res['sqlite_closure_over_health_ms']:.2f} ms (<= 5); "
        f"route over /health {res['sqlite_route_over_health_ms']:.2f} ms (<= 1); "
        f"GET /routes c=32 {res['one_host_get_routes_c32_requests_per_s']:.0f}/s (>= 1000), "
        f"p99 {res['one_host_get_routes_c32_p99_ms']:.0f} ms (<= 100); warm start {res['warm_start_s']:.2f} s (<= 2); "
        f"PostgreSQL write / SQLite write {res['postgres_over_sqlite_write']:.2f} (<= 2)"
    )
    save("hosts", res)


if __name__ == "__main__":
    main()
