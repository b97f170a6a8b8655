"""OpenStreetMap files to road graphs: filter the ways of a mode, load them with osmnx, add speeds.

Every network, the shipped one included, comes from an OpenStreetMap file (.osm,
.osm.bz2 or .osm.pbf) through this path: the ways of each mode are filtered with
pyosmium (the osmnx ``drive``/``walk`` rules, see `geo.network.way_allowed`), the result
is loaded with ``osmnx.graph_from_xml``, coincident nodes are merged, and speeds and
travel times are added (`geo.network.add_speeds`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
import osmium
import shapely
from shapely.geometry import Polygon

from geo.crs import lonlat_to_utm, utm_to_lonlat
from geo.network import Mode, add_speeds, check_mode, way_allowed
from layers.errors import NetworkImportError

if TYPE_CHECKING:
    pass

__all__ = ["OSM_SUFFIXES", "build_graph", "merge_coincident_nodes", "network_extent", "osm_suffix"]

OSM_SUFFIXES = (".osm", ".osm.bz2", ".osm.pbf", ".pbf", ".osm.gz")


def osm_suffix(path: Path) -> str:
    """Return the OSM suffix of a file name (``.osm.pbf``, ...), or "" when it has none.

    Parameters
    ----------
    path
        A file.
    """
    name = path.name.lower()
    for suf in sorted(OSM_SUFFIXES, key=len, reverse=True):
        if name.endswith(suf):
            return suf
    return ""


def filter_osm(src: Path, dst: Path, mode: Mode) -> int:
    """Write the ways of ``mode`` (and their nodes) from any OSM file to OSM XML ``dst``.

    Parameters
    ----------
    src
        An OSM file (.osm, .osm.bz2, .osm.pbf).
    dst
        The OSM XML file to write.
    mode
        ``"drive"`` or ``"walk"``.
    """
    keep_ways: set[int] = set()
    need_nodes: set[int] = set()
    try:
        for way in osmium.FileProcessor(str(src), osmium.osm.WAY):
            if not isinstance(way, osmium.osm.Way):
                continue
            tags = {t.k: t.v for t in way.tags}
            if way_allowed(tags, mode):
                keep_ways.add(way.id)
                need_nodes.update(n.ref for n in way.nodes)
        if not keep_ways:
            return 0
        dst.unlink(missing_ok=True)
        with osmium.SimpleWriter(str(dst)) as writer:
            for obj in osmium.FileProcessor(str(src), osmium.osm.NODE | osmium.osm.WAY):
                if isinstance(obj, osmium.osm.Node) and obj.id in need_nodes:
                    writer.add_node(obj)
                elif isinstance(obj, osmium.osm.Way) and obj.id in keep_ways:
                    writer.add_way(obj)
    except RuntimeError as exc:
        raise NetworkImportError(f"{src} could not be read as OpenStreetMap data: {exc}") from exc
    return len(keep_ways)


def network_extent(graph: nx.MultiDiGraph, *, margin_m: float = 300.0) -> Polygon:
    """Return the outline of a graph's nodes (a concave hull), ``margin_m`` wider, WGS84.

    Parameters
    ----------
    graph
        A road graph (osmnx MultiDiGraph, WGS84 node ``x``/``y``).
    margin_m
        How much wider than the nodes' outline, metres.
    """
    xy = np.array([(d["x"], d["y"]) for _, d in graph.nodes(data=True)], dtype=float)
    x, y = lonlat_to_utm(xy[:, 0], xy[:, 1], name="graph nodes")
    pts = shapely.multipoints(np.column_stack([x, y]))
    hull = shapely.concave_hull(pts, ratio=0.05).buffer(margin_m)
    lon, lat = utm_to_lonlat(*np.asarray(hull.exterior.coords).T)
    return Polygon(np.column_stack([lon, lat]))


def build_graph(path: Path, mode: Mode) -> nx.MultiDiGraph:
    """Build the ``mode`` graph of an OSM file with osmnx, with speeds and travel times.

    Parameters
    ----------
    path
        An OSM file: .osm, .osm.bz2, .osm.gz or .osm.pbf.
    mode
        ``"drive"`` or ``"walk"``.

    Returns
    -------
    networkx.MultiDiGraph
        The largest weakly connected component, simplified, with ``speed_kph``,
        ``travel_time_s`` and ``length_m`` on every edge.
    """
    check_mode(mode)
    if not path.is_file():
        raise NetworkImportError(f"OSM file {path} does not exist.")
    if not osm_suffix(path):
        raise NetworkImportError(f"`{path.name}` is not an OSM file; expected one of {', '.join(OSM_SUFFIXES)}.")
    with tempfile.TemporaryDirectory(prefix="venue-planner-") as tmp:
        filtered = Path(tmp) / f"{mode}.osm"
        n_ways = filter_osm(path, filtered, mode)
        if n_ways == 0:
            raise NetworkImportError(
                f"{path.name} holds no ways usable for `{mode}` (no highway=* ways that osmnx's {mode} "
                "filter keeps); is it an extract of the right area?"
            )
        import osmnx as ox  # only to build a graph (osmnx takes a second to import)

        try:
            graph = ox.graph_from_xml(filtered, bidirectional=mode == "walk", simplify=True, retain_all=False)
        except (ValueError, KeyError) as exc:  # osmnx raises these for degenerate data
            raise NetworkImportError(f"osmnx could not build a `{mode}` graph from {path.name}: {exc}") from exc
    if graph.number_of_edges() == 0:
        raise NetworkImportError(f"{path.name} gives a `{mode}` graph with no edges.")
    return add_speeds(merge_coincident_nodes(graph), mode=mode)


def merge_coincident_nodes(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Merge nodes joined by an edge of zero length (two OSM nodes at one position), in place.

    Such an edge cannot be drawn (a line needs two distinct points) and adds nothing to a
    route; merging its ends keeps every connection, so the edges a layer shows and the
    edges a network reports are the same.

    Parameters
    ----------
    graph
        A road graph (osmnx MultiDiGraph, WGS84 node ``x``/``y``).
    """
    nodes = graph.nodes
    pairs = [
        (u, v) for u, v in graph.edges() if u != v and nodes[u]["x"] == nodes[v]["x"] and nodes[u]["y"] == nodes[v]["y"]
    ]
    kept: dict[int, int] = {}
    for u, v in pairs:
        while u in kept:
            u = kept[u]
        while v in kept:
            v = kept[v]
        if u != v:
            nx.contracted_nodes(graph, u, v, self_loops=False, copy=False)
            nodes[u].pop("contraction", None)
            kept[v] = u
    return graph
