"""Every result downloads as GeoJSON and as a GeoPackage that opens with its attribution."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient

PALACE = {
    "type": "Polygon",
    "coordinates": [[[116.39, 39.916], [116.3915, 39.916], [116.3915, 39.917], [116.39, 39.917], [116.39, 39.916]]],
}

CASES: list[tuple[str, str, dict[str, Any] | None, int]] = [
    ("get", "/routes?origin=beijing-west-station&destination=temple-of-heaven&alternatives=2", None, 2),
    ("post", "/routes", {"origin": "capital-airport", "destination": "forbidden-city"}, 1),
    ("post", "/itineraries", {"stops": ["capital-airport", "olympic-green", "forbidden-city"]}, 2),
    ("post", "/isochrones", {"origin": "temple-of-heaven", "bands_min": [5, 10]}, 2),
    ("post", "/coverage", {"sites": ["temple-of-heaven", "summer-palace"], "minutes": 10}, 4),
    ("post", "/footprints/analyze", {"footprint": PALACE}, 1),
    ("post", "/footprints/buildable", {"parcel": PALACE}, 3),
    ("get", "/layers/subway-stations?bbox=116.38,39.90,116.42,39.93", None, -1),
]


@pytest.mark.parametrize(("method", "url", "body", "n"), CASES)
def test_geopackage_downloads(
    client: TestClient, tmp_path: Path, method: str, url: str, body: dict[str, Any] | None, n: int
) -> None:
    sep = "&" if "?" in url else "?"
    r = client.request(method.upper(), f"{url}{sep}format=gpkg", json=body)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/geopackage+sqlite3"
    path = tmp_path / "out.gpkg"
    path.write_bytes(r.content)
    gdf = gpd.read_file(path)
    assert gdf.crs.to_epsg() == 4326
    if n >= 0:
        assert len(gdf) == n
    with sqlite3.connect(path) as con:
        (desc,) = con.execute("SELECT description FROM gpkg_contents").fetchone()
    assert "OpenStreetMap" in desc
    g = client.request(method.upper(), f"{url}{sep}format=geojson", json=body)
    assert g.status_code == 200
    assert g.headers["content-type"] == "application/geo+json"
    assert g.json()["type"] == "FeatureCollection"
