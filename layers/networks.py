"""Road networks: built with osmnx from OSM files, cached on disk, looked up by place.

Every network, the shipped one included, comes from an OpenStreetMap file (.osm,
.osm.bz2 or .osm.pbf) through the same path (`layers.osmgraph`). Built graphs are pickled under the cache folder, keyed by the source file's hash, so
a changed source rebuilds and an unchanged one loads in a fraction of a second.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
import logging
import os
import pickle
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import networkx as nx
import numpy as np
import osmium
import shapely
from shapely.geometry import Polygon

from geo.crs import lonlat_to_utm, utm_to_lonlat
from geo.errors import NotFoundError, OutsideCoverageError
from geo.network import MODES, Mode, add_speeds, check_mode
from geo.snapping import EdgeIndex, Snap, edge_index_from_arrays, index_arrays, snap_area
from layers.credits import OSM_CONTRIBUTORS
from layers.diskcache import load_or_build
from layers.errors import NetworkImportError
from layers.osmgraph import OSM_SUFFIXES, build_graph, network_extent, osm_suffix
from layers.regional import REGIONAL_NETWORK, read_calibration, read_skeleton, regional_graph

if TYPE_CHECKING:
    from collections.abc import Iterable

    from layers.sharednets import SharedNetworks

__all__ = [
    "SEED_NETWORK",
    "NetworkSource",
    "NetworkStore",
    "RoadNetwork",
    "build_graph",
    "network_extent",
    "site_access",
]

log = logging.getLogger(__name__)

SEED_NETWORK = "central-beijing-2013"
SEED_ROADS_FILE = "beijing_2013_roads.osm.bz2"
REGIONAL_SKELETON_FILE = "beijing_highway_skeleton.geojson"
REGIONAL_CALIBRATION_FILE = "regional_calibration.json"
# Points this far outside Beijing's border still belong to the regional network.
REGIONAL_BORDER_MARGIN_M = 2000.0
_CACHE_VERSION = "5"
_EDGES_CACHE_VERSION = "4"  # 3: with the segment grid; 4: its segments numbered by cell, one row each
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
OSM_LICENCE = f"ODbL 1.0, {OSM_CONTRIBUTORS}"


@dataclass(frozen=True)
class NetworkSource:
    """An OSM file that a road network is built from."""

    name: str
    path: Path
    origin: str  # "seed", "import" or "fetch"
    title: str
    licence: str = OSM_LICENCE
    # "osm": path is an OSM file; "graphml": one GraphML file per mode beside path;
    # "regional": path is the major-road skeleton (GeoJSON), joined to the shipped drive network.
    format: str = "osm"
    modes: tuple[Mode, ...] = MODES

    @property
    def regional(self) -> bool:
        """Whether this is the coarse regional network (major roads only)."""
        return self.format == "regional"

    def graph_file(self, mode: Mode) -> Path:
        """Return the file the ``mode`` graph is read from.

        Parameters
        ----------
        mode
            ``"drive"`` or ``"walk"``.
        """
        if self.format == "graphml":
            return self.path.with_name(f"{self.name}.{mode}.graphml")
        return self.path

    def files(self, mode: Mode) -> list[Path]:
        """Return every file the ``mode`` graph is built from.

        Parameters
        ----------
        mode
            ``"drive"`` or ``"walk"``.
        """
        if self.regional:
            return [self.path, self.path.with_name(REGIONAL_CALIBRATION_FILE), self.path.with_name(SEED_ROADS_FILE)]
        return [self.graph_file(mode)]

    def sha256(self, mode: Mode) -> str:
        """Return the hash of the files the ``mode`` graph is built from.

        Parameters
        ----------
        mode
            ``"drive"`` or ``"walk"``.
        """
        h = hashlib.sha256()
        for path in self.files(mode):
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        return h.hexdigest()


@dataclass
class RoadNetwork:
    """One mode's graph of one source, with its covered extent (WGS84)."""

    source: NetworkSource
    mode: Mode
    graph: nx.MultiDiGraph
    extent: Polygon
    cache_key: str = ""  # names this graph in the cache (source, rules, libraries); "" when not cached
    cache_dir: Path | None = None  # where objects derived from the graph are kept
    _edge_index: EdgeIndex | None = field(default=None, repr=False)
    _box: tuple[float, float, float, float, bool] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def name(self) -> str:
        """The network's name."""
        return self.source.name

    @property
    def edge_index(self) -> EdgeIndex:
        """A spatial index over the edges, built on first use."""
        with self._lock:
            if self._edge_index is None:
                path = (
                    self.cache_dir / f"{self.cache_key}.edges-v{_EDGES_CACHE_VERSION}.pkl"
                    if self.cache_dir is not None and self.cache_key
                    else None
                )
                self._edge_index = edge_index_from_arrays(
                    *load_or_build(
                        path, lambda: index_arrays(self.graph), mapped=True, supersedes=f"{self.cache_key}.edges-v*.pkl"
                    )
                )
            return self._edge_index

    def covers(self, lon: float, lat: float) -> bool:
        """Return whether the point lies inside the network's extent.

        Parameters
        ----------
        lon
            Longitude, WGS84 degrees.
        lat
            Latitude, WGS84 degrees.
        """
        box = self._box
        if box is None:
            shapely.prepare(self.extent)  # a prepared geometry stays prepared
            minx, miny, maxx, maxy = self.extent.bounds
            # A rectangle (every shipped extent) is answered from its bounds, without GEOS.
            rect = bool(self.extent.equals(shapely.box(minx, miny, maxx, maxy)))
            box = self._box = (minx, miny, maxx, maxy, rect)
        minx, miny, maxx, maxy, rect = box
        if not (minx < lon < maxx and miny < lat < maxy):
            return False
        return rect or bool(shapely.contains_xy(self.extent, lon, lat))

    def extent_text(self) -> str:
        """Describe the extent as lat/lon ranges for messages."""
        minx, miny, maxx, maxy = self.extent.bounds
        return f"{self.name} {miny:.2f}–{maxy:.2f} N, {minx:.2f}–{maxx:.2f} E"

    def info(self) -> dict[str, Any]:
        """Return a summary: nodes, edges, extent, total length."""
        lengths = [float(d.get("length_m", 0.0)) for _, _, d in self.graph.edges(data=True)]
        return {
            "name": self.name,
            "mode": self.mode,
            "origin": self.source.origin,
            "title": self.source.title,
            "nodes": self.graph.number_of_nodes(),
            "edges": self.graph.number_of_edges(),
            "directed_length_km": round(sum(lengths) / 1000, 1),
            "bbox": [round(v, 5) for v in self.extent.bounds],
            "licence": self.source.licence,
        }


class NetworkStore:
    """The road networks the planner knows: the shipped one and the user's imports.

    Parameters
    ----------
    seeds_dir
        The shipped data folder (holds the seed network).
    data_dir
        Where imported networks are kept (``networks/`` inside it).
    cache_dir
        Where built graphs are cached.
    shared
        The shared store's imports (several hosts on PostgreSQL), mirrored into the imports
        folder; None on one host.
    """

    def __init__(
        self, seeds_dir: Path, data_dir: Path, cache_dir: Path, *, shared: SharedNetworks | None = None
    ) -> None:
        self.seeds_dir = seeds_dir
        self.shared = shared
        self.data_dir = data_dir
        self.cache_dir = cache_dir
        self._loaded: dict[tuple[str, str], RoadNetwork] = {}
        self._sources: tuple[int | None, list[NetworkSource]] | None = None
        self._imports_path = os.fspath(self.imports_dir)
        self._lock = threading.RLock()  # the regional network loads the shipped one inside its own load

    @property
    def imports_dir(self) -> Path:
        """The folder of imported OSM files."""
        return self.data_dir / "networks"

    def sources(self) -> list[NetworkSource]:
        """Return every network source, the seed first.

        Read again when the imports folder changes (an import or a fetch, by any process of
        the service): one ``stat`` per call instead of reading the folder on every request.
        With a shared store, the imports of other hosts are mirrored in by a background look
        at most once a second (never waiting on the database; while it is away the networks
        already mirrored here are used).
        """
        if self.shared is not None:
            self.shared.sync(self.imports_dir)
        try:
            stamp: int | None = os.stat(self._imports_path).st_mtime_ns  # noqa: PTH116 - a str: no Path per request
        except OSError:
            stamp = None
        cached = self._sources
        if cached is not None and cached[0] == stamp:
            return list(cached[1])
        out = self._read_sources()
        self._sources = (stamp, out)
        return list(out)

    def _read_sources(self) -> list[NetworkSource]:
        out = [
            NetworkSource(
                SEED_NETWORK,
                self.seeds_dir / SEED_ROADS_FILE,
                "seed",
                "Central Beijing, OpenStreetMap 2013 (registered to WGS84)",
            )
        ]
        if (self.seeds_dir / REGIONAL_SKELETON_FILE).is_file():
            out.append(
                NetworkSource(
                    REGIONAL_NETWORK,
                    self.seeds_dir / REGIONAL_SKELETON_FILE,
                    "seed",
                    "Whole municipality: major-road skeleton (OpenStreetMap via scgraph-data, coarse) "
                    "joined to the central 2013 network",
                    format="regional",
                    modes=("drive",),
                )
            )
        if self.imports_dir.is_dir():
            for meta_path in sorted(self.imports_dir.glob("*.json")):
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                if meta.get("format", "osm") == "graphml":
                    out.append(NetworkSource(meta["name"], meta_path, "fetch", meta["title"], format="graphml"))
                else:
                    out.append(NetworkSource(meta["name"], self.imports_dir / meta["file"], "import", meta["title"]))
        return out

    def source(self, name: str) -> NetworkSource:
        """Return the source called ``name``.

        Parameters
        ----------
        name
            The source's name.
        """
        for src in self.sources():
            if src.name == name:
                return src
        known = ", ".join(s.name for s in self.sources())
        raise NotFoundError(f"no road network called {name!r}; known networks: {known}.")

    def source_of_regional(self, net: RoadNetwork) -> NetworkSource:
        """Return the detailed network a regional one is joined to (the shipped one).

        Parameters
        ----------
        net
            A regional network.
        """
        return self.source(SEED_NETWORK) if net.source.regional else net.source

    def get(self, name: str, mode: str) -> RoadNetwork:
        """Return the ``mode`` network of source ``name``, from memory, cache or a build.

        Parameters
        ----------
        name
            The source's name.
        mode
            ``"drive"`` or ``"walk"``.
        """
        m = check_mode(mode)
        net = self._loaded.get((name, m))  # a dict read is atomic: a loaded network needs no lock
        if net is not None:
            return net
        with self._lock:
            if (name, m) in self._loaded:
                return self._loaded[(name, m)]
            src = self.source(name)
            if m not in src.modes:
                raise NotFoundError(
                    f"network {name!r} has no {m} graph: it holds major roads only and answers "
                    f"{' and '.join(src.modes)} requests."
                )
            net = self._load(src, m)
            self._loaded[(name, m)] = net
            return net

    def all(self, mode: str) -> list[RoadNetwork]:
        """Return the ``mode`` network of every source.

        Parameters
        ----------
        mode
            ``"drive"`` or ``"walk"``.
        """
        m = check_mode(mode)
        return [self.get(src.name, m) for src in self.sources() if m in src.modes]

    def covering(self, lon: float, lat: float, *, mode: str) -> list[RoadNetwork]:
        """Return the ``mode`` networks that cover a point, the preferred first.

        A user's imported or downloaded extract comes before the shipped network: it is
        newer, and it may hold what the 2013 roads lack (footpaths inside parks).

        Parameters
        ----------
        lon
            Longitude, WGS84 degrees.
        lat
            Latitude, WGS84 degrees.
        mode
            ``"drive"`` or ``"walk"``.
        """
        nets = [n for n in self.all(mode) if n.covers(lon, lat)]
        if len(nets) < 2:
            return nets
        return sorted(nets, key=lambda n: (n.source.origin == "seed", n.source.regional))

    def locate(self, lon: float, lat: float, *, mode: str, label: str = "point") -> RoadNetwork:
        """Return the preferred network that covers a point (see `covering`), or raise `OutsideCoverageError`.

        Parameters
        ----------
        lon, lat
            The point, WGS84 degrees.
        mode
            ``"drive"`` or ``"walk"``.
        label
            How the point is named in the error message (a site id, "origin", ...).
        """
        found = self.covering(lon, lat, mode=mode)
        if found:
            return found[0]
        nets = self.all(mode)
        extents = "; ".join(n.extent_text() for n in nets)
        drive_only = [s.name for s in self.sources() if mode not in s.modes]
        also = (
            f" The regional network ({', '.join(drive_only)}) covers the whole municipality for driving only: "
            "it holds major roads, no footpaths."
            if drive_only
            else ""
        )
        raise OutsideCoverageError(
            f"{label} ({lat:.4f} N, {lon:.4f} E) lies outside every loaded {mode} road network ({extents}).{also} "
            "Import an OpenStreetMap extract that covers it with `venue-planner networks import FILE` "
            "or download one with `venue-planner networks fetch --site ID`."
        )

    # -- cache ------------------------------------------------------------------

    def _cache_path(self, src: NetworkSource, mode: Mode, digest: str) -> Path:
        # Keyed by the source, this code's graph rules and the libraries that build the graph.
        versions = " ".join(importlib.metadata.version(p) for p in ("osmnx", "networkx", "osmium", "shapely"))
        libs = hashlib.sha256(versions.encode()).hexdigest()[:8]
        return self.cache_dir / f"{src.name}.{mode}.{digest[:16]}.v{_CACHE_VERSION}.{libs}.pkl"

    def _load(self, src: NetworkSource, mode: Mode) -> RoadNetwork:
        for path in src.files(mode):
            if not path.is_file():
                raise NetworkImportError(f"a file of network {src.name!r} is missing: {path}.")
        digest = src.sha256(mode)
        cache = self._cache_path(src, mode, digest)
        if cache.is_file():
            try:
                graph, extent = _read_graph(cache)
                return RoadNetwork(src, mode, graph, extent, cache.stem, self.cache_dir)
            except (pickle.UnpicklingError, EOFError, ValueError, AttributeError, TypeError) as exc:
                log.warning("cache %s is unreadable (%s); rebuilding", cache, exc)
        log.info("building %s %s network from %s (first use; cached afterwards)", src.name, mode, src.path.name)
        if src.regional:
            graph, extent = self._build_regional(src)
        else:
            if src.format == "graphml":
                import osmnx as ox  # only to build a graph

                graph = add_speeds(ox.io.load_graphml(src.graph_file(mode)), mode=mode)
            else:
                graph = build_graph(src.path, mode)
            extent = network_extent(graph)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.cache_dir.glob(f"{src.name}.{mode}.*"):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)  # derived arrays of an older graph
            else:
                stale.unlink(missing_ok=True)
        _write_graph(cache, graph, extent)
        return RoadNetwork(src, mode, graph, extent, cache.stem, self.cache_dir)

    def _build_regional(self, src: NetworkSource) -> tuple[nx.MultiDiGraph, Polygon]:
        """Return the regional graph and its extent (Beijing's border, `REGIONAL_BORDER_MARGIN_M` wider)."""
        detailed = self.get(SEED_NETWORK, "drive")
        graph = regional_graph(
            read_skeleton(src.path), read_calibration(src.path.with_name(REGIONAL_CALIBRATION_FILE)), detailed
        )
        towns = gpd.read_file(self.seeds_dir / "townships.geojson", engine="pyogrio", columns=[])
        border = shapely.union_all(shapely.make_valid(towns.geometry.to_numpy()))
        xy = shapely.get_coordinates(border)
        x, y = lonlat_to_utm(xy[:, 0], xy[:, 1], name="townships")
        outline = (
            shapely.set_coordinates(border, np.column_stack([x, y])).buffer(REGIONAL_BORDER_MARGIN_M).simplify(200.0)
        )
        if isinstance(outline, shapely.MultiPolygon):
            outline = max(outline.geoms, key=lambda p: p.area)
        lon, lat = utm_to_lonlat(*np.asarray(outline.exterior.coords).T)
        return graph, Polygon(np.column_stack([lon, lat]))

    # -- imports ----------------------------------------------------------------

    def import_file(self, path: Path, *, name: str | None = None, replace: bool = False) -> list[RoadNetwork]:
        """Add a user's OSM extract as a network; nothing changes if it fails.

        Parameters
        ----------
        path
            The extract: .osm, .osm.bz2, .osm.gz or .osm.pbf (converted with pyosmium).
        name
            The network's name (lower-case letters, digits, dashes); defaults to the
            file name.
        replace
            Replace an imported network of the same name.

        Returns
        -------
        list of RoadNetwork
            The drive and walk networks built from it.
        """
        path = Path(path)
        if not path.is_file():
            raise NetworkImportError(f"`FILE` {path} does not exist.")
        suffix = osm_suffix(path)
        if not suffix:
            raise NetworkImportError(
                f"`FILE` {path.name} is not an OSM file; expected one of {', '.join(OSM_SUFFIXES)}."
            )
        if path.stat().st_size == 0:
            raise NetworkImportError(f"`FILE` {path} is empty.")
        base = path.name[: -len(suffix)]
        name = name or re.sub(r"[^a-z0-9-]+", "-", base.lower()).strip("-") or "imported"
        if not _NAME_RE.match(name):
            raise NetworkImportError(f"`name` {name!r} must be lower-case letters, digits and dashes.")
        if name == SEED_NETWORK:
            raise NetworkImportError(f"`name` {name!r} is the shipped network's; choose another.")
        if not replace and (self.imports_dir / f"{name}.json").exists():
            raise NetworkImportError(f"a network called {name!r} exists; pass --replace or choose another --name.")
        with tempfile.TemporaryDirectory(prefix="venue-planner-import-") as tmp:
            staged = Path(tmp) / f"{name}.osm.bz2"
            try:
                with osmium.SimpleWriter(str(staged)) as writer:
                    for obj in osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY):
                        writer.add(obj)
            except RuntimeError as exc:
                raise NetworkImportError(f"{path.name} could not be read as OpenStreetMap data: {exc}") from exc
            src = NetworkSource(name, staged, "import", f"Imported from {path.name}")
            built = {m: build_graph(staged, m) for m in MODES}  # raises before anything is stored
            self.imports_dir.mkdir(parents=True, exist_ok=True)
            final = self.imports_dir / staged.name
            shutil.move(str(staged), final.with_suffix(".tmp"))
            final.with_suffix(".tmp").replace(final)
            meta = {
                "name": name,
                "file": final.name,
                "title": src.title,
                "imported_from": str(path.resolve()),
                "imported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "licence": OSM_LICENCE,
            }
            self._write_meta(name, meta)
            if self.shared is not None:
                self.shared.publish(name, meta, [final])
        return self._remember(self.source(name), built)

    def _remember(self, src: NetworkSource, built: dict[Mode, nx.MultiDiGraph]) -> list[RoadNetwork]:
        out = []
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with self._lock:
            for m, graph in built.items():
                extent = network_extent(graph)
                for stale in self.cache_dir.glob(f"{src.name}.{m}.*.pkl"):
                    stale.unlink(missing_ok=True)
                cache = self._cache_path(src, m, src.sha256(m))
                _write_graph(cache, graph, extent)
                net = RoadNetwork(src, m, graph, extent, cache.stem)
                self._loaded[(src.name, m)] = net
                out.append(net)
        return out

    def fetch(self, lon: float, lat: float, *, name: str, dist_m: float = 5000.0) -> list[RoadNetwork]:
        """Download the drive and walk networks around a point with osmnx (needs the internet).

        The graphs are stored as GraphML beside the imports and loaded like them.

        Parameters
        ----------
        lon
            Longitude, WGS84 degrees.
        lat
            Latitude, WGS84 degrees.
        name
            The name to store the networks under.
        dist_m
            Radius around the point, metres.
        """
        import osmnx as ox

        try:
            graphs = {
                m: add_speeds(ox.graph_from_point((lat, lon), dist=dist_m, network_type=m, simplify=True), mode=m)
                for m in MODES
            }
        except Exception as exc:  # osmnx raises many network error types
            raise NetworkImportError(
                f"downloading the road network around ({lat:.4f} N, {lon:.4f} E) failed: {exc}. "
                "Without internet access, export an extract elsewhere and use `networks import FILE`."
            ) from exc
        return self._store_graphs(name, graphs, title=f"Downloaded with osmnx around {lat:.4f} N, {lon:.4f} E")

    def _store_graphs(self, name: str, graphs: dict[Mode, nx.MultiDiGraph], *, title: str) -> list[RoadNetwork]:
        import osmnx as ox

        if not _NAME_RE.match(name) or name == SEED_NETWORK:
            raise NetworkImportError(f"`name` {name!r} must be lower-case letters, digits and dashes, not the seed's.")
        self.imports_dir.mkdir(parents=True, exist_ok=True)
        for m, graph in graphs.items():
            tmp = self.imports_dir / f"{name}.{m}.graphml.tmp"
            ox.io.save_graphml(graph, tmp)
            tmp.replace(self.imports_dir / f"{name}.{m}.graphml")
        meta = {
            "name": name,
            "format": "graphml",
            "title": title,
            "imported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "licence": OSM_LICENCE,
        }
        self._write_meta(name, meta)
        if self.shared is not None:
            self.shared.publish(name, meta, [self.imports_dir / f"{name}.{m}.graphml" for m in graphs])
        return self._remember(self.source(name), graphs)

    def _write_meta(self, name: str, meta: dict[str, str]) -> None:
        """Write an import's metadata atomically (it is what makes the import visible)."""
        tmp = self.imports_dir / f"{name}.json.tmp"
        tmp.write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
        tmp.replace(self.imports_dir / f"{name}.json")

    def loaded(self) -> Iterable[RoadNetwork]:
        """Return the networks loaded so far."""
        return list(self._loaded.values())


def site_access(
    store: NetworkStore,
    lon: float,
    lat: float,
    boundary_utm: shapely.Geometry,
    *,
    mode: str,
    label: str,
    max_distance_m: float = 300.0,
    network: RoadNetwork | None = None,
) -> tuple[RoadNetwork, Snap]:
    """Return the network covering a site and the site's access point on it.

    Parameters
    ----------
    store
        The network store.
    lon, lat
        The site's centre, WGS84.
    boundary_utm
        The site's boundary in UTM 50N.
    mode
        ``"drive"`` or ``"walk"``.
    label
        The site's name for error messages.
    max_distance_m
        The largest allowed gap between the boundary and the access road.
    network
        The network to use; by default the preferred one covering the centre.
    """
    net = network or store.locate(lon, lat, mode=mode, label=label)
    return net, snap_area(net.edge_index, boundary_utm, (lon, lat), max_distance_m=max_distance_m, label=label)


def _write_graph(path: Path, graph: nx.MultiDiGraph, extent: Polygon) -> None:
    """Pickle a graph and its extent to ``path`` (atomically), edge lines apart as one WKB array.

    Unpickling 60,000 shapely lines one by one, and numpy scalars in the edges' ``length``,
    was 40 % of loading the graphs at a warm start; `_read_graph` reads the lines back in one
    vectorised call. The graph is left as it was (its lines are put back; lengths become floats).
    """
    keys: list[tuple[int, int, int]] = []
    lines = []
    for u, v, k, d in graph.edges(keys=True, data=True):
        for a, val in d.items():
            if isinstance(val, np.floating):
                d[a] = float(val)
        if "geometry" in d:
            keys.append((u, v, k))
            lines.append(d.pop("geometry"))
    try:
        wkb = shapely.to_wkb(np.array(lines, dtype=object)) if lines else np.empty(0, dtype=object)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump((graph, shapely.to_wkb(extent), keys, wkb), fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    finally:
        for (u, v, k), line in zip(keys, lines, strict=True):
            graph[u][v][k]["geometry"] = line


def _read_graph(path: Path) -> tuple[nx.MultiDiGraph, Polygon]:
    """Return the graph and extent `_write_graph` wrote (a file of the older layout is rewritten in this one)."""
    with path.open("rb") as fh:
        payload = pickle.load(fh)
    if len(payload) == 2:  # (graph, extent): the layout before the lines were kept apart
        graph, extent_wkb = payload
        extent = shapely.from_wkb(extent_wkb)
        _write_graph(path, graph, extent)
        return graph, extent
    graph, extent_wkb, keys, wkb = payload
    for (u, v, k), line in zip(keys, shapely.from_wkb(wkb), strict=True):
        graph[u][v][k]["geometry"] = line
    return graph, shapely.from_wkb(extent_wkb)
