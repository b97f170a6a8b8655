"""Response models (OpenAPI) and the GeoJSON response class."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import Query
from fastapi.responses import JSONResponse
from geojson_pydantic import Feature, FeatureCollection, LineString, MultiPolygon, Polygon
from pydantic import BaseModel, ConfigDict, Field

from geo.crs import parse_crs
from geo.errors import InvalidInputError
from geo.eventtime import DAY_S, MODE_SHARES, ClockWindow, check_shares, parse_instant, parse_window
from geo.limits import LIMITS
from geo.motorcade import CONVOY_VEHICLES, MAX_CONVOYS, MAX_HOLD_S, Convoy
from layers.credits import OSM_AND_POPULATION, OSM_CREDIT
from layers.eventimpact import TravelModel
from layers.impact import ClosurePlan
from layers.motorcade import DEFAULT_MAX_EXTRA_S, Motorcade
from layers.plans import DERIVED_KEYS
from layers.proposal_records import FLOORS_RANGE, HEIGHT_RANGE_M
from layers.routing import Closures, Place, parse_polygon

__all__ = [
    "ERROR_RESPONSES",
    "AccessInfo",
    "ErrorBody",
    "GeoJSONResponse",
    "Health",
    "LayerInfo",
    "RequestModel",
    "SiteCollection",
    "SiteDetail",
    "SiteFeature",
    "SiteProperties",
]


class RequestModel(BaseModel):
    """A request body: unknown fields are refused (422 naming the field), numbers must be finite."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ErrorDetail(BaseModel):
    """What went wrong."""

    status: int
    code: str = Field(description="Stable error code, e.g. not_found, invalid_request, version_conflict, timeout")
    message: str = Field(description="What was wrong and how to fix it")
    request_id: str = Field(description="The request's id (also in the X-Request-ID header and the server log)")
    details: list[dict[str, Any]] | None = Field(None, description="Each invalid field (invalid_request)")
    current_version: int | None = Field(None, description="The proposal's latest version (version_conflict)")


class ErrorBody(BaseModel):
    """Every error answer of the service."""

    error: ErrorDetail


_ERRORS = {
    400: "Bad request or Host not allowed",
    401: "No valid API key",
    403: "The key's role does not allow this",
    404: "Not found",
    412: "The edit was based on an old version",
    413: "Body or upload too large",
    422: "Invalid input",
    428: "The edit did not say which version it was based on",
    500: "Unexpected error (report the request id)",
    503: "Busy, or data unavailable",
    504: "The request ran out of its time budget",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text} for code, text in _ERRORS.items()
}


class GeoJSONResponse(JSONResponse):
    """A JSON response with the GeoJSON media type (RFC 7946)."""

    media_type = "application/geo+json"


class Health(BaseModel):
    """Service status."""

    status: str
    version: str
    networks_loaded: list[str]
    attribution: str


class LayerInfo(BaseModel):
    """One registered layer."""

    id: str
    title: str
    kind: str = Field(description="vector, raster or network")
    geometry_type: str
    file: str
    crs: str
    attribution: str
    description: str
    style: dict[str, Any]
    href: str = Field(description="Where to get the data.")


class SiteProperties(BaseModel):
    """The facts of a site."""

    id: str
    parent: str | None
    group: str
    kind: str
    name_zh: str
    name_en: str
    event_tiers: str | None
    centre_lon: float
    centre_lat: float
    centre_source: str
    osm_ref: str | None
    boundary_source: str
    uncertainty_m: float | None
    area_km2: float


SiteFeature = Feature[Polygon | MultiPolygon, SiteProperties]
SiteCollection = FeatureCollection[SiteFeature]


class AccessInfo(BaseModel):
    """How a site meets a road network of one mode."""

    mode: str
    covered: bool
    network: str | None = None
    access_lon: float | None = None
    access_lat: float | None = None
    boundary_gap_m: float | None = Field(None, description="Distance from the boundary to the access road.")
    message: str | None = Field(None, description="Why the site is not covered, and what to do.")
    walkable_km_per_km2: float | None = Field(
        None, description="Walk mode: km of walkable way per km² more than 50 m inside the boundary"
    )
    walking_inside_modelled: bool | None = Field(
        None, description="Walk mode: false when the network has almost no way inside the site (no footpaths)"
    )
    note: str | None = Field(None, description="What the figures of this mode cannot be trusted for")


class SiteDetail(BaseModel):
    """A site with its sub-sites and its access to the road networks."""

    site: SiteFeature
    sub_sites: SiteCollection
    access: list[AccessInfo]
    map: str


# -- shared by several routers: places, endpoints, closure plans ------------------------------

IMPACT_ATTRIBUTION = OSM_AND_POPULATION
ModeT = Literal["drive", "walk"]
AnyModeT = Literal["drive", "walk", "transit"]  # where public transport is offered too
Departure = Annotated[
    str, Field(max_length=8, description="mode=transit: the first departure of the window, HH:MM (default 08:00)")
]
WindowMin = Annotated[int, Field(ge=1, le=180, description="mode=transit: the departure window, minutes (1-180)")]
MetricT = Literal["fastest", "shortest"]


class LonLat(RequestModel):
    """A WGS84 point."""

    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


class SiteRef(RequestModel):
    """A site of the catalogue, by id or name."""

    site: str = Field(min_length=1, max_length=100)


PlaceIn = (
    LonLat
    | SiteRef
    | Annotated[list[float], Field(min_length=2, max_length=2)]
    | Annotated[str, Field(min_length=1, max_length=200)]
)


class Endpoint(BaseModel):
    """Where a requested place meets the network."""

    input: str
    site_id: str | None
    lon: float = Field(description="Snapped (or access) point, WGS84")
    lat: float
    snap_distance_m: float


Name = Annotated[str, Field(min_length=1, max_length=200)]


# The CRS a request's polygons are drawn in (stored as WGS84 after transforming them).
InputCrs = Annotated[
    str | None,
    Field(
        max_length=80,
        description="The CRS of this request's polygon coordinates, x first (longitude or easting): CRS84 (default), "
        "EPSG:4490 (CGCS2000), EPSG:4548 (CGCS2000 / 3-degree Gauss-Kruger CM 117E) or EPSG:32650 (UTM 50N). "
        "Coordinates that do not fit it are refused.",
        examples=["EPSG:4548"],
    ),
]


def to_place(p: PlaceIn) -> Place:
    """Convert an API place into the service's form."""
    if isinstance(p, LonLat):
        return (p.lon, p.lat)
    if isinstance(p, SiteRef):
        return p.site
    if isinstance(p, list):
        return (float(p[0]), float(p[1]))
    parts = p.split(",")
    if len(parts) == 2:
        try:
            return (float(parts[0]), float(parts[1]))
        except ValueError:
            pass
    return p.strip()


class ConvoyIn(RequestModel):
    """The convoy (defaults: the reported practice, see the manual, Motorcades)."""

    vehicles: int = Field(CONVOY_VEHICLES, ge=1, le=500, description="Vehicles (passage: 1.76 s per vehicle)")
    speed_kph: float | None = Field(
        None, ge=5, le=150, allow_inf_nan=False, description="A steady speed (default: the roads' own speeds)"
    )


class HoldIn(RequestModel):
    """The margins of each crossing's hold around the convoy's passage (default 0: held only while it passes)."""

    before_s: float = Field(0.0, ge=0, le=MAX_HOLD_S, allow_inf_nan=False)
    after_s: float = Field(0.0, ge=0, le=MAX_HOLD_S, allow_inf_nan=False)


class TripIn(RequestModel):
    """One convoy's trip."""

    origin: PlaceIn = Field(description="[lon, lat], {lon, lat}, {site}, 'lon,lat' or a site id/name")
    destination: PlaceIn
    depart_at: str | None = Field(None, max_length=40, description="'HH:MM[:SS]' or an ISO 8601 date-time")
    arrive_by: str | None = Field(None, max_length=40, description="'HH:MM[:SS]' or an ISO 8601 date-time")
    convoy: ConvoyIn = Field(default_factory=ConvoyIn)
    hold: HoldIn = Field(default_factory=HoldIn)
    avoid_areas: list[dict[str, Any]] = Field(
        default_factory=list, max_length=20, description="GeoJSON Polygon, MultiPolygon or Feature the convoy avoids"
    )
    crs: InputCrs = None
    wide_roads_weight: float = Field(
        0.0, ge=0, le=10, allow_inf_nan=False, description="Extra share of time charged off expressways and trunk roads"
    )
    max_extra_minutes: float = Field(
        DEFAULT_MAX_EXTRA_S / 60,
        ge=0,
        le=240,
        allow_inf_nan=False,
        description="Recommendation: extra convoy time allowed",
    )


class ProgrammeTripIn(TripIn):
    """One convoy of a programme and which of its candidates it takes."""

    choose: Literal["recommended", "fastest", "cheapest"] | Annotated[int, Field(ge=0, le=50)] = "recommended"


def motorcade_trips(items: Sequence[TripIn], travel: TravelModel, prefix: str) -> list[Motorcade]:
    """Return the trips, their times on one clock (seconds from the first date given, or of a typical day).

    ``prefix`` names the list in errors (``convoys[2].depart_at``); empty for a single trip.
    """
    parsed = []
    for i, t in enumerate(items):
        label = f"{prefix}[{i}]." if prefix else ""
        dep = parse_instant(t.depart_at, f"{label}depart_at") if t.depart_at is not None else None
        arr = parse_instant(t.arrive_by, f"{label}arrive_by") if t.arrive_by is not None else None
        if dep is None and arr is None:
            raise InvalidInputError(f"`{label}depart_at`: give `depart_at` or `arrive_by`.")
        parsed.append((dep, arr))
    dates = {x[0] for pair in parsed for x in pair if x is not None}
    if len(dates) > 1 and None in dates:
        raise InvalidInputError("give every time as a clock time or every one as an ISO date-time, not both.")
    day0 = min((d for d in dates if d is not None), default=None)

    def on_clock(x: tuple[dt.date | None, int] | None) -> float | None:
        if x is None:
            return None
        return float(x[1] + ((x[0] - day0).days * DAY_S if x[0] is not None and day0 is not None else 0))

    out = []
    for i, (t, (dep, arr)) in enumerate(zip(items, parsed, strict=True)):
        label = f"{prefix}[{i}]." if prefix else ""
        d, a = on_clock(dep), on_clock(arr)
        if d is not None and a is not None and a <= d:
            raise InvalidInputError(
                f"`{label}arrive_by` ({t.arrive_by}) is not after `{label}depart_at` ({t.depart_at})."
            )
        epsg = None if t.crs is None else parse_crs(t.crs, label=f"{label}crs")
        areas = tuple(parse_polygon(x, label=f"{label}avoid_areas[{j}]", crs=epsg) for j, x in enumerate(t.avoid_areas))
        convoy = Convoy(t.convoy.vehicles, t.convoy.speed_kph, t.hold.before_s, t.hold.after_s)
        out.append(
            Motorcade(
                to_place(t.origin),
                to_place(t.destination),
                depart_s=d,
                arrive_by_s=a,
                convoy=convoy,
                avoid=Closures(areas=areas),
                wide_weight=t.wide_roads_weight,
                max_extra_s=t.max_extra_minutes * 60.0,
                travel=travel,
                label=f"convoy {i + 1}",
            )
        )
    return out


class WindowIn(RequestModel):
    """When closures are in force: local clock times ``HH:MM`` (``24:00`` ends the day) or ISO 8601 date-times."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"start": "07:30", "end": "09:00"}]})

    start: str = Field(max_length=40, description="'HH:MM' local time, or an ISO 8601 date-time")
    end: str = Field(max_length=40, description="'HH:MM' (24:00 allowed), or an ISO 8601 date-time; after start")

    def parse(self, label: str) -> ClockWindow:
        """Return the checked window (`geo.eventtime.parse_window`)."""
        return parse_window({"start": self.start, "end": self.end}, label)


class StreetClosure(RequestModel):
    """A street closed for its own window."""

    name: Name
    window: WindowIn | None = Field(None, description="Its own window (default: the plan's)")


class EntranceClosure(RequestModel):
    """A subway entrance or station shut for its own window."""

    name: Name
    window: WindowIn | None = Field(None, description="Its own window (default: the plan's)")


def _windows(items: list[Any], label: str) -> tuple[ClockWindow | None, ...]:
    """Return each item's own window (None: the plan's)."""
    return tuple(
        None if isinstance(x, str) or x.window is None else x.window.parse(f"{label}[{i}].window")
        for i, x in enumerate(items)
    )


def _area_window(area: dict[str, Any], i: int) -> ClockWindow | None:
    """Return a Feature area's own window (``properties.window``), or None."""
    props = area.get("properties") if area.get("type") == "Feature" else None
    if not isinstance(props, dict) or props.get("window") is None:
        return None
    return parse_window(props["window"], f"areas[{i}].properties.window")


class PlanIn(RequestModel):
    """A closure plan: streets by name, areas, subway entrances or stations shut, the sites it serves, and when."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "Chang'an Avenue", "streets": ["东长安街", "西长安街"]},
                {
                    "name": "Chang'an Avenue, morning",
                    "window": {"start": "07:30", "end": "09:00"},
                    "streets": ["东长安街", {"name": "西长安街", "window": {"start": "08:00", "end": "08:30"}}],
                },
            ]
        }
    )

    name: str = Field("", max_length=200, description="A label for the plan")
    window: WindowIn | None = Field(
        None, description="When the closures without their own window are in force (default: the whole day)"
    )
    streets: list[Name | StreetClosure] = Field(
        default_factory=list, max_length=50, description="Street names, as in routes; or {name, window}"
    )
    areas: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=20,
        description="GeoJSON Polygon, MultiPolygon or Feature (WGS84); a Feature may carry properties.window",
    )
    entrances: list[Name | EntranceClosure] = Field(
        default_factory=list,
        max_length=LIMITS.max_plan_entrances,
        description="Subway entrances shut: an entrance name ('天安门东 A出口'), its OSM id ('n123...') or a "
        "station name (all its entrances), or {name, window}; entrances inside a closed area are shut with it",
    )
    sites: list[Name] = Field(default_factory=list, max_length=25, description="The sites the plan serves (ids)")
    motorcades: list[ProgrammeTripIn] = Field(
        default_factory=list,
        max_length=MAX_CONVOYS,
        description="A motorcade programme: convoys whose rolling closures the plan holds (as in "
        "POST /motorcades/programme); evaluated together, overlapping holds merged",
    )
    crs: InputCrs = None

    @classmethod
    def from_saved(cls, body: dict[str, Any]) -> PlanIn:
        """Return a saved version's plan (what was derived when it was saved, such as its schedule, left out)."""
        return cls.model_validate({k: v for k, v in body.items() if k not in DERIVED_KEYS and v is not None})

    def to_plan(self) -> ClosurePlan:
        """Validate the geometry (transformed from ``crs`` to WGS84) and the windows, and convert."""
        epsg = None if self.crs is None else parse_crs(self.crs)
        areas = tuple(parse_polygon(a, label=f"areas[{i}]", crs=epsg) for i, a in enumerate(self.areas))
        streets = tuple(s if isinstance(s, str) else s.name for s in self.streets)
        entrances = tuple(e if isinstance(e, str) else e.name for e in self.entrances)
        return ClosurePlan(
            self.name,
            Closures(streets, areas),
            entrances,
            tuple(self.sites),
            window=None if self.window is None else self.window.parse("window"),
            street_windows=_windows(self.streets, "streets"),
            area_windows=tuple(_area_window(a, i) for i, a in enumerate(self.areas)),
            entrance_windows=_windows(self.entrances, "entrances"),
            motorcades=tuple(motorcade_trips(self.motorcades, TravelModel(), "motorcades")),
            motorcade_choices=tuple(t.choose for t in self.motorcades),
        )


ModeName = Literal["car", "bus", "subway", "bike", "walk"]


class TravelIn(RequestModel):
    """Who travels: mode shares, the hourly profile, trips per resident (defaults and their sources: the manual, Event closures)."""

    modes: dict[ModeName, Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]] | None = Field(
        None,
        description="Share of trips by mode, summing to 1 (default: Beijing's central city, 2019: car 0.259, "
        "bus 0.153, subway 0.165, bike 0.121, walk 0.302)",
    )
    profile: (
        Literal["diurnal", "flat"]
        | Annotated[
            list[Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)]], Field(min_length=24, max_length=24)
        ]
    ) = Field(
        "diurnal",
        description="When trips leave: 'diurnal' (FHWA NT-3, 2001 NHTS), 'flat' (every hour alike), "
        "or 24 weights of your own (hour 0 first; local counts)",
    )
    trips_per_person: float | None = Field(
        None,
        gt=0,
        le=20,
        allow_inf_nan=False,
        description="Trips per resident per day (default: derived, see the manual, Event closures)",
    )

    def travel(self, mode: str | None = None) -> TravelModel:
        """Return the travel model (``mode``: the old single-mode choice, 'drive' or 'walk')."""
        if mode is not None and self.modes is not None:
            raise InvalidInputError("give `modes` or the older `mode`, not both.")
        shares: dict[str, float] | None = {str(k): v for k, v in self.modes.items()} if self.modes is not None else None
        if mode is not None:
            shares = {"car" if mode == "drive" else "walk": 1.0}
        profile = self.profile if isinstance(self.profile, str) else tuple(self.profile)
        travel = TravelModel(
            check_shares(shares) if shares is not None else dict(MODE_SHARES), profile, self.trips_per_person
        )
        travel.hourly()  # checks own weights (not all zero)
        return travel


class PairOut(BaseModel):
    """One of the most delayed origin-destination pairs, with its routes."""

    origin: str
    destination: str
    trips_per_day: float
    before_s: float
    after_s: float
    delay_s: float
    before: list[tuple[float, float]] = Field(description="Route before the closures, lon/lat")
    after: list[tuple[float, float]] = Field(description="Route under the closures, lon/lat")


StreetQ = Annotated[
    list[str] | None, Query(description="Street names to close (repeatable, at most 50)", max_length=50)
]
EntranceQ = Annotated[
    list[str] | None,
    Query(
        description=f"Subway entrances or stations to close (repeatable, at most {LIMITS.max_plan_entrances})",
        max_length=LIMITS.max_plan_entrances,
    ),
]


# -- footprints and proposals ------------------------------------------------------------------

FOOTPRINT_ATTRIBUTION = f"{OSM_CREDIT}; heritage buildings OSM; population WorldPop (CC BY 4.0); elevation SRTM (NASA)"
GeoJSONGeometry = dict[str, Any]
# The footprint of the request examples (OpenAPI, /docs): east of the Wanping museum.
EXAMPLE_FOOTPRINT: dict[str, Any] = {
    "type": "Polygon",
    "coordinates": [
        [[116.2264, 39.8484], [116.2284, 39.8484], [116.2284, 39.8499], [116.2264, 39.8499], [116.2264, 39.8484]]
    ],
}


class FootprintIn(RequestModel):
    """A proposed footprint and what it is for."""

    footprint: GeoJSONGeometry = Field(
        description="GeoJSON Polygon or MultiPolygon (or a Feature), WGS84 lon/lat unless `crs` says otherwise"
    )
    crs: InputCrs = None
    use: str | None = Field(None, max_length=LIMITS.max_use_chars, description="e.g. museum extension, parking, hall")
    floors: int | None = Field(None, ge=FLOORS_RANGE[0], le=FLOORS_RANGE[1])
    height_m: float | None = Field(None, ge=HEIGHT_RANGE_M[0], le=HEIGHT_RANGE_M[1])
    underground: bool = False


# -- routes ------------------------------------------------------------------------


class Street(BaseModel):
    """A street used by a route: consecutive stretches of one street merged."""

    name: str = Field(description="The OSM name; empty for an unnamed road")
    road_class: str = Field(description="OSM highway class of the longest stretch")
    label: str = Field(description="The name, or 'unnamed <class>'")
    length_m: float
    travel_time_s: float


class AccessLegOut(BaseModel):
    """The straight stretch between a place and the road where the route starts or ends."""

    end: str = Field(description="origin or destination")
    distance_m: float
    travel_time_s: float | None = Field(description="Walking time (walk routes, counted in the totals); null for drive")
    coordinates: list[tuple[float, float]] = Field(description="From the place to the road (origin) or back")


class NetworkLegOut(BaseModel):
    """A stretch of a route on one network."""

    network: str = Field(description="The detailed network's name, or 'regional skeleton (major roads)'")
    regional: bool = Field(description="True on the coarse regional skeleton")
    length_m: float
    travel_time_s: float
    precision: str | None = Field(
        description="How far the regional skeleton's figures can be trusted; null on detailed roads"
    )


class RouteProperties(BaseModel):
    """Figures of one route."""

    rank: int
    mode: str
    metric: str
    network: str
    travel_time_s: float = Field(description="Total; for walking it includes the access legs")
    length_m: float = Field(description="Total; for walking it includes the access legs")
    network_travel_time_s: float = Field(description="On the road network only")
    network_length_m: float = Field(description="On the road network only")
    overlap_with_best: float = Field(description="Share of this route's length shared with the best route")
    streets: list[Street]
    network_legs: list[NetworkLegOut] = Field(
        description="The route's stretches per network, in order: detailed roads, or the coarse regional skeleton"
    )
    origin: Endpoint
    destination: Endpoint
    access: list[AccessLegOut] = Field(description="Each end's straight stretch to the road (drawn dashed on maps)")
    warnings: list[str] = Field(default_factory=list, description="What this answer cannot be trusted for")


RouteFeature = Feature[LineString, RouteProperties]


class RouteCollection(FeatureCollection[RouteFeature]):
    """Routes, best first."""

    attribution: str = OSM_CREDIT
