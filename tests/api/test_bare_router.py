"""A router runs on a bare app with only the service it takes (typed dependencies, as tipg and titiler test theirs)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.errors import install_error_handlers
from api.routers import sites
from api.settings import REPO_ROOT
from layers.networks import NetworkStore
from layers.registry import LayerStore
from layers.sites import SiteCatalog


def test_the_sites_router_needs_only_the_site_catalogue(tmp_path: Path) -> None:
    seeds = REPO_ROOT / "seeds"
    catalogue = SiteCatalog(LayerStore(seeds, NetworkStore(seeds, tmp_path / "data", tmp_path / "cache")))
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(sites.router)
    app.state.context = SimpleNamespace(sites=catalogue)  # no routing, no stores: just what the route takes
    client = TestClient(app)
    r = client.get("/sites")
    assert r.status_code == 200
    got = {f["properties"]["id"] for f in r.json()["features"]}
    shipped = set(gpd.read_file(seeds / "sites.geojson")["id"])
    assert got == shipped
    assert "temple-of-heaven" in got
