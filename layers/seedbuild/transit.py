"""seeds/subway_gtfs/ (a modelled, frequency-based GTFS feed) and seeds/subway_lines.json, from raw item 4.

Raw item 4 has stations, platforms, entrances and lines but no trips or times. What is
real: the stations, their positions, the official station codes (line + number along
the line) and the lines' names and colours. What is modelled, and said so in the feed's
``feed_info.txt`` and in the manual: the order of a line is its code order; a hop's time
is the straight-line distance between the stations times a track factor, at an operating
speed that includes dwell; trains run at fixed headways by time of day
(``frequencies.txt``); a change of line takes a fixed minimum time (``transfers.txt``).
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import LineString

from geo.crs import WGS84_EPSG, distance_m
from geo.errors import DataSourceError
from layers.seedbuild.common import ODBL, SeedReport, write_geojson
from layers.seedbuild.subway import LINE_BY_CODE, read_gtfs_stops, station_name

__all__ = ["LINE_RUNS", "build_transit"]


@dataclass(frozen=True)
class LineRun:
    """How one line is run: its code groups in running order and its shape."""

    codes: tuple[str, ...]
    shape: str = "linear"  # "linear" (two directions), "loop" (closed, two directions), "lasso" (one way)
    lasso: tuple[int, ...] = ()  # for a lasso: the chain's indices in running order


# Lines carried by several code groups run through in this order (see LINE_BY_CODE):
# line 1 runs on into the Batong line (97), line 4 into the Daxing line (93), line 10's
# two code groups (10, 90) close its loop. The Capital Airport Express (ca) runs one way
# round its airport end: 北新桥, 东直门, 三元桥, T3, T2, 三元桥, 东直门, 北新桥
# (the operator's line description); its codes number T2 (25) before T3 (27).
LINE_RUNS: dict[str, LineRun] = {
    lid: LineRun(tuple(c for c, v in LINE_BY_CODE.items() if v == lid)) for lid in sorted(set(LINE_BY_CODE.values()))
} | {
    "01": LineRun(("01", "97")),
    "02": LineRun(("02",), "loop"),
    "04": LineRun(("04", "93")),
    "10": LineRun(("10", "90"), "loop"),
    "ca": LineRun(("98",), "lasso", (0, 1, 2, 4, 3, 2, 1, 0)),
}
# Codes that name no open line of the data: 73 (天通苑东 ... 马连洼, stations of lines
# under construction) and 79 (荣昌东街 alone; the station is also on 96, the Yizhuang line).
LEFT_OUT_CODES = {
    "73": "stations of a line not in service (天通苑东 ... 马连洼)",
    "79": "荣昌东街 alone; it is on the Yizhuang line (96)",
}
# A station the data has without a code, placed where its line's codes leave a gap.
PLACED = {"北宫门": ("04", 23)}  # line 4: 安河桥北 (21), 北宫门, 西苑 (25)

# -- the model's constants (the manual, "Public transport": docs/services/transit.md) ------------------------------------
# Operating speed including dwell, km/h. Line 10: 57.1 km in 104 min a loop (published,
# cited in issue 24) = 32.9 km/h; line 4 about 35 km/h (same). No per-line figure for the
# other lines: they take line 10's, said so in the manual.
LINE10_KM, LINE10_MIN = 57.1, 104.0
SPEED_KPH = {"04": 35.0}
DEFAULT_SPEED_KPH = LINE10_KM / (LINE10_MIN / 60.0)
# The two airport lines run much faster than urban lines; their published journey times:
# 草桥-大兴机场 19 min (Daxing Airport Express) and 东直门-3号航站楼 about 20 min (Capital
# Airport Express), both the operators' figures.
RUN_TIME_MIN = {"da": ("草桥", "大兴机场", 19.0), "ca": ("东直门", "3号航站楼", 20.0)}
# Headways, seconds, by class and window. Central (numbered) lines: peak 2-3 min and
# off-peak 4-6 min (issue 24's figures); the midpoints are used. Suburban, airport and
# tram lines: no source; 6 min peak and 10 min off-peak are an assumption, said so.
# The peak hours 07-09 and 17-19: no source; the customary weekday peaks, an assumption (the manual says so).
PEAKS = ((7 * 3600, 9 * 3600), (17 * 3600, 19 * 3600))
# Service 05:00-23:00: no timetable in the data; approximate first and last trains, an assumption.
SERVICE = (5 * 3600, 23 * 3600)
HEADWAY_S = {"central": (150, 300), "suburban": (360, 600)}  # (peak, off-peak)
# Minimum time to change lines (source: the figures quoted in issue 24): 5 min, the planning
# target; 8.5 min (midpoint of the 7-10 min measured) at 西直门 and 东直门.
TRANSFER_S = 300
TRANSFER_S_AT = {"西直门": 510, "东直门": 510}
FEED_START, FEED_END = "20260421", "20271231"  # from the OSM extract's date


def _line_class(lid: str) -> str:
    return "central" if lid.isdigit() else "suburban"


def _station_table(stops: pd.DataFrame) -> pd.DataFrame:
    """Per-line station rows (location_type 1) with their line, code number and merged station id."""
    st = stops[(stops["location_type"] == "1") & (stops["stop_name"] != "")].copy()
    st["name"] = st["stop_name"].map(station_name)
    st["prefix"] = st["stop_code"].str[:2]
    st["number"] = pd.to_numeric(st["stop_code"].str[2:], errors="coerce")
    for name, (prefix, number) in PLACED.items():
        hit = (st["name"] == name) & (st["stop_code"] == "")
        st.loc[hit, "prefix"] = prefix
        st.loc[hit, "number"] = number
    st["station_id"] = st.groupby("name")["stop_id"].transform("min")
    return st


def _gaps(prefix: str, rows: pd.DataFrame) -> tuple[int, list[dict[str, Any]]]:
    """Return a code group's usual step and its gaps (codes with no station) between present stations."""
    nums = sorted(set(rows["number"].astype(int)))
    diffs = Counter(b - a for a, b in itertools.pairwise(nums))
    step = min(diffs, key=lambda d: (-diffs[d], d)) if diffs else 1
    names = rows.drop_duplicates("number").set_index(rows.drop_duplicates("number")["number"].astype(int))["name"]
    gaps = []
    for a, b in itertools.pairwise(nums):
        gaps += [
            {"code": f"{prefix}{n:04d}", "after": str(names[a]), "before": str(names[b])}
            for n in range(a + step, b, step)
        ]
    return step, gaps


def _chain(st: pd.DataFrame, run: LineRun) -> pd.DataFrame:
    """Return the line's stations in running order, one row each (repeated codes and names dropped)."""
    rows = st[st["prefix"].isin(run.codes)].copy()
    rows["group"] = rows["prefix"].map({c: i for i, c in enumerate(run.codes)})
    rows = rows.sort_values(["group", "number", "stop_id"], kind="stable")
    return rows.drop_duplicates("name").reset_index(drop=True)


def _hop_seconds(lon: np.ndarray, lat: np.ndarray, factor: float, speed_kph: float) -> np.ndarray:
    d = distance_m(lon[:-1], lat[:-1], lon[1:], lat[1:])
    return np.maximum(np.round(d * factor / (speed_kph / 3.6)), 30.0)


def _track_factor(st: pd.DataFrame) -> float:
    """Track length over the straight-line length of line 10's loop (published length / chords)."""
    ch = _chain(st, LINE_RUNS["10"])
    if len(ch) < 20:
        return 1.0  # a sample without line 10: no factor to take from it
    lon = np.append(ch["lon"].to_numpy(), ch["lon"].iloc[0])
    lat = np.append(ch["lat"].to_numpy(), ch["lat"].iloc[0])
    return LINE10_KM * 1000.0 / float(distance_m(lon[:-1], lat[:-1], lon[1:], lat[1:]).sum())


@dataclass
class _Pattern:
    line: str
    direction: int
    stations: list[int]  # chain row indices
    seconds: list[float]  # from the first stop


def _patterns(lid: str, ch: pd.DataFrame, factor: float) -> list[_Pattern]:
    run = LINE_RUNS[lid]
    n = len(ch)
    if run.shape == "lasso":
        orders = [[i for i in run.lasso if i < n]] if n == 5 else [list(range(n)), list(range(n))[::-1]]
    elif run.shape == "loop" and n > 2:
        orders = [[*range(n), 0], [0, *range(n - 1, -1, -1)]]
    else:
        orders = [list(range(n)), list(range(n))[::-1]]
    lon, lat = ch["lon"].to_numpy(), ch["lat"].to_numpy()
    speed = SPEED_KPH.get(lid, DEFAULT_SPEED_KPH)
    if lid in RUN_TIME_MIN:  # an airport line: the speed that gives its published run time
        a, b, minutes = RUN_TIME_MIN[lid]
        names = ch["name"].tolist()
        if a in names and b in names:
            i, j = sorted((names.index(a), names.index(b)))
            idx = np.arange(i, j + 1) if run.shape != "lasso" else np.array([1, 2, 4])
            km = float(distance_m(lon[idx[:-1]], lat[idx[:-1]], lon[idx[1:]], lat[idx[1:]]).sum()) * factor / 1000
            speed = km / (minutes / 60.0)
    out = []
    for d, order in enumerate(orders):
        o = np.array(order)
        hops = _hop_seconds(lon[o], lat[o], factor, speed)
        out.append(_Pattern(lid, d, order, [0.0, *np.cumsum(hops).tolist()]))
    return out


def _hms(s: float) -> str:
    s = round(s)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _windows() -> list[tuple[int, int, bool]]:
    """(start, end, is_peak) windows over the service day."""
    edges = sorted({SERVICE[0], SERVICE[1], *[t for p in PEAKS for t in p]})
    return [(a, b, any(p[0] <= a < p[1] for p in PEAKS)) for a, b in itertools.pairwise(edges)]


def _write(path: Path, frame: pd.DataFrame) -> None:
    path.write_text(frame.to_csv(index=False, lineterminator="\n"), encoding="utf-8")


def build_transit(folder: Path, out_dir: Path, report: SeedReport) -> dict[str, Any]:
    """Write the modelled GTFS feed (seeds/subway_gtfs/) and the lines with their missing stations.

    Parameters
    ----------
    folder
        Raw item 4's folder (beijing_subway_gtfs_osm).
    out_dir
        The seeds folder to write to.
    report
        The seed build's report, where the files' provenance is recorded.
    """
    gtfs = folder / "gtfs"
    for name in ("routes.txt", "agency.txt"):
        if not (gtfs / name).is_file():
            raise DataSourceError(f"{gtfs / name} is missing; expected the beijing_subway_gtfs_osm folder.")
    stops = read_gtfs_stops(folder)
    routes = pd.read_csv(gtfs / "routes.txt", dtype=str, keep_default_na=False).set_index("route_id")
    agency = pd.read_csv(gtfs / "agency.txt", dtype=str, keep_default_na=False)
    st = _station_table(stops)
    factor = _track_factor(st)
    lines: list[dict[str, Any]] = []
    patterns: list[tuple[_Pattern, pd.DataFrame]] = []
    for lid, run in LINE_RUNS.items():
        ch = _chain(st, run)
        gaps = []
        for prefix in run.codes:
            rows = st[st["prefix"] == prefix]
            if len(rows):
                gaps += _gaps(prefix, rows)[1]
        if len(ch) < 2:
            continue
        pats = _patterns(lid, ch, factor)
        patterns += [(p, ch) for p in pats]
        lines.append(
            {
                "id": lid,
                "name": str(routes.loc[lid, "route_short_name"]),
                "long_name": str(routes.loc[lid, "route_long_name"]),
                "colour": "#" + str(routes.loc[lid, "route_color"]),
                "codes": list(run.codes),
                "shape": run.shape,
                "class": _line_class(lid),
                "stations": [
                    {"id": r.station_id, "name": r.name, "code": r.stop_code or None, "lon": r.lon, "lat": r.lat}
                    for r in ch.itertuples()
                ],
                "missing": gaps,
                "run_minutes": round(pats[0].seconds[-1] / 60.0, 1),
            }
        )
    feed = out_dir / "subway_gtfs"
    feed.mkdir(parents=True, exist_ok=True)
    used = sorted({ln["id"] for ln in lines})
    _write_tables(feed, st, stops, routes.loc[used], agency, patterns)
    doc = {
        "about": "Lines of the modelled subway feed (seeds/subway_gtfs/): stations in running order and the "
        "station codes with no station in the data (trains pass them without stopping). Times are modelled, "
        "not timetabled.",
        "track_factor": round(factor, 4),
        "left_out_codes": LEFT_OUT_CODES,
        "placed_without_code": {k: f"{v[0]}{v[1]:04d}" for k, v in PLACED.items()},
        "lines": lines,
    }
    (out_dir / "subway_lines.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    _write_lines_geojson(lines, out_dir / "subway_lines.geojson")
    _record(report, lines, factor)
    return doc


def _write_tables(
    feed: Path,
    st: pd.DataFrame,
    stops: pd.DataFrame,
    routes: pd.DataFrame,
    agency: pd.DataFrame,
    patterns: list[tuple[_Pattern, pd.DataFrame]],
) -> None:
    """Write the GTFS files of the feed."""
    served = {(p.line, ch.loc[i, "station_id"]) for p, ch in patterns for i in p.stations}
    stations = st.groupby("station_id").agg(name=("name", "first"), lon=("lon", "mean"), lat=("lat", "mean"))
    stations = stations[stations.index.isin({s for _, s in served})]
    rows = [
        {"stop_id": sid, "stop_name": r["name"], "stop_lat": round(float(r["lat"]), 7), "stop_lon": round(float(r["lon"]), 7),
         "location_type": 1, "parent_station": ""}
        for sid, r in stations.iterrows()
    ]  # fmt: skip
    by_station = {str(k): {str(c): x for c, x in v.items()} for k, v in stations.to_dict("index").items()}
    for lid, sid in sorted((str(a), str(b)) for a, b in served):
        row = by_station[sid]
        rows.append({"stop_id": f"{sid}:{lid}", "stop_name": row["name"], "stop_lat": round(float(row["lat"]), 7),
                     "stop_lon": round(float(row["lon"]), 7), "location_type": 0, "parent_station": sid})  # fmt: skip
    by_row = st.set_index("stop_id")["station_id"].to_dict()
    en = stops[(stops["location_type"] == "2") & stops["parent_station"].map(by_row).isin(stations.index)]
    for e in en.sort_values("stop_id").to_dict("records"):
        rows.append({"stop_id": e["stop_id"], "stop_name": e["stop_name"], "stop_lat": round(e["lat"], 7),
                     "stop_lon": round(e["lon"], 7), "location_type": 2, "parent_station": by_row[e["parent_station"]]})  # fmt: skip
    _write(feed / "stops.txt", pd.DataFrame(rows))
    _write(feed / "agency.txt", agency[agency["agency_id"].isin(set(routes["agency_id"]))][
        ["agency_id", "agency_name", "agency_url", "agency_timezone", "agency_lang"]])  # fmt: skip
    rt = routes.reset_index()[["route_id", "agency_id", "route_short_name", "route_long_name", "route_type",
                              "route_color", "route_text_color"]].copy()  # fmt: skip
    rt["route_desc"] = "Times modelled from station spacing, not timetabled"
    _write(feed / "routes.txt", rt)
    _write(feed / "calendar.txt", pd.DataFrame([{"service_id": "daily", **dict.fromkeys(
        ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"], 1),
        "start_date": FEED_START, "end_date": FEED_END}]))  # fmt: skip
    trips, times, freqs = [], [], []
    for p, ch in patterns:
        tid = f"{p.line}_{p.direction}"
        last = str(ch["name"].iloc[p.stations[-1]])
        trips.append({"route_id": p.line, "service_id": "daily", "trip_id": tid, "trip_headsign": last,
                      "direction_id": p.direction})  # fmt: skip
        for seq, (i, s) in enumerate(zip(p.stations, p.seconds, strict=True)):
            t = _hms(SERVICE[0] + s)
            times.append({"trip_id": tid, "arrival_time": t, "departure_time": t,
                          "stop_id": f"{ch['station_id'].iloc[i]}:{p.line}", "stop_sequence": seq + 1})  # fmt: skip
        peak, off = HEADWAY_S[_line_class(p.line)]
        for a, b, is_peak in _windows():
            freqs.append({"trip_id": tid, "start_time": _hms(a), "end_time": _hms(b),
                          "headway_secs": peak if is_peak else off, "exact_times": 0})  # fmt: skip
    _write(feed / "trips.txt", pd.DataFrame(trips))
    _write(feed / "stop_times.txt", pd.DataFrame(times))
    _write(feed / "frequencies.txt", pd.DataFrame(freqs))
    lines_at: dict[str, list[str]] = {}
    for lid, sid in sorted((str(a), str(b)) for a, b in served):
        lines_at.setdefault(sid, []).append(lid)
    tr = [
        {"from_stop_id": f"{sid}:{a}", "to_stop_id": f"{sid}:{b}", "transfer_type": 2,
         "min_transfer_time": TRANSFER_S_AT.get(str(stations.loc[sid, "name"]), TRANSFER_S)}
        for sid, ls in lines_at.items() for a in ls for b in ls if a != b
    ]  # fmt: skip
    _write(feed / "transfers.txt", pd.DataFrame(tr, columns=["from_stop_id", "to_stop_id", "transfer_type",
                                                             "min_transfer_time"]))  # fmt: skip
    _write(feed / "feed_info.txt", pd.DataFrame([{
        "feed_publisher_name": "venue-planner seed build (modelled feed; © OpenStreetMap contributors)",
        "feed_publisher_url": "https://www.openstreetmap.org/copyright", "feed_lang": "zh-CN",
        "feed_start_date": FEED_START, "feed_end_date": FEED_END, "feed_version": "modelled-1"}]))  # fmt: skip


def _write_lines_geojson(lines: list[dict[str, Any]], path: Path) -> None:
    """Write the lines drawn through their stations in running order (a loop closed), for maps and GIS."""
    rows, geoms = [], []
    for ln in lines:
        pts = [(s["lon"], s["lat"]) for s in ln["stations"]]
        if ln["shape"] == "loop":
            pts.append(pts[0])
        geoms.append(LineString(pts))
        rows.append(
            {
                "id": ln["id"],
                "name": ln["name"],
                "colour": ln["colour"],
                "shape": ln["shape"],
                "stations": ";".join(s["name"] for s in ln["stations"]),
                "missing_codes": ";".join(g["code"] for g in ln["missing"]),
                "run_minutes": ln["run_minutes"],
            }
        )
    write_geojson(gpd.GeoDataFrame(rows, geometry=geoms, crs=WGS84_EPSG), path)


def _record(report: SeedReport, lines: list[dict[str, Any]], factor: float) -> None:
    missing = sum(len(ln["missing"]) for ln in lines)
    lon = [s["lon"] for ln in lines for s in ln["stations"]]
    lat = [s["lat"] for ln in lines for s in ln["stations"]]
    box = [round(min(lon), 6), round(min(lat), 6), round(max(lon), 6), round(max(lat), 6)]
    report.files["subway_gtfs/"] = {
        "title": "Subway feed (GTFS, frequency-based): TIMES MODELLED, NOT TIMETABLED",
        "source": "BoyInTheSun/beijing-subway-gtfs @61f3e7a3 gtfs/stops.txt, routes.txt, agency.txt",
        "licence": f"stations, codes and lines OpenStreetMap, {ODBL}; repository MPL-2.0",
        "date": "OSM extract 2026-04-21",
        "crs": "EPSG:4326",
        "bbox": box,
        "features": len(lines),
        "derivation": f"{len(lines)} lines in station-code order (run-through and loop lines joined, see "
        f"layers/seedbuild/transit.py); hop time = straight-line distance x {factor:.3f} (line 10's published "
        f"57.1 km over its stations' straight-line loop) at an operating speed with dwell; headways by time "
        f"window; minimum transfer times; {missing} station codes with no station in the data, listed in "
        "subway_lines.json. Constants and their sources: the manual, Public transport (docs/services/transit.md).",
    }
    report.files["subway_lines.geojson"] = {
        "title": "Subway lines drawn through their stations (modelled feed), with their official colours",
        "source": "derived from raw item 4 with the feed",
        "licence": ODBL,
        "date": "OSM extract 2026-04-21",
        "crs": "EPSG:4326",
        "bbox": box,
        "features": len(lines),
        "derivation": "straight lines between consecutive stations of each line in running order (no track "
        "geometry in the data); stations and missing codes as ;-separated text.",
    }
    report.files["subway_lines.json"] = {
        "title": "Subway lines: stations in running order and the stations missing from the data",
        "source": "derived from raw item 4 with the feed",
        "licence": ODBL,
        "date": "OSM extract 2026-04-21",
        "crs": "EPSG:4326",
        "bbox": box,
        "features": len(lines),
        "derivation": "per line: the station chain of subway_gtfs/ and every gap in its station codes.",
    }
