"""The 2013 roads: read the raw files, register them to WGS84, write the OSM XML seed."""

from __future__ import annotations

import bz2
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import numpy as np
from shapely.geometry import LineString, Point

from geo.crs import WGS84_EPSG
from geo.errors import DataSourceError, RegistrationError
from geo.registration import AffineLonLat, densify_polylines, fit_kernel_correlation

if TYPE_CHECKING:
    from numpy.typing import NDArray


# The largest median distance, metres, between the registered roads and the subway entrances they are fitted to:
# the raw planar roads hold no datum, and a fit worse than this is a wrong registration, not imprecision (a bound of
# this project's choosing, about a road's width plus OSM's position error; seeds/manifest.json records 20.8 m).
MAX_MEDIAN_RESIDUAL_M = 30.0
# The rough starting transform for the registration: x ~ (lon - 116) * 85, y ~ (lat - 39) * 120.
INITIAL_TRANSFORM = AffineLonLat(116.0, 1 / 85, 0.0, 39.0, 0.0, 1 / 120)
# The raw file stores OSM node ids as signed 32-bit integers: a negative one is restored by adding 2**32.
UINT32 = 1 << 32


@dataclass(frozen=True)
class RawRoads:
    """The 2013 ways as read from the three raw files."""

    lines: list[NDArray[np.float64]]
    node_ids: list[NDArray[np.int64]]
    highway: list[str]
    oneway: list[bool]
    name: list[str]
    speed_kph: list[int]
    clipped_ways: int
    restored_ids: int = 0  # distinct node ids read negative and restored (see read_raw_roads)


def read_raw_roads(folder: Path) -> RawRoads:
    """Read and cross-check the three files of ``beijing_osm_2013_roads``.

    Parameters
    ----------
    folder
        The raw data folder of this item.
    """
    files = [folder / f"beijing_2013.{n}.txt" for n in ("osm_data", "waynodes", "highway")]
    for f in files:
        if not f.is_file():
            raise DataSourceError(f"road file {f} is missing; expected the beijing_osm_2013_roads folder.")
    lines: list[NDArray[np.float64]] = []
    ones: list[bool] = []
    with files[0].open(encoding="utf-8") as fh:
        n_ways = int(fh.readline())
        for _ in range(n_ways):
            k, ow = fh.readline().split()
            lines.append(np.array([fh.readline().split() for _ in range(int(k))], dtype=float))
            ones.append(ow == "1")
    node_ids: list[NDArray[np.int64]] = []
    restored: set[int] = set()
    with files[1].open(encoding="utf-8") as fh:
        for i, row in enumerate(fh):
            ids = np.array(row.split(), dtype=np.int64)
            # OSM node ids passed 2**31 in February 2013; the source stored them as signed
            # 32-bit integers, so ids above 2,147,483,647 read negative. Their unsigned value
            # is the real id (the negative ones continue the positive range without a gap).
            neg = ids < 0
            if neg.any():
                ids[neg] += UINT32
                restored.update(ids[neg].tolist())
            if i >= len(lines) or len(ids) != len(lines[i]):
                raise DataSourceError(f"{files[1].name} line {i + 1}: {len(ids)} node ids, osm_data disagrees.")
            node_ids.append(ids)
    if len(node_ids) != len(lines):
        raise DataSourceError(f"{files[1].name} has {len(node_ids)} ways, osm_data has {len(lines)}.")
    highway, names, speeds = [], [], []
    clipped = 0
    with files[2].open(encoding="utf-8") as fh:
        for i, row in enumerate(fh):
            parts = row.rstrip("\n").split("\t")
            # highway.txt counts the way's points before the source clipped it to its extent.
            if int(parts[0]) < len(lines[i]):
                raise DataSourceError(f"{files[2].name} line {i + 1}: {parts[0]} points, osm_data has {len(lines[i])}.")
            clipped += int(parts[0]) > len(lines[i])
            highway.append(parts[1])
            names.append(parts[3].strip())
            speeds.append(int(parts[4]))
    if len(highway) != len(lines):
        raise DataSourceError(f"{files[2].name} has {len(highway)} ways, osm_data has {len(lines)}.")
    return RawRoads(lines, node_ids, highway, ones, names, speeds, clipped, len(restored))


def register_roads(roads: RawRoads, entrances_lonlat: NDArray[np.float64]) -> tuple[AffineLonLat, dict[str, Any]]:
    """Fit the planar → WGS84 transform of the 2013 roads against subway entrances.

    Parameters
    ----------
    roads
        The raw 2013 roads (`RawRoads`).
    entrances_lonlat
        Subway entrances (n, 2), WGS84, the reference points.
    """
    pts = densify_polylines(roads.lines, step=0.003)  # about 3 m
    result = fit_kernel_correlation(pts, entrances_lonlat, initial=INITIAL_TRANSFORM)
    tf = result.transform
    lon, lat = tf.apply(pts[:, 0], pts[:, 1])
    inside = (
        (entrances_lonlat[:, 0] >= lon.min())
        & (entrances_lonlat[:, 0] <= lon.max())
        & (entrances_lonlat[:, 1] >= lat.min())
        & (entrances_lonlat[:, 1] <= lat.max())
    )
    res = result.residuals_m[inside]
    median = round(float(np.median(res)), 2)
    stats: dict[str, Any] = {
        "method": "annealed kernel correlation (sigma 400 -> 50 m), affine model",
        "reference": "OSM subway entrances (GTFS stops.txt location_type=2)",
        "reference_points_inside_extent": int(inside.sum()),
        "median_residual_m": median,
        "p90_residual_m": round(float(np.percentile(res, 90)), 2),
        "transform": {k: float(f"{v:.10g}") for k, v in tf.as_dict().items()},
    }
    if median > MAX_MEDIAN_RESIDUAL_M:
        raise RegistrationError(
            f"median residual {stats['median_residual_m']} m exceeds the {MAX_MEDIAN_RESIDUAL_M} m bound; "
            "the registration failed, so no road seed was written."
        )
    return tf, stats


def write_osm_xml(roads: RawRoads, tf: AffineLonLat, path: Path) -> dict[str, Any]:
    """Write the registered ways as bzip2-compressed OSM XML and return a summary.

    ``maxspeed`` is written only where a way's speed differs from the most common value
    of its highway class: the raw speeds are a per-class default set by the repackagers
    (every residential way is 60 km/h) except for those deviations.

    Parameters
    ----------
    roads
        The raw 2013 roads (`RawRoads`).
    tf
        The fitted planar → WGS84 transform.
    path
        The .osm.bz2 file to write.
    """
    modes: dict[str, int] = {}
    by_class: dict[str, Counter[int]] = {}
    for hw, sp in zip(roads.highway, roads.speed_kph, strict=True):
        by_class.setdefault(hw, Counter())[sp] += 1
    for hw, cnt in by_class.items():
        modes[hw] = cnt.most_common(1)[0][0]
    coords: dict[int, tuple[float, float]] = {}
    for line, ids in zip(roads.lines, roads.node_ids, strict=True):
        lon, lat = tf.apply(line[:, 0], line[:, 1])
        for nid, lo, la in zip(ids.tolist(), lon.tolist(), lat.tolist(), strict=True):
            coords.setdefault(nid, (round(lo, 7), round(la, 7)))
    lons = [c[0] for c in coords.values()]
    lats = [c[1] for c in coords.values()]
    out: list[str] = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<osm version="0.6" generator="venue-planner seed build" '
        'copyright="OpenStreetMap and contributors" attribution="http://www.openstreetmap.org/copyright" '
        'license="http://opendatacommons.org/licenses/odbl/1-0/">',
        f'  <bounds minlat="{min(lats):.7f}" minlon="{min(lons):.7f}" maxlat="{max(lats):.7f}" maxlon="{max(lons):.7f}"/>',
    ]
    out.extend(
        f'  <node id="{nid}" version="1" lat="{la:.7f}" lon="{lo:.7f}"/>' for nid, (lo, la) in sorted(coords.items())
    )
    maxspeed_written = 0
    for i, (ids, hw, ow, name, sp) in enumerate(
        zip(roads.node_ids, roads.highway, roads.oneway, roads.name, roads.speed_kph, strict=True)
    ):
        out.append(f'  <way id="{i + 1}" version="1">')
        out.extend(f'    <nd ref="{nid}"/>' for nid in ids.tolist())
        out.append(f'    <tag k="highway" v={quoteattr(hw)}/>')
        if name:
            out.append(f'    <tag k="name" v={quoteattr(name)}/>')
        out.append(f'    <tag k="oneway" v="{"yes" if ow else "no"}"/>')
        if sp != modes[hw] and sp > 0:
            out.append(f'    <tag k="maxspeed" v="{sp}"/>')
            maxspeed_written += 1
        out.append("  </way>")
    out.append("</osm>\n")
    data = "\n".join(out).encode("utf-8")
    path.write_bytes(bz2.compress(data, compresslevel=9))
    return {
        "nodes": len(coords),
        "ways": len(roads.lines),
        "maxspeed_tags": maxspeed_written,
        "class_default_speeds_kph": dict(sorted(modes.items())),
        "bbox": [min(lons), min(lats), max(lons), max(lats)],
    }


def registered_lines(roads: RawRoads, tf: AffineLonLat) -> gpd.GeoDataFrame:
    """Return the registered ways as a WGS84 GeoDataFrame (highway, name, oneway).

    Parameters
    ----------
    roads
        The raw 2013 roads (`RawRoads`).
    tf
        The fitted planar → WGS84 transform.
    """
    geoms = []
    for line in roads.lines:
        lon, lat = tf.apply(line[:, 0], line[:, 1])
        geoms.append(LineString(np.column_stack([lon, lat])) if len(line) > 1 else Point(lon[0], lat[0]))
    return gpd.GeoDataFrame(
        {"highway": roads.highway, "name": roads.name, "oneway": roads.oneway}, geometry=geoms, crs=WGS84_EPSG
    )
