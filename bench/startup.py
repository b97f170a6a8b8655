"""Start-up and memory of `venue-planner serve` (issue 13): prints figures; not tests.

Run with ``.venv/bin/python bench/startup.py``. On a fresh, empty cache folder it times
``venue-planner serve`` to the first answered ``GET /routes`` (the first start: graphs,
engines, reach indexes and site bands built), then a warm start with ``--workers 4`` on the
same cache, and prints the proportional set size (PSS, from ``/proc/<pid>/smaps_rollup``)
of the server, the zygote and each worker after a few routes.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from record import save

EXE = Path(sys.executable).with_name("venue-planner")


def pss_mb(pid: int) -> float:
    """Return a process's proportional set size in MB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree(pid: int) -> list[int]:
    """Return a process and its descendants, parents first."""
    kids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int((p / "stat").read_text().split()[3]) == pid:
                    kids.append(int(p.name))
            except (OSError, ValueError, IndexError):
                continue
    return [pid] + [q for k in sorted(kids) for q in tree(k)]


def serve(cache: Path, workers: int, *, measure: bool) -> float:
    """Start the service, return seconds to the first answered route (and print memory if ``measure``)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, VENUE_PLANNER_CACHE_DIR=str(cache))
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(EXE), "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/routes?origin=capital-airport&destination=forbidden-city"
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(url, timeout=5).read()
                break
            except OSError:
                time.sleep(0.05)
        took = time.perf_counter() - t0
        if measure:
            for _ in range(20):
                urllib.request.urlopen(url.replace("forbidden-city", "yanqi-lake"), timeout=30).read()
            mem = [round(pss_mb(p)) for p in tree(proc.pid)]
            print(f"  PSS MB: server {mem[0]}, zygote and workers {mem[1:]}")
        return took
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    """Print the figures."""
    cache = Path(tempfile.mkdtemp(prefix="venue-planner-bench-cache-"))
    try:
        first = serve(cache, 2, measure=False)
        print(f"first start (empty cache): {first:.1f} s   (target <= 60 s)")
        warm = serve(cache, 4, measure=True)
        print(f"warm start, --workers 4:  {warm:.1f} s   (target <= 2 s)")
        save("startup", {"first_start_s": first, "warm_start_4_workers_s": warm})
    finally:
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
