"""Isochrones and coverage against brute force and independent computations on the shipped data."""

from __future__ import annotations

import pytest
import shapely
import shapely.validation

from geo.errors import InvalidInputError
from geo.isochrones import check_bands


def test_check_bands() -> None:
    assert check_bands([15, 5, 5]) == (5.0, 15.0)
    for bad, msg in [
        ([], "empty"),
        ([-1], "not a travel time"),
        ([181], "not a travel time"),
        (list(range(1, 10)), "at most 8"),
    ]:
        with pytest.raises(InvalidInputError, match=msg):
            check_bands(bad)


def test_carving_squares_equals_the_overlay() -> None:
    """Holes added as rings (each in the part given, overlapping squares merged) equal GEOS's difference."""
    from geo.bands import _carve

    left = shapely.Polygon([(0, 0), (100, 0), (100, 100), (0, 100)], [[(60, 60), (80, 60), (80, 80), (60, 80)]])
    right = shapely.box(200, 0, 300, 100)
    geom = shapely.MultiPolygon([left, right])
    squares = [shapely.box(9, 9, 11, 11), shapely.box(10, 10, 12, 12), shapely.box(249, 49, 251, 51)]
    got = _carve(geom, squares, [0, 0, 1])
    want = shapely.difference(geom, shapely.union_all(squares))
    assert shapely.is_valid(got)
    assert got.equals(want)
    assert [len(p.interiors) for p in shapely.get_parts(got)] == [2, 1]  # the old hole kept, the overlap one hole
