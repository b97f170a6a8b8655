"""The offline basemap: vector tiles of the shipped data in one PMTiles archive (``seeds/basemap.pmtiles``).

Built from the other seed files only (no download): the 2013 roads by class with their names,
the regional skeleton beyond them, township outlines and names, the subway lines and stations,
the sites (Chinese and English names) and the heritage buildings. Zooms `MIN_ZOOM`-`MAX_ZOOM`;
the pages draw deeper zooms from the last one. Tiles are Mapbox Vector Tiles (gzip), written
in tile-id order, with the archive's metadata naming every layer and its fields.
"""

from __future__ import annotations

import bz2
import gzip
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import osmium
import shapely
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

from geo.errors import DataSourceError
from geo.tiles import EXTENT, tile_bounds_m, tile_range, to_mercator, to_tile_grid
from layers.basemap import BASEMAP_FILE, MAX_ZOOM, MIN_ZOOM
from layers.credits import OSM_CREDIT

__all__ = ["BASEMAP_FILE", "MAX_ZOOM", "MIN_ZOOM", "build_basemap"]

# Road classes by the zoom from which each is drawn (OSM `highway` values of the 2013 roads).
ROAD_MIN_ZOOM = {
    "motorway": 6,
    "trunk": 6,
    "motorway_link": 11,
    "trunk_link": 11,
    "primary": 9,
    "primary_link": 12,
    "secondary": 10,
    "secondary_link": 12,
    "tertiary": 11,
    "tertiary_link": 13,
}
OTHER_ROADS_ZOOM = 13  # residential, unclassified, service and the rest
SIMPLIFY_PX = 1.0  # lines and outlines simplified to this many grid units of their zoom's tile


@dataclass(frozen=True)
class _Layer:
    name: str
    geoms: Any  # Web Mercator geometries (an object array)
    props: list[dict[str, Any]]
    min_zoom: Any  # per feature (an int array)
    max_zoom: int = MAX_ZOOM


def _mercator(geoms: Iterable[shapely.Geometry]) -> Any:  # noqa: ANN401 - an object array
    arr = np.asarray(list(geoms), dtype=object)
    return shapely.transform(arr, lambda c: to_mercator(c[:, 0], c[:, 1]))


def _read(path: Path) -> gpd.GeoDataFrame:
    if not path.is_file():
        raise DataSourceError(f"the basemap is built from the seeds: {path} is missing; build the seeds first.")
    return gpd.read_file(path)


class _Ways(osmium.SimpleHandler):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[bytes, str, str]] = []
        self._wkb = osmium.geom.WKBFactory()

    def way(self, w: Any) -> None:  # noqa: ANN401 - osmium's way
        kind = w.tags.get("highway")
        if kind is None:
            return
        try:
            line = self._wkb.create_linestring(w)
        except osmium.InvalidLocationError:
            return
        self.rows.append((bytes.fromhex(line), kind, w.tags.get("name", "")))


def _roads(seeds: Path) -> _Layer:
    path = seeds / "beijing_2013_roads.osm.bz2"
    if not path.is_file():
        raise DataSourceError(f"the basemap is built from the seeds: {path} is missing; build the seeds first.")
    with tempfile.NamedTemporaryFile(suffix=".osm") as tmp:
        tmp.write(bz2.decompress(path.read_bytes()))
        tmp.flush()
        h = _Ways()
        h.apply_file(tmp.name, locations=True)
    geoms = shapely.from_wkb([r[0] for r in h.rows])
    props = [{"kind": k, "name": n} if n else {"kind": k} for _, k, n in h.rows]
    zooms = np.array([ROAD_MIN_ZOOM.get(k, OTHER_ROADS_ZOOM) for _, k, _ in h.rows])
    return _Layer("roads", _mercator(geoms), props, zooms)


def _lines_of(gdf: gpd.GeoDataFrame) -> list[shapely.Geometry]:
    return [shapely.boundary(g) for g in gdf.geometry]


def _layers(seeds: Path) -> list[_Layer]:
    """Return the basemap's layers from the seed files, in drawing order."""
    towns = _read(seeds / "townships.geojson")
    skeleton = _read(seeds / "beijing_highway_skeleton.geojson")
    lines = _read(seeds / "subway_lines.geojson")
    stations = _read(seeds / "subway_stations.geojson")
    sites = _read(seeds / "sites.geojson")
    sites = sites[sites["parent"].fillna("") == ""]  # the candidate sites, not their parts
    buildings = _read(seeds / "heritage_buildings.geojson")
    town_points = [g.representative_point() for g in towns.geometry]
    site_points = [g.representative_point() for g in sites.geometry]

    def const(n: int, z: int) -> Any:  # noqa: ANN401 - an int array
        return np.full(n, z)

    return [
        _Layer(
            "boundaries",
            _mercator(_lines_of(towns)),
            [{"district": d} for d in towns["district"]],
            const(len(towns), MIN_ZOOM),
        ),
        _Layer("skeleton", _mercator(skeleton.geometry), [{}] * len(skeleton), const(len(skeleton), MIN_ZOOM)),
        _roads(seeds),
        _Layer(
            "buildings",
            _mercator(buildings.geometry),
            [{"name": n} if isinstance(n, str) and n else {} for n in buildings["name"]],
            const(len(buildings), 13),
        ),
        _Layer("sites", _mercator(sites.geometry), [{} for _ in range(len(sites))], const(len(sites), MIN_ZOOM)),
        _Layer(
            "subway",
            _mercator(lines.geometry),
            [{"name": n, "colour": c} for n, c in zip(lines["name"], lines["colour"], strict=True)],
            const(len(lines), 9),
        ),
        _Layer(
            "stations",
            _mercator(stations.geometry),
            [{"name": n, "colour": c} for n, c in zip(stations["name"], stations["colour"], strict=True)],
            const(len(stations), 12),
        ),
        _Layer(
            "places",
            _mercator(town_points),
            [{"name": t, "district": d} for t, d in zip(towns["township"], towns["district"], strict=True)],
            const(len(towns), 10),
        ),
        _Layer(
            "site_labels",
            _mercator(site_points),
            [
                {"name": zh, "name_en": en, "label": f"{zh} {en}"}
                for zh, en in zip(sites["name_zh"], sites["name_en"], strict=True)
            ],
            const(len(sites), 8),
        ),
    ]


def _bounds(geoms: Any) -> tuple[float, float, float, float]:  # noqa: ANN401 - an object array
    b = shapely.total_bounds(geoms)
    return float(b[0]), float(b[1]), float(b[2]), float(b[3])


def _zoom_tiles(layers: list[_Layer], z: int) -> dict[int, dict[str, list[dict[str, Any]]]]:
    """Return every non-empty tile of zoom ``z``: per tile id, per layer, its features in grid units."""
    out: dict[int, dict[str, list[dict[str, Any]]]] = {}
    size = 2 * 20037508.342789244 / (1 << z)
    for layer in layers:
        if z > layer.max_zoom:
            continue
        keep = np.flatnonzero(layer.min_zoom <= z)
        if not len(keep):
            continue
        geoms = layer.geoms[keep]
        lines = np.isin(shapely.get_type_id(geoms), (1, 2, 3, 5, 6))
        geoms = np.where(lines, shapely.simplify(geoms, SIMPLIFY_PX * size / EXTENT), geoms)
        tree = shapely.STRtree(geoms)
        x0, y0, x1, y1 = tile_range(_bounds(geoms), z)
        for tx in range(x0, x1 + 1):
            for ty in range(y0, y1 + 1):
                box = shapely.box(*tile_bounds_m(z, tx, ty)).buffer(size / 64, join_style="mitre")
                hits = tree.query(box, predicate="intersects")
                feats = []
                for i in np.sort(hits).tolist():
                    g = to_tile_grid(geoms[i], z, tx, ty)
                    if g is not None:
                        feats.append({"geometry": g, "properties": layer.props[int(keep[i])]})
                if feats:
                    out.setdefault(zxy_to_tileid(z, tx, ty), {})[layer.name] = feats
    return out


def build_basemap(
    seeds: Path, out: Path | None = None, *, progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """Build the basemap archive from the seed files; return what it holds (for the manifest).

    Parameters
    ----------
    seeds
        The seeds folder (read), holding the files the basemap is drawn from.
    out
        The archive to write (default: ``seeds / BASEMAP_FILE``); written whole or not at all.
    progress
        Called with (zooms done, zooms) after each zoom.
    """
    out = out or seeds / BASEMAP_FILE
    layers = _layers(seeds)
    tiles = 0
    bounds = np.array([np.inf, np.inf, -np.inf, -np.inf])
    for layer in layers:
        b = shapely.total_bounds(layer.geoms)
        bounds = np.array([min(bounds[0], b[0]), min(bounds[1], b[1]), max(bounds[2], b[2]), max(bounds[3], b[3])])
    part = out.with_suffix(".part")
    with part.open("wb") as f:
        w = Writer(f)
        for k, z in enumerate(range(MIN_ZOOM, MAX_ZOOM + 1)):
            for tid, content in sorted(_zoom_tiles(layers, z).items()):
                data = mapbox_vector_tile.encode(
                    [{"name": name, "features": feats} for name, feats in content.items()],
                    default_options={"extents": EXTENT, "y_coord_down": True},
                )
                w.write_tile(tid, gzip.compress(data, compresslevel=9, mtime=0))
                tiles += 1
            if progress is not None:
                progress(k + 1, MAX_ZOOM - MIN_ZOOM + 1)
        lon = np.degrees(bounds[[0, 2]] / 6378137.0)
        lat = np.degrees(2 * np.arctan(np.exp(bounds[[1, 3]] / 6378137.0)) - np.pi / 2)
        header = {
            "tile_type": TileType.MVT,
            "tile_compression": Compression.GZIP,
            "min_lon_e7": int(np.floor(lon[0] * 1e7)),
            "min_lat_e7": int(np.floor(lat[0] * 1e7)),
            "max_lon_e7": int(np.ceil(lon[1] * 1e7)),
            "max_lat_e7": int(np.ceil(lat[1] * 1e7)),
            "center_zoom": 11,
            "center_lon_e7": 1163974000,
            "center_lat_e7": 399087000,
        }
        meta = {
            "name": "venue-planner basemap",
            "description": "Beijing from the planner's shipped data: 2013 roads, regional skeleton, townships, "
            "subway, sites, heritage buildings",
            "attribution": f"{OSM_CREDIT}; townships: mosstool (MIT)",
            "vector_layers": [
                {"id": layer.name, "fields": {k: "String" for p in layer.props[:50] for k in p}} for layer in layers
            ],
        }
        w.finalize(header, meta)
    part.replace(out)
    return {
        "tiles": tiles,
        "zooms": [MIN_ZOOM, MAX_ZOOM],
        "bounds": [round(float(v), 5) for v in (lon[0], lat[0], lon[1], lat[1])],
        "bytes": out.stat().st_size,
        "layers": [layer.name for layer in layers],
    }
