from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from shapely.geometry import Point

from geo.crs import distance_m, gcj02_to_wgs84, lonlat_to_utm, to_utm, to_wgs84, utm_to_lonlat
from geo.errors import CRSError


def test_to_utm_rejects_missing_crs() -> None:
    gdf = gpd.GeoDataFrame(geometry=[Point(116.39, 39.91)])
    with pytest.raises(CRSError, match=r"`data` has no CRS; expected EPSG:4326"):
        to_utm(gdf)


def test_to_utm_rejects_other_crs() -> None:
    gdf = gpd.GeoDataFrame(geometry=[Point(448_000, 4_418_000)], crs=32650)
    with pytest.raises(CRSError, match=r"is in EPSG:32650, expected EPSG:4326"):
        to_utm(gdf, name="sites")


def test_to_utm_names_swapped_coordinates() -> None:
    gdf = gpd.GeoDataFrame(geometry=[Point(39.91, 116.39)], crs=4326)  # lat/lon swapped
    with pytest.raises(CRSError, match=r"outside UTM zone 50N.*not lat/lon"):
        to_utm(gdf)


def test_tiananmen_utm_coordinates() -> None:
    # First-order transverse Mercator about the zone's 117 E meridian, scale 0.9996:
    # easting = 500 km + k0 * 111.32 km * cos(lat) * dlon; northing = k0 * meridian arc.
    lon, lat = 116.3975, 39.9087
    x, y = lonlat_to_utm([lon], [lat])
    expected_x = 500_000 + 0.9996 * 111_320 * np.cos(np.radians(lat)) * (lon - 117.0)
    assert x[0] == pytest.approx(expected_x, abs=120)
    # Meridian arc to 39.9087 N on WGS84 is 4,419.5 km; times k0 and minus the (small)
    # convergence term gives about 4,417.8 km.
    assert y[0] == pytest.approx(0.9996 * 4_419_540, abs=1_500)


def test_to_wgs84_round_trip() -> None:
    gdf = gpd.GeoDataFrame(geometry=[Point(116.3975, 39.9087)], crs=4326)
    back = to_wgs84(to_utm(gdf))
    assert back.geometry.iloc[0].distance(gdf.geometry.iloc[0]) < 1e-9


@given(st.floats(115.5, 117.5), st.floats(39.4, 41.1))
def test_utm_round_trip_property(lon: float, lat: float) -> None:
    x, y = lonlat_to_utm([lon], [lat])
    lon2, lat2 = utm_to_lonlat(x, y)
    assert distance_m(lon, lat, lon2[0], lat2[0]) < 1e-3


def test_distance_one_degree_of_latitude() -> None:
    assert distance_m(116.0, 39.0, 116.0, 40.0) == pytest.approx(111_195, rel=1e-3)


def test_gcj02_offset_in_beijing_is_about_500_m() -> None:
    # SOURCES.md: GCJ-02 sits about 0.006 deg east and 0.0015 deg north of WGS84 in Beijing.
    lon, lat = gcj02_to_wgs84([116.397], [39.916])
    assert 116.397 - lon[0] == pytest.approx(0.0062, abs=0.0008)
    assert 39.916 - lat[0] == pytest.approx(0.0014, abs=0.0006)
    assert 400 < distance_m(116.397, 39.916, lon[0], lat[0])[()] < 700


def test_gcj02_inverse_is_consistent() -> None:
    # Converting two nearby GCJ points keeps their separation (the offset is smooth).
    lon, lat = gcj02_to_wgs84(np.array([116.39, 116.40]), np.array([39.90, 39.90]))
    assert distance_m(lon[0], lat[0], lon[1], lat[1]) == pytest.approx(
        distance_m(116.39, 39.90, 116.40, 39.90), rel=1e-3
    )
