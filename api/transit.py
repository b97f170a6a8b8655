"""Public transport answers shared by the routers: the transit route's models, its computation and its warnings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import orjson
import shapely
from fastapi.responses import Response
from geojson_pydantic import Feature, FeatureCollection, LineString
from pydantic import BaseModel, Field

from api.convert import endpoint_data, to_place
from api.downloads import plain_geojson, vector_response
from api.schemas import Endpoint, PlaceIn
from geo.errors import InvalidInputError, NoRouteError
from layers.credits import OSM_CREDIT
from layers.transit import TransitService, Window

if TYPE_CHECKING:
    from layers.transit import TransitAnswer

MODELLED = (
    "Subway times are modelled from station spacing, operating speeds and headways (seeds/subway_gtfs/), "
    "not timetabled."
)
PARKS = "Walking inside parks is not modelled: the 2013 roads have no footpaths."


class TransitLegProperties(BaseModel):
    """One leg of a transit journey (with the mean wait: half a headway)."""

    kind: Literal["walk", "ride"]
    seq: int
    from_name: str = Field(description="Where the leg starts: the origin, an entrance or a station")
    to_name: str
    travel_time_s: float = Field(description="Walking, or riding (from boarding to alighting)")
    wait_s: float = Field(0.0, description="Waiting on the platform before a ride (half the headway)")
    transfer_s: float = Field(0.0, description="The minimum time to change lines before this ride")
    line: str | None = None
    line_name: str | None = None
    colour: str | None = Field(None, description="The line's official colour")
    headsign: str | None = None
    stops: int | None = Field(None, description="Stations ridden past, the alighting one included")
    board_time: str | None = Field(None, description="HH:MM:SS, the mean-wait journey leaving at the window's start")
    alight_time: str | None = None


TransitLegFeature = Feature[LineString, TransitLegProperties]


class TransitSummary(BaseModel):
    """A transit trip's door-to-door figures over the departure window."""

    mode: Literal["transit"] = "transit"
    origin: Endpoint
    destination: Endpoint
    departure_window: str = Field(description="HH:MM-HH:MM, one departure a minute")
    runs: int = Field(description="Departures x random phase draws the distribution is taken over")
    p50_s: float = Field(description="Median door-to-door time over the window's runs")
    p90_s: float = Field(description="90th percentile door-to-door time")
    mean_wait_s: float | None = Field(description="The legs' total, every wait half a headway (None: walk only)")
    walk_only_s: float | None = Field(description="Walking the whole way; chosen when it is faster")
    chosen: Literal["transit", "walk"]
    warnings: list[str]


class TransitRouteCollection(FeatureCollection[TransitLegFeature]):
    """The legs of a transit journey, in order, and the figures over the window."""

    summary: TransitSummary
    attribution: str = OSM_CREDIT


def _clock(s: float) -> str:
    s = round(s)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _xy(lon: float, lat: float) -> list[float]:
    return [round(float(lon), 7), round(float(lat), 7)]


def _walk_line(transit: TransitService, ans: TransitAnswer, station: int, *, egress: bool) -> list[list[float]]:
    """Return the walk between a place and a station's entrance: the network's route, else a straight line."""
    walk = ans.egress if egress else ans.access
    place = ans.destination if egress else ans.origin
    walks = transit.walks(place.network)
    e = int(walk.entrance[station])
    en = transit.entrances
    end = _xy(en["lon"].iloc[e], en["lat"].iloc[e])
    snap = walks.snaps[e]
    pts: list[list[float]] = []
    if snap is not None:
        try:
            a, b = (snap, place.snap) if egress else (place.snap, snap)
            pts = [_xy(x, y) for x, y in transit.routing.engine(place.network).route(a, b).coords]
        except NoRouteError:
            pts = []
    here = _xy(place.snap.lon, place.snap.lat)
    line = [end, *pts, here] if egress else [here, *pts, end]
    return line if len(line) >= 2 else [here, end]


def line_feature(coords: list[list[float]], props: dict[str, Any]) -> dict[str, Any]:
    """Return a GeoJSON LineString feature (a single point drawn as a zero-length line).

    Parameters
    ----------
    coords
        The line's ``[lon, lat]`` points.
    props
        Its properties.
    """
    if len(coords) < 2:
        coords = [coords[0], coords[0]]
    return {"type": "Feature", "geometry": {"type": "LineString", "coordinates": coords}, "properties": props}


def _warnings(transit: TransitService, ans: TransitAnswer) -> list[str]:
    out = [MODELLED, PARKS]
    j = ans.journey
    if j is None:
        return out
    tt = transit.engine.tt
    en = transit.entrances
    for s, walk in ((j.access_station, ans.access), (j.egress_station, ans.egress)):
        e = int(walk.entrance[s])
        if e >= 0 and bool(en["own_position"].iloc[e]):
            out.append(f"{tt.station_names[s]} has no entrance in the data; it is entered at its own position.")
    for r in j.rides:
        for s in (tt.pat_stops[r.board_pos], tt.pat_stops[r.alight_pos]):
            for gap in transit.missing_near.get(tt.station_names[s], []):
                out.append(
                    f"{gap['line']}: a station (code {gap['code']}) between {gap['after']} and {gap['before']} is "
                    "missing from the data; trains are modelled passing it without stopping."
                )
    return list(dict.fromkeys(out))


def transit_route_body(transit: TransitService, ans: TransitAnswer) -> dict[str, Any]:
    """Return a transit answer as the plain JSON data of a `TransitRouteCollection`.

    Parameters
    ----------
    transit
        The transit service.
    ans
        The answer of `layers.transit.TransitService.route`.
    """
    tt = transit.engine.tt
    j = ans.journey
    walk_faster = j is None or ans.walk_only_s <= ans.journey_total_s
    if walk_faster and ans.walk_route is None:
        raise NoRouteError(f"no walk or subway trip joins {ans.origin.label} and {ans.destination.label}.")
    feats: list[dict[str, Any]] = []
    a_name, b_name = ans.origin.label, ans.destination.label
    if walk_faster:
        assert ans.walk_route is not None
        coords = [_xy(x, y) for x, y in ans.walk_route.coords]
        feats.append(line_feature(coords, {"kind": "walk", "seq": 0, "from_name": a_name, "to_name": b_name,
                                       "travel_time_s": round(ans.walk_only_s, 1)}))  # fmt: skip
    else:
        assert j is not None
        en = transit.entrances
        s0 = j.access_station
        e0 = int(ans.access.entrance[s0])
        feats.append(line_feature(_walk_line(transit, ans, s0, egress=False), {
            "kind": "walk", "seq": 0, "from_name": a_name, "to_name": str(en["name"].iloc[e0]),
            "travel_time_s": round(float(ans.access.seconds[s0]), 1)}))  # fmt: skip
        ready = j.departure_s + float(ans.access.seconds[s0])
        for i, r in enumerate(j.rides):
            stations = transit.engine.stations_between(r)
            line = tt.pat_line[r.pattern]
            info = transit.routes.get(line, {"name": line, "colour": "#808080"})
            transfer = float(tt.transfer_s[stations[0]]) if i > 0 else 0.0
            feats.append(line_feature([_xy(tt.lon[s], tt.lat[s]) for s in stations], {
                "kind": "ride", "seq": i + 1, "from_name": tt.station_names[stations[0]],
                "to_name": tt.station_names[stations[-1]], "travel_time_s": round(r.alight_s - r.board_s, 1),
                "wait_s": round(r.board_s - ready - transfer, 1), "transfer_s": transfer, "line": line,
                "line_name": info["name"], "colour": info["colour"], "headsign": tt.pat_headsign[r.pattern],
                "stops": len(stations) - 1, "board_time": _clock(r.board_s), "alight_time": _clock(r.alight_s)}))  # fmt: skip
            ready = r.alight_s
        s1 = j.egress_station
        e1 = int(ans.egress.entrance[s1])
        feats.append(line_feature(_walk_line(transit, ans, s1, egress=True), {
            "kind": "walk", "seq": len(j.rides) + 1, "from_name": str(en["name"].iloc[e1]), "to_name": b_name,
            "travel_time_s": round(float(ans.egress.seconds[s1]), 1)}))  # fmt: skip
    for f in feats:
        f["properties"] = TransitLegProperties.model_validate(f["properties"]).model_dump(mode="json")
    summary = {
        "mode": "transit",
        "origin": endpoint_data(ans.origin),
        "destination": endpoint_data(ans.destination),
        "departure_window": ans.window.label(),
        "runs": len(ans.totals_s),
        "p50_s": round(ans.percentile(50), 1),
        "p90_s": round(ans.percentile(90), 1),
        "mean_wait_s": None if j is None or not np.isfinite(ans.journey_total_s) else round(ans.journey_total_s, 1),
        "walk_only_s": round(ans.walk_only_s, 1) if np.isfinite(ans.walk_only_s) else None,
        "chosen": "walk" if walk_faster else "transit",
        "warnings": _warnings(transit, ans),
    }
    return {"type": "FeatureCollection", "features": feats, "summary": summary, "attribution": OSM_CREDIT}


def compute_transit_route(
    transit: TransitService,
    origin: PlaceIn,
    destination: PlaceIn,
    *,
    window: Window,
    stations_closed: list[str] | None = None,
) -> dict[str, Any]:
    """Run a transit route request; return the `TransitRouteCollection` as plain JSON data.

    Parameters
    ----------
    transit
        The transit service.
    origin
        Where the trip starts.
    destination
        Where it ends.
    window
        The departure window.
    stations_closed
        Stations shut by an event (passed through), by name.
    """
    closed = transit.closed_stations(stations_closed or [])
    ans = transit.route(to_place(origin), to_place(destination), window=window, closed=closed)
    return transit_route_body(transit, ans)


def transit_response(body: dict[str, Any], fmt: str, crs: int | None = None) -> Response:
    """Return a transit answer as GeoJSON or as a download.

    Parameters
    ----------
    body
        The answer's plain JSON data.
    fmt
        ``geojson`` or ``gpkg``.
    crs
        The GeoPackage's EPSG code (None: WGS84); GeoJSON stays WGS84 and says so.
    """
    if plain_geojson(fmt, crs):
        return Response(orjson.dumps(body), media_type="application/geo+json")
    feats = [(shapely.geometry.shape(f["geometry"]), f["properties"]) for f in body["features"]]
    return vector_response(feats, body, fmt=fmt, layer="transit_route", attribution=OSM_CREDIT, crs=crs)


def check_transit_options(mode: str, metric: str, alternatives: int = 1) -> None:
    """Refuse route options that transit does not have.

    Parameters
    ----------
    mode
        The request's mode.
    metric
        The request's metric.
    alternatives
        How many routes the request asks for.
    """
    if mode != "transit":
        return
    if metric != "fastest":
        raise InvalidInputError("`metric` must be fastest for transit: a transit trip is timed, not measured.")
    if alternatives != 1:
        raise InvalidInputError("`alternatives` must be 1 for transit: one journey with its time distribution.")
