"""Web Mercator tiles against their definition (the OSM slippy-map formulas) on synthetic shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from geo.errors import InvalidInputError
from geo.tiles import EXTENT, HALF_WORLD_M, tile_bounds_m, tile_range, to_mercator, to_tile_grid


def _slippy(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The OpenStreetMap wiki's tile of a point."""
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def test_mercator_and_tiles_agree_with_the_slippy_map_formulas() -> None:
    assert tile_bounds_m(0, 0, 0) == pytest.approx((-HALF_WORLD_M, -HALF_WORLD_M, HALF_WORLD_M, HALF_WORLD_M))
    rng = np.random.default_rng(7)
    for lon, lat in zip(rng.uniform(115.4, 117.5, 50), rng.uniform(39.4, 41.0, 50), strict=True):
        for z in (6, 10, 14):
            x, y = _slippy(lon, lat, z)
            mx, my = to_mercator(np.array([lon]), np.array([lat]))[0]
            minx, miny, maxx, maxy = tile_bounds_m(z, x, y)
            assert minx <= mx <= maxx
            assert miny <= my <= maxy
            assert tile_range((mx, my, mx, my), z) == (x, y, x, y)


def test_a_line_is_cut_to_the_tile_and_its_buffer() -> None:
    minx, miny, maxx, maxy = tile_bounds_m(12, 3372, 1552)
    size = maxx - minx
    mid = (miny + maxy) / 2
    line = shapely.LineString([(minx - size, mid), (maxx + size, mid)])  # crosses the whole tile west to east
    g = to_tile_grid(line, 12, 3372, 1552, buffer=64)
    assert g is not None
    xs = shapely.get_coordinates(g)[:, 0]
    assert xs.min() == -64
    assert xs.max() == EXTENT + 64
    assert set(shapely.get_coordinates(g)[:, 1]) == {EXTENT / 2}  # y counted down from the north edge
    far = shapely.LineString([(maxx + 2 * size, mid), (maxx + 3 * size, mid)])
    assert to_tile_grid(far, 12, 3372, 1552) is None


def test_a_polygon_thinner_than_the_grid_vanishes_and_a_point_keeps_its_place() -> None:
    minx, miny, maxx, _ = tile_bounds_m(14, 13489, 6208)
    unit = (maxx - minx) / EXTENT
    sliver = shapely.box(minx + 100 * unit, miny + 100 * unit, minx + 100.2 * unit, miny + 300 * unit)
    assert to_tile_grid(sliver, 14, 13489, 6208) is None
    square = shapely.box(minx + 100 * unit, miny + 100 * unit, minx + 300 * unit, miny + 300 * unit)
    got = to_tile_grid(square, 14, 13489, 6208)
    assert got is not None
    assert got.area == pytest.approx(200 * 200)
    p = to_tile_grid(shapely.Point(minx + 10 * unit, miny + 20 * unit), 14, 13489, 6208)
    assert p is not None
    assert (p.x, p.y) == (10, EXTENT - 20)


def test_a_tile_that_does_not_exist_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="x and y run from 0 to 1"):
        tile_bounds_m(1, 2, 0)
