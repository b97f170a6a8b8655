"""The shipped seeds: provenance, size, registration quality, checked independently."""

from __future__ import annotations

import hashlib
import json

import geopandas as gpd
import numpy as np
import osmium
import pytest
import shapely
from shapely import affinity

from geo.crs import UTM_EPSG
from tests.conftest import SEEDS

MANIFEST = json.loads((SEEDS / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def roads() -> gpd.GeoDataFrame:
    """The shipped OSM ways as lines, read straight from the OSM file with pyosmium."""
    nodes = {
        n.id: (n.location.lon, n.location.lat)
        for n in osmium.FileProcessor(str(SEEDS / "beijing_2013_roads.osm.bz2"), osmium.osm.NODE)
    }
    rows = []
    for w in osmium.FileProcessor(str(SEEDS / "beijing_2013_roads.osm.bz2"), osmium.osm.WAY):
        coords = [nodes[n.ref] for n in w.nodes]
        if len(coords) > 1:
            rows.append(
                {
                    "name": w.tags.get("name", ""),
                    "highway": w.tags.get("highway"),
                    "geometry": shapely.LineString(coords),
                }
            )
    return gpd.GeoDataFrame(rows, crs=4326).to_crs(UTM_EPSG)


def test_every_file_has_provenance() -> None:
    readme = (SEEDS / "README.md").read_text(encoding="utf-8")
    for name, meta in MANIFEST["files"].items():
        for key in ("source", "licence", "date", "crs", "bbox", "derivation"):
            assert meta.get(key), (name, key)
        path = SEEDS / name
        if path.is_dir():  # a folder (the GTFS feed): the hash of its files' names and hashes, sorted
            lines = "".join(f"{f.name}\t{hashlib.sha256(f.read_bytes()).hexdigest()}\n" for f in sorted(path.iterdir()))
            digest = hashlib.sha256(lines.encode()).hexdigest()
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest == meta["sha256"], name
        assert f"## {name}" in readme
        if "OpenStreetMap" in meta["source"] or "OSM" in meta["source"]:
            assert "© OpenStreetMap contributors" in meta["licence"], name


def test_shipped_data_under_30_mb() -> None:
    total = sum(p.stat().st_size for p in SEEDS.rglob("*") if p.is_file())
    assert total < 30e6


def test_registration_residual_recomputed_from_the_shipped_file(roads: gpd.GeoDataFrame) -> None:
    # Independent of the build: distance from each OSM subway entrance inside the network's
    # extent to the nearest shipped road line.
    ent = gpd.read_file(SEEDS / "subway_entrances.geojson").to_crs(UTM_EPSG)
    minx, miny, maxx, maxy = roads.total_bounds
    ent = ent.cx[minx:maxx, miny:maxy]
    tree = shapely.STRtree(roads.geometry.values)
    _, dist = tree.query_nearest(ent.geometry.values, return_distance=True, all_matches=False)
    assert len(dist) > 900
    assert np.median(dist) <= 30.0
    assert np.median(dist) == pytest.approx(MANIFEST["registration"]["median_residual_m"], abs=3.0)


def _median_offset(roads: gpd.GeoDataFrame, names: set[str], a: str, b: str, *, highway: str) -> float:
    st = gpd.read_file(SEEDS / "subway_stations.geojson").set_index("name").to_crs(UTM_EPSG)
    axis = affinity.scale(shapely.LineString([st.geometry[a], st.geometry[b]]), 3, 3)
    sel = roads[roads["name"].isin(names) & (roads["highway"] == highway)]
    pts = shapely.points(sel.get_coordinates().to_numpy())
    near = (
        shapely.distance(pts, st.geometry[a].union(st.geometry[b]).centroid)
        < st.geometry[a].distance(st.geometry[b]) * 0.6
    )
    return float(np.median(shapely.distance(pts[near], axis)))


def test_axis_streets_south_of_qianmen_lie_on_the_axis(roads: gpd.GeoDataFrame) -> None:
    # Line 8 runs beneath Qianmen Street between Zhushikou and Tianqiao; the OSM stations
    # mark the axis there.
    assert _median_offset(roads, {"前门大街", "永定门内大街"}, "珠市口", "天桥", highway="primary") <= 40.0


def test_changan_avenue_lies_over_line_1(roads: gpd.GeoDataFrame) -> None:
    assert _median_offset(roads, {"东长安街", "西长安街"}, "天安门西", "天安门东", highway="primary") <= 40.0


def test_sites_have_no_gcj02_positions() -> None:
    sites = gpd.read_file(SEEDS / "sites.geojson").set_index("id")
    halls = gpd.read_file(SEEDS / "heritage_buildings.geojson").set_index("name")
    taihedian = halls.loc["太和殿"].geometry.centroid
    fc = sites.loc["forbidden-city"]
    # WGS84 centre: within 150 m of the Hall of Supreme Harmony; a GCJ-02 one would be ~500 m off.
    from geo.crs import distance_m

    assert distance_m(fc["centre_lon"], fc["centre_lat"], taihedian.x, taihedian.y) < 150
    assert distance_m(116.397, 39.916, taihedian.x, taihedian.y) > 400  # the GCJ-02 reference point


def test_every_entrance_has_its_station() -> None:
    ent = gpd.read_file(SEEDS / "subway_entrances.geojson")
    assert len(ent) == 1087
    assert (ent["station"] != "").all()


def test_population_raster_matches_townships() -> None:
    c = MANIFEST["checks"]
    assert c["population_townships_sum"] == 20_755_648
    assert abs(c["population_relative_difference"]) < 0.005


def _sites_utm() -> gpd.GeoDataFrame:
    return gpd.read_file(SEEDS / "sites.geojson").set_index("id").to_crs(UTM_EPSG)


def test_wanping_outline_holds_the_walled_town(roads: gpd.GeoDataFrame) -> None:
    # 城内街 runs through the walled town from the west gate to the east gate.
    street = shapely.union_all(roads[roads["name"] == "城内街"].geometry.values)
    wanping = _sites_utm().geometry["wanping"]
    assert street.length > 600
    assert wanping.contains(street)
    town = gpd.GeoSeries([shapely.Point(116.2225, 39.8505)], crs=4326).to_crs(UTM_EPSG).iloc[0]
    assert wanping.contains(town)


def test_lugou_bridge_outline_crosses_the_river(roads: gpd.GeoDataFrame) -> None:
    # The Yongding River flows north-south under the new Lugou bridge (卢沟新桥), 600 m
    # downstream of the old one: its line is the meridian through the new bridge's middle.
    new_bridge = shapely.union_all(roads[roads["name"] == "卢沟新桥"].geometry.values)
    mid = new_bridge.centroid
    river = shapely.LineString([(mid.x, mid.y - 2000), (mid.x, mid.y + 2000)])
    bridge = _sites_utm().geometry["lugou-bridge"]
    assert bridge.intersects(river)
    assert 400 < bridge.centroid.distance(mid) < 800
    # No road of the 2013 network runs along the old bridge: the roads of both banks end at
    # it, and the 5th Ring Road passes its east end; none runs more than 25 m inside it.
    core = bridge.buffer(-20)
    inside = roads[roads.intersects(core)]
    assert len(inside) >= 2
    assert (inside.geometry.intersection(core).length < 25).all()


def test_no_sub_site_outline_encloses_another() -> None:
    sites = _sites_utm()
    subs = sites[sites["kind"] == "sub_site"]
    for a, ga in subs.geometry.items():
        for b, gb in subs.geometry.items():
            if a != b:
                assert not ga.contains(gb.representative_point()), (a, b)
                assert ga.intersection(gb).area < 0.05 * gb.area, (a, b)


def test_a_place_beside_the_palace_is_not_zhongshan_park() -> None:
    sites = _sites_utm()
    fc = sites.geometry["forbidden-city"]
    minx, miny, maxx, maxy = fc.bounds
    east = shapely.Point(maxx + 30, (miny + maxy) / 2)
    north = shapely.Point((minx + maxx) / 2, maxy + 30)
    for p in (east, north):
        assert not sites.geometry["zhongshan-park"].contains(p)
    # The park itself (its OSM centre) stays inside.
    zs = sites.loc["zhongshan-park"]
    park = gpd.GeoSeries([shapely.Point(zs["centre_lon"], zs["centre_lat"])], crs=4326).to_crs(UTM_EPSG).iloc[0]
    assert sites.geometry["zhongshan-park"].contains(park)


def test_osm_node_ids_are_real_positive_ids() -> None:
    ids = np.array([n.id for n in osmium.FileProcessor(str(SEEDS / "beijing_2013_roads.osm.bz2"), osmium.osm.NODE)])
    assert (ids > 0).all()
    # The ids the source stored as signed 32-bit integers continue the positive range.
    assert ids.max() < 2**32
    assert ((ids > 2**31) & (ids < 2_400_000_000)).sum() == 3755
