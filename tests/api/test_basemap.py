"""The offline basemap over HTTP: tiles read by range from seeds/basemap.pmtiles, the archive, TileJSON, bad tiles."""

from __future__ import annotations

import math
from pathlib import Path

import mapbox_vector_tile
import numpy as np
import pyproj
import pytest
import shapely
from fastapi.testclient import TestClient
from pmtiles.reader import MmapSource, Reader, all_tiles

from layers.basemap import BasemapArchive
from tests.conftest import SEEDS

ARCHIVE = SEEDS / "basemap.pmtiles"


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def test_every_tile_read_by_range_equals_the_pmtiles_reference_reader() -> None:
    ours = BasemapArchive(ARCHIVE)
    with ARCHIVE.open("rb") as f:
        tiles = list(all_tiles(MmapSource(f)))
        ref = Reader(MmapSource(f))
        assert len(tiles) > 5000
        for (z, x, y), data in tiles[::7]:
            assert ours.tile(z, x, y) == data == ref.get(z, x, y)


def test_the_tile_at_tiananmen_holds_its_streets_stations_and_site(client: TestClient) -> None:
    x, y = _tile_of(116.3975, 39.9087, 14)
    r = client.get(f"/basemap/14/{x}/{y}.mvt", headers={"accept-encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    layers = mapbox_vector_tile.decode(r.content)  # the client undid the gzip encoding
    roads = {f["properties"].get("name") for f in layers["roads"]["features"]}
    assert {"东长安街", "西长安街"} <= roads
    assert "天安门东" in {f["properties"]["name"] for f in layers["stations"]["features"]}
    sites = layers["site_labels"]["features"]
    assert [(f["properties"]["name"], f["properties"]["name_en"]) for f in sites] == [
        ("北京中轴线", "Beijing Central Axis")
    ]
    # Without gzip in Accept-Encoding the tile comes plain.
    plain = client.get(f"/basemap/14/{x}/{y}.mvt", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert mapbox_vector_tile.decode(plain.content) == layers


def test_a_road_in_a_tile_lies_where_the_network_has_it(client: TestClient, ctx: object) -> None:
    """东长安街's line decoded from the tile back to lon/lat lies on the drive network's own edges."""
    from api.context import Context

    assert isinstance(ctx, Context)
    z = 14
    x, y = _tile_of(116.4050, 39.9075, z)
    data = client.get(f"/basemap/{z}/{x}/{y}.mvt").content
    layers = mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})  # as tiles count y
    n = 2**z
    pts = []
    for f in layers["roads"]["features"]:
        if f["properties"].get("name") == "东长安街":
            for part in shapely.get_parts(shapely.geometry.shape(f["geometry"])):
                for gx, gy in shapely.get_coordinates(part):
                    lon = (x + gx / 4096) / n * 360 - 180
                    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + gy / 4096) / n))))
                    pts.append((lon, lat))
    assert len(pts) >= 2
    net = ctx.networks.get("central-beijing-2013", "drive")
    g = net.graph
    lines = [
        d.get("geometry")
        or shapely.LineString([(g.nodes[u]["x"], g.nodes[u]["y"]), (g.nodes[v]["x"], g.nodes[v]["y"])])
        for u, v, d in g.edges(data=True)
        if "东长安街" in str(d.get("name", ""))
    ]
    assert lines
    to_m = pyproj.Transformer.from_crs(4326, 32650, always_xy=True)
    line = shapely.transform(shapely.union_all(lines), lambda c: np.column_stack(to_m.transform(c[:, 0], c[:, 1])))
    xs, ys = to_m.transform(*np.array(pts).T)
    d = [line.distance(shapely.Point(p)) for p in zip(xs, ys, strict=True)]
    assert max(d) < 15  # metres: a tile's grid at zoom 14 is 2.4 m, simplification one grid unit


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/basemap/3/6/3.mvt", 404),  # below the archive's zooms
        ("/basemap/15/26978/12416.mvt", 404),  # above them
        ("/basemap/10/0/0.mvt", 404),  # outside Beijing
        ("/basemap/2/9/0.mvt", 404),  # no such tile at zoom 2
        ("/basemap/a/b/c.mvt", 422),
        ("/basemap/14/-1/5.mvt", 422),
        ("/basemap/99/1/1.mvt", 422),
    ],
)
def test_bad_tiles_answer_in_the_error_shape(client: TestClient, path: str, status: int) -> None:
    r = client.get(path)
    assert r.status_code == status
    assert r.json()["error"]["status"] == status


def test_an_empty_tile_inside_the_bounds_is_204(client: TestClient) -> None:
    ours = BasemapArchive(ARCHIVE)
    z = 14
    b = ours.info.bounds
    x0, y0 = _tile_of(b[0], b[3], z)
    x1, y1 = _tile_of(b[2], b[1], z)
    empty = next((x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1) if ours.tile(z, x, y) is None)
    assert client.get(f"/basemap/{z}/{empty[0]}/{empty[1]}.mvt").status_code == 204


def test_the_archive_is_served_by_ranges_and_described_by_tilejson(client: TestClient, tmp_path: Path) -> None:
    r = client.get("/basemap.pmtiles", headers={"range": "bytes=0-126"})
    assert r.status_code == 206
    assert r.content == ARCHIVE.read_bytes()[:127]
    assert r.content[:7] == b"PMTiles"
    tj = client.get("/basemap.json").json()
    assert tj["tiles"] == [f"{client.base_url}/basemap/{{z}}/{{x}}/{{y}}.mvt"]
    assert (tj["minzoom"], tj["maxzoom"]) == (6, 14)
    assert "© OpenStreetMap contributors" in tj["attribution"]
    assert {v["id"] for v in tj["vector_layers"]} >= {"roads", "subway", "stations", "sites", "places"}
