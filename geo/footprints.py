"""Site-renovation footprints: validation, metrics, conflicts, setbacks and buildable area.

Footprints arrive as GeoJSON in WGS84 and are checked here (type, emptiness, size,
vertex count, coordinate order, validity). Every metric is computed in UTM 50N. The
functions take the layers they need as arguments (GeoDataFrames and arrays in UTM) and
return new objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NotRequired, Required, TypedDict

import numpy as np
import shapely
from shapely.validation import explain_validity

from geo.crs import BEIJING_BBOX, WGS84_EPSG, check_fits, lonlat_to_utm, transform_geometries, utm_to_lonlat
from geo.errors import InvalidGeometryError, InvalidInputError
from geo.limits import LIMITS

if TYPE_CHECKING:
    import geopandas as gpd
    from numpy.typing import NDArray

__all__ = [
    "MAX_REPAIR_VERTICES",
    "AccessFigures",
    "Analysis",
    "BuildableParts",
    "Conflict",
    "ConflictRow",
    "Elevation",
    "Footprint",
    "NearestSite",
    "Overlap",
    "RoadCut",
    "RoadsCut",
    "buildable",
    "compare",
    "conflicts",
    "parse_footprint",
    "setback",
    "to_lonlat",
    "to_utm_geom",
]

MAX_REPAIR_CHANGE = 0.01
# GEOS's make_valid grows steeply with crossings (a 200-vertex scribble took 5 s, 400
# took 52 s): larger invalid polygons are refused with where they cross, not repaired.
MAX_REPAIR_VERTICES = 100
# Beijing municipality (from the township polygons), rounded out.
_BEIJING = BEIJING_BBOX


@dataclass(frozen=True)
class Footprint:
    """A validated footprint.

    Attributes
    ----------
    geometry
        Polygon or MultiPolygon, WGS84.
    geometry_utm
        The same in UTM 50N.
    warnings
        What was repaired (empty when the input was valid).
    """

    geometry: shapely.Geometry
    geometry_utm: shapely.Geometry = field(repr=False)
    warnings: tuple[str, ...] = ()


def to_utm_geom(geom: shapely.Geometry, *, name: str = "geometry") -> shapely.Geometry:
    """Return a WGS84 geometry in UTM 50N.

    Parameters
    ----------
    geom
        A geometry in WGS84.
    name
        How the geometry is named in error messages.
    """
    coords = shapely.get_coordinates(geom)
    x, y = lonlat_to_utm(coords[:, 0], coords[:, 1], name=name)
    return shapely.set_coordinates(geom, np.column_stack([x, y]))


def to_lonlat(geom: shapely.Geometry) -> shapely.Geometry:
    """Return a UTM 50N geometry in WGS84 (coordinates rounded to 1e-7 degrees).

    Parameters
    ----------
    geom
        A geometry in UTM 50N.
    """
    if geom.is_empty:
        return geom
    coords = shapely.get_coordinates(geom)
    lon, lat = utm_to_lonlat(coords[:, 0], coords[:, 1])
    return shapely.set_coordinates(geom, np.round(np.column_stack([lon, lat]), 7))


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Return the polygonal part of a geometry (make_valid can return collections)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    flat = [p for g in parts for p in shapely.get_parts(g)]
    return shapely.MultiPolygon(flat) if flat else shapely.Polygon()


def parse_footprint(
    doc: Any,  # noqa: ANN401 - parsed JSON
    *,
    label: str = "footprint",
    max_vertices: int = LIMITS.max_footprint_vertices,
    max_area_m2: float | None = LIMITS.max_footprint_area_m2,
    crs: int | None = None,
) -> Footprint:
    """Validate a GeoJSON Polygon or MultiPolygon (or a Feature of one) in WGS84, or in ``crs``.

    This is the one polygon rule of the planner (footprints, parcels and closure areas).
    Invalid polygons (self-intersections, bow-ties) of at most `MAX_REPAIR_VERTICES`
    vertices are repaired with ``make_valid`` and a warning, unless the repair changes
    the area by more than 1 %; larger ones, and those, are refused with where they cross.

    Parameters
    ----------
    doc
        A GeoJSON Polygon, MultiPolygon or Feature of one, WGS84.
    label
        How the footprint is named in error messages.
    max_vertices
        The most vertices accepted.
    max_area_m2
        The largest area accepted, square metres.
    crs
        The EPSG code the coordinates are in (x first: longitude or easting), one of
        `geo.crs.OFFERED_EPSG`; they are transformed to WGS84. None: WGS84 lon/lat.

    Raises
    ------
    InvalidGeometryError
        Not a polygon, empty, too many vertices, too large, or not repairable.
    InvalidInputError
        Coordinates outside Beijing or given as latitude, longitude.
    """
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        doc = doc.get("geometry")
    if not isinstance(doc, dict) or "type" not in doc:
        raise InvalidGeometryError(
            f"`{label}` must be a GeoJSON Polygon or MultiPolygon object; got {type(doc).__name__}."
        )
    if doc["type"] not in ("Polygon", "MultiPolygon"):
        raise InvalidGeometryError(f"`{label}` must be a Polygon or MultiPolygon; got a {doc['type']}.")
    try:
        geom = shapely.geometry.shape(doc)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
        raise InvalidGeometryError(f"`{label}` is not well-formed GeoJSON: {exc}.") from exc
    if geom.is_empty:
        raise InvalidGeometryError(f"`{label}` is empty; draw at least one ring of three or more points.")
    n = shapely.get_num_coordinates(geom)
    if n > max_vertices:
        raise InvalidGeometryError(
            f"`{label}` has {n} vertices; at most {max_vertices} are allowed. Simplify it first."
        )
    geom = _wgs84_in_beijing(geom, crs, label)
    warnings: list[str] = []
    utm = to_utm_geom(geom, name=label)
    if not utm.is_valid:
        reason = explain_validity(geom)
        if n > MAX_REPAIR_VERTICES:
            raise InvalidGeometryError(
                f"`{label}` is not a valid polygon ({reason}); it has {n} vertices, more than the "
                f"{MAX_REPAIR_VERTICES} that are repaired automatically. Redraw it without crossing edges."
            )
        fixed = _polygonal(shapely.make_valid(utm))
        before = abs(_signed_area(utm))
        change = abs(fixed.area - before) / max(before, fixed.area) if max(before, fixed.area) > 0 else 1.0
        if fixed.is_empty or change > MAX_REPAIR_CHANGE:
            raise InvalidGeometryError(
                f"`{label}` is not a valid polygon ({reason}); repairing it would change its area by "
                f"{100 * change:.1f} % (more than {100 * MAX_REPAIR_CHANGE:g} %). Redraw it without crossing edges."
            )
        warnings.append(
            f"`{label}` was not valid ({reason}); repaired with make_valid (area changed {100 * change:.2f} %)."
        )
        utm = fixed
    area = float(utm.area)
    if area <= 0:
        raise InvalidGeometryError(f"`{label}` has no area.")
    if max_area_m2 is not None and area > max_area_m2:
        raise InvalidGeometryError(
            f"`{label}` covers {area / 1e6:.2f} km²; at most {max_area_m2 / 1e6:g} km² are allowed for one footprint."
        )
    if not warnings:  # keep the drawing, at 1e-7 degrees (about 1 cm)
        geom = shapely.set_coordinates(geom, np.round(shapely.get_coordinates(geom), 7))
    return Footprint(to_lonlat(utm) if warnings else geom, utm, tuple(warnings))


def _signed_area(geom: shapely.Geometry) -> float:
    """Return the shoelace area of the rings as drawn (exterior minus holes), even when invalid."""
    total = 0.0
    for poly in shapely.get_parts(geom):
        rings = [poly.exterior, *poly.interiors]
        for i, ring in enumerate(rings):
            xy = np.asarray(ring.coords)
            a = 0.5 * abs(float(np.dot(xy[:-1, 0], xy[1:, 1]) - np.dot(xy[1:, 0], xy[:-1, 1])))
            total += a if i == 0 else -a
    return total


def _wgs84_in_beijing(geom: shapely.Geometry, crs: int | None, label: str) -> shapely.Geometry:
    """Return the polygon in WGS84 (transformed from ``crs``), refusing coordinates that do not fit it or Beijing.

    Parameters
    ----------
    geom
        The polygon as drawn.
    crs
        Its EPSG code, or None for WGS84 lon/lat.
    label
        How it is named in error messages.
    """
    coords = shapely.get_coordinates(geom)
    if not np.isfinite(coords).all():
        raise InvalidGeometryError(f"`{label}` has non-finite coordinates.")
    if crs not in (None, WGS84_EPSG):
        check_fits(coords[:, 0], coords[:, 1], crs, label=label)
        geom = transform_geometries(np.array([geom], dtype=object), source=crs, target=None)[0]
        coords = shapely.get_coordinates(geom)
    elif (np.abs(coords) > 1000).any():
        check_fits(coords[:, 0], coords[:, 1], None, label=label)  # metres given as lon/lat: say so
    _check_beijing(coords, label)
    return geom


def _check_beijing(coords: NDArray[np.float64], label: str) -> None:
    minx, miny, maxx, maxy = _BEIJING
    lon, lat = coords[:, 0], coords[:, 1]
    inside = (lon >= minx) & (lon <= maxx) & (lat >= miny) & (lat <= maxy)
    if inside.all():
        return
    swapped = (lat >= minx) & (lat <= maxx) & (lon >= miny) & (lon <= maxy)
    if swapped.all():
        raise InvalidInputError(
            f"`{label}` coordinates look like [latitude, longitude] (first point {coords[0, 0]}, {coords[0, 1]}); "
            "GeoJSON needs [longitude, latitude]: swap them."
        )
    raise InvalidInputError(
        f"`{label}` lies outside Beijing ({minx}–{maxx} E, {miny}–{maxy} N); first point outside: "
        f"{coords[~inside][0].tolist()}. Give WGS84 longitude, latitude in Beijing."
    )


def setback(geom_utm: shapely.Geometry, distance_m: float) -> shapely.Geometry:
    """Return the footprint grown (positive) or shrunk (negative) by ``distance_m``, UTM.

    Parameters
    ----------
    geom_utm
        A geometry in UTM 50N.
    distance_m
        How far to grow (positive) or shrink (negative), metres.
    """
    if abs(distance_m) < 1e-6:  # GEOS returns an empty polygon for a distance of a few ulps
        return _polygonal(geom_utm)
    out = shapely.buffer(geom_utm, distance_m, join_style="mitre", mitre_limit=2.0)
    return _polygonal(out)


# The analysis of a footprint (`layers.footprints.FootprintService.analyze`): a JSON
# document, returned by the API and kept with each proposal version as it is.


class Overlap(TypedDict):
    """A zone a footprint overlaps: its name, the overlap and its share of the footprint (and of the zone)."""

    name: str
    overlap_m2: float
    share: float
    share_of_zone: NotRequired[float]


class RoadCut(TypedDict):
    """A street a footprint covers or cuts."""

    name: str
    label: str
    highway: str
    length_inside_m: float
    major: bool


class RoadsCut(TypedDict):
    """The streets a footprint covers or cuts (none where no drive network covers it, with why)."""

    count: int
    length_m: float
    streets: list[RoadCut]
    covered_by_network: bool
    message: NotRequired[str]


class AccessFigures(TypedDict):
    """How a footprint is reached: the nearest drivable road and the walk to the subway."""

    drive_distance_m: float | None
    access_point: list[float] | None
    access_street: str | None
    walk_to_subway_m: float | None
    subway_entrance: str | None
    message: str | None
    access_edge: NotRequired[list[int]]
    network: NotRequired[str]


class Elevation(TypedDict, total=False):
    """Terrain under a footprint (from the DEM), or why there is none."""

    available: Required[bool]
    message: str
    source: str
    cells: int
    elevation_m_min: float
    elevation_m_max: float
    elevation_m_mean: float
    slope_pct_mean: float | None
    slope_pct_max: float | None


class NearestSite(TypedDict):
    """The nearest candidate site of a footprint outside all of them."""

    site: str
    distance_m: float


class ConflictRow(TypedDict):
    """A `Conflict` as JSON."""

    severity: str
    kind: str
    message: str


class Analysis(TypedDict):
    """Everything a planner needs to know about a footprint."""

    area_m2: float
    perimeter_m: float
    centroid: list[float]
    use: str | None
    floors: int | None
    height_m: float | None
    underground: bool
    buffer_m: float
    warnings: list[str]
    site: str | None
    sub_site: str | None
    nearest_site: NearestSite | None
    heritage: list[Overlap]
    protection_zones: list[Overlap]
    buffer_zones: list[Overlap]
    roads: RoadsCut
    access: AccessFigures
    population: dict[str, float]
    elevation: Elevation
    conflicts: list[ConflictRow]


class BuildableParts(TypedDict):
    """A parcel split into the part that may be built on, the protected part and the buffers (UTM)."""

    buildable: shapely.Geometry
    protected: shapely.Geometry
    buffer: shapely.Geometry


@dataclass(frozen=True)
class Conflict:
    """One thing a footprint touches that a planner must know about."""

    severity: str  # high, medium, low
    kind: str
    message: str


def conflicts(analysis: Analysis, *, underground: bool) -> list[Conflict]:
    """Return the conflicts of an analysis (see `layers.footprints`), most severe first.

    Parameters
    ----------
    analysis
        A footprint analysis (see `layers.footprints.FootprintService.analyze`).
    underground
        Whether the footprint is underground (heritage above is then not a conflict).
    """
    out: list[Conflict] = []
    heritage = analysis["heritage"]
    if heritage:
        names = ", ".join(sorted({h["name"] for h in heritage})[:5])
        more = "" if len(heritage) <= 5 else f" and {len(heritage) - 5} more"
        out.append(
            Conflict(
                "high",
                "heritage_building",
                f"covers {len(heritage)} heritage building{'s' if len(heritage) > 1 else ''}: {names}{more} "
                f"({sum(h['overlap_m2'] for h in heritage):.0f} m²)",
            )
        )
    for z in analysis["protection_zones"]:
        sev = "medium" if underground else "high"
        out.append(
            Conflict(
                sev,
                "protection_zone",
                f"{100 * z['share']:.0f} % ({z['overlap_m2']:.0f} m²) inside the protection zone of {z['name']}"
                + (" (underground)" if underground else ""),
            )
        )
    for z in analysis["buffer_zones"]:
        out.append(
            Conflict(
                "medium",
                "buffer_zone",
                f"{z['overlap_m2']:.0f} m² inside the {analysis['buffer_m']:g} m buffer zone of {z['name']}",
            )
        )
    roads = analysis["roads"]
    if roads["count"] and not underground:
        major = [r for r in roads["streets"] if r["major"]]
        sev = "medium" if major else "low"
        labels = list(dict.fromkeys(r.get("label") or r["name"] or "unnamed road" for r in roads["streets"]))
        names = ", ".join(labels[:5]) + (f" and {len(labels) - 5} more" if len(labels) > 5 else "")
        out.append(
            Conflict(sev, "road", f"covers or cuts {roads['count']} road segments ({roads['length_m']:.0f} m): {names}")
        )
    access = analysis["access"]
    if access["drive_distance_m"] is None:
        out.append(Conflict("medium", "access", "no drivable road in the loaded networks near the footprint"))
    elif access["drive_distance_m"] > 300:
        out.append(
            Conflict(
                "medium", "access", f"the nearest drivable road is {access['drive_distance_m']:.0f} m away (over 300 m)"
            )
        )
    elev = analysis["elevation"]
    if elev.get("available") and (elev.get("slope_pct_max") or 0) > 15:
        out.append(Conflict("low", "slope", f"slopes up to {elev['slope_pct_max']:.0f} % on the footprint"))
    order = {"high": 0, "medium": 1, "low": 2}
    return sorted(out, key=lambda c: order[c.severity])


def overlaps(geom_utm: shapely.Geometry, zones: gpd.GeoDataFrame, *, name_col: str) -> list[Overlap]:
    """Return the zones (UTM frame) a footprint overlaps, with overlap area and shares.

    Parameters
    ----------
    geom_utm
        A geometry in UTM 50N.
    zones
        Zones as a UTM 50N GeoDataFrame.
    name_col
        The column naming each zone.
    """
    if zones.empty:
        return []
    idx = zones.sindex.query(geom_utm, predicate="intersects")
    out: list[Overlap] = []
    area = geom_utm.area
    for i in idx:
        z = zones.geometry.iloc[i]
        inter = shapely.intersection(geom_utm, z).area
        if inter <= 0.01:
            continue
        out.append(
            {
                "name": str(zones[name_col].iloc[i]),
                "overlap_m2": round(float(inter), 2),
                "share": round(float(inter / area), 6),
                "share_of_zone": round(float(inter / z.area), 6) if z.area > 0 else 0.0,
            }
        )
    return sorted(out, key=lambda d: -d["overlap_m2"])


def buildable(parcel_utm: shapely.Geometry, zones_utm: list[shapely.Geometry], *, buffer_m: float) -> BuildableParts:
    """Return the buildable part of a parcel after removing protection zones and their buffers.

    Returns a dict with ``buildable``, ``protected`` and ``buffer`` geometries (UTM) that
    partition the parcel, and their areas.

    Parameters
    ----------
    parcel_utm
        The parcel, UTM 50N.
    zones_utm
        Protection zones, UTM 50N geometries.
    buffer_m
        The buffer kept clear around protection zones, metres.
    """
    if not zones_utm:
        empty = shapely.Polygon()
        return {"buildable": parcel_utm, "protected": empty, "buffer": empty}
    # Only what lies inside the parcel matters: clip each zone and each zone's buffer to the
    # parcel before any union (the same result, since intersection distributes over union,
    # without buffering the union of a thousand palace buildings: 7 s -> well under 1 s).
    arr = np.asarray(zones_utm, dtype=object)
    zones = _polygonal(shapely.union_all(shapely.intersection(arr, parcel_utm)))
    if buffer_m > 0:
        near = shapely.intersection(shapely.buffer(arr, buffer_m), parcel_utm)
        grown = _polygonal(shapely.union_all([zones, *near]))
    else:
        grown = zones
    buffer_part = _polygonal(shapely.difference(grown, zones))
    rest = _polygonal(shapely.difference(parcel_utm, grown))
    return {"buildable": rest, "protected": zones, "buffer": buffer_part}


# Metrics of the comparison table: key, label, which way is better.
COMPARE_ROWS: tuple[tuple[str, str, str], ...] = (
    ("area_m2", "Area (m²)", "max"),
    ("perimeter_m", "Perimeter (m)", "min"),
    ("heritage_overlap_m2", "Heritage buildings covered (m²)", "min"),
    ("protection_overlap_m2", "Inside protection zones (m²)", "min"),
    ("buffer_overlap_m2", "Inside buffer zones (m²)", "min"),
    ("roads_cut", "Road segments covered or cut", "min"),
    ("drive_distance_m", "Distance to a drivable road (m)", "min"),
    ("walk_to_subway_m", "Walk to the nearest subway entrance (m)", "min"),
    ("population_500m", "People within 500 m", "max"),
    ("population_1km", "People within 1 km", "max"),
    ("conflicts_high", "High-severity conflicts", "min"),
)


def compare(rows: list[dict[str, float | None]]) -> list[dict[str, Any]]:
    """Return the comparison table: per metric, each footprint's value and the best one(s).

    ``rows`` hold one dict of metric values per footprint (None when unknown).

    Parameters
    ----------
    rows
        Each footprint's metrics (name and figures).
    """
    table = []
    for key, label, better in COMPARE_ROWS:
        values = [r.get(key) for r in rows]
        known = [v for v in values if v is not None]
        best: list[int] = []
        if known and len(set(known)) > 1:
            target = max(known) if better == "max" else min(known)
            best = [
                i for i, v in enumerate(values) if v is not None and abs(v - target) <= 1e-9 * max(1.0, abs(target))
            ]
        table.append({"metric": key, "label": label, "better": better, "values": values, "best": best})
    return table
