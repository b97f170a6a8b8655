"""Conversions between WGS84 (storage, display) and UTM 50N (metric work).

This is the only module that reprojects. It refuses data without a CRS, data in an
unexpected CRS, and data outside the UTM zone where metres would be distorted.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pyproj
import shapely

from geo.errors import CRSError

if TYPE_CHECKING:
    import geopandas as gpd
    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "BEIJING_BBOX",
    "OFFERED_EPSG",
    "UTM_EPSG",
    "WGS84_EPSG",
    "check_fits",
    "crs_label",
    "distance_m",
    "gcj02_to_wgs84",
    "lonlat_to_utm",
    "north_first",
    "parse_crs",
    "point_to_lonlat",
    "point_to_utm",
    "to_utm",
    "to_wgs84",
    "transform_geometries",
    "utm_to_lonlat",
]

# The municipality (the township polygons of seeds/townships.geojson), rounded outwards: lon/lat.
BEIJING_BBOX = (115.41, 39.44, 117.51, 41.06)

WGS84_EPSG = 4326
UTM_EPSG = 32650
# UTM zone 50N spans 114-120 E; allow a small margin for data that straddles the edge.
_ZONE_LON = (113.5, 120.5)
_ZONE_LAT = (0.0, 84.0)

_TO_UTM = pyproj.Transformer.from_crs(WGS84_EPSG, UTM_EPSG, always_xy=True)
_TO_WGS = pyproj.Transformer.from_crs(UTM_EPSG, WGS84_EPSG, always_xy=True)

G = TypeVar("G", bound="gpd.GeoDataFrame | gpd.GeoSeries")


def _check_zone(lon: NDArray[np.float64], lat: NDArray[np.float64], name: str) -> None:
    if lon.size == 0:
        return
    finite = np.isfinite(lon) & np.isfinite(lat)
    if not finite.all():
        raise CRSError(f"`{name}` holds non-finite coordinates; drop or fix them first.")
    lo_min, lo_max = float(lon.min()), float(lon.max())
    la_min, la_max = float(lat.min()), float(lat.max())
    if lo_min < _ZONE_LON[0] or lo_max > _ZONE_LON[1] or la_min < _ZONE_LAT[0] or la_max > _ZONE_LAT[1]:
        raise CRSError(
            f"`{name}` spans lon {lo_min:.4f}..{lo_max:.4f}, lat {la_min:.4f}..{la_max:.4f}, "
            f"outside UTM zone 50N (lon {_ZONE_LON[0]}..{_ZONE_LON[1]}); "
            "check that the data is WGS84 lon/lat (not lat/lon, not projected)."
        )


def lonlat_to_utm(
    lon: ArrayLike, lat: ArrayLike, *, name: str = "coordinates"
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Project WGS84 lon/lat arrays to UTM 50N metres.

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes in degrees (EPSG:4326).
    name
        The argument name used in error messages.

    Returns
    -------
    tuple of ndarray
        Easting and northing in metres (EPSG:32650).
    """
    lon_a = np.asarray(lon, dtype=float)
    lat_a = np.asarray(lat, dtype=float)
    _check_zone(lon_a.ravel(), lat_a.ravel(), name)
    x, y = _TO_UTM.transform(lon_a, lat_a)
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def point_to_utm(lon: float, lat: float, *, name: str = "point") -> tuple[float, float]:
    """Project one WGS84 point to UTM 50N metres (a fast scalar path of `lonlat_to_utm`).

    Parameters
    ----------
    lon
        Longitude, WGS84 degrees.
    lat
        Latitude, WGS84 degrees.
    name
        How the point is named in error messages.
    """
    if not (_ZONE_LON[0] <= lon <= _ZONE_LON[1] and _ZONE_LAT[0] <= lat <= _ZONE_LAT[1]):
        _check_zone(np.array([lon]), np.array([lat]), name)
    x, y = _TO_UTM.transform(lon, lat)
    return float(x), float(y)


def point_to_lonlat(x: float, y: float) -> tuple[float, float]:
    """Unproject one UTM 50N point to WGS84 lon/lat.

    Parameters
    ----------
    x
        Easting, UTM 50N metres.
    y
        Northing, UTM 50N metres.
    """
    lon, lat = _TO_WGS.transform(x, y)
    return float(lon), float(lat)


def utm_to_lonlat(x: ArrayLike, y: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Unproject UTM 50N metres to WGS84 lon/lat degrees.

    Parameters
    ----------
    x
        Easting, UTM 50N metres.
    y
        Northing, UTM 50N metres.
    """
    lon, lat = _TO_WGS.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def _require_crs(data: gpd.GeoDataFrame | gpd.GeoSeries, epsg: int, name: str) -> None:
    if data.crs is None:
        raise CRSError(
            f"`{name}` has no CRS; expected EPSG:{epsg}. Set it with `.set_crs({epsg})` "
            "if you know the coordinates are in that system."
        )
    got = data.crs.to_epsg()
    if got != epsg:
        raise CRSError(f"`{name}` is in {data.crs.to_string()}, expected EPSG:{epsg}; reproject it first.")


def to_utm(data: G, *, name: str = "data") -> G:
    """Return a copy of WGS84 data reprojected to UTM 50N (EPSG:32650).

    Parameters
    ----------
    data
        GeoDataFrame or GeoSeries in EPSG:4326.
    name
        The argument name used in error messages.

    Returns
    -------
    GeoDataFrame or GeoSeries
        A new object in EPSG:32650; the input is unchanged.
    """
    _require_crs(data, WGS84_EPSG, name)
    if len(data) and not data.geometry.is_empty.all():
        minx, miny, maxx, maxy = data.total_bounds
        _check_zone(np.array([minx, maxx]), np.array([miny, maxy]), name)
    return data.to_crs(UTM_EPSG)


def to_wgs84(data: G, *, name: str = "data") -> G:
    """Return a copy of UTM 50N data reprojected to WGS84 (EPSG:4326).

    Parameters
    ----------
    data
        A GeoDataFrame, GeoSeries or geometry in UTM 50N.
    name
        How the input is named in error messages.
    """
    _require_crs(data, UTM_EPSG, name)
    return data.to_crs(WGS84_EPSG)


def distance_m(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike) -> NDArray[np.float64]:
    """Return the great-circle (haversine) distance in metres between lon/lat points.

    Parameters
    ----------
    lon1
        First points' longitudes, degrees.
    lat1
        First points' latitudes, degrees.
    lon2
        Second points' longitudes, degrees.
    lat2
        Second points' latitudes, degrees.
    """
    r = 6_371_008.8
    p1, p2 = np.radians(np.asarray(lat1, dtype=float)), np.radians(np.asarray(lat2, dtype=float))
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2, dtype=float) - np.asarray(lon1, dtype=float))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * r * np.arcsin(np.sqrt(a)), dtype=float)


def _gcj_delta(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    a = 6378245.0
    ee = 0.00669342162296594323
    x, y = lon - 105.0, lat - 35.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    dlat += (20.0 * np.sin(6.0 * x * math.pi) + 20.0 * np.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlat += (20.0 * np.sin(y * math.pi) + 40.0 * np.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * math.pi) + 320 * np.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlon += (20.0 * np.sin(6.0 * x * math.pi) + 20.0 * np.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlon += (20.0 * np.sin(x * math.pi) + 40.0 * np.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * math.pi) + 300.0 * np.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * math.pi
    magic = 1 - ee * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((a * (1 - ee)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (a / sqrtmagic * np.cos(radlat) * math.pi)
    return dlon, dlat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Convert GCJ-02 (Chinese web-map) lon/lat to WGS84 by fixed-point iteration.

    The GCJ-02 offset is a smooth published function of WGS84 position; inverting it by
    iteration is accurate to well under a metre, far better than the one-step inverse.

    Parameters
    ----------
    lon
        GCJ-02 longitude(s), degrees.
    lat
        GCJ-02 latitude(s), degrees.
    """
    glon = np.asarray(lon, dtype=float)
    glat = np.asarray(lat, dtype=float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(10):
        dlon, dlat = _gcj_delta(wlon, wlat)
        wlon = glon - dlon
        wlat = glat - dlat
    return wlon, wlat


# The coordinate systems offered for output and accepted for input besides WGS84 lon/lat:
# CGCS2000 (China's geodetic system since 2008), its 3-degree Gauss-Krüger zone with central
# meridian 117 E (nearly all of the municipality), and UTM zone 50N (the metric work here).
OFFERED_EPSG = (4326, 4490, 4548, 32650)
_CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/"
# Axis order by the EPSG definitions: latitude (or northing, X) first for these three.
_NORTH_FIRST = frozenset({4326, 4490, 4548})
# What coordinates in each kind of system look like around Beijing (generous margins).
_LONLAT_RANGE = ((113.0, 120.5), (37.0, 43.0))
_METRE_RANGE = ((150_000.0, 850_000.0), (4_100_000.0, 4_800_000.0))  # easting, northing (CM 117 E: both zones)


def parse_crs(text: str, *, label: str = "crs") -> int | None:
    """Return the EPSG code a CRS name or URI means, None for CRS84 (WGS84 lon/lat); refuse any other.

    Accepted: ``CRS84``, the OGC URI of CRS84, ``EPSG:<code>``, ``[EPSG:<code>]`` (a safe
    CURIE) and ``http://www.opengis.net/def/crs/EPSG/0/<code>``, for the codes of
    `OFFERED_EPSG`.

    Parameters
    ----------
    text
        The name or URI.
    label
        How the input is named in error messages.
    """
    t = str(text).strip()
    if t in ("CRS84", "OGC:CRS84", _CRS84_URI, "[OGC:CRS84]"):
        return None
    code = t.removeprefix(_EPSG_URI) if t.startswith(_EPSG_URI) else t.strip("[]").upper().removeprefix("EPSG:")
    if code.isascii() and code.isdigit() and int(code) in OFFERED_EPSG:
        return int(code)
    offered = ", ".join(["CRS84", *(f"EPSG:{c}" for c in OFFERED_EPSG)])
    raise CRSError(f"`{label}` must be one of {offered} (or their OGC URIs); got {t[:80]!r}.")


def crs_label(epsg: int | None, *, uri: bool = False) -> str:
    """Return a CRS's name (``EPSG:4548``, ``CRS84``) or, with ``uri``, its OGC URI.

    Parameters
    ----------
    epsg
        An EPSG code, or None for CRS84.
    uri
        Return the OGC URI instead of the short name.
    """
    if epsg is None:
        return _CRS84_URI if uri else "CRS84"
    return f"{_EPSG_URI}{epsg}" if uri else f"EPSG:{epsg}"


def north_first(epsg: int | None) -> bool:
    """Return whether a CRS's first axis is latitude or northing (EPSG:4326, 4490 and 4548; not CRS84 or UTM).

    Parameters
    ----------
    epsg
        An EPSG code, or None for CRS84.
    """
    return epsg in _NORTH_FIRST


def transform_geometries(
    geoms: NDArray[np.object_], *, source: int | None, target: int | None, axis_order: bool = False
) -> NDArray[np.object_]:
    """Return shapely geometries transformed between CRSs (lon/lat or easting first, unless ``axis_order``).

    With ``axis_order`` the *target* coordinates follow the CRS's own axis order (latitude
    or northing first for EPSG:4326, 4490 and 4548), as OGC API - Features Part 2 asks.
    CGCS2000 and WGS84 agree to a few centimetres; pyproj's transformation between them is
    the identity (a ballpark one), as EPSG's own is.

    Parameters
    ----------
    geoms
        The geometries.
    source
        Their CRS: an EPSG code, or None for CRS84.
    target
        The CRS wanted: an EPSG code, or None for CRS84.
    axis_order
        Write the target's coordinates in its own axis order.
    """
    src = WGS84_EPSG if source is None else source
    dst = WGS84_EPSG if target is None else target
    out = geoms
    if src != dst:
        tr = _transformer(src, dst)
        out = shapely.transform(geoms, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))
    if axis_order and north_first(target):
        out = shapely.transform(out, lambda c: c[:, ::-1])
    return np.asarray(out, dtype=object)


def _transformer(src: int, dst: int) -> pyproj.Transformer:
    key = (src, dst)
    hit = _TRANSFORMERS.get(key)
    if hit is None:
        hit = _TRANSFORMERS[key] = pyproj.Transformer.from_crs(src, dst, always_xy=True)
    return hit


_TRANSFORMERS: dict[tuple[int, int], pyproj.Transformer] = {}


def check_fits(x: ArrayLike, y: ArrayLike, epsg: int | None, *, label: str) -> None:
    """Refuse coordinates that do not look like the declared CRS around Beijing, saying what they look like.

    ``x``, ``y`` are lon/lat or easting/northing (x first). Longitude/latitude declared as
    EPSG:4548 or 32650, metres declared as lon/lat, and northing given before easting are
    each named in the error.

    Parameters
    ----------
    x
        First coordinates (longitude or easting).
    y
        Second coordinates (latitude or northing).
    epsg
        The declared CRS: an EPSG code, or None for CRS84.
    label
        How the input is named in error messages.
    """
    xs, ys = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    if xs.size == 0:
        return
    if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
        raise CRSError(f"`{label}` has a coordinate that is not a finite number.")

    def inside(
        rng: tuple[tuple[float, float], tuple[float, float]], a: NDArray[np.float64], b: NDArray[np.float64]
    ) -> bool:
        return bool(((a >= rng[0][0]) & (a <= rng[0][1]) & (b >= rng[1][0]) & (b <= rng[1][1])).all())

    name = crs_label(epsg)
    geographic = epsg in (None, 4326, 4490)
    expected, other = (_LONLAT_RANGE, _METRE_RANGE) if geographic else (_METRE_RANGE, _LONLAT_RANGE)
    if inside(expected, xs, ys):
        return
    what = "projected metres (EPSG:4548 or EPSG:32650?)" if geographic else "longitude/latitude (CRS84?)"
    if inside(other, xs, ys):
        hint = f"they look like {what}: declare the CRS they are in with `crs`"
    elif inside(expected, ys, xs):
        hint = "they look like the two axes swapped: give " + (
            "longitude, latitude" if geographic else "easting, northing"
        )
    else:
        hint = "they lie far from Beijing in that CRS"
    kind = "longitude/latitude" if geographic else "easting/northing metres"
    raise CRSError(f"`{label}`: coordinates such as ({xs[0]:.6g}, {ys[0]:.6g}) do not fit {name} ({kind}); {hint}.")
