"""The HTTP API on the shipped data."""

from __future__ import annotations

import importlib.metadata
import io
import json
from pathlib import Path

import geopandas as gpd
import pytest
import rasterio
from fastapi.testclient import TestClient

from api.errors import ERROR_TABLE


def test_health(client: TestClient) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert "central-beijing-2013:drive" in body["networks_loaded"]
    assert "OpenStreetMap" in body["attribution"]
    # The installed package's version, the same in the API description.
    assert body["version"] == importlib.metadata.version("venue-planner")
    assert client.get("/openapi.json").json()["info"]["version"] == body["version"]


def test_layers_list(client: TestClient) -> None:
    r = client.get("/layers")
    ids = [layer["id"] for layer in r.json()]
    assert ids == [
        "sites", "townships", "subway-stations", "subway-entrances", "subway-lines", "heritage-buildings",
        "population", "elevation", "roads-drive", "roads-walk", "roads-regional",
    ]  # fmt: skip
    for layer in r.json():
        assert layer["attribution"]
        assert layer["crs"].startswith("EPSG:")


def test_layer_geojson_with_bbox_is_rfc7946(client: TestClient) -> None:
    r = client.get("/layers/subway-stations", params={"bbox": "116.38,39.90,116.40,39.91"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/geo+json"
    doc = r.json()
    assert "crs" not in doc
    assert "OpenStreetMap" in doc["attribution"]
    names = {f["properties"]["name"] for f in doc["features"]}
    assert {"天安门东", "天安门西"} <= names
    for f in doc["features"]:
        lon, lat = f["geometry"]["coordinates"]
        assert 116.38 <= lon <= 116.40
        assert 39.90 <= lat <= 39.91


def test_layer_as_geopackage(client: TestClient, tmp_path: Path) -> None:
    r = client.get("/layers/heritage-buildings", params={"format": "gpkg"})
    assert r.status_code == 200
    path = tmp_path / "h.gpkg"
    path.write_bytes(r.content)
    gdf = gpd.read_file(path)
    assert len(gdf) == 1226  # 1,227 OSM outlines less one of zero area
    assert not gdf.geometry.is_empty.any()
    assert gdf.crs.to_epsg() == 4326


def test_raster_layer_is_geotiff(client: TestClient) -> None:
    r = client.get("/layers/population")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/tiff"
    with rasterio.open(io.BytesIO(r.content)) as ds:
        assert ds.crs.to_epsg() == 32650
        assert ds.res == (100.0, 100.0)


def test_roads_layer_has_speeds(client: TestClient) -> None:
    r = client.get("/layers/roads-drive", params={"bbox": "116.39,39.90,116.395,39.905"})
    feats = r.json()["features"]
    assert feats
    for f in feats:
        p = f["properties"]
        assert p["travel_time_s"] == pytest.approx(p["length_m"] / (p["speed_kph"] / 3.6))


def test_sites_list(client: TestClient) -> None:
    doc = client.get("/sites").json()
    assert doc["type"] == "FeatureCollection"
    assert len(doc["features"]) == 22
    kinds = {f["properties"]["kind"] for f in doc["features"]}
    assert kinds == {"candidate_site", "sub_site", "airport", "railway_station", "venue"}


def test_site_detail_covered(client: TestClient) -> None:
    body = client.get("/sites/forbidden-city").json()
    assert body["site"]["properties"]["name_zh"] == "故宫"
    drive = next(a for a in body["access"] if a["mode"] == "drive")
    assert drive["covered"] is True
    assert drive["network"] == "central-beijing-2013"
    assert drive["boundary_gap_m"] <= 300
    assert body["map"] == "/maps/sites/forbidden-city"


def test_site_detail_by_english_name(client: TestClient) -> None:
    assert client.get("/sites/Summer Palace").json()["site"]["properties"]["id"] == "summer-palace"


def test_site_with_sub_sites(client: TestClient) -> None:
    body = client.get("/sites/central-axis").json()
    ids = {f["properties"]["id"] for f in body["sub_sites"]["features"]}
    assert ids == {
        "yongdingmen",
        "temple-of-heaven",
        "zhongshan-park",
        "forbidden-city",
        "jingshan",
        "bell-drum-towers",
    }


def test_yanqi_lake_is_on_the_regional_network_for_driving_only(client: TestClient) -> None:
    body = client.get("/sites/yanqi-lake").json()
    access = {a["mode"]: a for a in body["access"]}
    assert access["drive"]["covered"] is True
    assert access["drive"]["network"] == "beijing-regional"
    assert access["walk"]["covered"] is False
    assert "lies outside every loaded walk" in access["walk"]["message"]
    assert "driving only" in access["walk"]["message"]
    assert "networks import FILE" in access["walk"]["message"]


@pytest.mark.parametrize(
    ("url", "status", "code", "fragment"),
    [
        ("/sites/nowhere", 404, "not_found", "no site 'nowhere'"),
        ("/sites/summer-palce", 404, "not_found", "Did you mean 'summer-palace'"),
        ("/layers/nope", 404, "not_found", "no layer called 'nope'"),
        ("/layers/sites?bbox=40,116,41,117", 422, "invalid_input", "give longitude first"),
        ("/layers/sites?bbox=1,2,3", 422, "invalid_input", "must be four numbers"),
        ("/layers/sites?format=shp", 422, "invalid_request", "format"),
        ("/maps/sites/central-axis?basemap=google", 422, "invalid_request", "basemap"),
        ("/maps/sites/atlantis", 404, "not_found", "no site 'atlantis'"),
    ],
)
def test_errors_have_stable_codes(client: TestClient, url: str, status: int, code: str, fragment: str) -> None:
    r = client.get(url)
    assert r.status_code == status
    err = r.json()["error"]
    assert err["code"] == code
    assert err["status"] == status
    assert fragment in err["message"]


def test_error_table_covers_every_error_class() -> None:
    import inspect

    import geo.errors
    import layers.errors

    classes = {
        obj
        for module in (geo.errors, layers.errors)
        for n in module.__all__
        if inspect.isclass(obj := getattr(module, n))
    }
    assert classes == set(ERROR_TABLE)
    # each layer's table holds exactly the errors that layer defines
    assert {c.__module__ for c in layers.errors.LAYERS_ERRORS} == {"layers.errors"}
    assert {c.__module__ for c in geo.errors.GEO_ERRORS} == {"geo.errors"}


def test_openapi_has_operation_ids(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    ops = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {"health", "list_layers", "get_layer", "list_sites", "get_site", "site_map", "index_map"} <= ops
    assert client.get("/docs").status_code == 200


def test_site_map_page_renders(client: TestClient) -> None:
    r = client.get("/maps/sites/central-axis", params={"basemap": "none"})
    assert r.status_code == 200
    page = r.text
    for label in (
        "Site boundary",
        "Sub-sites (6)",
        "Roads, drive",
        "Subway stations",
        "Subway entrances",
        "No basemap",
    ):
        assert label in page, label
    assert "openstreetmap.org/copyright" in page
    assert "contributors (ODbL)" in page
    assert "/static/vendor/leaflet/leaflet.js" in page
    assert "cdn.jsdelivr.net" not in page
    assert len(r.content) < 3_000_000


def test_site_map_panel_states_uncertainty_only_where_known(client: TestClient) -> None:
    assert "Uncertainty ±2000 m" in client.get("/maps/sites/yanqi-lake").text
    page = client.get("/maps/sites/summer-palace").text
    assert "Uncertainty" not in page
    assert "nan" not in page.split('id="site-panel"')[1][:600]


def test_far_site_map_says_its_roads_are_coarse(client: TestClient) -> None:
    page = client.get("/maps/sites/yanqi-lake").text
    assert 'id="coverage-notice"' in page
    assert "only the coarse regional skeleton of major roads covers this site" in page
    assert "Walking is not modelled here" in page
    assert "Major roads, regional skeleton" in page
    assert "Within 90 min (drive)" in page
    assert "Roads, drive" not in page


def test_index_map_links_every_site(client: TestClient) -> None:
    page = client.get("/maps").text
    sites = json.loads(client.get("/sites").content)["features"]
    for f in sites:
        assert f"/maps/sites/{f['properties']['id']}" in page


def test_static_leaflet_is_served(client: TestClient) -> None:
    r = client.get("/static/vendor/leaflet/leaflet.js")
    assert r.status_code == 200
    assert "Leaflet" in r.text[:500]


def test_sites_report_walkable_length_inside(client: TestClient) -> None:
    def walk(sid: str) -> dict[str, object]:
        return next(a for a in client.get(f"/sites/{sid}").json()["access"] if a["mode"] == "walk")

    palace = walk("summer-palace")
    assert palace["walking_inside_modelled"] is False
    assert palace["walkable_km_per_km2"] < 0.5
    assert "footpaths" in palace["note"]
    towers = walk("bell-drum-towers")  # a district of lanes
    assert towers["walking_inside_modelled"] is True
    assert towers["walkable_km_per_km2"] > 8
    assert towers["note"] is None
    drive = next(a for a in client.get("/sites/summer-palace").json()["access"] if a["mode"] == "drive")
    assert drive["walkable_km_per_km2"] is None


@pytest.mark.parametrize("sid", ["temple-of-heaven", "yanqi-lake"])
def test_a_sites_access_point_is_where_its_routes_start(client: TestClient, sid: str) -> None:
    access = {a["mode"]: a for a in client.get(f"/sites/{sid}").json()["access"]}["drive"]
    route = client.post("/routes", json={"origin": {"site": sid}, "destination": {"site": "capital-airport"}}).json()
    start = route["features"][0]["properties"]["origin"]
    assert (start["lon"], start["lat"]) == pytest.approx((access["access_lon"], access["access_lat"]), abs=1e-6)


def test_the_manual_lists_every_setting() -> None:
    from api.settings import REPO_ROOT, settings_table

    page = (REPO_ROOT / "docs" / "operators" / "configuration.md").read_text(encoding="utf-8")
    block = page.split("<!-- settings:start -->\n", 1)[1].split("<!-- settings:end -->", 1)[0]
    assert block == settings_table(), (
        "regenerate the table in docs/operators/configuration.md: "
        "python -c 'from api.settings import settings_table; print(settings_table())'"
    )


def test_limits_are_settings_and_reach_the_services(tmp_path: Path) -> None:
    from api.context import Context
    from api.settings import Settings
    from geo.errors import InvalidInputError
    from geo.limits import LIMITS, limit_docs

    assert set(limit_docs()) <= set(Settings.model_fields)
    low = Settings(data_dir=tmp_path, max_matrix_cells=4, max_stops=3, max_compare=2, max_use_chars=5)
    ctx = Context.from_settings(low)
    assert ctx.limits.max_matrix_cells == 4
    assert ctx.routing.limits.max_stops == 3
    with pytest.raises(InvalidInputError, match="the limit is 4"):
        ctx.routing.matrix(["forbidden-city"] * 3, ["temple-of-heaven"] * 2)
    with pytest.raises(InvalidInputError, match="the limit is 3"):
        ctx.routing.itinerary(["forbidden-city", "jingshan", "temple-of-heaven", "beijing-west-station"])
    with pytest.raises(ValueError, match="max_stops"):
        Settings(data_dir=tmp_path, max_stops=LIMITS.max_stops + 1)
