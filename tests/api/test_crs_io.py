"""The national coordinate systems in and out: requests drawn in EPSG:4490, 4548 or 32650, downloads in them.

pyproj is the independent computation: a footprint drawn in EPSG:4548 is pyproj's transform of the
same footprint in CRS84, and must give the same answer; GDAL (pyogrio, rasterio) reads the files back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pyproj
import pytest
import rasterio
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.conftest import make_key

WANPING = [[116.2264, 39.8484], [116.2284, 39.8484], [116.2284, 39.8499], [116.2264, 39.8499], [116.2264, 39.8484]]


def _in(epsg: int, ring: list[list[float]]) -> list[list[float]]:
    """Return a lon/lat ring in ``epsg``, x first (easting), as a client's GIS writes it."""
    tr = pyproj.Transformer.from_crs("OGC:CRS84", f"EPSG:{epsg}", always_xy=True)
    x, y = tr.transform([p[0] for p in ring], [p[1] for p in ring])
    return [[float(a), float(b)] for a, b in zip(x, y, strict=True)]


def _poly(ring: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture(scope="module")
def fresh(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    own = settings.model_copy(update={"data_dir": tmp_path_factory.mktemp("crs-io")})
    key = make_key(own.data_dir, "editor", "gis-wang")
    with TestClient(create_app(own), base_url="http://localhost", headers={"authorization": f"Bearer {key}"}) as c:
        yield c


@pytest.mark.parametrize("epsg", [4490, 4548, 32650])
def test_a_footprint_in_a_national_crs_is_analysed_as_in_crs84(client: TestClient, epsg: int) -> None:
    base = client.post("/footprints/analyze", json={"footprint": _poly(WANPING)}).json()
    got = client.post("/footprints/analyze", json={"footprint": _poly(_in(epsg, WANPING)), "crs": f"EPSG:{epsg}"})
    assert got.status_code == 200, got.text
    a = got.json()
    assert a["area_m2"] == pytest.approx(base["area_m2"], abs=0.01)
    assert a["site"] == base["site"]
    assert [c["message"] for c in a["conflicts"]] == [c["message"] for c in base["conflicts"]]
    assert a["population"] == base["population"]


@pytest.mark.parametrize(
    ("ring", "crs", "says"),
    [
        (WANPING, "EPSG:4548", "look like longitude/latitude"),  # lon/lat declared as Gauss-Kruger metres
        (_in(4548, WANPING), None, "look like projected metres"),  # metres sent as lon/lat
        ([[y, x] for x, y in _in(4548, WANPING)], "EPSG:4548", "axes swapped"),  # northing first
        (WANPING, "EPSG:3857", "must be one of"),
        (WANPING, "${jndi}</script>", "must be one of"),
    ],
)
def test_coordinates_that_do_not_fit_the_declared_crs_are_refused(
    client: TestClient, ring: list[list[float]], crs: str | None, says: str
) -> None:
    body: dict[str, Any] = {"footprint": _poly(ring)}
    if crs is not None:
        body["crs"] = crs
    r = client.post("/footprints/analyze", json=body)
    assert r.status_code == 422
    assert says in r.json()["error"]["message"]
    assert "</script>" not in r.text or "\\u003c" in r.text or r.headers["content-type"].startswith("application/json")


def test_a_closure_area_in_epsg4548_closes_what_the_crs84_one_closes(client: TestClient) -> None:
    q = {"origin": [116.38, 39.90], "destination": [116.43, 39.92]}
    line = shapely.geometry.shape(client.post("/routes", json=q).json()["features"][0]["geometry"])
    mid = line.interpolate(0.5, normalized=True)
    x, y, d = mid.x, mid.y, 0.002
    area = [[x - d, y - d], [x + d, y - d], [x + d, y + d], [x - d, y + d], [x - d, y - d]]  # over the route's middle
    a = client.post("/routes", json={**q, "closures": {"areas": [_poly(area)]}}).json()
    b = client.post("/routes", json={**q, "closures": {"areas": [_poly(_in(4548, area))], "crs": "EPSG:4548"}}).json()
    ta = a["features"][0]["properties"]["travel_time_s"]
    tb = b["features"][0]["properties"]["travel_time_s"]
    open_ = client.post("/routes", json=q).json()["features"][0]["properties"]["travel_time_s"]
    assert ta == pytest.approx(tb, abs=0.01)
    assert ta > open_


def test_a_proposal_round_trips_through_epsg4548(fresh: TestClient, tmp_path: Path) -> None:
    """Drawn in CRS84, exported as a GeoPackage in EPSG:4548, imported again: area to 0.01 m², vertices to 1 mm."""
    created = fresh.post("/proposals", json={"name": "Hall", "footprint": _poly(WANPING)})
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    before = fresh.get(f"/proposals/{pid}").json()
    export = fresh.get("/proposals/export?format=gpkg&crs=EPSG:4548")
    path = tmp_path / "p.gpkg"
    path.write_bytes(export.content)
    gdf = pyogrio.read_dataframe(path)
    assert gdf.crs.to_epsg() == 4548
    e, n = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:4548", always_xy=True).transform(
        [p[0] for p in WANPING], [p[1] for p in WANPING]
    )
    got = shapely.get_coordinates(gdf.geometry.iloc[0])
    assert np.allclose(got, np.column_stack([e, n]), atol=1e-3, rtol=0)
    assert fresh.delete(f"/proposals/{pid}").status_code == 204
    other = tmp_path / "renamed.gpkg"
    gdf["id"] = gdf["id"] + "-copy"
    pyogrio.write_dataframe(gdf, other, layer="proposals")
    imported = fresh.post("/proposals/import", files={"file": ("p.gpkg", other.read_bytes())})
    assert imported.status_code in (200, 201), imported.text
    again = fresh.get(f"/proposals/{pid}-copy").json()
    assert again["analysis"]["area_m2"] == pytest.approx(before["analysis"]["area_m2"], abs=0.01)
    back = shapely.get_coordinates(shapely.geometry.shape(again["geometry"]))
    m_back = np.column_stack(pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:32650", always_xy=True).transform(*back.T))
    m_want = np.column_stack(
        pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:32650", always_xy=True).transform(*np.array(WANPING).T)
    )
    assert np.abs(m_back - m_want).max() < 1e-3  # metres


def test_a_geojson_import_naming_epsg4548_is_transformed(fresh: TestClient, tmp_path: Path) -> None:
    import geopandas as gpd

    created = fresh.post("/proposals", json={"name": "Gate", "footprint": _poly(WANPING)}).json()
    export = fresh.get("/proposals/export?format=gpkg")
    path = tmp_path / "p.gpkg"
    path.write_bytes(export.content)
    gdf = gpd.read_file(path)
    gdf = gdf[gdf["id"] == created["id"]].copy()
    gdf["id"] = created["id"] + "-gk"
    out = tmp_path / "p.geojson"
    gdf.to_crs(4548).to_file(out, driver="GeoJSON")  # GDAL writes the crs member, easting first
    assert "4548" in out.read_text()
    r = fresh.post("/proposals/import", files={"file": ("p.geojson", out.read_bytes())})
    assert r.status_code in (200, 201), r.text
    got = fresh.get(f"/proposals/{created['id']}-gk").json()
    assert got["analysis"]["area_m2"] == pytest.approx(created["analysis"]["area_m2"], abs=0.01)


@pytest.mark.parametrize("epsg", [4490, 4548, 32650])
def test_geopackage_downloads_declare_the_asked_crs(client: TestClient, tmp_path: Path, epsg: int) -> None:
    r = client.post(f"/isochrones?format=gpkg&crs=EPSG:{epsg}", json={"origin": "temple-of-heaven", "bands_min": [5]})
    path = tmp_path / "i.gpkg"
    path.write_bytes(r.content)
    gdf = pyogrio.read_dataframe(path)
    assert gdf.crs.to_epsg() == epsg
    plain = client.post("/isochrones", json={"origin": "temple-of-heaven", "bands_min": [5]}).json()
    want = shapely.geometry.shape(plain["features"][0]["geometry"])
    tr = pyproj.Transformer.from_crs("OGC:CRS84", f"EPSG:{epsg}", always_xy=True)
    want_t = shapely.transform(want, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))
    assert np.allclose(shapely.get_coordinates(gdf.geometry.iloc[0]), shapely.get_coordinates(want_t), atol=1e-3)
    geojson = client.post(f"/isochrones?crs=EPSG:{epsg}", json={"origin": "temple-of-heaven", "bands_min": [5]})
    assert "RFC 7946" in geojson.json()["crs_note"]


def test_the_population_raster_in_epsg4548_keeps_its_values(client: TestClient) -> None:
    """Warped by nearest neighbour: the cell under a point holds the value of the source cell under it."""
    r = client.get("/layers/population?crs=EPSG:4548")
    assert r.status_code == 200
    src_bytes = client.get("/layers/population").content
    pts = [(116.397, 39.917), (116.30, 39.99), (116.45, 39.87)]
    with rasterio.MemoryFile(r.content) as m, m.open() as warped, rasterio.MemoryFile(src_bytes) as s, s.open() as src:
        assert warped.crs.to_epsg() == 4548
        for lon, lat in pts:
            xs, ys = pyproj.Transformer.from_crs("OGC:CRS84", src.crs, always_xy=True).transform(lon, lat)
            xw, yw = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:4548", always_xy=True).transform(lon, lat)
            v_src = next(src.sample([(xs, ys)]))[0]
            v_w = next(warped.sample([(xw, yw)]))[0]
            assert v_w == pytest.approx(v_src, rel=1e-6) or v_src == 0  # a cell edge may fall to a neighbour
    bad = client.get("/layers/population?crs=EPSG:2000")
    assert bad.status_code == 422


def test_a_plan_drawn_in_epsg4548_costs_what_the_crs84_one_costs(client: TestClient) -> None:
    area = [[116.385, 39.905], [116.41, 39.905], [116.41, 39.913], [116.385, 39.913], [116.385, 39.905]]
    a = client.post("/impact", json={"plan": {"name": "square", "areas": [_poly(area)]}})
    b = client.post("/impact", json={"plan": {"name": "square", "areas": [_poly(_in(4548, area))], "crs": "EPSG:4548"}})
    assert a.status_code == b.status_code == 200, b.text
    sa, sb = a.json()["summary"], b.json()["summary"]
    assert sb["closed_road_edges"] == sa["closed_road_edges"] > 0
    assert sb["person_hours_lost"] == pytest.approx(sa["person_hours_lost"], rel=1e-9)


def test_a_saved_plan_drawn_in_epsg4548_is_stored_in_wgs84(fresh: TestClient) -> None:
    area = [[116.385, 39.905], [116.41, 39.905], [116.41, 39.913], [116.385, 39.913], [116.385, 39.905]]
    r = fresh.post("/plans", json={"name": "gk", "areas": [_poly(_in(4548, area))], "crs": "EPSG:4548"})
    assert r.status_code == 201, r.text
    saved = fresh.get(f"/plans/{r.json()['id']}").json()
    got = shapely.get_coordinates(shapely.geometry.shape(saved["plan"]["areas"][0]))
    assert np.allclose(got, np.array(area), atol=1e-8)  # about 1 mm
