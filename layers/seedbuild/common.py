"""What every step of the seed build shares: the report, provenance texts, small writers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely

from geo.registration import AffineLonLat
from layers.credits import OSM_CONTRIBUTORS

if TYPE_CHECKING:
    from numpy.typing import NDArray


OSM_CREDIT = OSM_CONTRIBUTORS
ODBL = "ODbL 1.0 (Open Database License), attribution: " + OSM_CREDIT
MAX_MEDIAN_RESIDUAL_M = 30.0
# Road extent cells for the population raster, metres.
POP_CELL_M = 100.0
# The rough starting transform for the registration: x ~ (lon - 116) * 85, y ~ (lat - 39) * 120.
INITIAL_TRANSFORM = AffineLonLat(116.0, 1 / 85, 0.0, 39.0, 0.0, 1 / 120)
UINT32 = 1 << 32
EVENT_TIERS = "head_of_state;premier_minister;informal_no_tie;spouse_programme"
# Subway line codes: the first two digits of the GTFS stop_code. Codes 01-19 are the line
# numbers; the others were identified from the station names that carry them.
LINE_BY_CODE = {f"{i:02d}": f"{i:02d}" for i in range(1, 20)} | {
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


def sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file.

    Parameters
    ----------
    path
        The file.
    """
    return hashlib.sha256(path.read_bytes()).hexdigest()


def bbox(gdf: gpd.GeoDataFrame) -> list[float]:
    """Return a frame's bounds rounded to 6 decimals.

    Parameters
    ----------
    gdf
        A GeoDataFrame in WGS84.
    """
    return [round(float(v), 6) for v in gdf.total_bounds]


def valid_polygons(geoms: gpd.GeoSeries) -> NDArray[np.object_]:
    """Repair polygons, keeping only polygonal parts (no collapsed lines or points).

    Parameters
    ----------
    geoms
        Polygons to repair.
    """
    fixed = shapely.make_valid(geoms.values, method="structure", keep_collapsed=False)
    out = []
    for g in fixed:
        if g.geom_type == "GeometryCollection":
            g = shapely.union_all([p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")])
        out.append(g)
    return np.array(out, dtype=object)


def write_geojson(gdf: gpd.GeoDataFrame, path: Path) -> None:
    """Write an RFC 7946 GeoJSON file with 7 decimals (replacing it).

    Parameters
    ----------
    gdf
        A GeoDataFrame in WGS84.
    path
        The file to write.
    """
    path.unlink(missing_ok=True)
    gdf.to_file(path, driver="GeoJSON", engine="pyogrio", layer_options={"RFC7946": "YES", "COORDINATE_PRECISION": 7})
