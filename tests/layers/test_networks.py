"""Road networks built from OSM files: the seed, imports, cache, coverage."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import networkx as nx
import numpy as np
import osmium
import osmnx as ox
import pytest
import shapely

from api.context import Context
from api.settings import Settings
from geo.errors import OutsideCoverageError
from geo.network import DRIVE_EXCLUDED_HIGHWAYS, WALK_EXCLUDED_HIGHWAYS
from layers.errors import NetworkImportError
from layers.networks import SEED_NETWORK, NetworkStore, site_access
from layers.osmgraph import build_graph, network_extent
from layers.regional import REGIONAL_NETWORK
from layers.routing import RoutingService
from tests.conftest import SEEDS

# A 4.3 x 4.4 km box around the Forbidden City; "inner" keeps 500 m away from its edges.
CUT = (116.37, 39.89, 116.42, 39.93)
INNER = (116.376, 39.8945, 116.414, 39.9255)


def cut_seed(path: Path, bbox: tuple[float, float, float, float] = CUT) -> Path:
    """Write the seed ways with a node inside ``bbox``, whole, to ``path``.

    This is osmium's ``complete_ways`` extract strategy: ways that cross the box edge are
    kept entire, as an extract tool would deliver them.
    """
    minx, miny, maxx, maxy = bbox
    seed = str(SEEDS / "beijing_2013_roads.osm.bz2")
    loc = {n.id: (n.location.lon, n.location.lat) for n in osmium.FileProcessor(seed, osmium.osm.NODE)}
    keep, need = set(), set()
    for w in osmium.FileProcessor(seed, osmium.osm.WAY):
        refs = [n.ref for n in w.nodes]
        if any(minx <= loc[r][0] <= maxx and miny <= loc[r][1] <= maxy for r in refs):
            keep.add(w.id)
            need.update(refs)
    path.unlink(missing_ok=True)
    with osmium.SimpleWriter(str(path)) as wr:
        for o in osmium.FileProcessor(seed, osmium.osm.NODE | osmium.osm.WAY):
            if (o.is_node() and o.id in need) or (o.is_way() and o.id in keep):
                wr.add(o)
    return path


def inner_edges(graph: nx.MultiDiGraph) -> dict[tuple[int, int], float]:
    minx, miny, maxx, maxy = INNER
    out = {}
    for u, v, d in graph.edges(data=True):
        pu, pv = graph.nodes[u], graph.nodes[v]
        if all(minx <= p["x"] <= maxx and miny <= p["y"] <= maxy for p in (pu, pv)):
            out[(u, v)] = round(float(d["length_m"]), 3)
    return out


def test_seed_drive_graph_is_connected_and_timed(ctx: Context) -> None:
    g = ctx.networks.get(SEED_NETWORK, "drive").graph
    largest = max(nx.strongly_connected_components(g), key=len)
    assert len(largest) / g.number_of_nodes() >= 0.95
    for _, _, d in g.edges(data=True):
        assert d["speed_kph"] > 0
        assert d["travel_time_s"] == pytest.approx(d["length_m"] / (d["speed_kph"] / 3.6))
        hw = d["highway"] if isinstance(d["highway"], list) else [d["highway"]]
        assert not set(hw) & DRIVE_EXCLUDED_HIGHWAYS


def test_seed_speeds_use_source_maxspeed_where_present(ctx: Context) -> None:
    g = ctx.networks.get(SEED_NETWORK, "drive").graph
    tagged = [(d["maxspeed"], d["speed_kph"]) for _, _, d in g.edges(data=True) if isinstance(d.get("maxspeed"), str)]
    assert tagged, "the seed has a few genuine maxspeed tags"
    for maxspeed, speed in tagged:
        assert speed == pytest.approx(float(maxspeed))
    residential = [
        d["speed_kph"] for _, _, d in g.edges(data=True) if d["highway"] == "residential" and "maxspeed" not in d
    ]
    assert set(residential) == {25.0}


def test_walk_graph_is_bidirectional_and_excludes_motorways(ctx: Context) -> None:
    g = ctx.networks.get(SEED_NETWORK, "walk").graph
    for u, v, d in g.edges(data=True):
        assert g.has_edge(v, u)
        hw = d["highway"] if isinstance(d["highway"], list) else [d["highway"]]
        assert not set(hw) & WALK_EXCLUDED_HIGHWAYS
        assert d["speed_kph"] == 4.5


def test_every_site_centre_is_inside_its_boundary(ctx: Context) -> None:
    for _, s in ctx.sites.frame().iterrows():
        assert s.geometry.contains(shapely.Point(s["centre_lon"], s["centre_lat"])), s["id"]


def test_sites_inside_the_network_reach_a_drivable_road_within_300_m(ctx: Context) -> None:
    covered = 0
    net = ctx.networks.get(SEED_NETWORK, "drive")
    for sid in ctx.sites.ids():
        site = ctx.sites.get(sid)
        if not net.covers(site.lon, site.lat):
            continue
        covered += 1
        got, snap = site_access(ctx.networks, site.lon, site.lat, site.boundary_utm(), mode="drive", label=sid)
        assert got.name == SEED_NETWORK
        assert snap.distance_m <= 300.0, sid
        edge = net.graph.edges[snap.u, snap.v, snap.key]
        assert edge["highway"] not in DRIVE_EXCLUDED_HIGHWAYS
    assert covered == 17


def test_yanqi_lake_is_on_the_regional_network_for_driving_only(ctx: Context) -> None:
    site = ctx.sites.get("yanqi-lake")
    assert ctx.networks.locate(site.lon, site.lat, mode="drive").name == "beijing-regional"
    with pytest.raises(OutsideCoverageError) as err:
        ctx.networks.locate(site.lon, site.lat, mode="walk", label="site 'yanqi-lake'")
    msg = str(err.value)
    assert "site 'yanqi-lake' (40.3988 N, 116.6640 E) lies outside every loaded walk road network" in msg
    assert "central-beijing-2013 39.79–40.10 N, 116.14–116.62 E" in msg
    assert "(beijing-regional) covers the whole municipality for driving only" in msg
    assert "networks import FILE" in msg


@pytest.mark.parametrize("sid", ["grand-canal", "daxing-airport"])
def test_tongzhou_and_daxing_are_out_of_coverage(ctx: Context, sid: str) -> None:
    site = ctx.sites.get(sid)
    with pytest.raises(OutsideCoverageError, match="lies outside every loaded walk road network"):
        ctx.networks.locate(site.lon, site.lat, mode="walk", label=sid)


def test_import_builds_the_seed_graph_for_that_area(ctx: Context, fresh_settings: Settings, tmp_path: Path) -> None:
    store = NetworkStore(SEEDS, fresh_settings.data_dir, fresh_settings.cache_dir)
    nets = store.import_file(cut_seed(tmp_path / "tiananmen.osm"))
    drive = next(n for n in nets if n.mode == "drive")
    assert drive.name == "tiananmen"
    mine = inner_edges(drive.graph)
    seed = inner_edges(ctx.networks.get(SEED_NETWORK, "drive").graph)
    assert len(mine) > 300
    shared = {k: v for k, v in mine.items() if k in seed}
    assert len(shared) >= 0.99 * len(seed)
    for k, length in shared.items():
        assert length == pytest.approx(seed[k], abs=0.01)
    # Where it covers, the import is preferred (newer, and it may have the footpaths the
    # 2013 roads lack); elsewhere the seed answers.
    assert store.locate(116.392, 39.903, mode="drive").name == "tiananmen"
    assert [n.name for n in store.covering(116.392, 39.903, mode="walk")] == ["tiananmen", SEED_NETWORK]
    # ... and before the regional skeleton, which comes last wherever it covers.
    assert [n.name for n in store.covering(116.392, 39.903, mode="drive")] == [
        "tiananmen",
        SEED_NETWORK,
        REGIONAL_NETWORK,
    ]
    assert store.locate(116.27, 39.99, mode="drive").name == SEED_NETWORK  # the Summer Palace
    assert [s.name for s in store.sources()] == [SEED_NETWORK, REGIONAL_NETWORK, "tiananmen"]
    routing = RoutingService(store, ctx.sites)
    # A walk inside the extract is routed on it; the Forbidden City's walkable length is the extract's.
    _, a, b = routing.routes((116.3885, 39.9050), (116.3990, 39.9080), mode="walk")
    assert a.network.name == b.network.name == "tiananmen"
    assert routing.resolve("forbidden-city", mode="walk", label="site").network.name == "tiananmen"
    # A trip that leaves the extract is routed on the network that holds both ends.
    _, a, b = routing.routes("forbidden-city", "summer-palace", mode="drive")
    assert a.network.name == b.network.name == SEED_NETWORK


def test_osm_bz2_and_pbf_give_the_same_graph(fresh_settings: Settings, tmp_path: Path) -> None:
    store = NetworkStore(SEEDS, fresh_settings.data_dir, fresh_settings.cache_dir)
    graphs = {}
    for suffix in (".osm", ".osm.bz2", ".osm.pbf"):
        path = cut_seed(tmp_path / f"cut{suffix}")
        nets = store.import_file(path, name=f"cut-{suffix.replace('.', '')}")
        g = next(n for n in nets if n.mode == "walk").graph
        graphs[suffix] = {(u, v): round(d["length_m"], 3) for u, v, d in g.edges(data=True)}
    assert graphs[".osm"] == graphs[".osm.bz2"] == graphs[".osm.pbf"]


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"this is not xml at all", "broken.osm", "could not be read as OpenStreetMap data"),
        (b"", "empty.osm", "is empty"),
        (
            b'<?xml version="1.0"?><osm version="0.6"><node id="1" lat="39.9" lon="116.4"/></osm>',
            "nodes.osm",
            "holds no ways",
        ),
        (b"roads", "roads.shp", "is not an OSM file"),
    ],
)
def test_bad_imports_fail_clearly_and_change_nothing(
    fresh_settings: Settings, tmp_path: Path, content: bytes, name: str, message: str
) -> None:
    store = NetworkStore(SEEDS, fresh_settings.data_dir, fresh_settings.cache_dir)
    store.import_file(cut_seed(tmp_path / "good.osm"), name="good")
    before = sorted(p.name for p in store.imports_dir.iterdir())
    bad = tmp_path / name
    bad.write_bytes(content)
    with pytest.raises(NetworkImportError, match=message):
        store.import_file(bad, name="bad")
    assert sorted(p.name for p in store.imports_dir.iterdir()) == before
    assert [s.name for s in store.sources()] == [SEED_NETWORK, REGIONAL_NETWORK, "good"]


def test_import_refuses_an_existing_name_unless_replace(fresh_settings: Settings, tmp_path: Path) -> None:
    store = NetworkStore(SEEDS, fresh_settings.data_dir, fresh_settings.cache_dir)
    small = (116.39, 39.90, 116.40, 39.905)
    store.import_file(cut_seed(tmp_path / "a.osm"), name="area")
    with pytest.raises(NetworkImportError, match="exists; pass --replace"):
        store.import_file(cut_seed(tmp_path / "b.osm", small), name="area")
    nets = store.import_file(cut_seed(tmp_path / "b.osm", small), name="area", replace=True)
    # A new store (a restart) sees the replacement, not a stale cache of the first file.
    again = NetworkStore(SEEDS, fresh_settings.data_dir, fresh_settings.cache_dir)
    g = again.get("area", "drive").graph
    assert g.number_of_nodes() == next(n for n in nets if n.mode == "drive").graph.number_of_nodes()
    caches = list(fresh_settings.cache_dir.glob("area.drive.*.pkl"))
    assert len(caches) == 1


def test_cache_is_rebuilt_when_its_source_changes(fresh_settings: Settings, tmp_path: Path) -> None:
    store = NetworkStore(SEEDS, fresh_settings.data_dir, fresh_settings.cache_dir)
    store.import_file(cut_seed(tmp_path / "x.osm"), name="x")
    src = store.source("x")
    first = store.get("x", "drive").graph.number_of_nodes()
    # Overwrite the stored file behind the store's back with a smaller area.
    small = cut_seed(tmp_path / "small.osm.bz2", (116.39, 39.90, 116.40, 39.905))
    src.path.write_bytes(small.read_bytes())
    fresh = NetworkStore(SEEDS, fresh_settings.data_dir, fresh_settings.cache_dir)
    assert fresh.get("x", "drive").graph.number_of_nodes() < first


def _edges_as_data(graph: nx.MultiDiGraph) -> dict[tuple[int, int, int], dict[str, object]]:
    """Every edge's attributes, lines as WKB and numbers as floats (comparable across layouts)."""
    out: dict[tuple[int, int, int], dict[str, object]] = {}
    for u, v, k, d in graph.edges(keys=True, data=True):
        out[(u, v, k)] = {
            a: (shapely.to_wkb(x) if a == "geometry" else float(x) if isinstance(x, float) else x) for a, x in d.items()
        }
    return out


def test_the_graph_cache_reads_back_the_graph_osmnx_built(fresh_settings: Settings, tmp_path: Path) -> None:
    """The cached graph (lines kept apart, read back in one call) equals the graph built from the file."""
    src = cut_seed(tmp_path / "cut.osm", (116.38, 39.90, 116.40, 39.915))
    built = build_graph(src, "walk")  # straight from the file, no cache
    NetworkStore(SEEDS, fresh_settings.data_dir, fresh_settings.cache_dir).import_file(src, name="cut")
    cache = next(fresh_settings.cache_dir.glob("cut.walk.*.pkl"))
    read = NetworkStore(SEEDS, fresh_settings.data_dir, fresh_settings.cache_dir).get("cut", "walk").graph
    assert sum("geometry" in d for _, _, d in built.edges(data=True)) > 100
    assert _edges_as_data(read) == _edges_as_data(built)
    assert dict(read.nodes(data=True)) == dict(built.nodes(data=True))
    # A cache file of the older layout, (graph, extent), is read and rewritten in the new one.
    extent = network_extent(built)
    cache.write_bytes(pickle.dumps((built, shapely.to_wkb(extent)), protocol=pickle.HIGHEST_PROTOCOL))
    old = NetworkStore(SEEDS, fresh_settings.data_dir, fresh_settings.cache_dir).get("cut", "walk")
    assert _edges_as_data(old.graph) == _edges_as_data(built)
    assert old.extent.equals(extent)
    assert len(pickle.loads(cache.read_bytes())) == 4
    again = NetworkStore(SEEDS, fresh_settings.data_dir, fresh_settings.cache_dir).get("cut", "walk")
    assert _edges_as_data(again.graph) == _edges_as_data(built)


def test_fetch_without_internet_fails_clearly(fresh_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ox.settings, "overpass_url", "http://127.0.0.1:9/api")
    monkeypatch.setattr(ox.settings, "requests_timeout", 2)
    monkeypatch.setattr(ox.settings, "overpass_rate_limit", False)
    monkeypatch.setattr(ox.settings, "use_cache", False)
    store = NetworkStore(SEEDS, fresh_settings.data_dir, fresh_settings.cache_dir)
    with pytest.raises(
        NetworkImportError, match=r"downloading the road network around \(40.3988 N, 116.6640 E\) failed"
    ):
        store.fetch(116.664, 40.3988, name="yanqi", dist_m=500)
    assert not store.imports_dir.exists() or not any(store.imports_dir.iterdir())


def test_info_reports_nodes_edges_extent(ctx: Context) -> None:
    info = ctx.networks.get(SEED_NETWORK, "drive").info()
    assert info["nodes"] == ctx.networks.get(SEED_NETWORK, "drive").graph.number_of_nodes()
    minx, miny, maxx, maxy = info["bbox"]
    assert 116.1 < minx < 116.2
    assert 116.55 < maxx < 116.65
    assert 39.75 < miny < 39.8
    assert 40.05 < maxy < 40.12
    assert json.dumps(info)
    assert np.isfinite(info["directed_length_km"])


@pytest.mark.parametrize("mode", ["drive", "walk"])
def test_road_layers_and_network_info_count_the_same_edges(ctx: Context, mode: str) -> None:
    info = ctx.networks.get(SEED_NETWORK, mode).info()
    layer = ctx.layers.load(f"roads-{mode}")
    assert len(layer) == info["edges"]
    assert shapely.is_valid(layer.geometry.values).all()
    # No two nodes of the graph share a position joined by an edge of zero length.
    g = ctx.networks.get(SEED_NETWORK, mode).graph
    assert not [1 for u, v, d in g.edges(data=True) if u != v and d["length_m"] == 0.0]


def test_an_import_by_another_process_is_seen_at_once(fresh_settings: Settings, tmp_path: Path) -> None:
    """Sources are read again when the imports folder changes (workers are separate processes)."""
    mine = NetworkStore(SEEDS, fresh_settings.data_dir, fresh_settings.cache_dir)
    other = NetworkStore(SEEDS, fresh_settings.data_dir, fresh_settings.cache_dir)
    before = [s.name for s in mine.sources()]
    assert before == [SEED_NETWORK, REGIONAL_NETWORK]
    other.import_file(cut_seed(tmp_path / "o.osm", (116.39, 39.90, 116.40, 39.905)), name="other-area")
    assert [s.name for s in mine.sources()] == [*before, "other-area"]
    assert mine.get("other-area", "walk").covers(116.395, 39.902)
    assert not mine.get("other-area", "walk").covers(116.45, 39.95)
