"""The driver: every step in order, then the manifest and seeds/README.md."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from geo.errors import DataSourceError
from layers.basemap import BASEMAP_FILE
from layers.seedbuild.basemap import build_basemap
from layers.seedbuild.common import (
    ODBL,
    SeedReport,
    sha256,
)
from layers.seedbuild.elevation import build_elevation
from layers.seedbuild.heritage import build_heritage
from layers.seedbuild.population import build_population
from layers.seedbuild.regional import build_regional
from layers.seedbuild.roads import read_raw_roads, register_roads, registered_lines, write_osm_xml
from layers.seedbuild.sites import SiteLayers, build_sites
from layers.seedbuild.subway import build_subway, read_gtfs_stops
from layers.seedbuild.transit import build_transit

log = logging.getLogger(__name__)


def _write_readme(out_dir: Path, report: SeedReport) -> None:
    lines = [
        "# seeds/ — the data the planner ships",
        "",
        "Rebuilt from the raw collection by `venue-planner seeds build` (layers/seedbuild/);",
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
    log.info("subway feed (modelled)")
    build_transit(raw / "beijing_subway_gtfs_osm", out_dir, report)
    log.info("heritage")
    buildings = build_heritage(raw / "forbidden_city_osm_buildings", out_dir, report)
    log.info("elevation")
    build_elevation(raw / "dem", out_dir, report)
    log.info("sites")
    build_sites(catalog, raw, SiteLayers(lines_gdf, stations, buildings, towns), out_dir, report)
    log.info("basemap")
    report.files[BASEMAP_FILE] = _basemap_entry(out_dir)
    _write_manifest(out_dir, report)
    return report


def _basemap_entry(out_dir: Path) -> dict[str, object]:
    """Build the basemap from the seeds just written; return its manifest entry."""
    got = build_basemap(out_dir)
    return {
        "title": "Offline basemap: vector tiles of the shipped data (PMTiles, Mapbox Vector Tiles, gzip)",
        "source": "this build: beijing_2013_roads.osm.bz2, beijing_highway_skeleton.geojson, townships.geojson, "
        "subway_lines.geojson, subway_stations.geojson, sites.geojson, heritage_buildings.geojson",
        "licence": f"{ODBL}; township outlines mosstool (MIT)",
        "date": "as its sources",
        "crs": "EPSG:3857 (Web Mercator tiles)",
        "bbox": got["bounds"],
        "features": f"{got['tiles']} tiles, zooms {got['zooms'][0]}-{got['zooms'][1]}, layers {', '.join(got['layers'])}",
        "derivation": "lines and outlines simplified to one grid unit of each zoom's tiles (4096 per tile); roads by "
        "class from zooms 6-13; no water, land use or English street names (the shipped data has none).",
    }


def _write_manifest(out_dir: Path, report: SeedReport) -> None:
    for name, meta in report.files.items():
        meta["sha256"] = sha256(out_dir / name)
    manifest = {"registration": report.registration, "checks": report.checks, "files": report.files}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    _write_readme(out_dir, report)


def rebuild_basemap(out_dir: Path) -> dict[str, object]:
    """Rebuild only the basemap of a seeds folder from its other files, and its manifest entry.

    Parameters
    ----------
    out_dir
        The seeds folder.

    Returns
    -------
    dict
        The basemap's manifest entry.
    """
    manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    report = SeedReport(manifest["files"], manifest.get("registration", {}), manifest.get("checks", {}))
    report.files[BASEMAP_FILE] = _basemap_entry(out_dir)
    _write_manifest(out_dir, report)
    return report.files[BASEMAP_FILE]
