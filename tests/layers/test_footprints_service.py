"""Footprint analysis on the shipped layers (moved from tests/geo: it needs the built context)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import shapely

from api.context import Context
from geo import footprints as fp
from geo.crs import lonlat_to_utm, utm_to_lonlat


def utm_rect(x0: float, y0: float, w: float, h: float) -> dict[str, Any]:
    """Return a GeoJSON Polygon (WGS84) of a rectangle drawn in UTM 50N."""
    xs = np.array([x0, x0 + w, x0 + w, x0, x0])
    ys = np.array([y0, y0, y0 + h, y0 + h, y0])
    lon, lat = utm_to_lonlat(xs, ys)
    return {"type": "Polygon", "coordinates": [list(zip(lon.tolist(), lat.tolist(), strict=True))]}


# Near Wanping (UTM 50N metres).
X0, Y0 = 433_000.0, 4_410_500.0


def _building(ctx: Context, name: str) -> shapely.Geometry:
    h = ctx.footprints.heritage_utm
    return h.geometry[h["name"] == name].iloc[0]


def test_overlap_with_real_forbidden_city_buildings(ctx: Context) -> None:
    hall = _building(ctx, "太和殿")  # the Hall of Supreme Harmony, UTM
    minx, miny, maxx, maxy = hall.bounds
    # A box over the western half of the hall's bounding box.
    box = shapely.box(minx - 5, miny - 5, (minx + maxx) / 2, maxy + 5)
    doc = utm_rect(minx - 5, miny - 5, (maxx - minx) / 2 + 5, maxy - miny + 10)
    f = fp.parse_footprint(doc)
    a = ctx.footprints.analyze(f)
    got = {h["name"]: h for h in a["heritage"]}
    key = next(k for k in got if k.startswith("太和殿"))
    expected = shapely.intersection(hall, box).area
    assert got[key]["overlap_m2"] == pytest.approx(expected, rel=0.002)
    assert got[key]["share_of_zone"] == pytest.approx(expected / hall.area, rel=0.002)
    assert a["conflicts"][0]["severity"] == "high"
    assert a["conflicts"][0]["kind"] == "heritage_building"
    assert "太和殿" in a["conflicts"][0]["message"]
    assert a["site"] == "central-axis"
    assert a["sub_site"] == "forbidden-city"
    kinds = {c["kind"] for c in a["conflicts"]}
    assert "protection_zone" in kinds


def test_access_point_lies_on_a_drivable_edge(ctx: Context) -> None:
    f = fp.parse_footprint(utm_rect(X0, Y0, 120, 90))
    a = ctx.footprints.analyze(f)
    acc = a["access"]
    net = ctx.networks.get(acc["network"], "drive")
    u, v, k = acc["access_edge"]
    assert net.graph.has_edge(u, v, k)  # an edge of the drive graph
    idx = net.edge_index
    i = next(j for j, e in enumerate(idx.edges) if tuple(int(t) for t in e) == (u, v, k))
    x, y = lonlat_to_utm(np.array([acc["access_point"][0]]), np.array([acc["access_point"][1]]))
    pt = shapely.Point(float(x[0]), float(y[0]))
    assert idx.geoms[i].distance(pt) < 0.05
    assert acc["drive_distance_m"] == pytest.approx(f.geometry_utm.distance(idx.geoms[i]), abs=0.1)
    # No other drivable edge is nearer to the footprint.
    assert acc["drive_distance_m"] <= float(shapely.distance(idx.geoms, f.geometry_utm).min()) + 0.1
    assert acc["walk_to_subway_m"] is not None
    assert "宛平城" in acc["subway_entrance"]


def test_population_within_radius(ctx: Context) -> None:
    f = fp.parse_footprint(utm_rect(X0, Y0, 100, 100))
    a = ctx.footprints.analyze(f)
    p = a["population"]
    assert 0 < p["within_500m"] < p["within_1000m"]
    # Independent: cell centres within 1 km, from the raster.
    people = ctx.coverage.people
    _, tf = ctx.coverage._population
    zone = shapely.buffer(f.geometry_utm, 1000)
    minx, miny, maxx, maxy = zone.bounds
    c0, r0 = (int(v) for v in ~tf @ (minx, maxy))
    c1, r1 = (int(v) + 1 for v in ~tf @ (maxx, miny))
    cols, rows = np.meshgrid(np.arange(c0, c1), np.arange(r0, r1))
    xs, ys = tf.c + (cols + 0.5) * tf.a, tf.f + (rows + 0.5) * tf.e
    inside = shapely.contains_xy(zone, xs, ys)
    assert p["within_1000m"] == pytest.approx(
        float(people[rows[inside], cols[inside]].sum()), abs=0.1
    )  # rounded to 0.1


def test_elevation_where_covered_and_said_where_not(ctx: Context) -> None:
    doc = {
        "type": "Polygon",
        "coordinates": [[[116.30, 40.00], [116.302, 40.00], [116.302, 40.002], [116.30, 40.002], [116.30, 40.00]]],
    }
    e = ctx.footprints.analyze(fp.parse_footprint(doc))["elevation"]
    assert e["available"] is True
    assert 30 < e["elevation_m_min"] <= e["elevation_m_mean"] <= e["elevation_m_max"] < 200
    e2 = ctx.footprints.analyze(fp.parse_footprint(utm_rect(X0, Y0, 50, 50)))["elevation"]
    assert e2["available"] is False
    assert "no elevation data here" in e2["message"]


def test_buildable_plus_removed_equals_parcel(ctx: Context) -> None:
    hall = _building(ctx, "太和殿")
    minx, miny, _, _ = hall.bounds
    parcel = fp.parse_footprint(utm_rect(minx - 150, miny - 100, 300, 250))
    out = ctx.footprints.buildable(parcel, buffer_m=20)
    parts = {k: fp.to_utm_geom(v) for k, v in out["geometries"].items() if not v.is_empty}
    total = out["buildable_m2"] + out["protected_m2"] + out["buffer_m2"]
    assert total == pytest.approx(out["parcel_m2"], rel=1e-6)
    assert out["protected_m2"] > 0
    assert out["buffer_m2"] > 0
    union = shapely.union_all(list(parts.values()))
    # The parts are served in WGS84 at 1e-7 degrees (about 1 cm): allow that much at the seams.
    assert shapely.symmetric_difference(union, parcel.geometry_utm).area < 1e-4 * parcel.geometry_utm.area
    names = list(parts)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert shapely.intersection(parts[a], parts[b]).area < 1e-4 * parcel.geometry_utm.area
