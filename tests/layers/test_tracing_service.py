"""A real isochrone band traced like GDAL (moved from tests/geo: it needs the built context)."""

from __future__ import annotations

import shapely
import shapely.validation
from affine import Affine

from api.context import Context
from tests.geo.test_tracing import _assert_same_as_gdal


def test_real_band_traces_like_gdal(ctx: Context) -> None:
    """The 30-minute drive band from the Central Axis: 2 million cells, hundreds of holes."""
    place = ctx.routing.resolve("central-axis", mode="drive", label="site")
    index = ctx.coverage.index(place.network)
    band = index.reach([place.snap], limit_min=30).band(30)
    transform = index.grid.transform @ Affine.translation(band.col0, band.row0)
    got = _assert_same_as_gdal(band.mask, transform)
    assert sum(len(p.interiors) for p in shapely.get_parts(got)) > 100
