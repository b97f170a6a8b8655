"""Tracing cells into polygons: the same polygons as GDAL's polygonizer, always valid."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
import shapely.validation
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from rasterio import features

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


@settings(max_examples=300, deadline=None)
@given(arrays(np.bool_, st.tuples(st.integers(1, 14), st.integers(1, 14))))
def test_random_masks_trace_like_gdal(mask: np.ndarray) -> None:
    if not mask.any():
        assert trace_cells(mask, UNIT).is_empty
        return
    _assert_same_as_gdal(mask)


@pytest.mark.parametrize("density", [0.3, 0.5, 0.6, 0.8])
def test_larger_random_masks_trace_like_gdal(density: float) -> None:
    rng = np.random.default_rng(7)
    mask = rng.random((97, 131)) < density  # odd sizes: the 8-byte scan has a tail
    _assert_same_as_gdal(mask)


def test_cells_touching_at_a_corner_are_two_polygons() -> None:
    mask = np.array([[1, 0], [0, 1]], dtype=bool)
    got = _assert_same_as_gdal(mask)
    a, b = shapely.get_parts(got)
    assert a.area == b.area == 1.0
    assert a.intersection(b).geom_type == "Point"


def test_a_polygon_touching_itself_at_a_corner_gets_a_hole_not_a_pinched_shell() -> None:
    # A ring of cells open at one corner: the cells at (0, 1) and (1, 0) touch diagonally
    # and belong to one polygon; the middle cell is a hole that touches the shell there.
    mask = np.array([[0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=bool)
    got = _assert_same_as_gdal(mask)
    (poly,) = shapely.get_parts(got)
    assert len(poly.interiors) == 1
    assert shapely.Polygon(poly.interiors[0]).area == 1.0
    assert poly.area == 7.0


def test_islands_in_holes_are_their_own_polygons() -> None:
    mask = np.zeros((9, 9), dtype=bool)
    mask[0:9, 0:9] = True
    mask[2:7, 2:7] = False  # a hole
    mask[4, 4] = True  # an island in the hole
    got = _assert_same_as_gdal(mask)
    parts = sorted(shapely.get_parts(got), key=lambda p: p.area)
    assert [p.area for p in parts] == [1.0, 56.0]
    assert len(parts[1].interiors) == 1
    assert len(parts[0].interiors) == 0


def test_map_transform_places_the_corners() -> None:
    transform = Affine(25.0, 0.0, 440_000.0, 0.0, -25.0, 4_420_000.0)
    mask = np.zeros((3, 4), dtype=bool)
    mask[1, 2] = True
    got = _assert_same_as_gdal(mask, transform)
    assert got.bounds == (440_050.0, 4_419_950.0, 440_075.0, 4_419_975.0)


def test_full_and_empty_masks() -> None:
    assert trace_cells(np.zeros((5, 5), dtype=bool), UNIT).is_empty
    got = _assert_same_as_gdal(np.ones((5, 7), dtype=bool))
    assert got.area == 35.0
    assert shapely.get_num_coordinates(got) == 5
    with pytest.raises(ValueError, match="2-D"):
        trace_cells(np.ones(5, dtype=bool), UNIT)
