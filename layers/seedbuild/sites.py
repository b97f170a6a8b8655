"""seeds/sites.geojson: candidate sites, sub-sites and supporting places with their boundaries."""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString, Point

from geo.crs import UTM_EPSG, WGS84_EPSG, lonlat_to_utm
from geo.errors import DataSourceError
from geo.network import DRIVE_EXCLUDED_HIGHWAYS
from layers.seedbuild.common import (
    ODBL,
    SeedReport,
    bbox,
    write_geojson,
)

# The event tiers of the brief (BRIEF.md, 'Why it exists'), listed on every candidate site and sub-site.
EVENT_TIERS = "head_of_state;premier_minister;informal_no_tie;spouse_programme"


log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class SiteLayers:
    """The layers the sites are made from.

    Attributes
    ----------
    lines
        The registered 2013 road lines (WGS84).
    stations
        The subway stations (WGS84), for centres given as ``station/NAME``.
    buildings
        The Forbidden City building footprints (WGS84).
    townships
        The townships (WGS84), for rows known only by the township holding them
        (osm_ref ``township/NAME``, outline ``township``).
    """

    lines: gpd.GeoDataFrame
    stations: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    townships: gpd.GeoDataFrame | None = None


@dataclass
class _Outlines:
    """What the outline rules read, and the outlines made so far (children before parents)."""

    records: dict[str, dict[str, Any]]
    centre_utm: gpd.GeoSeries
    lines: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    township_geom: dict[str, Any]
    blocks: gpd.GeoSeries
    block_tree: shapely.STRtree
    geoms_utm: dict[str, Any] = field(default_factory=dict)


def _rail_positions(raw: Path) -> dict[str, tuple[float, float, str]]:
    """Return the railway stations of raw item 4 (not subway ones) by name: lon, lat, OSM id."""
    rail = json.loads((raw / "beijing_subway_gtfs_osm" / "osm" / "station.json").read_text(encoding="utf-8"))
    return {
        v["tags"].get("name"): (v["lon"], v["lat"], k)
        for k, v in sorted(rail.items())
        if v["tags"].get("railway") == "station" and "lon" in v and v["tags"].get("station") != "subway"
    }


def _position(
    row: dict[str, str],
    *,
    stations: gpd.GeoDataFrame,
    rail_pos: dict[str, tuple[float, float, str]],
    townships: gpd.GeoDataFrame | None,
    lines: gpd.GeoDataFrame,
) -> tuple[float, float, str, Any]:
    """Return a catalog row's centre (lon, lat), its OSM reference and, for a township row, the township (UTM)."""
    ref = row["osm_ref"]
    kind, _, name = ref.partition("/")
    if kind == "station":
        hit = stations[stations["name"] == name]
        if hit.empty:
            raise DataSourceError(f"catalog row {row['id']}: subway station {ref} not found.")
        return float(hit.geometry.iloc[0].x), float(hit.geometry.iloc[0].y), ref, None
    if kind == "railstation":
        if name not in rail_pos:
            raise DataSourceError(f"catalog row {row['id']}: railway station {name} not in station.json.")
        lon, lat, osm_id = rail_pos[name]
        return lon, lat, f"node/{osm_id.lstrip('n')}", None
    if kind == "township":
        hit = townships[townships["township"] == name] if townships is not None else None
        if hit is None or len(hit) != 1:
            raise DataSourceError(f"catalog row {row['id']}: township {name} not found once in the townships.")
        pt = hit.geometry.iloc[0].representative_point()
        return float(pt.x), float(pt.y), "", hit.to_crs(UTM_EPSG).geometry.iloc[0]
    if kind == "street":
        a, b = _street_ends(lines, name, row["id"])
        return (a[0] + b[0]) / 2, (a[1] + b[1]) / 2, "", None
    return float(row["lon"]), float(row["lat"]), ref, None


def _block_outline(o: _Outlines, sid: str, unc: float | None) -> tuple[Any, str] | None:
    """Return the road-bounded block holding the centre (less any sibling's outline in it), or None."""
    r, c = o.records[sid], o.centre_utm[sid]
    cands = [o.blocks.iloc[i] for i in o.block_tree.query(c, predicate="within")]
    if not cands or cands[0].area > 15e6:
        return None
    geom = cands[0]
    source = "road-bounded block containing the centre, polygonised from the 2013 OSM drive network"
    # A block can hold a sibling with a precise outline (Zhongshan Park's block holds
    # the Forbidden City): leave the sibling out.
    sibs = [
        k
        for k in o.geoms_utm
        if o.records[k]["parent"] == r["parent"] and r["parent"] and geom.contains(o.geoms_utm[k].centroid)
    ]
    if sibs:
        geom = _beside(geom, [o.geoms_utm[k] for k in sibs], c)
        source += (
            f", minus the outline of {', '.join(o.records[k]['name_en'] for k in sibs)} and the parts of "
            "the block beyond it (only the side of the block that holds the centre)"
        )
    return geom, source


def _segment_outline(o: _Outlines, sid: str, unc: float | None) -> tuple[Any, str]:
    """Return a band over a gap in the roads between two stated road ends (an old bridge)."""
    outline = o.records[sid]["outline"]
    ends = [tuple(float(t) for t in pt.split()) for pt in outline.split(":", 1)[1].split(";")]
    _check_near_roads(o.lines, ends, sid)
    ex, ey = lonlat_to_utm([e[0] for e in ends], [e[1] for e in ends], name=sid)
    geom = LineString(np.column_stack([ex, ey])).buffer(unc or 30.0)
    return geom, (
        f"outline: {2 * (unc or 30):.0f} m wide band over the gap in the 2013 roads between the road ends on "
        "either bank (the old bridge carries no road of the 2013 network)"
    )


def _street_rect_outline(o: _Outlines, sid: str, unc: float | None) -> tuple[Any, str]:
    """Return a rectangle along a named street from end to end (a walled town's through street)."""
    _, street, width = o.records[sid]["outline"].split(":")
    a, b = _street_ends(o.lines, street, sid)
    ex, ey = lonlat_to_utm([a[0], b[0]], [a[1], b[1]], name=sid)
    pa, pb = np.array([ex[0], ey[0]]), np.array([ex[1], ey[1]])
    u = (pb - pa) / np.hypot(*(pb - pa))
    ext = unc or 20.0
    axis = LineString([pa - ext * u, pb + ext * u])
    geom = axis.buffer(float(width) / 2, cap_style="flat")
    return geom, (
        f"outline: {axis.length:.0f} x {float(width):.0f} m rectangle along {street} from end to end "
        f"(its gates) plus {ext:.0f} m, the walled town's size from BRIEF.md"
    )


def _township_outline(o: _Outlines, sid: str, unc: float | None) -> tuple[Any, str]:
    """Return the township that holds the place."""
    return _largest_part(o.township_geom[sid], o.centre_utm[sid]), (
        "outline: the township that holds the place (its largest part; the place's own outline and centre "
        "are not in the data); the centre is a point inside the township"
    )


def _buildings_outline(o: _Outlines, sid: str, unc: float | None) -> tuple[Any, str]:
    """Return the convex hull of the palace's building footprints."""
    geom = shapely.convex_hull(shapely.union_all(o.buildings.to_crs(UTM_EPSG).geometry.values))
    return geom, "convex hull of the palace's OSM building footprints (approximates the outer wall)"


def _axis_outline(o: _Outlines, sid: str, unc: float | None) -> tuple[Any, str]:
    """Return a corridor along the Central Axis, united with its sub-sites."""
    kids = [k for k in ("yongdingmen", "forbidden-city", "jingshan", "bell-drum-towers") if k in o.records]
    axis = LineString([o.centre_utm[k] for k in sorted(kids, key=lambda k: o.records[k]["lat"])])
    geom = shapely.union_all(
        [axis.buffer(unc or 250.0), *(o.geoms_utm[k] for k, v in o.records.items() if v["parent"] == sid)]
    )
    return geom, (
        f"outline: {int(2 * (unc or 250))} m wide corridor along the axis through the Yongdingmen, Forbidden City, "
        "Jingshan and Bell/Drum Tower centres, united with its sub-sites"
    )


def _hull_outline(o: _Outlines, sid: str, unc: float | None) -> tuple[Any, str]:
    """Return the convex hull of the sub-sites' outlines."""
    kids_g = [o.geoms_utm[k] for k, v in o.records.items() if v["parent"] == sid]
    return shapely.convex_hull(shapely.union_all(kids_g)), "outline: convex hull of its sub-sites' boundaries"


_OUTLINE_RULES: dict[str, Callable[[_Outlines, str, float | None], tuple[Any, str]]] = {
    "segment": _segment_outline,
    "street-rect": _street_rect_outline,
    "township": _township_outline,
    "buildings": _buildings_outline,
    "axis-corridor": _axis_outline,
    "hull": _hull_outline,
}


def _outline(o: _Outlines, sid: str, *, inside: bool) -> tuple[Any, str, float | None]:
    """Return a row's outline (UTM), where it came from and its uncertainty in metres.

    ``inside``: the centre lies inside the detailed roads (a road-bounded block can apply).
    """
    r = o.records[sid]
    unc = float(r["uncertainty_m"]) if r["uncertainty_m"] else None
    kind = r["outline"].split(":", 1)[0]
    made: tuple[Any, str] | None = None
    if kind == "block":
        made = _block_outline(o, sid, unc) if inside else None
    elif kind in _OUTLINE_RULES:
        made = _OUTLINE_RULES[kind](o, sid, unc)
    if made is not None:
        return made[0], made[1], unc
    radius = unc or 500.0
    why = "outside the detailed 2013 roads" if not inside else "no road-bounded block applies"
    source = f"outline: circle of radius {radius:.0f} m around the centre ({why}); approximate"
    return o.centre_utm[sid].buffer(radius, quad_segs=16), source, radius


def _site_row(
    sid: str, r: dict[str, Any], *, source: str, unc: float | None, area_km2: float, geom: shapely.Geometry
) -> dict[str, Any]:
    """Return one feature of sites.geojson."""
    return {
        "id": sid,
        "parent": r["parent"],
        "group": r["group"],
        "kind": r["kind"],
        "name_zh": r["name_zh"],
        "name_en": r["name_en"],
        "event_tiers": EVENT_TIERS if r["kind"] in ("candidate_site", "sub_site") else "",
        "centre_lon": round(r["lon"], 7),
        "centre_lat": round(r["lat"], 7),
        "centre_source": r["centre_source"],
        "osm_ref": r["osm_ref"] if "/" in r["osm_ref"] and not r["osm_ref"].startswith("station/") else "",
        "boundary_source": source,
        "uncertainty_m": unc,
        "area_km2": round(area_km2, 3),
        "geometry": shapely.set_precision(geom, 1e-7),
    }


def build_sites(
    catalog: Path,
    raw: Path,
    layers: SiteLayers,
    out_dir: Path,
    report: SeedReport,
) -> gpd.GeoDataFrame:
    """Write seeds/sites.geojson: candidate sites, sub-sites and supporting places.

    Parameters
    ----------
    catalog
        The site catalog CSV (``seeds/catalog.csv``).
    raw
        The raw data folder (railway stations are read from raw item 4).
    layers
        The layers the outlines and centres are made from (`SiteLayers`).
    out_dir
        Where to write ``sites.geojson``.
    report
        Where to record the file's provenance.

    Returns
    -------
    geopandas.GeoDataFrame
        The sites, WGS84.
    """
    with catalog.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rail_pos = _rail_positions(raw)
    lines = layers.lines
    network_hull = shapely.concave_hull(shapely.multipoints(lines.get_coordinates().to_numpy()[::5]), ratio=0.05)
    records: dict[str, dict[str, Any]] = {}
    township_geom: dict[str, Any] = {}
    for row in rows:
        lon, lat, ref, town = _position(
            row, stations=layers.stations, rail_pos=rail_pos, townships=layers.townships, lines=lines
        )
        if town is not None:
            township_geom[row["id"]] = town
        records[row["id"]] = {**row, "lon": lon, "lat": lat, "osm_ref": ref}
    centre_utm = gpd.GeoSeries(
        [Point(r["lon"], r["lat"]) for r in records.values()], index=list(records), crs=WGS84_EPSG
    ).to_crs(UTM_EPSG)
    blocks = _road_blocks(lines)
    o = _Outlines(records, centre_utm, lines, layers.buildings, township_geom, blocks, shapely.STRtree(blocks.values))
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
        inside = bool(network_hull.contains(Point(r["lon"], r["lat"])))
        o.geoms_utm[sid], sources[sid], uncert[sid] = _outline(o, sid, inside=inside)
    geoms_utm = o.geoms_utm
    _check_no_enclosure({k: g for k, g in geoms_utm.items() if records[k]["parent"]})
    boundaries = gpd.GeoSeries([geoms_utm[k] for k in records], index=list(records), crs=UTM_EPSG)
    areas = boundaries.area / 1e6
    boundaries_wgs = boundaries.to_crs(WGS84_EPSG)
    out = [
        _site_row(sid, r, source=sources[sid], unc=uncert[sid], area_km2=float(areas[sid]), geom=boundaries_wgs[sid])
        for sid, r in records.items()
    ]
    sites = gpd.GeoDataFrame(out, crs=WGS84_EPSG)
    write_geojson(sites, out_dir / "sites.geojson")
    report.files["sites.geojson"] = {
        "title": "Candidate sites, sub-sites and supporting places",
        "source": "seeds/catalog.csv (centres from OSM data and SOURCES.md WGS84 positions) + the 2013 road network",
        "licence": f"centres and blocks derived from OpenStreetMap, {ODBL}",
        "date": "roads 2013, OSM centres 2026-08",
        "crs": "EPSG:4326",
        "bbox": bbox(sites),
        "features": len(sites),
        "derivation": "boundary per catalog row: the road-bounded block containing the centre (polygonised from "
        "drivable roads) inside the network, else a stated outline with its uncertainty in metres; no GCJ-02 positions.",
    }
    return sites
