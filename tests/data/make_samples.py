"""Cut the small raw samples under tests/data/raw from the full raw collection.

Run from the repository: ``python tests/data/make_samples.py ../shared/data/raw``. The
samples keep the raw files' formats exactly, so the seed build runs on them unchanged.
Area: central Beijing, 116.35-116.43 E, 39.88-39.94 N (the Forbidden City and around);
the regional skeleton's sample runs on east to the Grand Canal (116.70 E).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

LON = (116.35, 116.43)
LAT = (39.88, 39.94)
SKELETON_LON = (116.35, 116.70)  # the skeleton sample reaches the Grand Canal in Tongzhou
# The published approximate registration (SOURCES.md), used only to choose ways by area.
A = np.array([[0.0117147, 0.00000293], [-0.00000203, 0.0083659]])
B = np.array([115.99995, 39.00114])


def main(raw: Path, out: Path) -> None:
    """Write the samples."""
    roads_in = raw / "beijing_osm_2013_roads"
    roads_out = out / "beijing_osm_2013_roads"
    roads_out.mkdir(parents=True, exist_ok=True)
    with (roads_in / "beijing_2013.osm_data.txt").open() as fh:
        n = int(fh.readline())
        ways = []
        for _ in range(n):
            header = fh.readline()
            pts = [fh.readline() for _ in range(int(header.split()[0]))]
            ways.append((header, pts))
    waynodes = (roads_in / "beijing_2013.waynodes.txt").read_text().splitlines(keepends=True)
    highway = (roads_in / "beijing_2013.highway.txt").read_text(encoding="utf-8").splitlines(keepends=True)
    keep = []
    for i, (_, pts) in enumerate(ways):
        xy = np.array([p.split() for p in pts], dtype=float)
        ll = xy @ A.T + B
        if (
            (ll[:, 0] >= LON[0]).all()
            and (ll[:, 0] <= LON[1]).all()
            and (ll[:, 1] >= LAT[0]).all()
            and (ll[:, 1] <= LAT[1]).all()
        ):
            keep.append(i)
    with (roads_out / "beijing_2013.osm_data.txt").open("w") as fh:
        fh.write(f"{len(keep)}\n")
        for i in keep:
            fh.write(ways[i][0])
            fh.writelines(ways[i][1])
    (roads_out / "beijing_2013.waynodes.txt").write_text("".join(waynodes[i] for i in keep))
    (roads_out / "beijing_2013.highway.txt").write_text("".join(highway[i] for i in keep), encoding="utf-8")

    sub_in, sub_out = raw / "beijing_subway_gtfs_osm", out / "beijing_subway_gtfs_osm"
    (sub_out / "gtfs").mkdir(parents=True, exist_ok=True)
    (sub_out / "osm").mkdir(parents=True, exist_ok=True)
    stops = pd.read_csv(sub_in / "gtfs" / "stops.txt", dtype=str, keep_default_na=False)
    lat = pd.to_numeric(stops["stop_lat"], errors="coerce")
    lon = pd.to_numeric(stops["stop_lon"], errors="coerce")
    inside = lat.between(*LAT) & lon.between(*LON)
    stops[inside].to_csv(sub_out / "gtfs" / "stops.txt", index=False)
    shutil.copy(sub_in / "gtfs" / "routes.txt", sub_out / "gtfs" / "routes.txt")
    shutil.copy(sub_in / "gtfs" / "agency.txt", sub_out / "gtfs" / "agency.txt")
    stations = json.loads((sub_in / "osm" / "station.json").read_text(encoding="utf-8"))
    small = {
        k: v
        for k, v in stations.items()
        if "lat" in v and LAT[0] <= v["lat"] <= LAT[1] and LON[0] <= v["lon"] <= LON[1]
    }
    (sub_out / "osm" / "station.json").write_text(json.dumps(small, ensure_ascii=False, indent=0), encoding="utf-8")

    town_in, town_out = raw / "beijing_townships_worldpop", out / "beijing_townships_worldpop"
    town_out.mkdir(parents=True, exist_ok=True)
    towns = gpd.read_file(town_in / "beijing.shp")
    pop = np.load(town_in / "worldpop.npy")
    sel = np.flatnonzero(towns.intersects(shapely.box(LON[0], LAT[0], LON[1], LAT[1])).to_numpy())[:12]
    towns.iloc[sel].to_file(town_out / "beijing.shp", encoding="utf-8")
    np.save(town_out / "worldpop.npy", pop[sel])

    fc_in, fc_out = raw / "forbidden_city_osm_buildings", out / "forbidden_city_osm_buildings"
    fc_out.mkdir(parents=True, exist_ok=True)
    doc = json.loads((fc_in / "forbidden_city_buildings_osm.geojson").read_text(encoding="utf-8"))
    doc["features"] = doc["features"][:80]
    (fc_out / "forbidden_city_buildings_osm.geojson").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")

    # The skeleton: every edge with an end in the roads' area widened east to the Tongzhou canal.
    sk_in, sk_out = raw / "beijing_highway_skeleton_osm", out / "beijing_highway_skeleton_osm"
    sk_out.mkdir(parents=True, exist_ok=True)
    doc = json.loads((sk_in / "beijing_highways.geojson").read_text(encoding="utf-8"))
    wide = shapely.box(SKELETON_LON[0], LAT[0], SKELETON_LON[1], LAT[1])
    doc["features"] = [
        f for f in doc["features"] if any(wide.contains(shapely.Point(c)) for c in f["geometry"]["coordinates"])
    ]
    (sk_out / "beijing_highways.geojson").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")

    (out / "dem").mkdir(parents=True, exist_ok=True)
    shutil.copy(raw / "dem" / "THU_srtm_haidian_30m.tif", out / "dem" / "THU_srtm_haidian_30m.tif")
    print(f"{len(keep)} ways, {int(inside.sum())} stops, {len(sel)} townships, {len(small)} stations")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).parent / "raw")
