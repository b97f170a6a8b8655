"""OGC API – Features Part 1 (Core, GeoJSON): the requirements a client such as QGIS relies on."""

from __future__ import annotations

import urllib.parse
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from api.settings import REPO_ROOT

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def _rels(doc: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {link["rel"]: link for link in doc["links"]}


def _path(href: str) -> str:
    u = urllib.parse.urlsplit(href)
    return f"{u.path}?{u.query}" if u.query else u.path


def test_landing_page(client: TestClient) -> None:
    for r in (client.get("/ogc"), client.get("/", headers={"accept": "application/json"})):
        assert r.status_code == 200
        rels = _rels(r.json())
        # /req/core/root-success: links to the API definition, conformance and collections.
        assert {"self", "service-desc", "conformance", "data"} <= set(rels)
        assert rels["service-desc"]["type"].startswith("application/vnd.oai.openapi+json")
        assert client.get(_path(rels["service-desc"]["href"])).status_code == 200
    assert client.get("/", follow_redirects=False, headers={"accept": "text/html"}).status_code in (302, 307)


def test_conformance(client: TestClient) -> None:
    body = client.get("/ogc/conformance").json()
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in body["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in body["conformsTo"]


def test_collections(client: TestClient) -> None:
    body = client.get("/ogc/collections").json()
    assert "self" in _rels(body)
    ids = [c["id"] for c in body["collections"]]
    assert {"sites", "townships", "subway-stations", "heritage-buildings", "roads-drive", "proposals"} <= set(ids)
    assert "link-flows" in ids  # the event-impact model's hourly car flows (issue 25)
    assert "population" not in ids  # rasters are not feature collections
    for c in body["collections"]:
        rels = _rels(c)
        assert rels["items"]["type"] == "application/geo+json"
        assert c["extent"]["spatial"]["crs"] == CRS84
        minx, miny, maxx, maxy = c["extent"]["spatial"]["bbox"][0]
        assert 115 < minx <= maxx < 118  # longitude first
        assert 39 < miny <= maxy < 42
        one = client.get(f"/ogc/collections/{c['id']}").json()
        assert one["id"] == c["id"]


def test_items_bbox_and_paging(client: TestClient) -> None:
    bbox = (116.30, 39.85, 116.45, 39.95)
    stations = gpd.read_file(REPO_ROOT / "seeds" / "subway_stations.geojson")
    expected = int(shapely.intersects(stations.geometry.values, shapely.box(*bbox)).sum())
    url = "/ogc/collections/subway-stations/items?limit=25&bbox=" + ",".join(map(str, bbox))
    seen: list[str] = []
    pages = 0
    while url:
        r = client.get(url)
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/geo+json"
        body = r.json()
        assert body["type"] == "FeatureCollection"
        assert body["numberMatched"] == expected
        assert body["numberReturned"] == len(body["features"]) <= 25
        assert "timeStamp" in body
        for f in body["features"]:
            lon, lat = f["geometry"]["coordinates"]
            assert bbox[0] <= lon <= bbox[2]  # CRS84: longitude, latitude
            assert bbox[1] <= lat <= bbox[3]
            seen.append(str(f["id"]))
        rels = _rels(body)
        assert "self" in rels
        url = _path(rels["next"]["href"]) if "next" in rels else ""
        pages += 1
    assert len(seen) == len(set(seen)) == expected
    assert pages == -(-expected // 25)


def test_single_item(client: TestClient) -> None:
    first = client.get("/ogc/collections/sites/items?limit=1").json()["features"][0]
    r = client.get(f"/ogc/collections/sites/items/{first['id']}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/geo+json"
    feat = r.json()
    assert feat["type"] == "Feature"
    assert feat["properties"] == first["properties"]
    assert {"self", "collection"} <= set(_rels(feat))


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/ogc/collections/nowhere", 404),
        ("/ogc/collections/nowhere/items", 404),
        ("/ogc/collections/sites/items/99999", 404),
        ("/ogc/collections/sites/items/not-a-number", 404),
        ("/ogc/collections/sites/items?colour=red", 400),  # unknown parameter
        ("/ogc/collections/sites/items?limit=0", 400),
        ("/ogc/collections/sites/items?limit=10001", 400),
        ("/ogc/collections/sites/items?limit=ten", 400),
        ("/ogc/collections/sites/items?bbox=1,2,3", 400),
        ("/ogc/collections/sites/items?bbox=39.8,116.3,39.9,116.4", 400),  # latitude 116: lat/lon swapped
        ("/ogc/collections/sites/items?bbox=10,10,11,11", 200),  # valid, an empty selection
    ],
)
def test_item_errors(client: TestClient, url: str, status: int) -> None:
    r = client.get(url)
    assert r.status_code == status, r.text
    if status == 200:
        assert r.json()["numberMatched"] == 0


def test_items_as_geopackage(client: TestClient, tmp_path: object) -> None:
    r = client.get("/ogc/collections/heritage-buildings/items?f=gpkg&bbox=116.385,39.914,116.395,39.920")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/geopackage+sqlite3"


_GDAL_READ = """
import json, sys
import pyogrio
url = sys.argv[1]
out = {}
for name, _ in pyogrio.list_layers("OAPIF:" + url):
    gdf = pyogrio.read_dataframe("OAPIF:" + url, layer=str(name))
    out[str(name)] = [len(gdf), int(gdf.geometry.isna().sum()), [float(v) for v in gdf.total_bounds]]
print(json.dumps(out))
"""


def test_gdal_ogc_api_client_reads_every_collection_fully(
    settings: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """GDAL's own OGC API - Features client (OAPIF, what QGIS uses), given the landing page the manual names (docs/gis/index.md).

    It runs in another process: pyogrio holds the GIL while GDAL fetches pages, which
    would stall a server running in a thread of this one.
    """
    import json
    import subprocess
    import sys
    import urllib.request

    from api.app import create_app
    from tests.conftest import SEEDS, make_key, served_app

    own = settings.model_copy(update={"data_dir": tmp_path_factory.mktemp("ogc-gdal")})
    key = make_key(own.data_dir, "editor", "ogc")
    with served_app(create_app(own)) as url:
        # One saved proposal, so that the proposals collection has a feature to read.
        body = {"name": "Hall", "footprint": _square(116.2218, 39.8501)}
        req = urllib.request.Request(
            f"{url}/proposals",
            data=json.dumps(body).encode(),
            headers={"content-type": "application/json", "authorization": f"Bearer {key}"},
        )
        with urllib.request.urlopen(req) as r:
            assert r.status == 201
        with urllib.request.urlopen(f"{url}/ogc/collections") as r:
            ids = [c["id"] for c in json.load(r)["collections"]]
        matched = {}
        for cid in ids:
            with urllib.request.urlopen(f"{url}/ogc/collections/{cid}/items?limit=1") as r:
                matched[cid] = json.load(r)["numberMatched"]
        done = subprocess.run(
            [sys.executable, "-c", _GDAL_READ, f"{url}/ogc"], capture_output=True, text=True, timeout=900, check=True
        )
    got = json.loads(done.stdout)
    assert sorted(got) == sorted(ids)
    manifest = json.loads((SEEDS / "manifest.json").read_text(encoding="utf-8"))["files"]
    for cid, (n, missing, (minx, miny, maxx, maxy)) in got.items():
        assert n == matched[cid] > 0, cid
        assert missing == 0, cid
        if cid == "roads-regional":  # its chords run on past the border (raw item 8's cut)
            bx0, by0, bx1, by1 = manifest["beijing_highway_skeleton.geojson"]["bbox"]
            assert (minx, miny, maxx, maxy) == pytest.approx((bx0, by0, bx1, by1), abs=1e-3), cid
            continue
        assert 115.4 < minx <= maxx < 117.6, cid
        assert 39.4 < miny <= maxy < 41.1, cid


def _square(x: float, y: float, d: float = 0.001) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]}


# -- Part 2: Coordinate Reference Systems by Reference ------------------------------------------------------------

EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/"
OFFERED = [CRS84] + [f"{EPSG_URI}{c}" for c in (4326, 4490, 4548, 32650)]


def _coords(geom: dict[str, Any]) -> list[tuple[float, float]]:
    return [tuple(c) for c in shapely.get_coordinates(shapely.geometry.shape(geom)).tolist()]


def test_collections_offer_the_national_crss(client: TestClient) -> None:
    assert (
        "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs"
        in client.get("/ogc/conformance").json()["conformsTo"]
    )
    for c in client.get("/ogc/collections").json()["collections"]:
        assert c["crs"] == OFFERED, c["id"]
        assert c["storageCrs"] == CRS84


@pytest.mark.parametrize("epsg", [4326, 4490, 4548, 32650])
def test_items_in_a_crs_equal_pyprojs_transform(client: TestClient, epsg: int) -> None:
    """Every coordinate asked in a CRS equals pyproj's transform of the CRS84 answer (the CRS's own axis order) to 1 mm."""
    import pyproj

    to = pyproj.Transformer.from_crs("OGC:CRS84", f"EPSG:{epsg}")  # authority axis order, as Part 2 asks
    for cid in [c["id"] for c in client.get("/ogc/collections").json()["collections"]]:
        base = client.get(f"/ogc/collections/{cid}/items?limit=30").json()["features"]
        r = client.get(f"/ogc/collections/{cid}/items?limit=30&crs={EPSG_URI}{epsg}")
        assert r.status_code == 200
        assert r.headers["content-crs"] == f"<{EPSG_URI}{epsg}>"
        got = r.json()["features"]
        assert [f["id"] for f in got] == [f["id"] for f in base]
        for f84, f in zip(base, got, strict=True):
            xy = _coords(f84["geometry"])
            a, b = to.transform([p[0] for p in xy], [p[1] for p in xy])
            tol = 1e-8 if epsg in (4326, 4490) else 1e-3  # degrees (about 1 mm) or metres
            assert np.allclose(_coords(f["geometry"]), np.column_stack([a, b]), atol=tol, rtol=0), (cid, f["id"])
    one = client.get(f"/ogc/collections/sites/items/0?crs=EPSG:{epsg}")
    assert one.headers["content-crs"] == f"<{EPSG_URI}{epsg}>"


def test_bbox_crs_selects_what_pyproj_puts_inside(client: TestClient) -> None:
    """A bbox in EPSG:4548 (northing first) or EPSG:4326 (latitude first) selects the stations pyproj places inside."""
    import pyproj

    stations = client.get("/ogc/collections/subway-stations/items?limit=2000").json()["features"]
    lon = [f["geometry"]["coordinates"][0] for f in stations]
    lat = [f["geometry"]["coordinates"][1] for f in stations]
    n, e = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:4548").transform(lon, lat)
    box = (4_413_000.0, 440_000.0, 4_421_000.0, 452_000.0)  # N0, E0, N1, E1: central Beijing
    want = {f["id"] for f, y, x in zip(stations, n, e, strict=True) if box[0] <= y <= box[2] and box[1] <= x <= box[3]}
    r = client.get(
        "/ogc/collections/subway-stations/items",
        params={"bbox": ",".join(map(str, box)), "bbox-crs": f"{EPSG_URI}4548", "limit": 2000},
    )
    assert r.status_code == 200
    got = {f["id"] for f in r.json()["features"]}
    assert len(want) > 20
    assert got == want
    latfirst = client.get(
        "/ogc/collections/subway-stations/items",
        params={"bbox": "39.90,116.38,39.93,116.42", "bbox-crs": "EPSG:4326", "limit": 2000},
    ).json()["features"]
    lonfirst = client.get(
        "/ogc/collections/subway-stations/items", params={"bbox": "116.38,39.90,116.42,39.93", "limit": 2000}
    ).json()["features"]
    assert {f["id"] for f in latfirst} == {f["id"] for f in lonfirst} != set()


@pytest.mark.parametrize(
    "query",
    ["crs=EPSG:3857", "crs=EPSG:4548x", "bbox-crs=EPSG:4548", "bbox=1,2,3&bbox-crs=EPSG:4548", "crs=%24%7Bx%7D"],
)
def test_bad_crs_parameters_are_400_naming_the_offered_ones(client: TestClient, query: str) -> None:
    r = client.get(f"/ogc/collections/sites/items?{query}")
    assert r.status_code == 400
    msg = r.json()["error"]["message"]
    assert "EPSG:4548" in msg or "bbox" in msg


def test_geopackage_in_a_crs_declares_it(client: TestClient, tmp_path: Any) -> None:
    """A GeoPackage asked in EPSG:4548 declares it, and GDAL reads coordinates equal to pyproj's transform."""
    import pyogrio
    import pyproj

    r = client.get("/ogc/collections/subway-stations/items?f=gpkg&crs=EPSG:4548&bbox=116.38,39.90,116.42,39.93")
    assert r.status_code == 200
    path = tmp_path / "s.gpkg"
    path.write_bytes(r.content)
    gdf = pyogrio.read_dataframe(path)
    assert gdf.crs.to_epsg() == 4548
    base = client.get("/ogc/collections/subway-stations/items?bbox=116.38,39.90,116.42,39.93&limit=500").json()
    lon = [f["geometry"]["coordinates"][0] for f in base["features"]]
    lat = [f["geometry"]["coordinates"][1] for f in base["features"]]
    e, n = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:4548", always_xy=True).transform(lon, lat)
    assert np.allclose(
        sorted(zip(gdf.geometry.x, gdf.geometry.y, strict=True)), sorted(zip(e, n, strict=True)), atol=1e-3, rtol=0
    )


_GDAL_CRS = """
import json, sys
import pyogrio
url = sys.argv[1]
out = {}
for layer, _ in pyogrio.list_layers("OAPIF:" + url):
    layer = str(layer)
    for crs in ("", "EPSG:4548", "EPSG:4490"):
        kw = {"CRS": crs} if crs else {}
        gdf = pyogrio.read_dataframe("OAPIF:" + url, layer=layer, max_features=300, **kw)
        xy = gdf.geometry.get_coordinates()
        out[f"{layer} {crs or 'CRS84'}"] = [gdf.crs.to_string(), xy["x"].tolist(), xy["y"].tolist()]
print(json.dumps(out))
"""


def test_gdal_reads_every_collection_in_the_national_crss(settings: Any) -> None:
    """GDAL's OGC API client (what QGIS uses) reads every collection (its first 300 features) in EPSG:4548 and 4490.

    Its coordinates equal pyproj's transform of what it reads in CRS84, to 1 mm.
    """
    import json
    import subprocess
    import sys

    import pyproj

    from api.app import create_app
    from tests.conftest import served_app

    with served_app(create_app(settings)) as url:
        done = subprocess.run(
            [sys.executable, "-c", _GDAL_CRS, f"{url}/ogc"], capture_output=True, text=True, timeout=900, check=True
        )
    got = json.loads(done.stdout)
    layers = sorted({k.split(" ")[0] for k in got})
    assert len(layers) >= 10  # every collection (the proposals one may be empty here)
    checked = 0
    for layer in layers:
        crs84, lon, lat = got[f"{layer} CRS84"]
        if not lon:
            continue
        checked += 1
        assert crs84 == "OGC:CRS84"
        for epsg, tol in ((4548, 1e-3), (4490, 1e-8)):
            name, x, y = got[f"{layer} EPSG:{epsg}"]
            assert name == f"EPSG:{epsg}"
            ex, ey = pyproj.Transformer.from_crs("OGC:CRS84", f"EPSG:{epsg}", always_xy=True).transform(lon, lat)
            assert np.allclose(x, ex, atol=tol, rtol=0), (layer, epsg)
            assert np.allclose(y, ey, atol=tol, rtol=0), (layer, epsg)
    assert checked == len(set(layers) - {"proposals"}) >= 9  # every collection with features (no proposal saved here)
