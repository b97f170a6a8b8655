"""A real isochrone band traced like GDAL (moved from tests/geo: it needs the built context)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
import shapely.validation
from affine import Affine
from rasterio import features

from api.context import Context
from geo.tracing import trace_cells

UNIT = Affine(1.0, 0.0, 0.0, 0.0, -1.0, 0.0)  # column right, row down: y = -row


def _gdal(mask: np.ndarray, transform: Affine = UNIT) -> shapely.Geometry:
    """Return GDAL's polygons of the True cells (4-connectivity), as one MultiPolygon."""
    parts = [
        shapely.geometry.shape(geom)
        for geom, value in features.shapes(mask.view(np.uint8), mask=mask, transform=transform, connectivity=4)
        if value == 1
    ]
    return shapely.multipolygons(parts)


def _assert_same_as_gdal(mask: np.ndarray, transform: Affine = UNIT) -> shapely.Geometry:
    got = trace_cells(mask, transform)
    want = _gdal(mask, transform)
    assert got.is_valid, shapely.validation.explain_validity(got)
    assert got.geom_type == "MultiPolygon"
    assert shapely.get_num_geometries(got) == shapely.get_num_geometries(want)
    assert shapely.get_num_coordinates(got) == shapely.get_num_coordinates(want)  # corners only, like GDAL
    assert got.area == pytest.approx(mask.sum() * abs(transform.a * transform.e))
    assert shapely.equals(got, want)
    return got


def test_real_band_traces_like_gdal(ctx: Context) -> None:
    """The 30-minute drive band from the Central Axis: 2 million cells, hundreds of holes."""
    place = ctx.routing.resolve("central-axis", mode="drive", label="site")
    index = ctx.coverage.index(place.network)
    band = index.reach([place.snap], limit_min=30).band(30)
    transform = index.grid.transform @ Affine.translation(band.col0, band.row0)
    got = _assert_same_as_gdal(band.mask, transform)
    assert sum(len(p.interiors) for p in shapely.get_parts(got)) > 100
