"""The registry of layers: what each is, where it lives, and validated loading.

Vector layers load as WGS84 GeoDataFrames, checked for CRS, geometry type, validity
and emptiness. Raster layers are GeoTIFF paths with their metadata. Road layers are
the edges of the road networks (see `layers.networks`).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import shapely

from geo.crs import WGS84_EPSG
from geo.errors import DataSourceError, InvalidInputError, NotFoundError
from layers.credits import OSM_CONTRIBUTORS
from layers.diskcache import load_or_build

if TYPE_CHECKING:
    import networkx as nx

    from layers.networks import NetworkStore

__all__ = ["LAYERS", "LayerSpec", "LayerStore", "export_vector"]

log = logging.getLogger(__name__)

OSM = f"{OSM_CONTRIBUTORS} (ODbL 1.0)"
LayerKind = Literal["vector", "raster", "network"]


@dataclass(frozen=True)
class LayerSpec:
    """What a layer is: id, title, geometry type, file, CRS, attribution, default style."""

    id: str
    title: str
    kind: LayerKind
    geometry_type: str
    file: str
    crs: str
    attribution: str
    description: str
    style: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Return the spec as plain data (for the API and the CLI)."""
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "geometry_type": self.geometry_type,
            "file": self.file,
            "crs": self.crs,
            "attribution": self.attribution,
            "description": self.description,
            "style": self.style,
        }


LAYERS: tuple[LayerSpec, ...] = (
    LayerSpec(
        "sites", "Candidate sites and supporting places", "vector", "Polygon", "sites.geojson", "EPSG:4326",
        OSM, "Site boundaries with the source and uncertainty of each outline.",
        {"color": "#b2182b", "weight": 3, "fillOpacity": 0.08},
    ),
    LayerSpec(
        "townships", "Townships with population", "vector", "MultiPolygon", "townships.geojson", "EPSG:4326",
        "WorldPop (www.worldpop.org), CC BY 4.0; boundaries via tsinghua-fib-lab/mosstool (MIT)",
        "331 townships of Beijing with their WorldPop population.",
        {"color": "#555555", "weight": 1, "fillOpacity": 0.0},
    ),
    LayerSpec(
        "subway-stations", "Subway stations", "vector", "Point", "subway_stations.geojson", "EPSG:4326",
        OSM, "Stations with their lines and official line colours.", {"radius": 5},
    ),
    LayerSpec(
        "subway-entrances", "Subway entrances", "vector", "Point", "subway_entrances.geojson", "EPSG:4326",
        OSM, "Entrances and exits with their station.", {"radius": 2, "color": "#333333"},
    ),
    LayerSpec(
        "subway-lines", "Subway lines (modelled feed)", "vector", "LineString", "subway_lines.geojson", "EPSG:4326",
        OSM, "Lines drawn straight between their stations in running order, with their official colours and "
        "the station codes missing from the data; times in seeds/subway_gtfs/ are modelled, not timetabled.",
        {"color": "#0070c0", "weight": 3},
    ),
    LayerSpec(
        "heritage-buildings", "Forbidden City buildings", "vector", "MultiPolygon", "heritage_buildings.geojson",
        "EPSG:4326", OSM, "Building footprints of the Palace Museum (names kept).",
        {"color": "#8c510a", "weight": 1, "fillOpacity": 0.5},
    ),
    LayerSpec(
        "population", "Population per 100 m cell", "raster", "Raster", "population_100m.tif", "EPSG:32650",
        "WorldPop (www.worldpop.org), CC BY 4.0", "Township totals spread evenly over 100 m cells.",
    ),
    LayerSpec(
        "elevation", "Elevation (SRTM 30 m, Haidian only)", "raster", "Raster", "elevation_haidian_srtm30.tif",
        "EPSG:4326", "NASA SRTM (public domain)",
        "Covers 116.269–116.371 E, 39.951–40.052 N (Yuanmingyuan, east Summer Palace) only.",
    ),
    LayerSpec(
        "roads-drive", "Roads (drive)", "network", "LineString", "beijing_2013_roads.osm.bz2", "EPSG:4326",
        OSM, "Drivable edges of the shipped network with speed_kph and travel_time_s.",
        {"color": "#4d4d4d", "weight": 2},
    ),
    LayerSpec(
        "roads-walk", "Roads (walk)", "network", "LineString", "beijing_2013_roads.osm.bz2", "EPSG:4326",
        OSM, "Walkable edges of the shipped network.", {"color": "#1a9850", "weight": 1},
    ),
    LayerSpec(
        "roads-regional", "Major roads, regional skeleton (coarse)", "vector", "LineString",
        "beijing_highway_skeleton.geojson", "EPSG:4326", OSM + " (via scgraph-data 2.0.0, MIT)",
        "Major-road skeleton of the whole municipality: straight chords between nodes rounded to 0.001° "
        "(about 100 m), chord length_m, no road class, name or one-way. The only roads of Tongzhou, "
        "Yanqi Lake, Daxing Airport and Yanqing.",
        {"color": "#762a83", "weight": 2, "dashArray": "6 4"},
    ),
)  # fmt: skip

_EXPECTED = {
    "Point": {"Point"},
    "Polygon": {"Polygon", "MultiPolygon"},
    "MultiPolygon": {"Polygon", "MultiPolygon"},
    "LineString": {"LineString", "MultiLineString"},
}


_LAYER_CACHE_VERSION = "1"  # bump when a road layer's frame changes
_EDGE_COLUMNS = ("osmid", "highway", "name", "oneway", "length_m", "speed_kph", "travel_time_s", "maxspeed")


def _edges_frame(graph: nx.MultiDiGraph) -> gpd.GeoDataFrame:
    """Return a graph's edges as a WGS84 frame (u, v, key, the OSM attributes, the line), like osmnx's graph_to_gdfs."""
    xs = dict(graph.nodes(data="x"))
    ys = dict(graph.nodes(data="y"))
    rows: dict[str, list[Any]] = {c: [] for c in ("u", "v", "key", *_EDGE_COLUMNS)}
    geoms = []
    for u, v, k, d in graph.edges(keys=True, data=True):
        rows["u"].append(u)
        rows["v"].append(v)
        rows["key"].append(k)
        for c in _EDGE_COLUMNS:
            rows[c].append(d.get(c))
        g = d.get("geometry")
        geoms.append(g if g is not None else shapely.LineString([(xs[u], ys[u]), (xs[v], ys[v])]))
    frame = gpd.GeoDataFrame(rows, geometry=geoms, crs=WGS84_EPSG)
    return frame[[c for c in frame.columns if c == "geometry" or frame[c].notna().any()]]


def one_geometry_type(gdf: gpd.GeoDataFrame, types: set[str] | None = None) -> gpd.GeoDataFrame:
    """Return the frame with single parts promoted to multi-parts when it mixes them.

    ``types`` are the geometry types of the whole layer, when ``gdf`` is a part of it
    (every page of a layer must have one type); by default those of ``gdf``.

    A client learns a layer's geometry type from its first features (GDAL's OAPIF driver,
    QGIS); a MultiPolygon after a page of Polygons would otherwise be dropped.

    Parameters
    ----------
    gdf
        A GeoDataFrame in WGS84.
    types
        The geometry types present (None: read from the frame).
    """
    if gdf.empty:
        return gdf
    types = types if types is not None else set(gdf.geom_type.unique())
    for single, multi in (("Polygon", shapely.multipolygons), ("LineString", shapely.multilinestrings)):
        if single in types and f"Multi{single}" in types:
            is_single = (gdf.geom_type == single).to_numpy()
            geoms = gdf.geometry.to_numpy().copy()
            geoms[is_single] = [multi([g]) for g in geoms[is_single]]
            gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    return gdf


def _flatten(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return a copy whose list and dict cells are strings, so any format can hold them."""
    out = gdf.copy()
    for col in out.columns:
        if col == out.geometry.name:
            continue
        if out[col].dtype == object and out[col].map(lambda v: isinstance(v, list | dict | set | tuple)).any():
            out[col] = out[col].map(
                lambda v: (
                    json.dumps(sorted(v) if isinstance(v, set) else v, ensure_ascii=False, default=str)
                    if isinstance(v, list | dict | set | tuple)
                    else v
                )
            )
    return out


class LayerStore:
    """Loads the registered layers from seeds/ (and road layers from the networks).

    Parameters
    ----------
    seeds_dir
        The shipped data folder.
    networks
        The network store, for the road layers.
    """

    def __init__(self, seeds_dir: Path, networks: NetworkStore) -> None:
        self.seeds_dir = seeds_dir
        self.networks = networks
        self._cache: dict[str, gpd.GeoDataFrame] = {}
        self._types: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def specs(self) -> list[LayerSpec]:
        """Return every registered layer."""
        return list(LAYERS)

    def spec(self, layer_id: str) -> LayerSpec:
        """Return the layer called ``layer_id``.

        Parameters
        ----------
        layer_id
            A layer id (see `specs`).
        """
        for s in LAYERS:
            if s.id == layer_id:
                return s
        raise NotFoundError(f"no layer called {layer_id!r}; known layers: {', '.join(s.id for s in LAYERS)}.")

    def path(self, layer_id: str) -> Path:
        """Return the file of a layer.

        Parameters
        ----------
        layer_id
            A layer id (see `specs`).
        """
        return self.seeds_dir / self.spec(layer_id).file

    def load(self, layer_id: str) -> gpd.GeoDataFrame:
        """Return a vector or road layer as a validated WGS84 GeoDataFrame (a copy).

        Parameters
        ----------
        layer_id
            A layer id (see `specs`).
        """
        return self._cached(self.spec(layer_id)).copy()

    def _cached(self, spec: LayerSpec) -> gpd.GeoDataFrame:
        """Return the shared in-memory frame of a layer (callers must not change it)."""
        if spec.kind == "raster":
            raise InvalidInputError(f"layer {spec.id!r} is a raster; download it as GeoTIFF instead.")
        with self._lock:
            if spec.id not in self._cache:
                self._cache[spec.id] = self._read(spec)
            return self._cache[spec.id]

    def _read(self, spec: LayerSpec) -> gpd.GeoDataFrame:
        if spec.kind == "network":
            mode = spec.id.removeprefix("roads-")
            net = self.networks.get("central-beijing-2013", mode)

            def build() -> gpd.GeoDataFrame:
                frame = _flatten(_edges_frame(net.graph))
                # Two OSM nodes at one position make a zero-length edge: not a drawable line.
                return frame[shapely.is_valid(frame.geometry.values)].reset_index(drop=True)

            path = (
                net.cache_dir / f"{net.cache_key}.layer-{spec.id}-v{_LAYER_CACHE_VERSION}.pkl"
                if net.cache_dir is not None and net.cache_key
                else None
            )
            gdf = load_or_build(path, build, supersedes=f"{net.cache_key}.layer-{spec.id}-v*.pkl")
        else:
            path = self.seeds_dir / spec.file
            if not path.is_file():
                raise DataSourceError(
                    f"layer {spec.id!r}: file {path} is missing; rebuild with `venue-planner seeds build`."
                )
            gdf = gpd.read_file(path, engine="pyogrio")
        self._validate(spec, gdf)
        return gdf

    @staticmethod
    def _validate(spec: LayerSpec, gdf: gpd.GeoDataFrame) -> None:
        if gdf.crs is None or gdf.crs.to_epsg() != WGS84_EPSG:
            raise DataSourceError(f"layer {spec.id!r} is in {gdf.crs}; expected EPSG:4326.")
        if gdf.empty:
            raise DataSourceError(f"layer {spec.id!r} has no features.")
        types = set(gdf.geom_type.unique())
        if not types <= _EXPECTED[spec.geometry_type]:
            raise DataSourceError(f"layer {spec.id!r} holds {sorted(types)}; expected {spec.geometry_type}.")
        bad = int((~shapely.is_valid(gdf.geometry.values)).sum())
        if bad:
            raise DataSourceError(f"layer {spec.id!r} has {bad} invalid geometries; rebuild the seeds.")

    def geometry_types(self, layer_id: str) -> set[str]:
        """Return the geometry types present in a layer (computed once).

        Parameters
        ----------
        layer_id
            A layer id (see `specs`).
        """
        with self._lock:
            hit = self._types.get(layer_id)
        if hit is None:
            hit = set(self._cached(self.spec(layer_id)).geom_type.unique())
            with self._lock:
                self._types[layer_id] = hit
        return set(hit)

    def query(self, layer_id: str, *, bbox: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame:
        """Return a layer's features, optionally only those intersecting a WGS84 bbox.

        Parameters
        ----------
        layer_id
            A layer id (see `specs`).
        bbox
            (minx, miny, maxx, maxy) in WGS84, or None for everything.
        """
        if bbox is None:
            return self.load(layer_id)
        gdf = self._cached(self.spec(layer_id))  # filter first, copy only the selection
        minx, miny, maxx, maxy = bbox
        if not (minx < maxx and miny < maxy):
            raise InvalidInputError(f"`bbox` must be minlon,minlat,maxlon,maxlat with min < max; got {bbox}.")
        idx = gdf.sindex.query(shapely.box(minx, miny, maxx, maxy), predicate="intersects")
        return gdf.iloc[np.sort(idx)].copy()


def export_vector(gdf: gpd.GeoDataFrame, path: Path, *, fmt: str, layer: str, attribution: str) -> Path:
    """Write a WGS84 GeoDataFrame as RFC 7946 GeoJSON or GeoPackage, with attribution.

    GeoJSON gets ``attribution`` as a top-level member (allowed by RFC 7946 section 6.1);
    GeoPackage gets it as the layer description.

    Parameters
    ----------
    gdf
        A GeoDataFrame in WGS84.
    path
        The file to write.
    fmt
        ``"geojson"`` or ``"gpkg"``.
    layer
        The layer name inside the file.
    attribution
        The credit line written with the data.
    """
    gdf = _flatten(gdf)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    if fmt == "geojson":
        doc = json.loads(gdf.to_json(na="null", drop_id=True, to_wgs84=True))
        doc = {"type": "FeatureCollection", "name": layer, "attribution": attribution, "features": doc["features"]}
        tmp.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    elif fmt == "gpkg":
        tmp.unlink(missing_ok=True)
        gdf.to_file(tmp, driver="GPKG", layer=layer, engine="pyogrio", layer_options={"DESCRIPTION": attribution})
    else:
        raise InvalidInputError(f"`format` must be geojson or gpkg; got {fmt!r}.")
    tmp.replace(path)
    return path
