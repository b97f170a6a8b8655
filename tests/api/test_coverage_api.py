"""The coverage endpoints: shapes of the answers, downloads, and every bad input."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from fastapi.testclient import TestClient


def test_isochrones_default_bands(client: TestClient) -> None:
    r = client.post("/isochrones", json={"origin": "temple-of-heaven"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/geo+json"
    body = r.json()
    assert [f["properties"]["minutes"] for f in body["features"]] == [30.0, 15.0, 10.0, 5.0]
    pops = [f["properties"]["population"] for f in body["features"]]
    assert pops == sorted(pops, reverse=True)
    assert 1_000_000 < pops[1] < 5_000_000  # 15 minutes' drive from the Temple of Heaven, central Beijing
    for f in body["features"]:
        geom = shapely.geometry.shape(f["geometry"])
        assert geom.is_valid
        assert geom.geom_type == "MultiPolygon"
        props = f["properties"]
        assert props["station_count"] == len({s for v in props["stations"].values() for s in v})
    assert body["origin"]["site_id"] == "temple-of-heaven"
    assert "OpenStreetMap" in body["attribution"]
    assert "WorldPop" in body["attribution"]
    assert sum(t["within_15"] for t in body["townships"]) == pytest.approx(pops[1], rel=1e-5)


def test_reverse_isochrone_differs(client: TestClient) -> None:
    fwd = client.post("/isochrones", json={"origin": "beijing-west-station", "bands_min": [10]}).json()
    rev = client.post("/isochrones", json={"origin": "beijing-west-station", "bands_min": [10], "reverse": True}).json()
    assert rev["reverse"] is True
    a = shapely.geometry.shape(fwd["features"][0]["geometry"])
    b = shapely.geometry.shape(rev["features"][0]["geometry"])
    assert 0.5 < a.area / b.area < 2.0
    assert a.symmetric_difference(b).area > 0.01 * a.area  # one-way streets make them differ


def test_isochrone_geopackage(client: TestClient, tmp_path: Path) -> None:
    r = client.post("/isochrones?format=gpkg", json={"origin": [116.3397, 39.9403], "mode": "walk"})
    assert r.status_code == 200
    path = tmp_path / "iso.gpkg"
    path.write_bytes(r.content)
    gdf = gpd.read_file(path)
    assert list(gdf["minutes"]) == [30.0, 15.0, 10.0, 5.0]
    assert gdf.crs.to_epsg() == 4326


def test_coverage_union_and_overlap(client: TestClient) -> None:
    r = client.post("/coverage", json={"sites": ["temple-of-heaven", "forbidden-city"], "minutes": 10})
    assert r.status_code == 200
    body = r.json()
    roles = {f["properties"]["role"]: f["properties"] for f in body["features"] if f["properties"]["role"] != "site"}
    sites = [f["properties"] for f in body["features"] if f["properties"]["role"] == "site"]
    assert len(sites) == 2
    # Inclusion-exclusion on people: union = a + b - overlap.
    a, b = sites[0]["population"], sites[1]["population"]
    assert roles["union"]["population"] == pytest.approx(a + b - roles["overlap"]["population"], abs=5)
    assert roles["overlap"]["population"] > 0  # the two are 3.7 km apart
    covered = sum(t["covered"] for t in body["townships"])
    assert covered == pytest.approx(roles["union"]["population"], rel=1e-5)


def test_gaps(client: TestClient) -> None:
    r = client.post("/coverage/gaps", json={"sites": ["forbidden-city"], "minutes": 15})
    assert r.status_code == 200
    body = r.json()
    s = body["summary"]
    statuses = {f["properties"]["status"] for f in body["features"]}
    assert statuses <= {"covered", "partial", "gap"}
    assert s["gap_townships"] == sum(f["properties"]["status"] == "gap" for f in body["features"])
    assert s["not_assessed_population"] > 5_000_000  # outer districts are beyond the shipped network
    # The Forbidden City's own township is mostly covered (the palace itself, roadless, is not).
    donghua = [f["properties"] for f in body["features"] if f["properties"]["township"] == "东华门街道"]
    assert donghua
    assert donghua[0]["status"] in {"covered", "partial"}
    assert donghua[0]["covered_share"] > 0.5


def test_choose_sites(client: TestClient) -> None:
    cands = ["temple-of-heaven", "summer-palace", "lugou-bridge", "olympic-green"]
    r = client.post("/coverage/choose-sites", json={"candidates": cands, "minutes": 15, "k": 2})
    assert r.status_code == 200
    body = r.json()
    assert len(body["max_cover"]["sites"]) == 2
    assert body["min_sites"]["covered_share_of_coverable"] == pytest.approx(1.0)
    assert body["max_cover"]["covered_population"] <= body["coverable_population"]


def test_surface_geotiff(client: TestClient, tmp_path: Path) -> None:
    r = client.get("/coverage/surface.tif", params={"sites": ["temple-of-heaven", "summer-palace"]})
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/tiff"
    path = tmp_path / "s.tif"
    path.write_bytes(r.content)
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 32650
        assert src.res == (100.0, 100.0)
        assert src.nodata == -9999.0
        data = src.read(1, masked=True)
        assert "OpenStreetMap" in src.tags()["ATTRIBUTION"]
    assert 0.0 <= float(data.min()) < 0.5
    assert 20 < float(data.max()) < 180
    assert data.mask.any()  # nodata off the network
    assert np.ma.count(data) > 10_000


@pytest.mark.parametrize(
    ("url", "body", "status", "code", "words"),
    [
        ("/isochrones", {"origin": "temple-of-heaven", "bands_min": [-5]}, 422, "invalid_input", "not a travel time"),
        ("/isochrones", {"origin": "temple-of-heaven", "bands_min": [181]}, 422, "invalid_input", "(0, 180]"),
        (
            "/isochrones",
            {"origin": "temple-of-heaven", "bands_min": list(range(1, 12))},
            422,
            "invalid_input",
            "at most 8",
        ),
        ("/isochrones", {"origin": "temple-of-heavn"}, 404, "not_found", "Did you mean"),
        ("/isochrones", {"origin": "yanqi-lake", "mode": "walk"}, 422, "outside_coverage", "networks import"),
        ("/isochrones", {"origin": [116.67, 40.40], "mode": "walk"}, 422, "outside_coverage", "outside every loaded"),
        ("/isochrones", {"origin": [117.07, 39.98]}, 422, "outside_coverage", "outside every loaded drive"),
        ("/isochrones", {"origin": [39.9, 116.4]}, 422, "invalid_input", "latitude, longitude"),
        ("/coverage", {"sites": []}, 422, "invalid_input", "empty"),
        ("/coverage", {"sites": ["temple-of-heaven"], "minutes": 0}, 422, "invalid_input", "not a travel time"),
        ("/coverage", {"sites": ["grand-canal"], "mode": "walk"}, 422, "outside_coverage", "grand-canal"),
        ("/coverage/gaps", {"sites": ["temple-of-heaven"] * 26}, 422, "invalid_input", "at most 25"),
        ("/coverage/choose-sites", {"candidates": ["temple-of-heaven"], "k": 2}, 422, "invalid_input", "`k`"),
        ("/coverage/choose-sites", {"candidates": []}, 422, "invalid_input", "empty"),
    ],
)
def test_bad_input(client: TestClient, url: str, body: dict[str, object], status: int, code: str, words: str) -> None:
    r = client.post(url, json=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code
    assert words in err["message"]


def test_surface_needs_sites(client: TestClient) -> None:
    r = client.get("/coverage/surface.tif")
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_request"


def test_truncated_bands_and_walk_warnings_are_in_the_answer(client: TestClient) -> None:
    r = client.post("/isochrones", json={"origin": "central-axis", "bands_min": [10, 30]}).json()
    by_min = {f["properties"]["minutes"]: f["properties"] for f in r["features"]}
    assert by_min[30]["truncated"] is True
    assert by_min[10]["truncated"] is False
    assert any("30 min" in w and "lower bounds" in w for w in r["warnings"])
    walk = client.post("/isochrones", json={"origin": "summer-palace", "mode": "walk", "bands_m": [1000]}).json()
    assert walk["features"][0]["properties"]["metres"] == 1000
    assert walk["features"][0]["properties"]["minutes"] is None
    assert any("walking inside Summer Palace" in w for w in walk["warnings"])
    both = client.post("/isochrones", json={"origin": "summer-palace", "bands_m": [1000], "bands_min": [5]})
    assert both.status_code == 422
    assert "not both" in both.json()["error"]["message"]
