"""seeds/subway_stations.geojson and subway_entrances.geojson, from raw item 4 (GTFS from OSM)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
from shapely.geometry import Point

from geo.crs import WGS84_EPSG
from geo.errors import DataSourceError
from layers.seedbuild.common import (
    ODBL,
    SeedReport,
    bbox,
    write_geojson,
)

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


def station_name(raw: str) -> str:
    """Return a station's name without the "站" (station) suffix, except in "火车站" (railway station).

    Parameters
    ----------
    raw
        The name as the data has it.
    """
    return raw if raw.endswith("火车站") or raw == "站" else raw.removesuffix("站")


def read_gtfs_stops(folder: Path) -> pd.DataFrame:
    """Read GTFS stops.txt, dropping rows without coordinates.

    Parameters
    ----------
    folder
        Raw item 4's folder (beijing_subway_gtfs_osm).
    """
    path = folder / "gtfs" / "stops.txt"
    if not path.is_file():
        raise DataSourceError(f"{path} is missing; expected the beijing_subway_gtfs_osm folder.")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df = df[(df["stop_lat"] != "") & (df["stop_lon"] != "")].copy()
    df["lat"] = df["stop_lat"].astype(float)
    df["lon"] = df["stop_lon"].astype(float)
    return df


def build_subway(folder: Path, out_dir: Path, report: SeedReport) -> gpd.GeoDataFrame:
    """Write subway stations (with lines and colours) and entrances.

    Parameters
    ----------
    folder
        The raw data folder of this item.
    out_dir
        The seeds folder to write to.
    report
        The seed build's report, where the file's provenance is recorded.
    """
    stops = read_gtfs_stops(folder)
    routes = pd.read_csv(folder / "gtfs" / "routes.txt", dtype=str, keep_default_na=False).set_index("route_id")
    st = stops[(stops["location_type"] == "1") & (stops["stop_name"] != "")].copy()
    st["line_id"] = st["stop_code"].str[:2].map(LINE_BY_CODE).fillna("")
    rows = []
    for name, grp in st.groupby("stop_name", sort=True):
        lines = sorted({lid for lid in grp["line_id"] if lid})
        rows.append(
            {
                "name": station_name(str(name)),
                "osm_ids": ";".join(sorted(grp["stop_id"])),
                "lines": ";".join(routes.loc[lid, "route_short_name"] for lid in lines) or "unknown",
                "line_ids": ";".join(lines),
                "colour": "#" + routes.loc[lines[0], "route_color"] if lines else "#808080",
                "line_colours": ";".join("#" + routes.loc[lid, "route_color"] for lid in lines),
                "geometry": Point(round(grp["lon"].astype(float).mean(), 7), round(grp["lat"].astype(float).mean(), 7)),
            }
        )
    stations = gpd.GeoDataFrame(rows, crs=WGS84_EPSG)
    write_geojson(stations, out_dir / "subway_stations.geojson")
    unknown = int((stations["lines"] == "unknown").sum())
    report.files["subway_stations.geojson"] = {
        "title": "Subway stations with their lines and official colours",
        "source": "BoyInTheSun/beijing-subway-gtfs @61f3e7a3 gtfs/stops.txt (location_type=1), routes.txt",
        "licence": f"positions and ids OpenStreetMap, {ODBL}; repository MPL-2.0",
        "date": "OSM extract 2026-04-21",
        "crs": "EPSG:4326",
        "bbox": bbox(stations),
        "features": len(stations),
        "derivation": f"{len(st)} per-line station rows merged by name (position = mean); line from the first two "
        f"digits of stop_code (01-19 = line number; 88-98 identified from their station names, see "
        f"layers/seedbuild/subway.py); {unknown} stations whose code has no single line are 'unknown'.",
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
    write_geojson(entrances, out_dir / "subway_entrances.geojson")
    report.files["subway_entrances.geojson"] = {
        "title": "Subway entrances and exits",
        "source": "BoyInTheSun/beijing-subway-gtfs @61f3e7a3 gtfs/stops.txt (location_type=2)",
        "licence": f"OpenStreetMap, {ODBL}",
        "date": "OSM extract 2026-04-21",
        "crs": "EPSG:4326",
        "bbox": bbox(entrances),
        "features": len(entrances),
        "derivation": "entrance rows with coordinates, with the name of their parent station.",
    }
    return stations
