"""Two hosts over one PostgreSQL, behind nginx: any replica answers any request, and faults are survived.

Two ``venue-planner serve`` processes (two ports, each with its own data and cache folder,
as two hosts would have) share a throwaway PostgreSQL/PostGIS; Debian's nginx balances
them. Through nginx and through each replica directly: a write on one is read on the
other at once, keys added or revoked on one hold on both, a network imported on one host
is used by the other, two concurrent edits of one version give one 200 and one 412, and a
PostgreSQL restart under load gives 503 with Retry-After to writes while routes go on.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.conftest import SEEDS
from tests.layers.test_networks import cut_seed
from tests.pgcluster import Cluster

ROOT = Path(__file__).resolve().parents[2]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "api.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return out.stdout


@dataclass
class Hosts:
    """The two replicas and nginx."""

    urls: list[str]
    lb: str
    envs: list[dict[str, str]]
    cluster: Cluster
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)


def _wait(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{url} exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} did not start within {timeout_s:g} s")


NGINX = """
{user}
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream planner {{
        server 127.0.0.1:{a};
        server 127.0.0.1:{b};
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 25m;
        location / {{
            proxy_pass http://planner;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""


@pytest.fixture(scope="module")
def hosts(
    pg_cluster: Cluster, pg_template: str, cache_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Hosts]:
    url = pg_cluster.new_database(template=pg_template)
    base = tmp_path_factory.mktemp("hosts")
    ports = [_port(), _port()]
    envs = []
    for i in range(2):
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "VENUE_PLANNER_DATABASE_URL": url,
            "VENUE_PLANNER_DATABASE_TIMEOUT_S": "1",
            "VENUE_PLANNER_SEEDS_DIR": str(SEEDS),
            "VENUE_PLANNER_DATA_DIR": str(base / f"data-{i}"),
            "VENUE_PLANNER_CACHE_DIR": str(base / f"cache-{i}"),
            "VENUE_PLANNER_COMPUTE_WORKERS": "1",
            "VENUE_PLANNER_ALLOWED_HOSTS": '["127.0.0.1", "localhost"]',
        }
        envs.append(env)
    # Each host has its own cache folder: the first builds what the session's cache lacks, the second copies it.
    shutil.copytree(cache_dir, base / "cache-0")
    h = Hosts([f"http://127.0.0.1:{p}" for p in ports], "", envs, pg_cluster)
    try:
        for i in range(2):
            if i == 1:
                shutil.copytree(base / "cache-0", base / "cache-1")
            proc = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "serve", "--port", str(ports[i])],
                env=envs[i], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            h.procs.append(proc)
            _wait(h.urls[i], proc)
        lb_port = _port()
        nginx_dir = base / "nginx"
        nginx_dir.mkdir()
        conf = nginx_dir / "nginx.conf"
        user = "user root;" if os.geteuid() == 0 else ""
        conf.write_text(NGINX.format(user=user, tmp=nginx_dir, a=ports[0], b=ports[1], port=lb_port))
        nginx = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(nginx_dir)], stderr=subprocess.DEVNULL)
        h.procs.append(nginx)
        h.lb = f"http://127.0.0.1:{lb_port}"
        _wait(h.lb, nginx, timeout_s=20)
        yield h
    finally:
        for p in h.procs:
            p.terminate()
        for p in h.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def _proposal(name: str, x: float = 116.3900) -> dict[str, Any]:
    ring = [[x, 39.9160], [x + 0.0015, 39.9160], [x + 0.0015, 39.9170], [x, 39.9170], [x, 39.9160]]
    return {"name": name, "footprint": {"type": "Polygon", "coordinates": [ring]}, "use": "hall", "floors": 1}


def test_a_write_on_one_replica_is_read_on_the_other_at_once(hosts: Hosts) -> None:
    key = _cli(hosts.envs[0], "keys", "add", "replica-editor", "--role", "editor").strip().splitlines()[-1]
    auth = {"authorization": f"Bearer {key}"}
    a, b = hosts.urls
    for writer, reader in ((a, b), (b, a)):
        r = httpx.post(f"{writer}/proposals", json=_proposal(f"from {writer}"), headers=auth, timeout=30)
        assert r.status_code == 201, r.text
        pid = r.json()["id"]
        got = httpx.get(f"{reader}/proposals/{pid}", timeout=30)
        assert got.status_code == 200
        assert got.json()["name"] == f"from {writer}"
        assert got.json()["author"] == "replica-editor"
    listed = {p["name"] for p in httpx.get(f"{hosts.lb}/proposals", timeout=30).json()}
    assert {f"from {a}", f"from {b}"} <= listed
    # A plan saved through nginx is there on both replicas.
    plan = {"name": "Parade", "streets": ["西长安街"], "window": {"start": "07:30", "end": "09:00"}}
    r = httpx.post(f"{hosts.lb}/plans", json=plan, headers=auth, timeout=30)
    assert r.status_code == 201, r.text
    for u in hosts.urls:
        assert httpx.get(f"{u}/plans/{r.json()['id']}", timeout=30).json()["plan"]["name"] == "Parade"


def test_keys_added_and_revoked_on_one_host_hold_on_all(hosts: Hosts) -> None:
    key = _cli(hosts.envs[1], "keys", "add", "short-lived", "--role", "editor").strip().splitlines()[-1]
    auth = {"authorization": f"Bearer {key}"}
    for u in hosts.urls:
        r = httpx.post(f"{u}/proposals", json=_proposal("keyed", 116.40), headers=auth, timeout=30)
        assert r.status_code == 201, r.text
    _cli(hosts.envs[0], "keys", "revoke", "short-lived")
    revoked_at = time.monotonic()
    for u in hosts.urls:
        r = httpx.post(f"{u}/proposals", json=_proposal("too late", 116.40), headers=auth, timeout=30)
        assert r.status_code == 401
    assert time.monotonic() - revoked_at < 1.0  # refused on both within one second


def test_a_network_imported_on_one_host_is_used_by_the_other(hosts: Hosts, tmp_path: Path) -> None:
    extract = cut_seed(tmp_path / "tiananmen.osm")
    _cli(hosts.envs[0], "networks", "import", str(extract), "--name", "tiananmen")
    q = {"origin": "116.392,39.903", "destination": "116.400,39.915"}
    deadline = time.monotonic() + 10
    names: set[str] = set()
    while time.monotonic() < deadline:
        r = httpx.get(f"{hosts.urls[1]}/routes", params=q, timeout=120)
        assert r.status_code == 200, r.text
        names = {f["properties"]["network"] for f in r.json()["features"]}
        if names == {"tiananmen"}:
            break
        time.sleep(0.5)
    assert names == {"tiananmen"}
    assert any(p.name.startswith("tiananmen.drive") for p in Path(hosts.envs[1]["VENUE_PLANNER_CACHE_DIR"]).iterdir())


def test_concurrent_edits_through_the_two_replicas_one_wins(hosts: Hosts) -> None:
    key = _cli(hosts.envs[0], "keys", "add", "racer", "--role", "editor").strip().splitlines()[-1]
    auth = {"authorization": f"Bearer {key}"}
    a, b = hosts.urls
    r = httpx.post(f"{a}/proposals", json=_proposal("race", 116.41), headers=auth, timeout=30)
    pid = r.json()["id"]
    barrier = threading.Barrier(2)

    def edit(url: str, version: int, n: int) -> int:
        with httpx.Client(timeout=60) as c:
            barrier.wait()
            return c.put(
                f"{url}/proposals/{pid}",
                json={"name": f"race {n} via {url}"},
                headers={**auth, "if-match": f'"v{version}"'},
            ).status_code

    with ThreadPoolExecutor(2) as pool:
        for n in range(1, 101):
            codes = sorted(pool.map(edit, [a, b], [n, n], [n, n]))
            assert codes == [200, 412], (n, codes)
    versions = httpx.get(f"{b}/proposals/{pid}/versions", timeout=30).json()
    assert [v["version"] for v in versions] == list(range(1, 102))  # nothing lost, nothing doubled


def test_a_postgres_restart_under_load(hosts: Hosts) -> None:
    key = _cli(hosts.envs[0], "keys", "add", "under-load", "--role", "editor").strip().splitlines()[-1]
    auth = {"authorization": f"Bearer {key}"}
    acked: list[str] = []
    write_codes: list[int] = []
    route_codes: list[int] = []
    retry_after: set[str | None] = set()
    stop = threading.Event()

    def writer() -> None:
        with httpx.Client(timeout=30) as c:
            n = 0
            while not stop.is_set():
                n += 1
                r = c.post(f"{hosts.lb}/proposals", json=_proposal(f"load {n}", 116.42), headers=auth)
                write_codes.append(r.status_code)
                if r.status_code == 201:
                    acked.append(r.json()["id"])
                elif r.status_code == 503:
                    retry_after.add(r.headers.get("retry-after"))
                time.sleep(0.05)

    def router() -> None:
        with httpx.Client(timeout=30) as c:
            while not stop.is_set():
                q = {"origin": "beijing-west-station", "destination": "temple-of-heaven"}
                route_codes.append(c.get(f"{hosts.lb}/routes", params=q).status_code)

    threads = [threading.Thread(target=writer), threading.Thread(target=router)]
    for t in threads:
        t.start()
    time.sleep(2)
    hosts.cluster.pg_ctl("stop", "-m", "fast")
    time.sleep(4)
    hosts.cluster.pg_ctl("start")
    time.sleep(6)  # the replicas reconnect by themselves
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert set(write_codes) <= {201, 503}, sorted(set(write_codes))
    assert 503 in write_codes  # writes were refused while the database was away ...
    assert retry_after == {"5"}  # ... with when to try again
    assert write_codes[-1] == 201  # and accepted again afterwards
    assert set(route_codes) == {200}  # routes went on throughout
    assert len(route_codes) > 10
    for pid in acked:  # every acknowledged write is there
        assert httpx.get(f"{hosts.lb}/proposals/{pid}", timeout=30).status_code == 200
