"""Shared fixtures: settings pointing at the shipped seeds, a context, an API client."""

from __future__ import annotations

import secrets
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.context import Context
from api.protocol import server_config
from api.settings import REPO_ROOT, Settings
from layers.database import Database, PostgresDatabase
from layers.keys import KeyStore
from layers.pgschema import prepare
from tests.pgcluster import Cluster, throwaway_cluster

SEEDS = REPO_ROOT / "seeds"
TEST_DATA = Path(__file__).parent / "data"
# TestClient sends Host: testserver; the browser tests use 127.0.0.1.
TEST_HOSTS = ["testserver", "127.0.0.1", "localhost"]


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One graph cache for the whole session (the cold build takes about 30 s)."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def settings(cache_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        seeds_dir=SEEDS, data_dir=tmp_path_factory.mktemp("data"), cache_dir=cache_dir, allowed_hosts=TEST_HOSTS
    )


@contextmanager
def served_app(app: FastAPI, *, wait_s: float = 180) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yield its base URL once /health answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(server_config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    break
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.3)
    else:
        server.should_exit = True
        pytest.fail(f"the service did not start within {wait_s:g} s")
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def make_key(data_dir: Path, role: str = "editor", name: str | None = None) -> str:
    """Create an API key in a data folder (as `venue-planner keys add` does) and return it."""
    return KeyStore(data_dir / "keys.sqlite").add(name or f"test-{role}-{secrets.token_hex(3)}", role=role)


@pytest.fixture(scope="session")
def editor_key(settings: Settings) -> str:
    """An editor's key in the session's data folder."""
    return make_key(settings.data_dir, "editor", "session-editor")


@pytest.fixture(scope="session")
def ctx(settings: Settings) -> Context:
    return Context.from_settings(settings)


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def fresh_settings(cache_dir: Path, tmp_path: Path) -> Settings:
    """Settings with an empty data folder of its own (for imports)."""
    return Settings(seeds_dir=SEEDS, data_dir=tmp_path / "data", cache_dir=cache_dir, allowed_hosts=TEST_HOSTS)


# -- the store on both engines ---------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A throwaway PostgreSQL + PostGIS cluster for the session (stopped afterwards)."""
    with throwaway_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def pg_template(pg_cluster: Cluster) -> str:
    """The name of a database holding the migrated schema, cloned for each test."""
    url = pg_cluster.new_database()
    prepare(PostgresDatabase(url))
    return url.rsplit("/", 1)[1]


@pytest.fixture
def pg_url(pg_cluster: Cluster, pg_template: str) -> str:
    """A fresh migrated database of its own."""
    return pg_cluster.new_database(template=pg_template)


StoreAt = Callable[[str], Path | Database]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_at(request: pytest.FixtureRequest, tmp_path: Path) -> StoreAt:
    """Where a store keeps its records: ``store_at("proposals")`` is an SQLite file or one shared PostgreSQL."""
    if request.param == "sqlite":
        return lambda name: tmp_path / f"{name}.sqlite"
    db = PostgresDatabase(request.getfixturevalue("pg_url"), timeout_s=5)
    return lambda name: db
