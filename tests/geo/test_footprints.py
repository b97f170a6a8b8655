"""Footprint validation and analysis against hand-computed cases on the shipped data."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo import footprints as fp
from geo.crs import utm_to_lonlat
from geo.errors import InvalidGeometryError, InvalidInputError


def utm_rect(x0: float, y0: float, w: float, h: float) -> dict[str, Any]:
    """Return a GeoJSON Polygon (WGS84) of a rectangle drawn in UTM 50N."""
    xs = np.array([x0, x0 + w, x0 + w, x0, x0])
    ys = np.array([y0, y0, y0 + h, y0 + h, y0])
    lon, lat = utm_to_lonlat(xs, ys)
    return {"type": "Polygon", "coordinates": [list(zip(lon.tolist(), lat.tolist(), strict=True))]}


# Near Wanping (UTM 50N metres).
X0, Y0 = 433_000.0, 4_410_500.0


@pytest.mark.parametrize(("w", "h"), [(200.0, 150.0), (35.5, 80.25), (1000.0, 2000.0)])
def test_area_and_perimeter_of_rectangles(w: float, h: float) -> None:
    f = fp.parse_footprint(utm_rect(X0, Y0, w, h))
    # Coordinates are kept to 1e-7 degrees (about 1 cm): the area may move by perimeter x 1 cm.
    assert f.geometry_utm.area == pytest.approx(w * h, abs=2 * (w + h) * 0.01)
    assert f.geometry_utm.length == pytest.approx(2 * (w + h), abs=0.1)
    assert f.warnings == ()


@settings(max_examples=30, deadline=None)
@given(
    w=st.floats(5, 2000),
    h=st.floats(5, 2000),
    d=st.floats(-2, 50),
)
def test_setback_changes_area_as_expected(w: float, h: float, d: float) -> None:
    f = fp.parse_footprint(utm_rect(X0, Y0, w, h))
    g = fp.setback(f.geometry_utm, d)
    # Mitred corners: a rectangle grown or shrunk by d stays a rectangle.
    expected = max(w + 2 * d, 0) * max(h + 2 * d, 0)
    assert g.area == pytest.approx(expected, rel=1e-3, abs=2 * (w + h) * 0.02 + 1)


def _bowtie() -> dict[str, Any]:
    lon, lat = 116.2263972, 39.8484
    return {
        "type": "Polygon",
        "coordinates": [[[lon, lat], [lon + 0.002, lat + 0.0015], [lon + 0.002, lat], [lon, lat + 0.0015], [lon, lat]]],
    }


def _small_loop() -> dict[str, Any]:
    """Return a square whose ring crosses itself in a tiny loop at one corner (repairable)."""
    x0, y0 = X0, Y0
    pts = [(x0, y0), (x0 + 200, y0), (x0 + 200, y0 + 200), (x0, y0 + 200), (x0 + 1, y0 - 1), (x0 - 1, y0 + 1), (x0, y0)]
    lon, lat = utm_to_lonlat(np.array([p[0] for p in pts]), np.array([p[1] for p in pts]))
    return {"type": "Polygon", "coordinates": [list(zip(lon.tolist(), lat.tolist(), strict=True))]}


def test_repair_small_self_intersection_with_warning() -> None:
    f = fp.parse_footprint(_small_loop())
    assert f.geometry_utm.is_valid
    assert f.geometry_utm.area == pytest.approx(40_000, rel=0.01)
    assert len(f.warnings) == 1
    assert "make_valid" in f.warnings[0]


@pytest.mark.parametrize(
    ("doc", "error", "words"),
    [
        (_bowtie(), InvalidGeometryError, "would change its area"),
        ({"type": "Point", "coordinates": [116.4, 39.9]}, InvalidGeometryError, "got a Point"),
        (
            {"type": "LineString", "coordinates": [[116.4, 39.9], [116.41, 39.9]]},
            InvalidGeometryError,
            "got a LineString",
        ),
        ({"type": "Polygon", "coordinates": []}, InvalidGeometryError, "empty"),
        ("not geojson", InvalidGeometryError, "must be a GeoJSON"),
        (utm_rect(X0, Y0, 3000, 2000), InvalidGeometryError, "at most 5 km²"),
        (
            {"type": "Polygon", "coordinates": [[[39.85, 116.22], [39.85, 116.23], [39.86, 116.23], [39.85, 116.22]]]},
            InvalidInputError,
            "latitude, longitude",
        ),
        (
            {"type": "Polygon", "coordinates": [[[121.4, 31.2], [121.5, 31.2], [121.5, 31.3], [121.4, 31.2]]]},
            InvalidInputError,
            "outside Beijing",
        ),
    ],
)
def test_bad_footprints(doc: Any, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        fp.parse_footprint(doc)


def test_too_many_vertices() -> None:
    t = np.linspace(0, 2 * np.pi, 10_050)
    lon, lat = 116.30 + 0.001 * np.cos(t), 39.95 + 0.001 * np.sin(t)
    lon[-1], lat[-1] = lon[0], lat[0]
    with pytest.raises(InvalidGeometryError, match="at most 10000"):
        fp.parse_footprint({"type": "Polygon", "coordinates": [np.column_stack([lon, lat]).tolist()]})


def test_compare_marks_the_best() -> None:
    table = fp.compare(
        [
            {"area_m2": 100.0, "roads_cut": 2.0},
            {"area_m2": 150.0, "roads_cut": 2.0},
            {"area_m2": 120.0, "roads_cut": 0.0},
        ]
    )
    rows = {r["metric"]: r for r in table}
    assert rows["area_m2"]["best"] == [1]
    assert rows["roads_cut"]["best"] == [2]
    assert rows["perimeter_m"]["best"] == []  # unknown everywhere


@settings(max_examples=40, deadline=None)
@given(
    boxes=st.lists(
        st.tuples(st.floats(-300, 300), st.floats(-300, 300), st.floats(1, 120), st.floats(1, 120)),
        min_size=1,
        max_size=12,
    ),
    buffer_m=st.sampled_from([0.0, 5.0, 50.0, 400.0]),
)
def test_buildable_equals_the_plain_overlay(boxes: list[tuple[float, float, float, float]], buffer_m: float) -> None:
    """The clipped computation gives the parts of the textbook overlay: union, buffer, then intersect."""
    x0, y0 = 446_000.0, 4_413_000.0
    parcel = shapely.box(x0 - 200, y0 - 150, x0 + 200, y0 + 150)
    zones = [shapely.box(x0 + x, y0 + y, x0 + x + w, y0 + y + h) for x, y, w, h in boxes]
    got = fp.buildable(parcel, zones, buffer_m=buffer_m)
    union = shapely.union_all(zones)
    # The buffer of a union is the union of the buffers. Buffered zone by zone (as the product
    # does), the arcs have the same vertices: buffering the union instead draws them from other
    # points, and two such approximations of one shape differ by up to a few tenths of a m²
    # (two overlapping 2 m boxes, 50 m: 0.27 m²), which is not what this test is about.
    grown = shapely.union_all([union, *shapely.buffer(zones, buffer_m)]) if buffer_m > 0 else union
    expected = {
        "protected": shapely.intersection(parcel, union),
        "buffer": shapely.difference(shapely.intersection(parcel, grown), union),
        "buildable": shapely.difference(parcel, grown),
    }
    for k, geom in expected.items():
        assert got[k].area == pytest.approx(geom.area, rel=1e-6, abs=0.05), k
        assert shapely.symmetric_difference(got[k], geom).area < 0.05 + 1e-6 * parcel.area, k
