"""The seed build, run on the small raw samples under tests/data/raw."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import osmnx as ox
import pytest
import rasterio
import shapely

from geo.errors import DataSourceError
from geo.registration import AffineLonLat
from layers.seedbuild import SeedReport, build_seeds
from tests.conftest import SEEDS, TEST_DATA

RAW = TEST_DATA / "raw"
CATALOG = TEST_DATA / "catalog_sample.csv"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SeedReport]:
    out = tmp_path_factory.mktemp("seeds")
    return out, build_seeds(RAW, out, catalog=CATALOG)


def test_registration_within_bound(built: tuple[Path, SeedReport]) -> None:
    _, report = built
    assert report.registration["median_residual_m"] <= 30.0
    assert report.registration["reference_points_inside_extent"] > 150  # 181 in the 7 x 7 km sample


def test_sample_registration_agrees_with_the_full_one(built: tuple[Path, SeedReport]) -> None:
    # Fitted on 2,786 ways instead of 20,889, scale and rotation are less constrained; the
    # sample's centre must still land within the residual scale (60 m) of where the
    # shipped (full) registration puts it (measured: 36 m).
    _, report = built
    sample = AffineLonLat(**report.registration["transform"])
    full = AffineLonLat(**json.loads((SEEDS / "manifest.json").read_text())["registration"]["transform"])
    xy = full.inverse(np.array([116.39]), np.array([39.91]))
    lon_s, lat_s = sample.apply(xy[:, 0], xy[:, 1])
    from geo.crs import distance_m

    assert distance_m(116.39, 39.91, lon_s[0], lat_s[0]) < 60.0


def test_roads_are_genuine_osm_xml(built: tuple[Path, SeedReport]) -> None:
    out, _ = built
    path = out / "beijing_2013_roads.osm.bz2"
    text = (RAW / "beijing_osm_2013_roads" / "beijing_2013.waynodes.txt").read_text()
    # Ids past 2**31 were stored as negative signed 32-bit integers; they come back unsigned.
    raw_ids = {int(t) + (1 << 32 if int(t) < 0 else 0) for t in text.split()}
    assert any(int(t) < 0 for t in text.split())
    node_ids = {n.id for n in osmium.FileProcessor(str(path), osmium.osm.NODE)}
    ways = [(w.id, {t.k: t.v for t in w.tags}) for w in osmium.FileProcessor(str(path), osmium.osm.WAY)]
    assert node_ids == raw_ids
    assert min(node_ids) > 0
    assert len(ways) == 2786
    assert [wid for wid, _ in ways] == list(range(1, 2787))
    tags = {k for _, t in ways for k in t}
    assert tags <= {"highway", "name", "oneway", "maxspeed"}
    names = {t.get("name") for _, t in ways}
    assert "前门大街" in names
    graph = ox.graph_from_xml(path, simplify=True)
    assert graph.number_of_nodes() > 1000


def test_population_raster_sums_to_townships(built: tuple[Path, SeedReport]) -> None:
    out, _ = built
    towns = gpd.read_file(out / "townships.geojson")
    with rasterio.open(out / "population_100m.tif") as ds:
        data = ds.read(1).astype(np.float64)
        tags = ds.tags()
        assert ds.res == (100.0, 100.0)
        assert ds.crs.to_epsg() == 32650
    total = data[data > 0].sum()
    assert total == pytest.approx(float(towns["population"].sum()), rel=0.005)
    assert "township" in tags["DERIVATION"]
    assert len(towns) == 12


def test_subway_lines_and_colours(built: tuple[Path, SeedReport]) -> None:
    out, _ = built
    st = gpd.read_file(out / "subway_stations.geojson").set_index("name")
    assert st.loc["天安门东", "lines"] == "1号线"
    assert st.loc["天安门东", "colour"] == "#C23A30"
    ent = gpd.read_file(out / "subway_entrances.geojson")
    # Entrances whose station row lies outside the cut have no station name in the sample.
    assert (ent["station"] != "").mean() > 0.8


def test_heritage_drops_synthetic_heights(built: tuple[Path, SeedReport]) -> None:
    out, _ = built
    gdf = gpd.read_file(out / "heritage_buildings.geojson")
    assert "height" not in gdf.columns
    assert len(gdf) == 80
    assert gdf.geom_type.isin(["Polygon", "MultiPolygon"]).all()


def test_sites_centres_inside_boundaries(built: tuple[Path, SeedReport]) -> None:
    out, _ = built
    sites = gpd.read_file(out / "sites.geojson")
    assert set(sites["id"]) == {
        "central-axis",
        "forbidden-city",
        "jingshan",
        "zhongshan-park",
        "yanqi-lake",
        "beijing-station",
    }
    for _, s in sites.iterrows():
        assert s.geometry.contains(shapely.Point(s["centre_lon"], s["centre_lat"])), s["id"]
    yanqi = sites.set_index("id").loc["yanqi-lake"]
    assert yanqi["boundary_source"].startswith("outline: circle of radius 2000 m")
    assert yanqi["area_km2"] == pytest.approx(np.pi * 2.0**2, rel=0.01)
    station = sites.set_index("id").loc["beijing-station"]
    assert station["osm_ref"] == "node/269996666"


def test_build_is_deterministic(built: tuple[Path, SeedReport], tmp_path: Path) -> None:
    out, _ = built
    build_seeds(RAW, tmp_path, catalog=CATALOG)
    for name in (
        "beijing_2013_roads.osm.bz2",
        "population_100m.tif",
        "sites.geojson",
        "townships.geojson",
        "basemap.pmtiles",
    ):
        assert (
            hashlib.sha256((out / name).read_bytes()).digest()
            == hashlib.sha256((tmp_path / name).read_bytes()).digest()
        ), name


def test_missing_raw_folder(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match=r"raw data folder .* does not exist"):
        build_seeds(tmp_path / "nope", tmp_path / "out")


def test_inconsistent_road_files_fail_clearly(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(RAW, raw)
    waynodes = raw / "beijing_osm_2013_roads" / "beijing_2013.waynodes.txt"
    lines = waynodes.read_text().splitlines(keepends=True)
    waynodes.write_text("".join([*lines[:5], lines[5].split(None, 1)[1], *lines[6:]]))  # drop one node id
    with pytest.raises(DataSourceError, match=r"beijing_2013.waynodes.txt line 6: .* node ids, osm_data disagrees"):
        build_seeds(raw, tmp_path / "out", catalog=CATALOG)
    assert not (tmp_path / "out" / "beijing_2013_roads.osm.bz2").exists()


def test_regional_skeleton_and_its_calibration_are_built(built: tuple[Path, SeedReport]) -> None:
    out, report = built
    raw = json.loads((RAW / "beijing_highway_skeleton_osm" / "beijing_highways.geojson").read_text(encoding="utf-8"))
    seed = json.loads((out / "beijing_highway_skeleton.geojson").read_text(encoding="utf-8"))
    pairs = {
        frozenset((f["properties"]["u"], f["properties"]["v"]))
        for f in raw["features"]
        if f["properties"]["u"] != f["properties"]["v"] and f["properties"]["length_km"] > 0
    }
    assert len(seed["features"]) == len(pairs)  # one feature per undirected edge, zero-length ones dropped
    assert "OpenStreetMap contributors" in seed["provenance"]["licence"]
    ov = report.checks["regional_overlap"]
    assert ov["median_distance_to_detailed_road_m"] < 50.0
    cal = json.loads((out / "regional_calibration.json").read_text())
    assert cal["fit"]["trips_held_out"] >= 10
    assert all(20 <= s <= 80 for s in cal["speeds_kph"])
    assert "Held-out error" in report.files["regional_calibration.json"]["derivation"]


def test_a_shifted_skeleton_fails_the_overlap_check(tmp_path: Path) -> None:
    # 0.01 degree north (about 1.1 km): the skeleton no longer lies on the 2013 roads.
    raw = tmp_path / "raw"
    shutil.copytree(RAW, raw)
    path = raw / "beijing_highway_skeleton_osm" / "beijing_highways.geojson"
    doc = json.loads(path.read_text(encoding="utf-8"))
    for f in doc["features"]:
        f["geometry"]["coordinates"] = [[x, y + 0.01] for x, y in f["geometry"]["coordinates"]]
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(DataSourceError, match=r"median .* m from the detailed roads.*at most 50 m"):
        build_seeds(raw, tmp_path / "out", catalog=CATALOG)
    assert not (tmp_path / "out" / "beijing_highway_skeleton.geojson").exists()


def test_the_basemap_is_built_from_the_sample_seeds(built: tuple[Path, SeedReport]) -> None:
    import gzip

    import mapbox_vector_tile
    from pmtiles.reader import MmapSource, Reader, all_tiles

    out, report = built
    meta = report.files["basemap.pmtiles"]
    assert "ODbL" in meta["licence"]
    with (out / "basemap.pmtiles").open("rb") as f:
        tiles = list(all_tiles(MmapSource(f)))
        header = Reader(MmapSource(f)).header()
    assert (header["min_zoom"], header["max_zoom"]) == (6, 14)
    assert meta["features"].startswith(f"{len(tiles)} tiles")
    # Every road way of the sample's roads is in some zoom-14 tile with its class (read by osmium, not by the build).
    names: set[str] = set()
    for (z, _, _), data in tiles:
        if z == 14:
            layer = mapbox_vector_tile.decode(gzip.decompress(data)).get("roads", {"features": []})
            names |= {f["properties"].get("name", "") for f in layer["features"]}
    want = {
        w.tags["name"]
        for w in osmium.FileProcessor(str(out / "beijing_2013_roads.osm.bz2")).with_filter(
            osmium.filter.KeyFilter("name")
        )
        if w.is_way() and "highway" in w.tags
    }
    assert want
    assert want <= names
