"""Shared fixtures: settings pointing at the shipped seeds, a context, an API client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.context import Context
from api.settings import REPO_ROOT, Settings

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
