"""Rebuild seeds/ from the raw data collection, deterministically.

Run it with ``venue-planner seeds build`` (or ``python -m layers.seedbuild``). Each step
reads raw files, validates them, writes one seed file and records its provenance in
``seeds/manifest.json`` and ``seeds/README.md``.
"""

from __future__ import annotations

import bz2
import csv
import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.features
import shapely
from rasterio.transform import Affine
from shapely.geometry import LineString, Point

from geo.coverage import zone_cells
from geo.crs import UTM_EPSG, WGS84_EPSG, distance_m, lonlat_to_utm
from geo.errors import DataSourceError, RegistrationError
from geo.network import DRIVE_EXCLUDED_HIGHWAYS
from geo.registration import AffineLonLat, densify_polylines, fit_kernel_correlation
from geo.routing import build_engine
from layers.credits import OSM_CONTRIBUTORS
from layers.networks import NetworkSource, RoadNetwork, build_graph, network_extent
from layers.regional import MAX_MEDIAN_OVERLAP_M, calibrate, overlap, read_skeleton, write_skeleton

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["SeedReport", "build_seeds"]

log = logging.getLogger(__name__)

OSM_CREDIT = OSM_CONTRIBUTORS
ODBL = "ODbL 1.0 (Open Database License), attribution: " + OSM_CREDIT
MAX_MEDIAN_RESIDUAL_M = 30.0
# Road extent cells for the population raster, metres.
POP_CELL_M = 100.0
# The rough starting transform for the registration: x ~ (lon - 116) * 85, y ~ (lat - 39) * 120.
_INITIAL = AffineLonLat(116.0, 1 / 85, 0.0, 39.0, 0.0, 1 / 120)
_UINT32 = 1 << 32
_EVENT_TIERS = "head_of_state;premier_minister;informal_no_tie;spouse_programme"
# Subway line codes: the first two digits of the GTFS stop_code. Codes 01-19 are the line
# numbers; the others were identified from the station names that carry them.
_LINE_BY_CODE = {f"{i:02d}": f"{i:02d}" for i in range(1, 20)} | {
    "88": "da",  # 大兴机场线: 大兴机场, 大兴新城, 草桥
    "89": "xj",  # 西郊线: 香山, 国家植物园, 巴沟
    "90": "10",  # line 10 (south-west): 西局, 泥洼, 丰台站, 首经贸, 纪家庙, 草桥
    "91": "S1",  # S1线: 石厂, 小园, 栗园庄
    "92": "yf",  # 燕房线: 燕山, 房山城关, 饶乐府
    "93": "04",  # 大兴线, run through with line 4: 天宫院, 黄村火车站
    "94": "cp",  # 昌平线 (south): 蓟门桥, 西土城, 学院桥
    "95": "fs",  # 房山线: 东管头南, 首经贸, 郭公庄
    "96": "yz",  # 亦庄线: 亦庄火车站, 次渠, 经海路
    "97": "01",  # 八通线, merged into line 1: 高碑店, 双桥, 通州北苑
    "98": "ca",  # 首都机场线: 东直门, 三元桥, 2/3号航站楼
}


@dataclass
class SeedReport:
    """What a seed build wrote and measured."""

    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    registration: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _bbox(gdf: gpd.GeoDataFrame) -> list[float]:
    return [round(float(v), 6) for v in gdf.total_bounds]


def _valid_polygons(geoms: gpd.GeoSeries) -> NDArray[np.object_]:
    """Repair polygons, keeping only polygonal parts (no collapsed lines or points)."""
    fixed = shapely.make_valid(geoms.values, method="structure", keep_collapsed=False)
    out = []
    for g in fixed:
        if g.geom_type == "GeometryCollection":
            g = shapely.union_all([p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")])
        out.append(g)
    return np.array(out, dtype=object)


def _write_geojson(gdf: gpd.GeoDataFrame, path: Path) -> None:
    path.unlink(missing_ok=True)
    gdf.to_file(path, driver="GeoJSON", engine="pyogrio", layer_options={"RFC7946": "YES", "COORDINATE_PRECISION": 7})


# ---------------------------------------------------------------- roads


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
    """Read and cross-check the three files of ``beijing_osm_2013_roads``."""
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
                ids[neg] += _UINT32
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


def read_gtfs_stops(folder: Path) -> pd.DataFrame:
    """Read GTFS stops.txt, dropping rows without coordinates."""
    path = folder / "gtfs" / "stops.txt"
    if not path.is_file():
        raise DataSourceError(f"{path} is missing; expected the beijing_subway_gtfs_osm folder.")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df = df[(df["stop_lat"] != "") & (df["stop_lon"] != "")].copy()
    df["lat"] = df["stop_lat"].astype(float)
    df["lon"] = df["stop_lon"].astype(float)
    return df


def register_roads(roads: RawRoads, entrances_lonlat: NDArray[np.float64]) -> tuple[AffineLonLat, dict[str, Any]]:
    """Fit the planar → WGS84 transform of the 2013 roads against subway entrances."""
    pts = densify_polylines(roads.lines, step=0.003)  # about 3 m
    result = fit_kernel_correlation(pts, entrances_lonlat, initial=_INITIAL)
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
    """Return the registered ways as a WGS84 GeoDataFrame (highway, name, oneway)."""
    geoms = []
    for line in roads.lines:
        lon, lat = tf.apply(line[:, 0], line[:, 1])
        geoms.append(LineString(np.column_stack([lon, lat])) if len(line) > 1 else Point(lon[0], lat[0]))
    return gpd.GeoDataFrame(
        {"highway": roads.highway, "name": roads.name, "oneway": roads.oneway}, geometry=geoms, crs=WGS84_EPSG
    )


# ---------------------------------------------------------------- population


def build_population(folder: Path, out_dir: Path, report: SeedReport) -> gpd.GeoDataFrame:
    """Write the township layer and the 100 m population raster spread from it."""
    shp = folder / "beijing.shp"
    npy = folder / "worldpop.npy"
    if not shp.is_file() or not npy.is_file():
        raise DataSourceError(f"{shp} or {npy} is missing; expected the beijing_townships_worldpop folder.")
    towns = gpd.read_file(shp, engine="pyogrio")
    pop = np.load(npy)
    if pop.shape != (len(towns), 2):
        raise DataSourceError(f"{npy.name} has shape {pop.shape}; expected ({len(towns)}, 2), one row per township.")
    if towns.crs is None or towns.crs.to_epsg() != WGS84_EPSG:
        raise DataSourceError(f"{shp.name} is in {towns.crs}; expected WGS84.")
    towns = towns.rename(columns={"省": "province", "市": "city", "县": "district", "乡": "township"})
    towns = towns[["province", "city", "district", "township", "geometry"]].copy()
    towns.insert(0, "township_id", np.arange(len(towns), dtype=int))
    towns["population"] = pop[:, 0].astype(np.int64)
    towns["source_area_km2"] = pop[:, 1].astype(np.int64)
    towns["geometry"] = _valid_polygons(towns.geometry)
    utm = towns.to_crs(UTM_EPSG)
    towns["area_km2"] = (utm.geometry.area / 1e6).round(3)
    path = out_dir / "townships.geojson"
    _write_geojson(towns, path)
    report.files["townships.geojson"] = {
        "title": "Townships (街道/乡镇) with WorldPop population",
        "source": "tsinghua-fib-lab/mosstool @898b4096 data/gravitygenerator (Beijing-shp, worldpop.npy)",
        "licence": "mosstool MIT; population WorldPop CC BY 4.0, credit 'WorldPop (www.worldpop.org)'",
        "date": "boundaries about 2010-2014 (pre-2015 district names); population WorldPop",
        "crs": "EPSG:4326",
        "bbox": _bbox(towns),
        "features": len(towns),
        "derivation": "331 polygons joined in order with worldpop.npy column 0 (population) and 1 "
        "(area km2, as source_area_km2); geometry repaired with make_valid; area_km2 computed in UTM 50N.",
    }
    # Raster: spread each township's total evenly over the 100 m cells whose centre it holds.
    minx, miny, maxx, maxy = utm.total_bounds
    x0 = np.floor(minx / POP_CELL_M) * POP_CELL_M
    y1 = np.ceil(maxy / POP_CELL_M) * POP_CELL_M
    width = int(np.ceil((maxx - x0) / POP_CELL_M))
    height = int(np.ceil((y1 - miny) / POP_CELL_M))
    transform = Affine(POP_CELL_M, 0.0, x0, 0.0, -POP_CELL_M, y1)
    cells = zone_cells(list(utm.geometry), towns["population"].to_numpy(dtype=float), transform, (height, width))
    density = cells.raster((height, width))
    small = cells.small
    raster = density.astype(np.float32)
    tif = out_dir / "population_100m.tif"
    profile = {
        "driver": "GTiff", "width": width, "height": height, "count": 1, "dtype": "float32",
        "crs": f"EPSG:{UTM_EPSG}", "transform": transform, "nodata": -1.0,
        "compress": "deflate", "predictor": 3, "tiled": True, "blockxsize": 512, "blockysize": 512,
    }  # fmt: skip
    with rasterio.open(tif, "w", **profile) as dst:
        dst.write(raster, 1)
        dst.update_tags(
            SOURCE="township totals: WorldPop (www.worldpop.org, CC BY 4.0) via tsinghua-fib-lab/mosstool",
            DERIVATION="each township's total spread evenly over the 100 m cells whose centre it contains "
            "(dasymetric by area only, NOT a WorldPop raster)",
            UNITS="people per 100 m cell",
        )
    total_raster = float(raster[raster > 0].astype(np.float64).sum())
    total_towns = float(towns["population"].sum())
    rel = abs(total_raster - total_towns) / total_towns
    report.checks["population_raster_sum"] = total_raster
    report.checks["population_townships_sum"] = total_towns
    report.checks["population_relative_difference"] = rel
    if rel > 0.005:
        raise DataSourceError(
            f"population raster sums to {total_raster:.0f}, townships to {total_towns:.0f} ({rel:.2%})."
        )
    report.files["population_100m.tif"] = {
        "title": "Population per 100 m cell, spread from township totals",
        "source": "derived from townships.geojson (WorldPop totals)",
        "licence": "CC BY 4.0, credit 'WorldPop (www.worldpop.org)'",
        "date": "as townships.geojson",
        "crs": f"EPSG:{UTM_EPSG} (100 m cells need metres)",
        "bbox": [round(float(v), 1) for v in (x0, y1 - height * POP_CELL_M, x0 + width * POP_CELL_M, y1)],
        "derivation": f"rasterised township ids at cell centres ({width}x{height} cells), each township's "
        f"population divided evenly over its cells; {len(small)} townships smaller than a cell placed at their "
        f"representative point. Sum {total_raster:.0f} vs townships {total_towns:.0f} ({rel:.4%}).",
    }
    return towns


# ---------------------------------------------------------------- subway


def build_subway(folder: Path, out_dir: Path, report: SeedReport) -> gpd.GeoDataFrame:
    """Write subway stations (with lines and colours) and entrances."""
    stops = read_gtfs_stops(folder)
    routes = pd.read_csv(folder / "gtfs" / "routes.txt", dtype=str, keep_default_na=False).set_index("route_id")
    st = stops[(stops["location_type"] == "1") & (stops["stop_name"] != "")].copy()
    st["line_id"] = st["stop_code"].str[:2].map(_LINE_BY_CODE).fillna("")
    rows = []
    for name, grp in st.groupby("stop_name", sort=True):
        lines = sorted({lid for lid in grp["line_id"] if lid})
        rows.append(
            {
                "name": str(name).removesuffix("站") if str(name) != "站" else str(name),
                "osm_ids": ";".join(sorted(grp["stop_id"])),
                "lines": ";".join(routes.loc[lid, "route_short_name"] for lid in lines) or "unknown",
                "line_ids": ";".join(lines),
                "colour": "#" + routes.loc[lines[0], "route_color"] if lines else "#808080",
                "line_colours": ";".join("#" + routes.loc[lid, "route_color"] for lid in lines),
                "geometry": Point(round(grp["lon"].astype(float).mean(), 7), round(grp["lat"].astype(float).mean(), 7)),
            }
        )
    stations = gpd.GeoDataFrame(rows, crs=WGS84_EPSG)
    _write_geojson(stations, out_dir / "subway_stations.geojson")
    unknown = int((stations["lines"] == "unknown").sum())
    report.files["subway_stations.geojson"] = {
        "title": "Subway stations with their lines and official colours",
        "source": "BoyInTheSun/beijing-subway-gtfs @61f3e7a3 gtfs/stops.txt (location_type=1), routes.txt",
        "licence": f"positions and ids OpenStreetMap, {ODBL}; repository MPL-2.0",
        "date": "OSM extract 2026-04-21",
        "crs": "EPSG:4326",
        "bbox": _bbox(stations),
        "features": len(stations),
        "derivation": f"{len(st)} per-line station rows merged by name (position = mean); line from the first two "
        f"digits of stop_code (01-19 = line number; 88-98 identified from their station names, see "
        f"layers/seedbuild.py); {unknown} stations whose code has no single line are 'unknown'.",
    }
    parents = stops.set_index("stop_id")["stop_name"].to_dict()
    en = stops[stops["location_type"] == "2"].copy()
    entrances = gpd.GeoDataFrame(
        {
            "osm_id": en["stop_id"].to_numpy(),
            "name": en["stop_name"].to_numpy(),
            "station": [parents.get(p, "") for p in en["parent_station"]],
        },
        geometry=gpd.points_from_xy(en["lon"], en["lat"]),
        crs=WGS84_EPSG,
    ).sort_values("osm_id", kind="stable")
    _write_geojson(entrances, out_dir / "subway_entrances.geojson")
    report.files["subway_entrances.geojson"] = {
        "title": "Subway entrances and exits",
        "source": "BoyInTheSun/beijing-subway-gtfs @61f3e7a3 gtfs/stops.txt (location_type=2)",
        "licence": f"OpenStreetMap, {ODBL}",
        "date": "OSM extract 2026-04-21",
        "crs": "EPSG:4326",
        "bbox": _bbox(entrances),
        "features": len(entrances),
        "derivation": "entrance rows with coordinates, with the name of their parent station.",
    }
    return stations


# ---------------------------------------------------------------- heritage, elevation


def build_heritage(folder: Path, out_dir: Path, report: SeedReport) -> gpd.GeoDataFrame:
    """Write the Forbidden City building footprints without the synthetic heights."""
    src = folder / "forbidden_city_buildings_osm.geojson"
    if not src.is_file():
        raise DataSourceError(f"{src} is missing.")
    gdf = gpd.read_file(src, engine="pyogrio")
    keep = [c for c in ("osm_id", "name", "fclass", "type") if c in gdf.columns]
    gdf = gdf[[*keep, "geometry"]].copy()
    gdf["name"] = gdf["name"].fillna("")
    gdf["geometry"] = _valid_polygons(gdf.geometry)
    # An outline drawn as a closed line of zero area (a wall) has no polygon left once repaired.
    empty = gdf.geometry.is_empty.to_numpy()
    dropped = sorted(str(v) for v in gdf.loc[empty, "osm_id"])
    gdf = gdf[~empty].copy()
    gdf["area_m2"] = gdf.to_crs(UTM_EPSG).geometry.area.round(1)
    gdf = gdf.sort_values("osm_id", kind="stable").reset_index(drop=True)
    _write_geojson(gdf, out_dir / "heritage_buildings.geojson")
    report.files["heritage_buildings.geojson"] = {
        "title": "Forbidden City building footprints",
        "source": "lzuniujp08/learn-demo @e76e7a9a data/gugong.geojson (OSM, Geofabrik schema)",
        "licence": f"OpenStreetMap, {ODBL}",
        "date": "OSM snapshot 2020 or earlier",
        "crs": "EPSG:4326",
        "bbox": _bbox(gdf),
        "features": len(gdf),
        "derivation": "the synthetic `height` attribute dropped; names kept; area_m2 computed in UTM 50N; "
        f"{len(dropped)} outline(s) of zero area dropped (OSM ids {', '.join(dropped) or 'none'}).",
    }
    return gdf


def build_elevation(folder: Path, out_dir: Path, report: SeedReport) -> None:
    """Copy the Haidian SRTM clip as a compressed GeoTIFF with its provenance in tags."""
    src = folder / "THU_srtm_haidian_30m.tif"
    if not src.is_file():
        raise DataSourceError(f"{src} is missing.")
    with rasterio.open(src) as ds:
        data = ds.read(1)
        profile = ds.profile.copy()
        bounds = ds.bounds
    profile.update(compress="deflate", predictor=2, driver="GTiff")
    dst_path = out_dir / "elevation_haidian_srtm30.tif"
    with rasterio.open(dst_path, "w", **profile) as dst:
        dst.write(data, 1)
        dst.update_tags(SOURCE="NASA SRTM 1 arc-second, clip from LllC-mmd/3DBuildingInfoMap @08c28137", UNITS="metres")
    report.files["elevation_haidian_srtm30.tif"] = {
        "title": "Elevation (SRTM 30 m), Haidian only",
        "source": "LllC-mmd/3DBuildingInfoMap @08c28137 src/shafts/testCase/infer_test_THU/raw_data/THU_srtm.tif",
        "licence": "public domain (NASA SRTM), credit 'NASA SRTM'",
        "date": "SRTM 2000",
        "crs": "EPSG:4326",
        "bbox": [round(v, 6) for v in (bounds.left, bounds.bottom, bounds.right, bounds.top)],
        "derivation": f"unchanged values ({data.min()}..{data.max()} m), recompressed. Covers Yuanmingyuan and the "
        "east edge of the Summer Palace only; no elevation elsewhere.",
    }


# ---------------------------------------------------------------- sites


def _largest_part(geom: shapely.Geometry, centre: Point) -> shapely.Geometry:
    """Return the part of a (multi)polygon holding ``centre``, else its largest part."""
    parts = list(shapely.get_parts(geom))
    holding = [p for p in parts if p.contains(centre)]
    return holding[0] if holding else max(parts, key=lambda p: p.area)


def _road_blocks(lines: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """Polygonise the drivable roads (UTM) into road-bounded blocks."""
    drive = lines[~lines["highway"].isin(DRIVE_EXCLUDED_HIGHWAYS) & (lines.geom_type == "LineString")]
    utm = drive.to_crs(UTM_EPSG).geometry
    noded = shapely.union_all(utm.values)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    return gpd.GeoSeries(faces, crs=UTM_EPSG)


def _street_ends(lines: gpd.GeoDataFrame, name: str, label: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """Return the two ends (lon, lat) of a named street of the registered roads (farthest apart)."""
    hit = lines[(lines["name"] == name) & (lines.geom_type == "LineString")]
    if hit.empty:
        raise DataSourceError(f"catalog row {label}: no road named {name} in the 2013 roads.")
    pts = hit.get_coordinates().to_numpy()
    x, y = lonlat_to_utm(pts[:, 0], pts[:, 1], name=label)
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    i, j = np.unravel_index(int(np.argmax(d)), d.shape)
    a, b = sorted([(float(pts[i, 0]), float(pts[i, 1])), (float(pts[j, 0]), float(pts[j, 1]))])
    return a, b


def _check_near_roads(
    lines: gpd.GeoDataFrame, ends: list[tuple[float, ...]], label: str, limit_m: float = 30.0
) -> None:
    """Fail unless every stated point lies within ``limit_m`` of a 2013 road."""
    utm = lines.to_crs(UTM_EPSG)
    ex, ey = lonlat_to_utm([e[0] for e in ends], [e[1] for e in ends], name=label)
    for x, y in zip(ex.tolist(), ey.tolist(), strict=True):
        d = float(utm.distance(Point(x, y)).min())
        if d > limit_m:
            raise DataSourceError(f"catalog row {label}: a stated outline point is {d:.0f} m from the 2013 roads.")


def _beside(block: shapely.Geometry, siblings: list[shapely.Geometry], centre: Point) -> shapely.Geometry:
    """Return the part of a road block, without the siblings it holds, on the centre's side of them.

    A block that rings a sibling (Zhongshan Park's block goes round the Forbidden City) would
    otherwise label a place beside the sibling with the wrong site. Beyond the siblings'
    bounding box on the side of the centre, and on the centre's side of their middle in the
    other direction, is what is kept.
    """
    rest = block.difference(shapely.union_all(siblings))
    minx, miny, maxx, maxy = shapely.union_all(siblings).bounds
    mx, my = (minx + maxx) / 2, (miny + maxy) / 2
    bx0, by0, bx1, by1 = block.bounds
    out_x = max(minx - centre.x, centre.x - maxx, 0.0)
    out_y = max(miny - centre.y, centre.y - maxy, 0.0)
    if out_x == 0.0 and out_y == 0.0:
        return _largest_part(rest, centre)
    if out_y >= out_x:
        ys = (by0, miny) if centre.y < miny else (maxy, by1)
        xs = (bx0, mx) if centre.x < mx else (mx, bx1)
    else:
        xs = (bx0, minx) if centre.x < minx else (maxx, bx1)
        ys = (by0, my) if centre.y < my else (my, by1)
    return _largest_part(rest.intersection(shapely.box(xs[0], ys[0], xs[1], ys[1])), centre)


def _check_no_enclosure(subs: dict[str, shapely.Geometry]) -> None:
    """Fail when a sub-site's outline holds the middle or most of another's."""
    for a, ga in subs.items():
        for b, gb in subs.items():
            if a != b and (ga.contains(gb.representative_point()) or ga.intersection(gb).area > 0.5 * gb.area):
                raise DataSourceError(f"the outline of sub-site {a} encloses that of {b}; fix the catalog.")


def build_sites(
    catalog: Path,
    raw: Path,
    lines: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    out_dir: Path,
    report: SeedReport,
    *,
    townships: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Write seeds/sites.geojson: candidate sites, sub-sites and supporting places.

    ``townships`` (WGS84) serve the rows whose place is known only by the township holding
    it (osm_ref ``township/NAME``, outline ``township``).
    """
    with catalog.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rail = json.loads((raw / "beijing_subway_gtfs_osm" / "osm" / "station.json").read_text(encoding="utf-8"))
    rail_pos = {
        v["tags"].get("name"): (v["lon"], v["lat"], k)
        for k, v in sorted(rail.items())
        if v["tags"].get("railway") == "station" and "lon" in v and v["tags"].get("station") != "subway"
    }
    network_hull = shapely.concave_hull(shapely.multipoints(lines.get_coordinates().to_numpy()[::5]), ratio=0.05)
    blocks = _road_blocks(lines)
    block_tree = shapely.STRtree(blocks.values)
    records: dict[str, dict[str, Any]] = {}
    township_geom: dict[str, Any] = {}
    for row in rows:
        ref = row["osm_ref"]
        if ref.startswith("station/"):
            hit = stations[stations["name"] == ref.split("/", 1)[1]]
            if hit.empty:
                raise DataSourceError(f"catalog row {row['id']}: subway station {ref} not found.")
            lon, lat = float(hit.geometry.iloc[0].x), float(hit.geometry.iloc[0].y)
        elif ref.startswith("railstation/"):
            name = ref.split("/", 1)[1]
            if name not in rail_pos:
                raise DataSourceError(f"catalog row {row['id']}: railway station {name} not in station.json.")
            lon, lat, osm_id = rail_pos[name]
            ref = f"node/{osm_id.lstrip('n')}"
        elif ref.startswith("township/"):
            name = ref.split("/", 1)[1]
            hit = townships[townships["township"] == name] if townships is not None else None
            if hit is None or len(hit) != 1:
                raise DataSourceError(f"catalog row {row['id']}: township {name} not found once in the townships.")
            pt = hit.geometry.iloc[0].representative_point()
            lon, lat = float(pt.x), float(pt.y)
            township_geom[row["id"]] = hit.to_crs(UTM_EPSG).geometry.iloc[0]
            ref = ""
        elif ref.startswith("street/"):
            a, b = _street_ends(lines, ref.split("/", 1)[1], row["id"])
            lon, lat = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
            ref = ""
        else:
            lon, lat = float(row["lon"]), float(row["lat"])
        records[row["id"]] = {**row, "lon": lon, "lat": lat, "osm_ref": ref}
    out = []
    centre_utm = gpd.GeoSeries(
        [Point(r["lon"], r["lat"]) for r in records.values()], index=list(records), crs=WGS84_EPSG
    ).to_crs(UTM_EPSG)
    geoms_utm: dict[str, Any] = {}
    sources: dict[str, str] = {}
    uncert: dict[str, float | None] = {}
    # Children first so that parents can use them.
    # Among children, those with a precise outline (building footprints) first, so that a
    # road block around several sub-sites can leave them out.
    order = sorted(
        (k for k, r in records.items() if r["parent"]), key=lambda k: records[k]["outline"] != "buildings"
    ) + [k for k, r in records.items() if not r["parent"]]
    for sid in order:
        r = records[sid]
        c = centre_utm[sid]
        outline = r["outline"]
        unc = float(r["uncertainty_m"]) if r["uncertainty_m"] else None
        inside = bool(network_hull.contains(Point(r["lon"], r["lat"])))
        geom = None
        if outline == "block" and inside:
            cands = [blocks.iloc[i] for i in block_tree.query(c, predicate="within")]
            if cands and cands[0].area <= 15e6:
                geom = cands[0]
                sources[sid] = "road-bounded block containing the centre, polygonised from the 2013 OSM drive network"
                # A block can hold a sibling with a precise outline (Zhongshan Park's block holds
                # the Forbidden City): leave the sibling out.
                sibs = [
                    k
                    for k in geoms_utm
                    if records[k]["parent"] == r["parent"] and r["parent"] and geom.contains(geoms_utm[k].centroid)
                ]
                if sibs:
                    geom = _beside(geom, [geoms_utm[k] for k in sibs], c)
                    sources[sid] += (
                        f", minus the outline of {', '.join(records[k]['name_en'] for k in sibs)} and the parts of "
                        "the block beyond it (only the side of the block that holds the centre)"
                    )
        if outline.startswith("segment:"):
            ends = [tuple(float(t) for t in pt.split()) for pt in outline.split(":", 1)[1].split(";")]
            _check_near_roads(lines, ends, sid)
            ex, ey = lonlat_to_utm([e[0] for e in ends], [e[1] for e in ends], name=sid)
            geom = LineString(np.column_stack([ex, ey])).buffer(unc or 30.0)
            sources[sid] = (
                f"outline: {2 * (unc or 30):.0f} m wide band over the gap in the 2013 roads between the road ends on "
                "either bank (the old bridge carries no road of the 2013 network)"
            )
        elif outline.startswith("street-rect:"):
            _, street, width = outline.split(":")
            a, b = _street_ends(lines, street, sid)
            ex, ey = lonlat_to_utm([a[0], b[0]], [a[1], b[1]], name=sid)
            pa, pb = np.array([ex[0], ey[0]]), np.array([ex[1], ey[1]])
            u = (pb - pa) / np.hypot(*(pb - pa))
            ext = unc or 20.0
            axis = LineString([pa - ext * u, pb + ext * u])
            geom = axis.buffer(float(width) / 2, cap_style="flat")
            sources[sid] = (
                f"outline: {axis.length:.0f} x {float(width):.0f} m rectangle along {street} from end to end "
                f"(its gates) plus {ext:.0f} m, the walled town's size from BRIEF.md"
            )
        if outline == "township":
            geom = _largest_part(township_geom[sid], c)
            sources[sid] = (
                "outline: the township that holds the place (its largest part; the place's own outline and centre "
                "are not in the data); the centre is a point inside the township"
            )
        if outline == "buildings":
            geom = shapely.convex_hull(shapely.union_all(buildings.to_crs(UTM_EPSG).geometry.values))
            sources[sid] = "convex hull of the palace's OSM building footprints (approximates the outer wall)"
        if outline == "axis-corridor":
            kids = [k for k in ("yongdingmen", "forbidden-city", "jingshan", "bell-drum-towers") if k in records]
            axis = LineString([centre_utm[k] for k in sorted(kids, key=lambda k: records[k]["lat"])])
            geom = shapely.union_all(
                [axis.buffer(unc or 250.0), *(geoms_utm[k] for k, v in records.items() if v["parent"] == sid)]
            )
            sources[sid] = (
                f"outline: {int(2 * (unc or 250))} m wide corridor along the axis through the Yongdingmen, Forbidden City, "
                "Jingshan and Bell/Drum Tower centres, united with its sub-sites"
            )
        elif outline == "hull":
            kids_g = [geoms_utm[k] for k, v in records.items() if v["parent"] == sid]
            geom = shapely.convex_hull(shapely.union_all(kids_g))
            sources[sid] = "outline: convex hull of its sub-sites' boundaries"
        if geom is None:
            radius = unc or 500.0
            geom = c.buffer(radius, quad_segs=16)
            why = "outside the detailed 2013 roads" if not inside else "no road-bounded block applies"
            sources[sid] = f"outline: circle of radius {radius:.0f} m around the centre ({why}); approximate"
            unc = radius
        geoms_utm[sid] = geom
        uncert[sid] = unc
    _check_no_enclosure({k: g for k, g in geoms_utm.items() if records[k]["parent"]})
    boundaries = gpd.GeoSeries([geoms_utm[k] for k in records], index=list(records), crs=UTM_EPSG)
    areas = boundaries.area / 1e6
    boundaries_wgs = boundaries.to_crs(WGS84_EPSG)
    for sid, r in records.items():
        out.append(
            {
                "id": sid,
                "parent": r["parent"],
                "group": r["group"],
                "kind": r["kind"],
                "name_zh": r["name_zh"],
                "name_en": r["name_en"],
                "event_tiers": _EVENT_TIERS if r["kind"] in ("candidate_site", "sub_site") else "",
                "centre_lon": round(r["lon"], 7),
                "centre_lat": round(r["lat"], 7),
                "centre_source": r["centre_source"],
                "osm_ref": r["osm_ref"] if "/" in r["osm_ref"] and not r["osm_ref"].startswith("station/") else "",
                "boundary_source": sources[sid],
                "uncertainty_m": uncert[sid],
                "area_km2": round(float(areas[sid]), 3),
                "geometry": shapely.set_precision(boundaries_wgs[sid], 1e-7),
            }
        )
    sites = gpd.GeoDataFrame(out, crs=WGS84_EPSG)
    _write_geojson(sites, out_dir / "sites.geojson")
    report.files["sites.geojson"] = {
        "title": "Candidate sites, sub-sites and supporting places",
        "source": "seeds/catalog.csv (centres from OSM data and SOURCES.md WGS84 positions) + the 2013 road network",
        "licence": f"centres and blocks derived from OpenStreetMap, {ODBL}",
        "date": "roads 2013, OSM centres 2026-08",
        "crs": "EPSG:4326",
        "bbox": _bbox(sites),
        "features": len(sites),
        "derivation": "boundary per catalog row: the road-bounded block containing the centre (polygonised from "
        "drivable roads) inside the network, else a stated outline with its uncertainty in metres; no GCJ-02 positions.",
    }
    return sites


# ---------------------------------------------------------------- driver


REGIONAL_SKELETON = "beijing_highway_skeleton.geojson"
REGIONAL_CALIBRATION = "regional_calibration.json"


def build_regional(folder: Path, out_dir: Path, report: SeedReport) -> None:
    """Write the major-road skeleton and its calibration on the detailed network (raw item 8).

    The detailed drive graph is built from the seed roads written before this step. The
    build fails when the skeleton's nodes lie a median of more than `MAX_MEDIAN_OVERLAP_M`
    from the detailed roads where both exist (a datum or position error).
    """
    raw = folder / "beijing_highways.geojson"
    if not raw.is_file():
        raise DataSourceError(f"{raw} is missing; expected raw item 8 (beijing_highway_skeleton_osm).")
    skeleton = read_skeleton(raw)
    roads = out_dir / "beijing_2013_roads.osm.bz2"
    graph = build_graph(roads, "drive")
    net = RoadNetwork(NetworkSource("detailed", roads, "seed", "detailed"), "drive", graph, network_extent(graph))
    ov = overlap(skeleton, net).summary()
    median = ov["median_distance_to_detailed_road_m"]
    if median is None or median > MAX_MEDIAN_OVERLAP_M:
        raise DataSourceError(
            f"the regional skeleton's nodes lie a median {median} m from the detailed roads where both exist; "
            f"at most {MAX_MEDIAN_OVERLAP_M:.0f} m is accepted (a datum or position error?)."
        )
    log.info(
        "calibrating the regional skeleton on %d nodes inside the detailed network",
        ov["skeleton_nodes_inside_detailed_extent"],
    )
    # Trips of 3-25 km; on a small sample of the roads, from a quarter of its diagonal.
    minx, miny, maxx, maxy = net.extent.bounds
    diagonal_km = float(distance_m(minx, miny, maxx, maxy)) / 1000
    cal = calibrate(skeleton, net, build_engine(graph), min_km=min(3.0, round(diagonal_km / 4, 1)))
    provenance = {
        "source": "scgraph-data 2.0.0 (PyPI), scgraph_data/world_highways.py, Beijing cut (raw item 8)",
        "licence": ODBL,
        "date": "OpenStreetMap, snapshot not stated (package built April 2024)",
    }
    write_skeleton(skeleton, out_dir / REGIONAL_SKELETON, provenance=provenance)
    (out_dir / REGIONAL_CALIBRATION).write_text(json.dumps(cal.to_json(), indent=2) + "\n", encoding="utf-8")
    km = float(skeleton.chord_m.sum()) / 1000
    report.files[REGIONAL_SKELETON] = {
        "title": "Major-road skeleton of the whole municipality (coarse), GeoJSON",
        **provenance,
        "crs": "EPSG:4326",
        "bbox": [
            round(float(skeleton.lon.min()), 3),
            round(float(skeleton.lat.min()), 3),
            round(float(skeleton.lon.max()), 3),
            round(float(skeleton.lat.max()), 3),
        ],
        "features": f"{len(skeleton.node_ids)} nodes, {len(skeleton.u)} undirected edges, {km:.0f} km of chords",
        "derivation": "straight chords between nodes rounded to 0.001° (about 100 m); duplicate edges merged "
        "(shortest kept); no road class, name, one-way or speed in the source. "
        f"Overlap with the 2013 roads: {ov['skeleton_nodes_inside_detailed_extent']} nodes inside their extent, "
        f"median {median} m and p90 {ov['p90_distance_to_detailed_road_m']} m from the nearest 2013 road.",
    }
    med, p90 = cal.time_error()
    report.files[REGIONAL_CALIBRATION] = {
        "title": "Speeds of the regional skeleton, calibrated on the detailed 2013 network",
        "source": f"{REGIONAL_SKELETON} and beijing_2013_roads.osm.bz2 (this build)",
        "licence": ODBL,
        "date": "computed at seed build",
        "crs": "EPSG:4326 (fitted on the skeleton's WGS84 nodes inside the 2013 extent)",
        "bbox": [round(v, 3) for v in net.extent.bounds],
        "derivation": f"{cal.fit['trips_fitted']} trips between skeleton nodes, {cal.fit['trip_km'][0]:g}-"
        f"{cal.fit['trip_km'][1]:g} km apart, routed on both "
        f"networks; one speed per chord class (<1, 1-3, >=3 km): {cal.speeds_kph} km/h along the chord; "
        f"road length = chord x {cal.length_factor}. Held-out error on {cal.fit['trips_held_out']} trips: "
        f"time median {med:.1%}, p90 {p90:.1%}.",
    }
    report.checks["regional_overlap"] = ov
    report.checks["regional_calibration"] = cal.to_json()


def _write_readme(out_dir: Path, report: SeedReport) -> None:
    lines = [
        "# seeds/ — the data the planner ships",
        "",
        "Rebuilt from the raw collection by `venue-planner seeds build` (layers/seedbuild.py);",
        "do not edit by hand. `manifest.json` holds the same facts in machine-readable form.",
        f"All OpenStreetMap-derived files: {ODBL}.",
        "",
        "## Road registration",
        "",
        "```",
        json.dumps(report.registration, indent=2, ensure_ascii=False),
        "```",
        "",
    ]
    for name, meta in report.files.items():
        lines += [f"## {name}", ""]
        lines += [f"- **{k}**: {v}" for k, v in meta.items() if k != "sha256"]
        lines += [f"- **sha256**: `{meta.get('sha256', '')}`", ""]
    (out_dir / "README.md").write_text("\n".join(lines), encoding="utf-8")


def build_seeds(raw: Path, out_dir: Path, *, catalog: Path | None = None) -> SeedReport:
    """Rebuild every seed file from the raw data folder.

    Parameters
    ----------
    raw
        The raw data folder (``shared/data/raw`` or a sample with the same layout).
    out_dir
        Where to write the seeds; created if missing.
    catalog
        The site catalog CSV; defaults to ``out_dir / "catalog.csv"``.

    Returns
    -------
    SeedReport
        Every file written with its provenance, and the checks measured.
    """
    if not raw.is_dir():
        raise DataSourceError(f"raw data folder {raw} does not exist; pass --raw pointing at shared/data/raw.")
    out_dir.mkdir(parents=True, exist_ok=True)
    catalog = catalog or out_dir / "catalog.csv"
    report = SeedReport()
    log.info("reading roads")
    roads = read_raw_roads(raw / "beijing_osm_2013_roads")
    stops = read_gtfs_stops(raw / "beijing_subway_gtfs_osm")
    ent = stops[stops["location_type"] == "2"][["lon", "lat"]].to_numpy(dtype=float)
    log.info("registering %d ways against %d entrances", len(roads.lines), len(ent))
    tf, stats = register_roads(roads, ent)
    report.registration = stats
    summary = write_osm_xml(roads, tf, out_dir / "beijing_2013_roads.osm.bz2")
    report.files["beijing_2013_roads.osm.bz2"] = {
        "title": "Road network of central Beijing (OpenStreetMap 2013), OSM XML",
        "source": "yangli1-stanford/trajectoryTracerDemo demo/ (beijing_2013.{osm_data,waynodes,highway}.txt)",
        "licence": ODBL,
        "date": "OpenStreetMap 2013 snapshot",
        "crs": "EPSG:4326",
        "bbox": [round(v, 6) for v in summary["bbox"]],
        "features": f"{summary['nodes']} nodes, {summary['ways']} ways",
        "derivation": f"planar coordinates registered to WGS84 (median residual {stats['median_residual_m']} m, "
        f"p90 {stats['p90_residual_m']} m against {stats['reference_points_inside_extent']} subway entrances); "
        f"{roads.clipped_ways} ways were clipped by the source to its extent; real OSM node ids (the {roads.restored_ids} ids the source stored as negative signed 32-bit integers restored to their unsigned value); way ids are the record numbers 1..n (the source has no way ids); tags highway, "
        f"name, oneway; maxspeed only on the {summary['maxspeed_tags']} ways whose speed differs from their "
        f"class default (the raw speeds are per-class defaults: {summary['class_default_speeds_kph']}).",
    }
    lines_gdf = registered_lines(roads, tf)
    log.info("regional skeleton")
    build_regional(raw / "beijing_highway_skeleton_osm", out_dir, report)
    log.info("population")
    towns = build_population(raw / "beijing_townships_worldpop", out_dir, report)
    log.info("subway")
    stations = build_subway(raw / "beijing_subway_gtfs_osm", out_dir, report)
    log.info("heritage")
    buildings = build_heritage(raw / "forbidden_city_osm_buildings", out_dir, report)
    log.info("elevation")
    build_elevation(raw / "dem", out_dir, report)
    log.info("sites")
    build_sites(catalog, raw, lines_gdf, stations, buildings, out_dir, report, townships=towns)
    for name, meta in report.files.items():
        meta["sha256"] = _sha256(out_dir / name)
    manifest = {"registration": report.registration, "checks": report.checks, "files": report.files}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    _write_readme(out_dir, report)
    return report
