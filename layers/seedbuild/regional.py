"""seeds/beijing_highway_skeleton.geojson and its calibration (raw item 8)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from geo.crs import distance_m
from geo.errors import DataSourceError
from geo.routing import build_engine
from layers.networks import NetworkSource, RoadNetwork, build_graph, network_extent
from layers.regional import MAX_MEDIAN_OVERLAP_M, calibrate, overlap, read_skeleton, write_skeleton
from layers.seedbuild.common import (
    ODBL,
    SeedReport,
)

log = logging.getLogger(__name__)

REGIONAL_SKELETON = "beijing_highway_skeleton.geojson"
REGIONAL_CALIBRATION = "regional_calibration.json"


def build_regional(folder: Path, out_dir: Path, report: SeedReport) -> None:
    """Write the major-road skeleton and its calibration on the detailed network (raw item 8).

    The detailed drive graph is built from the seed roads written before this step. The
    build fails when the skeleton's nodes lie a median of more than `MAX_MEDIAN_OVERLAP_M`
    from the detailed roads where both exist (a datum or position error).

    Parameters
    ----------
    folder
        The raw data folder of this item.
    out_dir
        The seeds folder to write to.
    report
        The seed build's report, where the file's provenance is recorded.
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
