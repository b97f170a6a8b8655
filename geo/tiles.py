"""Web Mercator tiles: which tiles cover a region, and geometries cut and scaled to a tile's grid.

Pure computation for the basemap's vector tiles (Mapbox Vector Tile coordinates: an
``extent`` × ``extent`` grid per tile, x to the east, y down). Geometries come in Web
Mercator metres (EPSG:3857, `to_mercator`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import shapely

from geo.errors import InvalidInputError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["EXTENT", "HALF_WORLD_M", "tile_bounds_m", "tile_range", "to_mercator", "to_tile_grid"]

HALF_WORLD_M = 20037508.342789244  # half the Web Mercator world's width, metres (π × 6,378,137)
EXTENT = 4096  # a vector tile's grid: the Mapbox Vector Tile specification's usual extent
MAX_LAT = 85.0511287798066  # Web Mercator's limit of latitude


def to_mercator(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.float64]:
    """Return longitudes and latitudes (degrees) as Web Mercator x, y (metres), an (n, 2) array.

    Parameters
    ----------
    lon
        Longitudes, degrees.
    lat
        Latitudes, degrees (clipped to Web Mercator's ±85.05°).
    """
    x = np.radians(np.asarray(lon, dtype=float)) * 6378137.0
    phi = np.radians(np.clip(np.asarray(lat, dtype=float), -MAX_LAT, MAX_LAT))
    y = np.log(np.tan(np.pi / 4 + phi / 2)) * 6378137.0
    return np.column_stack([x, y])


def tile_bounds_m(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """Return a tile's bounds in Web Mercator metres: (minx, miny, maxx, maxy).

    Parameters
    ----------
    z, x, y
        The tile (XYZ scheme: y counted from the north).
    """
    n = 1 << z
    if not (0 <= z <= 24 and 0 <= x < n and 0 <= y < n):
        raise InvalidInputError(f"no tile {z}/{x}/{y}: at zoom {z}, x and y run from 0 to {n - 1}.")
    size = 2 * HALF_WORLD_M / n
    minx = -HALF_WORLD_M + x * size
    maxy = HALF_WORLD_M - y * size
    return minx, maxy - size, minx + size, maxy


def tile_range(bounds_m: tuple[float, float, float, float], z: int) -> tuple[int, int, int, int]:
    """Return the tiles of zoom ``z`` that meet a region: (x0, y0, x1, y1), inclusive.

    Parameters
    ----------
    bounds_m
        The region in Web Mercator metres (minx, miny, maxx, maxy).
    z
        The zoom.
    """
    n = 1 << z
    size = 2 * HALF_WORLD_M / n
    minx, miny, maxx, maxy = bounds_m

    def col(v: float) -> int:
        return min(n - 1, max(0, math.floor((v + HALF_WORLD_M) / size)))

    def row(v: float) -> int:
        return min(n - 1, max(0, math.floor((HALF_WORLD_M - v) / size)))

    return col(minx), row(maxy), col(maxx), row(miny)


def to_tile_grid(
    geom: shapely.Geometry, z: int, x: int, y: int, *, buffer: int = 64, extent: int = EXTENT
) -> shapely.Geometry | None:
    """Return a geometry (Web Mercator metres) cut to a tile and scaled to its grid, or None if nothing is left.

    The cut reaches ``buffer`` grid units beyond the tile's edge (so that lines and
    outlines run on under a neighbour's labels and strokes); coordinates are rounded to the
    grid (y down, as vector tiles count it). Polygons are repaired after rounding; parts
    that vanish (a polygon thinner than one grid unit) are dropped.

    Parameters
    ----------
    geom
        The geometry, Web Mercator metres.
    z, x, y
        The tile.
    buffer
        How far beyond the tile's edge to keep, in grid units.
    extent
        The grid's size.
    """
    minx, miny, maxx, maxy = tile_bounds_m(z, x, y)
    scale = extent / (maxx - minx)
    pad = buffer / scale
    cut = shapely.clip_by_rect(geom, minx - pad, miny - pad, maxx + pad, maxy + pad)
    if cut.is_empty:
        return None

    def grid(c: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.column_stack([np.round((c[:, 0] - minx) * scale), np.round((maxy - c[:, 1]) * scale)])

    out = shapely.transform(cut, grid)
    if out.geom_type in ("Polygon", "MultiPolygon"):
        out = shapely.make_valid(out)
        polys = [p for p in shapely.get_parts(out) if p.geom_type == "Polygon" and p.area >= 1.0]
        return shapely.MultiPolygon(polys) if len(polys) > 1 else (polys[0] if polys else None)
    if out.geom_type in ("LineString", "MultiLineString", "GeometryCollection"):
        lines = [g for g in shapely.get_parts(out) if g.geom_type == "LineString" and g.length > 0]
        if not lines:
            points = [g for g in shapely.get_parts(out) if g.geom_type == "Point"]
            return points[0] if points and geom.geom_type == "Point" else None
        return shapely.MultiLineString(lines) if len(lines) > 1 else lines[0]
    return out
