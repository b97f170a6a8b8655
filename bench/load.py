"""Load test of a served instance on loopback (issue 11).

Starts ``venue-planner serve`` on a free loopback port with an empty data folder, waits
until it answers, then for each of GET /routes, GET OGC items and POST /isochrones and
each concurrency (1, 8, 32 by default) sends requests for ``--seconds`` (30) and prints
requests per second, p50/p99 latency and the errors. Then it checks that /health stays
fast while four heavy requests run, and prints the resident memory of the server and its
workers after each of ``--repeats`` (3) full runs (the growth must stay within 10 %).

Every request goes to 127.0.0.1 only; every loop is bounded in count and time.

Run: ``.venv/bin/python bench/load.py [--seconds 30] [--concurrency 1 8 32] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from record import save

REPO = Path(__file__).resolve().parents[1]
MAX_REQUESTS_PER_LOOP = 200_000  # a bound besides the time

SITES = ["capital-airport", "forbidden-city", "temple-of-heaven", "summer-palace", "beijing-south-station",
         "beijing-west-station", "olympic-green", "lugou-bridge", "jingshan", "yuanmingyuan"]  # fmt: skip


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q / 100 * len(s)))]


def scenario_request(name: str, rng: random.Random) -> tuple[str, str, dict | None]:
    if name == "GET /routes":
        a, b = rng.sample(SITES, 2)
        return "GET", f"/routes?origin={a}&destination={b}", None
    if name == "GET OGC items":
        minx = 116.30 + rng.random() * 0.15
        miny = 39.85 + rng.random() * 0.1
        bbox = f"{minx:.4f},{miny:.4f},{minx + 0.02:.4f},{miny + 0.02:.4f}"
        return "GET", f"/collections/roads-drive/items?bbox={bbox}&limit=100", None
    lon, lat = 116.33 + rng.random() * 0.12, 39.87 + rng.random() * 0.08
    return "POST", "/isochrones", {"origin": [round(lon, 5), round(lat, 5)], "bands_min": [5, 10, 15]}


async def run_load(base: str, name: str, concurrency: int, seconds: float) -> dict[str, float]:
    lat: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    # Idle connections are dropped before uvicorn's 5 s keep-alive timeout closes them from
    # its side (a request sent on a connection the server is closing fails with ReadError).
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=4.0)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def loop(seed: int) -> None:
            rng = random.Random(seed)
            for _ in range(MAX_REQUESTS_PER_LOOP):
                if time.monotonic() >= deadline:
                    return
                method, url, body = scenario_request(name, rng)
                t0 = time.perf_counter()
                try:
                    r = await client.request(method, url, json=body)
                    ok = r.status_code == 200 or (r.status_code == 422 and name == "POST /isochrones")
                    key = None if ok else str(r.status_code)
                except httpx.HTTPError as exc:
                    key = type(exc).__name__
                lat.append(time.perf_counter() - t0)
                if key:
                    errors[key] = errors.get(key, 0) + 1

        t0 = time.monotonic()
        await asyncio.gather(*(loop(i) for i in range(concurrency)))
        took = time.monotonic() - t0
    return {
        "requests": len(lat),
        "rps": len(lat) / took,
        "p50_ms": 1000 * pct(lat, 50),
        "p99_ms": 1000 * pct(lat, 99),
        "errors": sum(errors.values()),
        "error_kinds": str(errors or "-"),
    }


async def health_under_load(base: str, seconds: float) -> dict[str, float]:
    """/health latencies while four heavy requests (4 isochrone bands up to 60 min) run back to back."""
    stop = time.monotonic() + seconds
    lat: list[float] = []
    heavy_done = 0
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:

        async def heavy(seed: int) -> None:
            nonlocal heavy_done
            rng = random.Random(seed)
            for _ in range(10_000):
                if time.monotonic() >= stop:
                    return
                lon, lat_ = 116.33 + rng.random() * 0.12, 39.87 + rng.random() * 0.08
                await client.post("/isochrones", json={"origin": [lon, lat_], "bands_min": [10, 20, 40, 60]})
                heavy_done += 1

        async def probe() -> None:
            for _ in range(100_000):
                if time.monotonic() >= stop:
                    return
                t0 = time.perf_counter()
                await client.get("/health")
                lat.append(time.perf_counter() - t0)
                await asyncio.sleep(0.02)

        await asyncio.gather(probe(), *(heavy(i) for i in range(4)))
    return {"probes": len(lat), "p50_ms": 1000 * pct(lat, 50), "p99_ms": 1000 * pct(lat, 99), "heavy": heavy_done}


def rss_mb(pid: int) -> float:
    """Proportional resident memory (PSS) of a process and all its descendants, MB (from /proc).

    PSS splits each page shared copy-on-write between the server and its workers among
    them, so the sum is the memory the service really holds (RSS would count shared
    pages once per process).
    """
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
    family = {pid}
    grew = True
    while grew:  # children of any thread of the family (the zygote is forked from a worker thread)
        more = {p for p, pp in parents.items() if pp in family} - family
        family |= more
        grew = bool(more)
    total = 0
    for p in family:
        try:
            rollup = Path(f"/proc/{p}/smaps_rollup").read_text()
            total += next(int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:"))
        except (FileNotFoundError, StopIteration, ProcessLookupError):
            continue
    return total / 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    exe = Path(sys.executable).parent / "venue-planner"
    with tempfile.TemporaryDirectory(prefix="venue-planner-load-") as data:
        env = {**os.environ, "VENUE_PLANNER_DATA_DIR": data}
        proc = subprocess.Popen(
            [str(exe), "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            t0 = time.monotonic()
            while time.monotonic() - t0 < 600:
                try:
                    if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            else:
                sys.exit("the service did not start within 600 s")
            print(
                f"service ready after {time.monotonic() - t0:.1f} s; {rss_mb(proc.pid):.0f} MB proportional resident memory (server, zygote and workers)"
            )
            memory = []
            total_errors = 0
            figures: dict[str, float] = {}
            for rep in range(1, args.repeats + 1):
                print(f"\nrun {rep} of {args.repeats}, {args.seconds:g} s per line")
                print(
                    f"{'scenario':18} {'conc':>4} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
                )
                for name in ("GET /routes", "GET OGC items", "POST /isochrones"):
                    for c in args.concurrency:
                        res = asyncio.run(run_load(base, name, c, args.seconds))
                        total_errors += int(res["errors"])
                        slug = name.lower().replace("/", "").replace(" ", "_")
                        if rep == args.repeats:  # the last run, warm
                            figures[f"{slug}_c{c}_requests_per_s"] = res["rps"]
                            figures[f"{slug}_c{c}_p99_ms"] = res["p99_ms"]
                        print(
                            f"{name:18} {c:>4} {res['requests']:>9.0f} {res['rps']:>8.1f} {res['p50_ms']:>8.1f} "
                            f"{res['p99_ms']:>8.1f} {res['errors']:>7.0f} {res['error_kinds'] if res['errors'] else ''}"
                        )
                memory.append(rss_mb(proc.pid))
                print(f"memory after run {rep}: {memory[-1]:.0f} MB PSS (server, zygote and workers)")
            h = asyncio.run(health_under_load(base, args.seconds))
            print(
                f"\n/health while 4 heavy isochrone requests run: {h['probes']:.0f} probes, p50 {h['p50_ms']:.1f} ms, "
                f"p99 {h['p99_ms']:.1f} ms (target <= 50 ms); {h['heavy']:.0f} heavy requests done"
            )
            growth = (memory[-1] - memory[0]) / memory[0]
            print(f"memory growth from run 1 to run {len(memory)}: {100 * growth:+.1f} % (target within 10 %)")
            print(f"errors in all runs: {total_errors} (target 0)")
            figures.update(health_under_load_p99_ms=h["p99_ms"], memory_growth=growth, errors=total_errors)
            save("load", figures)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
