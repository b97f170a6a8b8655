"""Routes, travel-time matrices and itineraries."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple

import numpy as np
import orjson
import shapely
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from geojson_pydantic import FeatureCollection
from pydantic import BaseModel, ConfigDict, Field

from api.compute import bounded
from api.context import RoutingDep, TransitDep
from api.convert import endpoint, endpoint_data, to_place
from api.downloads import FORMAT_DOC, CrsQ, FormatQ, download_crs, plain_geojson, vector_response
from api.schemas import (
    AnyModeT,
    Departure,
    Endpoint,
    GeoJSONResponse,
    InputCrs,
    MetricT,
    ModeT,
    PlaceIn,
    RequestModel,
    RouteCollection,
    RouteFeature,
    WindowMin,
)
from api.transit import (
    MODELLED,
    PARKS,
    TransitRouteCollection,
    check_transit_options,
    compute_transit_route,
    transit_response,
)
from geo.crs import parse_crs
from geo.errors import InvalidInputError
from geo.limits import LIMITS
from geo.routing import Route
from layers.credits import OSM_CREDIT
from layers.routing import (
    AccessLeg,
    Closures,
    NetworkLeg,
    ResolvedPlace,
    overlap_with_best,
    parse_polygon,
)
from layers.transit import Window

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from layers.routing import RoutingService
    from layers.transit import TransitService

router = APIRouter(tags=["routes"])


class ClosuresIn(RequestModel):
    """Event closures: streets by name and avoid-areas as GeoJSON polygons."""

    streets: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(default_factory=list, max_length=50)
    areas: list[dict[str, Any]] = Field(
        default_factory=list, max_length=20, description="GeoJSON Polygon, MultiPolygon or Feature"
    )
    stations: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list,
        max_length=50,
        description="mode=transit: subway stations shut (trains pass them; nobody boards or alights)",
    )
    crs: InputCrs = None

    def to_closures(self) -> Closures:
        """Validate (the areas transformed from ``crs`` to WGS84) and convert."""
        epsg = None if self.crs is None else parse_crs(self.crs, label="closures.crs")
        return Closures(
            streets=tuple(self.streets),
            areas=tuple(parse_polygon(a, label=f"closures.areas[{i}]", crs=epsg) for i, a in enumerate(self.areas)),
        )


class RouteRequest(RequestModel):
    """A route between two places."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"origin": "capital-airport", "destination": "forbidden-city", "alternatives": 2}]
        }
    )

    origin: PlaceIn = Field(description="[lon, lat], {lon, lat}, {site}, 'lon,lat' or a site id/name")
    destination: PlaceIn
    mode: AnyModeT = "drive"
    metric: MetricT = "fastest"
    alternatives: int = Field(1, ge=1, le=5, description="How many routes: the best, then different ones")
    closures: ClosuresIn | None = None
    max_snap_m: float = Field(500.0, gt=0, le=2000, description="Farthest a point may be from the network")
    departure: Departure = "08:00"
    window_min: WindowMin = 60


class MatrixRequest(RequestModel):
    """Many-to-many travel costs."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "origins": ["capital-airport", "beijing-south-station"],
                    "destinations": ["forbidden-city", "summer-palace"],
                }
            ]
        }
    )

    origins: list[PlaceIn] = Field(min_length=1, max_length=LIMITS.max_matrix_cells)
    destinations: list[PlaceIn] = Field(min_length=1, max_length=LIMITS.max_matrix_cells)
    mode: AnyModeT = "drive"
    metric: MetricT = "fastest"
    max_snap_m: float = Field(500.0, gt=0, le=2000)
    departure: Departure = "08:00"
    window_min: WindowMin = 60


class Unresolved(BaseModel):
    """A place of a matrix that no loaded network covers: its row or column is null."""

    side: Literal["origins", "destinations"]
    index: int
    message: str


class MatrixResponse(BaseModel):
    """Costs from every origin (rows) to every destination (columns); null = unreachable or uncovered."""

    mode: str
    metric: str
    unit: str
    network: str
    origins: list[Endpoint | None] = Field(description="Where each origin meets the network; null when uncovered")
    destinations: list[Endpoint | None]
    values: list[list[float | None]]
    unresolved: list[Unresolved] = Field(
        default_factory=list, description="Places outside the network (their cells are null), with why"
    )
    warnings: list[str] = Field(default_factory=list, description="What these figures cannot be trusted for")
    values_p90: list[list[float | None]] | None = Field(
        None, description="mode=transit: the 90th percentile times over the window (values: the median)"
    )
    departure_window: str | None = Field(None, description="mode=transit: HH:MM-HH:MM")
    attribution: str = OSM_CREDIT


def transit_matrix(transit: TransitService, req: MatrixRequest) -> MatrixResponse:
    """Run a ``mode=transit`` matrix request."""
    check_transit_options(req.mode, req.metric)
    window = Window.parse(req.departure, req.window_min)
    m = transit.matrix([to_place(p) for p in req.origins], [to_place(p) for p in req.destinations], window=window)
    return MatrixResponse(
        mode="transit",
        metric="fastest",
        unit="s",
        network=m.network.name,
        origins=[None if p is None else endpoint(p) for p in m.origins],
        destinations=[None if p is None else endpoint(p) for p in m.destinations],
        values=[[_cell(v) for v in row] for row in m.seconds[50]],
        values_p90=[[_cell(v) for v in row] for row in m.seconds[90]],
        unresolved=[Unresolved(side=s, index=i, message=msg) for s, i, msg in m.unresolved],
        departure_window=window.label(),
        warnings=[MODELLED, PARKS],
    )


class ItineraryRequest(RequestModel):
    """A trip through ordered stops."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"stops": ["capital-airport", "olympic-green", "temple-of-heaven", "forbidden-city"], "optimize": True}
            ]
        }
    )

    stops: list[PlaceIn] = Field(min_length=2, max_length=LIMITS.max_stops)
    mode: ModeT = "drive"
    metric: MetricT = "fastest"
    optimize: bool = Field(False, description="Reorder the intermediate stops (at most 10) for the least total cost")
    closures: ClosuresIn | None = None
    max_snap_m: float = Field(500.0, gt=0, le=2000)


class ItinerarySummary(BaseModel):
    """Totals and order of an itinerary."""

    order: list[int] = Field(description="Indices of the requested stops in visiting order")
    stops: list[Endpoint]
    travel_time_s: float
    length_m: float
    given_order_cost: float | None = Field(None, description="Cost of the requested order, when optimize is set")


class ItineraryResponse(FeatureCollection[RouteFeature]):
    """One feature per leg, in visiting order."""

    summary: ItinerarySummary
    attribution: str = OSM_CREDIT


def _line(coords: NDArray[np.float64]) -> dict[str, Any]:
    """Return a route's line as GeoJSON, coordinates to 7 decimals (about 1 cm)."""
    return {"type": "LineString", "coordinates": np.round(np.asarray(coords, dtype=float), 7).tolist()}


class RouteNotes(NamedTuple):
    """What a route answer says besides the route: its resolved ends, access legs, warnings, networks."""

    a: ResolvedPlace
    b: ResolvedPlace
    legs: tuple[AccessLeg, AccessLeg]
    warnings: list[str]
    by_network: list[NetworkLeg]


def route_feature(
    route: Route, rank: int, overlap: float, notes: RouteNotes, *, mode: str, network: str
) -> dict[str, Any]:
    """Return a route as a GeoJSON Feature (a `RouteFeature`, as plain JSON data), with its access legs and warnings.

    Plain data rather than models: a route answer is written straight to JSON (`route_json`),
    which is a quarter of the time the models took to build and serialise (the tests check
    every answer against the models).
    """
    a, b, legs, warnings, by_network = notes
    extra_t = sum(leg.travel_time_s or 0.0 for leg in legs)
    extra_m = sum(leg.distance_m for leg in legs if leg.travel_time_s is not None)
    return {
        "type": "Feature",
        "geometry": _line(route.coords),
        "properties": {
            "rank": rank,
            "mode": mode,
            "metric": route.metric,
            "network": network,
            "travel_time_s": round(route.travel_time_s + extra_t, 3),
            "length_m": round(route.length_m + extra_m, 2),
            "network_travel_time_s": round(route.travel_time_s, 3),
            "network_length_m": round(route.length_m, 2),
            "overlap_with_best": round(overlap, 4),
            "streets": [
                {
                    "name": s.name,
                    "road_class": s.road_class,
                    "label": s.label,
                    "length_m": round(s.length_m, 1),
                    "travel_time_s": round(s.travel_time_s, 1),
                }
                for s in route.streets
            ],
            "network_legs": [
                {
                    "network": n.network,
                    "regional": n.regional,
                    "length_m": round(n.length_m, 1),
                    "travel_time_s": round(n.travel_time_s, 1),
                    "precision": n.precision,
                }
                for n in by_network
            ],
            "origin": endpoint_data(a),
            "destination": endpoint_data(b),
            "access": [
                {
                    "end": leg.end,
                    "distance_m": round(leg.distance_m, 1),
                    "travel_time_s": None if leg.travel_time_s is None else round(leg.travel_time_s, 1),
                    "coordinates": [[round(x, 7), round(y, 7)] for x, y in leg.coords],
                }
                for leg in legs
            ],
            "warnings": list(warnings),
        },
    }


def compute_routes(routing: RoutingService, req: RouteRequest) -> dict[str, Any]:
    """Run a route request; return the `RouteCollection` as plain JSON data."""
    if req.closures and req.closures.stations:
        raise InvalidInputError("`closures.stations` apply to mode transit; road routes take streets and areas.")
    closures = req.closures.to_closures() if req.closures else None
    routes, a, b = routing.routes(
        to_place(req.origin),
        to_place(req.destination),
        mode=req.mode,
        metric=req.metric,
        alternatives=req.alternatives,
        closures=closures,
        max_snap_m=req.max_snap_m,
    )
    overlaps = overlap_with_best(routes)
    feats = []
    for i, r in enumerate(routes):
        by_network = routing.network_legs(r, a.network)
        legs, warnings = routing.route_notes(r, a, b, mode=req.mode, by_network=by_network)
        notes = RouteNotes(a, b, legs, warnings, by_network)
        feats.append(route_feature(r, i, overlaps[i], notes, mode=req.mode, network=a.network.name))
    return {"type": "FeatureCollection", "features": feats, "attribution": OSM_CREDIT}


def route_json(body: dict[str, Any], fmt: str, layer: str, crs: int | None = None) -> Response:
    """Return a route answer (plain JSON data, see `route_feature`) as GeoJSON, or as a download in ``crs``."""
    if plain_geojson(fmt, crs):
        return Response(orjson.dumps(body), media_type="application/geo+json")
    return as_download(body, fmt, layer, crs)


def as_download(
    body: FeatureCollection[Any] | dict[str, Any], fmt: str, layer: str, crs: int | None = None
) -> Response:
    """Return a route collection (a model, or its plain JSON data) as a GeoPackage (nested properties as JSON text)."""
    data = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    feats = [(shapely.geometry.shape(f["geometry"]), f["properties"]) for f in data["features"]]
    return vector_response(feats, data, fmt=fmt, layer=layer, attribution=OSM_CREDIT, crs=crs)


def transit_routes(transit: TransitService, req: RouteRequest, fmt: str, crs: int | None = None) -> Response:
    """Run a ``mode=transit`` route request."""
    check_transit_options(req.mode, req.metric, req.alternatives)
    if req.closures and (req.closures.streets or req.closures.areas):
        raise InvalidInputError(
            "mode transit takes `closures.stations`; street and area closures apply to road routes."
        )
    body = compute_transit_route(
        transit,
        req.origin,
        req.destination,
        window=Window.parse(req.departure, req.window_min),
        stations_closed=req.closures.stations if req.closures else None,
    )
    return transit_response(body, fmt, crs)


@router.post(
    "/routes",
    response_model=RouteCollection | TransitRouteCollection,
    response_class=GeoJSONResponse,
    responses=FORMAT_DOC,
    operation_id="post_routes",
)
@bounded(media_type="application/geo+json")
def post_routes(
    req: RouteRequest, routing: RoutingDep, transit: TransitDep, format: FormatQ = "geojson", crs: CrsQ = None
) -> RouteCollection | Response:
    """Return the best route between two places, and alternatives, honouring closures.

    ``mode=transit``: walking and the subway over a departure window (the median and 90th
    percentile door-to-door times, and the legs with every wait half a headway).
    """
    return _routes_answer(routing, transit, req, format, crs)


def _routes_answer(
    routing: RoutingService, transit: TransitService, req: RouteRequest, fmt: str, crs: str | None
) -> Response:
    """Answer a route request (road or transit) in the format and CRS asked for (GET and POST share it)."""
    epsg = download_crs(crs)
    if req.mode == "transit":
        return transit_routes(transit, req, fmt, epsg)
    return route_json(compute_routes(routing, req), fmt, "routes", epsg)


def route_query(
    origin: Annotated[
        str, Query(description="'lon,lat' or a site id/name", max_length=200, examples=["capital-airport"])
    ],
    destination: Annotated[
        str, Query(description="'lon,lat' or a site id/name", max_length=200, examples=["forbidden-city"])
    ],
    mode: AnyModeT = "drive",
    metric: MetricT = "fastest",
    alternatives: Annotated[int, Query(ge=1, le=5)] = 1,
    close_street: Annotated[
        list[str] | None, Query(description="Street names to close (repeatable, at most 50)", max_length=50)
    ] = None,
    departure: Annotated[str, Query(max_length=8, description="mode=transit: first departure, HH:MM")] = "08:00",
    window_min: Annotated[int, Query(ge=1, le=180, description="mode=transit: the window, minutes")] = 60,
) -> RouteRequest:
    """Return the route request a GET query names (a dependency)."""
    return RouteRequest(
        origin=origin,
        destination=destination,
        mode=mode,
        metric=metric,
        alternatives=alternatives,
        closures=ClosuresIn(streets=close_street or []),
        departure=departure,
        window_min=window_min,
    )


@router.get(
    "/routes",
    response_model=RouteCollection | TransitRouteCollection,
    response_class=GeoJSONResponse,
    responses=FORMAT_DOC,
    operation_id="get_routes",
)
@bounded(media_type="application/geo+json")
def get_routes(
    routing: RoutingDep,
    transit: TransitDep,
    req: Annotated[RouteRequest, Depends(route_query)],
    format: FormatQ = "geojson",
    crs: CrsQ = None,
) -> RouteCollection | Response:
    """Return routes for simple cases (POST /routes takes avoid-areas too)."""
    return _routes_answer(routing, transit, req, format, crs)


def _cell(v: float) -> float | None:
    return None if not math.isfinite(v) else round(float(v), 3)


@router.post("/routes/matrix", response_model=MatrixResponse, operation_id="post_matrix")
@bounded()
def post_matrix(req: MatrixRequest, routing: RoutingDep, transit: TransitDep) -> MatrixResponse:
    """Return travel times (fastest) or distances (shortest) from every origin to every destination.

    ``mode=transit``: the median door-to-door time by walking and the subway over the
    departure window in ``values``, the 90th percentile in ``values_p90``.
    """
    if req.mode == "transit":
        return transit_matrix(transit, req)
    out = routing.partial_matrix(
        [to_place(p) for p in req.origins],
        [to_place(p) for p in req.destinations],
        mode=req.mode,
        metric=req.metric,
        max_snap_m=req.max_snap_m,
    )
    return MatrixResponse(
        mode=req.mode,
        metric=req.metric,
        unit="s" if req.metric == "fastest" else "m",
        network=out.network.name,
        origins=[None if p is None else endpoint(p) for p in out.origins],
        destinations=[None if p is None else endpoint(p) for p in out.destinations],
        values=[[_cell(v) for v in row] for row in out.costs],
        unresolved=[Unresolved(side=s, index=i, message=m) for s, i, m in out.unresolved],
        warnings=routing.precision_warnings(out.network),
    )


@router.post(
    "/itineraries",
    response_model=ItineraryResponse,
    response_class=GeoJSONResponse,
    responses=FORMAT_DOC,
    operation_id="post_itinerary",
)
@bounded(media_type="application/geo+json")
def post_itinerary(
    req: ItineraryRequest, routing: RoutingDep, format: FormatQ = "geojson", crs: CrsQ = None
) -> ItineraryResponse | Response:
    """Return the legs of a trip through ordered stops (airport → hotel → venue → banquet)."""
    epsg = download_crs(crs)
    closures = req.closures.to_closures() if req.closures else None
    out = routing.itinerary(
        [to_place(p) for p in req.stops],
        mode=req.mode,
        metric=req.metric,
        optimize=req.optimize,
        closures=closures,
        max_snap_m=req.max_snap_m,
    )
    places, order, legs = out.places, out.order, out.legs
    feats = []
    for i, leg in enumerate(legs):
        a, b = places[order[i]], places[order[i + 1]]
        access, warnings = routing.route_notes(leg, a, b, mode=req.mode)
        by_network = routing.network_legs(leg, out.network)
        notes = RouteNotes(a, b, access, warnings, by_network)
        feats.append(route_feature(leg, i, 0.0, notes, mode=req.mode, network=out.network.name))
    summary = ItinerarySummary(
        order=order,
        stops=[endpoint(places[i]) for i in order],
        travel_time_s=round(sum(f["properties"]["travel_time_s"] for f in feats), 3),
        length_m=round(sum(f["properties"]["length_m"] for f in feats), 2),
        given_order_cost=None if out.given_order_cost is None else round(out.given_order_cost, 3),
    )
    body = ItineraryResponse.model_validate({"type": "FeatureCollection", "features": feats, "summary": summary})
    if plain_geojson(format, epsg):
        return body
    return as_download(body, format, "itinerary", epsg)
