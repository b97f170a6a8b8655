"""Motorcades: `/motorcades` (a convoy's candidate routes and their rolling closure schedules) and programmes."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import orjson
import shapely
from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import ConfigDict, Field

from api.compute import bounded
from api.context import CoverageDep, ImpactDep
from api.convert import to_place
from api.downloads import FORMAT_DOC, CrsQ, FormatQ, download_crs, vector_response
from api.schemas import IMPACT_ATTRIBUTION, InputCrs, PlaceIn, RequestModel, TravelIn
from geo.crs import parse_crs
from geo.errors import InvalidInputError
from geo.eventtime import DAY_S, parse_instant
from geo.motorcade import (
    CONVOY_VEHICLES,
    FLOW_CAP,
    MAX_CONVOYS,
    MAX_HOLD_S,
    MIN_RELEASE_S,
    PASSAGE_S_PER_VEHICLE,
    REPORTED_PASSAGE_S,
    Convoy,
)
from layers.motorcade import (
    DEFAULT_MAX_EXTRA_S,
    Candidate,
    Motorcade,
    MotorcadeAnswer,
    ProgrammeAnswer,
    clock,
    crossing_streets,
)
from layers.routing import Closures, parse_polygon

if TYPE_CHECKING:
    from geo.motorcade import HoldCost
    from layers.coverage import CoverageService
    from layers.impact import ImpactService

router = APIRouter(tags=["motorcades"])

MOTORCADE_MODEL = (
    "Rolling control: each crossing of the route (a node where another road meets it) is held from the stated "
    "margin before the convoy's head reaches it until its tail has passed and the margin after, by the engine's "
    f"travel times. Passage: {PASSAGE_S_PER_VEHICLE:.2f} s per vehicle ({CONVOY_VEHICLES} vehicles cleared Dongdan "
    f"in {REPORTED_PASSAGE_S:g} s, Beijing's practice as issue 27 reports it); holds of one crossing less than "
    f"{MIN_RELEASE_S:g} s apart are merged (cross traffic is released for at least that long). Every approach "
    "but the convoy's own is held; its trips (the event model's car and bus trips of that hour on the arc, "
    "all-or-nothing on the fastest routes between townships) wait, T/(2(1 - q/s)) each, or take the fastest way "
    "round the crossing to their exit (turns in equal shares: no turning counts), whichever is less. An approach's "
    f"car flow is taken at most at {FLOW_CAP:.0%} of its saturation flow. Links between crossings are listed "
    "with their times; nobody crosses them, so they cost nothing here. Candidates: one search per trade-off "
    "between convoy time and an estimate of the residents' cost, each priced exactly; the fastest, the cheapest "
    "for residents and every candidate no other beats on both. Recommended: the cheapest for residents within "
    "`max_extra_minutes` of the fastest. Walking inside parks is not modelled (the 2013 roads have no "
    "footpaths); beyond the central network only the regional skeleton (major roads, no classes) is routed."
)


class ConvoyIn(RequestModel):
    """The convoy (defaults: the reported practice, see the README)."""

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


class MotorcadeRequest(TripIn, TravelIn):
    """A convoy's trip and who travels (the event model's modes, profile and trip rate)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"origin": "capital-airport", "destination": [116.3056, 39.9236], "depart_at": "09:00"}]
        }
    )
    network: str | None = Field(None, max_length=64, description="Drive network (default: the one holding both ends)")


class ProgrammeTripIn(TripIn):
    """One convoy of a programme and which of its candidates it takes."""

    choose: Literal["recommended", "fastest", "cheapest"] | Annotated[int, Field(ge=0, le=50)] = "recommended"


class ProgrammeRequest(TravelIn):
    """Several convoys evaluated together (a day's sequence, or delegations arriving within an hour)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "convoys": [
                        {"origin": "capital-airport", "destination": [116.3056, 39.9236], "depart_at": "09:00"},
                        {"origin": "capital-airport", "destination": [116.3056, 39.9236], "depart_at": "09:00:20"},
                    ]
                }
            ]
        }
    )

    convoys: list[ProgrammeTripIn] = Field(min_length=1, max_length=MAX_CONVOYS)
    network: str | None = Field(None, max_length=64)


def _trips(items: list[TripIn], travel: TravelIn, prefix: str) -> list[Motorcade]:
    """Return the trips, their times on one clock (seconds from the first date given, or of a typical day)."""
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
    travel_model = travel.travel()
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
                travel=travel_model,
                label=f"convoy {i + 1}",
            )
        )
    return out


def _hold_entries(impact: ImpactService, ans: MotorcadeAnswer, holds: list[HoldCost]) -> list[dict[str, Any]]:
    """Return the held crossings as schedule entries (with their cost)."""
    engine = impact.routing.engine(ans.net)
    app = impact.motorcades.approaches(ans.net, engine, ans.trip.travel)
    out = []
    for h in holds:
        node = h.hold.node
        out.append(
            {
                "kind": "crossing",
                "lon": round(float(engine.lon[node]), 6),
                "lat": round(float(engine.lat[node]), 6),
                "streets": crossing_streets(engine, app.into(node)),
                "start": clock(h.hold.start_s),
                "end": clock(h.hold.end_s),
                "hold_s": round(h.hold.seconds, 1),
                "convoy_arrives": clock(h.hold.arrive_s),
                "convoys": [i + 1 for i in h.hold.convoys],
                "approaches_held": len(h.rows),
                "persons": round(float(h.persons.sum()), 1),
                "queue_person_hours": round(float(h.queue_s.sum()) / 3600, 3),
                "detour_person_hours": round(float(h.detour_s.sum()) / 3600, 3),
                "person_hours": round(h.person_hours, 3),
            }
        )
    return out


def _link_entries(impact: ImpactService, ans: MotorcadeAnswer, c: Candidate) -> list[dict[str, Any]]:
    """Return the stretches between held crossings, each with the time the convoy holds it."""
    engine = impact.routing.engine(ans.net)
    held = {h.hold.node for h in c.holds}
    cut = [0] + [k for k in range(1, len(c.nodes) - 1) if int(c.nodes[k]) in held] + [len(c.nodes) - 1]
    rows = np.asarray(c.route.edge_rows, dtype=np.int64)
    conv = ans.trip.convoy
    out = []
    for a, b in itertools.pairwise(cut):
        if b <= a:
            continue
        out.append(
            {
                "kind": "link",
                "from": [round(float(engine.lon[c.nodes[a]]), 6), round(float(engine.lat[c.nodes[a]]), 6)],
                "to": [round(float(engine.lon[c.nodes[b]]), 6), round(float(engine.lat[c.nodes[b]]), 6)],
                "streets": crossing_streets(engine, rows[a:b]),
                "start": clock(float(c.at_s[a]) - conv.hold_before_s),
                "end": clock(float(c.at_s[b]) + conv.passage_s + conv.hold_after_s),
            }
        )
    return out


def _townships(coverage: CoverageService, ans: MotorcadeAnswer, persons: Any, hours: Any) -> list[dict[str, Any]]:  # noqa: ANN401
    """Return the townships whose residents meet the holds, most person-hours first."""
    t = coverage.townships
    out = []
    for k in np.argsort(-hours, kind="stable").tolist():
        if persons[k] < 0.05:
            continue
        row = int(ans.towns.rows[k])
        out.append(
            {
                "township_id": int(t["township_id"].iloc[row]),
                "township": str(t["township"].iloc[row]),
                "district": str(t["district"].iloc[row]),
                "persons": round(float(persons[k]), 1),
                "person_hours": round(float(hours[k]), 3),
            }
        )
    return out


def _candidate_feature(
    impact: ImpactService, coverage: CoverageService, ans: MotorcadeAnswer, i: int, c: Candidate
) -> dict[str, Any]:
    deadline = ans.trip.arrive_by_s if ans.trip.depart_s is not None else None
    holds = c.holds
    props = {
        "candidate": i,
        "kinds": c.kinds,
        "recommended": i == ans.recommended,
        "depart": clock(c.depart_s),
        "arrive": clock(c.arrive_s),
        "on_time": None if deadline is None else bool(c.arrive_s <= deadline),
        "convoy_time_s": round(c.convoy_time_s, 1),
        "length_m": round(c.route.length_m, 1),
        "person_hours_lost": round(c.person_hours, 3),
        "queue_person_hours": round(sum(float(h.queue_s.sum()) for h in holds) / 3600, 3),
        "detour_person_hours": round(sum(float(h.detour_s.sum()) for h in holds) / 3600, 3),
        "persons_held": round(sum(float(h.persons.sum()) for h in holds), 1),
        "crossings_held": len(holds),
        "wide_share": round(c.wide_share, 3),
        "unknown_class_share": round(c.unknown_class_share, 3),
        "streets": [s.name or f"({s.road_class})" for s in c.route.streets][:40],
        "schedule": sorted(_hold_entries(impact, ans, holds) + _link_entries(impact, ans, c), key=lambda e: e["start"]),
        "townships": _townships(coverage, ans, c.by_town_persons, c.by_town_hours),
    }
    line = [[round(float(x), 6), round(float(y), 6)] for x, y in c.route.coords.tolist()]
    return {"type": "Feature", "geometry": {"type": "LineString", "coordinates": line}, "properties": props}


def _members(ans: MotorcadeAnswer) -> dict[str, Any]:
    rec = ans.candidates[ans.recommended]
    conv = ans.trip.convoy
    return {
        "recommended": {"candidate": ans.recommended, "reason": ans.reason, "kinds": rec.kinds},
        "network": ans.net.name,
        "convoy": {
            "vehicles": conv.vehicles,
            "speed_kph": conv.speed_kph,
            "passage_s": round(conv.passage_s, 1),
            "hold_before_s": conv.hold_before_s,
            "hold_after_s": conv.hold_after_s,
            "hold_s": round(conv.hold_s, 1),
        },
        "model": MOTORCADE_MODEL,
        "warnings": ans.warnings,
        "attribution": IMPACT_ATTRIBUTION,
    }


@router.post("/motorcades", operation_id="post_motorcades", response_class=Response)
@bounded(media_type="application/geo+json")
def post_motorcades(req: MotorcadeRequest, impact: ImpactDep, coverage: CoverageDep) -> Response:
    """Return a convoy's candidate routes, each with its rolling closure schedule and what it costs residents.

    A GeoJSON FeatureCollection, one LineString per candidate: `kinds` (fastest, cheapest,
    pareto), `convoy_time_s`, `person_hours_lost` (queues at held crossings plus ways round),
    `persons_held`, `wide_share`, the `schedule` (every held crossing with its clock `start`
    and `end`, the stretches between them) and the `townships` whose residents meet the holds;
    `recommended` says which and why.
    """
    trip = _trips([req], req, "")[0]
    ans = impact.motorcades.plan(trip, network=req.network)
    feats = [_candidate_feature(impact, coverage, ans, i, c) for i, c in enumerate(ans.candidates)]
    body = {"type": "FeatureCollection", "features": feats, **_members(ans)}
    return Response(orjson.dumps(body), media_type="application/geo+json")


@router.post(
    "/motorcades/schedule", responses=FORMAT_DOC, operation_id="post_motorcade_schedule", response_class=Response
)
@bounded(media_type="application/geo+json")
def post_motorcade_schedule(
    req: MotorcadeRequest,
    impact: ImpactDep,
    coverage: CoverageDep,
    candidate: Annotated[int | None, Query(ge=0, le=50, description="Which candidate (default: recommended)")] = None,
    part: Annotated[
        Literal["crossings", "links"], Query(description="The held crossings (points) or the stretches between (lines)")
    ] = "crossings",
    format: FormatQ = "geojson",
    crs: CrsQ = None,
) -> Response:
    """Return one candidate's schedule for GIS: the held crossings as points, or the stretches between as lines.

    GeoJSON, or a GeoPackage (`format=gpkg`) in `crs`, one geometry type per layer (`part`);
    the clock times are local (Beijing).
    """
    epsg = download_crs(crs)
    trip = _trips([req], req, "")[0]
    ans = impact.motorcades.plan(trip, network=req.network)
    i = ans.recommended if candidate is None else candidate
    if i >= len(ans.candidates):
        raise InvalidInputError(f"`candidate` is {i}; this trip has {len(ans.candidates)} candidates.")
    c = ans.candidates[i]
    feats: list[tuple[shapely.Geometry, dict[str, Any]]] = []
    if part == "crossings":
        for e in _hold_entries(impact, ans, c.holds):
            props = {**e, "streets": " / ".join(e["streets"]), "convoys": ",".join(map(str, e["convoys"]))}
            feats.append((shapely.Point(e["lon"], e["lat"]), props))
    else:
        for e in _link_entries(impact, ans, c):
            props = {"kind": "link", "streets": " / ".join(e["streets"]), "start": e["start"], "end": e["end"]}
            feats.append((shapely.LineString([e["from"], e["to"]]), props))
    members = {**_members(ans), "candidate": i, "part": part}
    return vector_response(
        feats, members, fmt=format, layer=f"motorcade_{part}", attribution=IMPACT_ATTRIBUTION, crs=epsg
    )


@router.post("/motorcades/programme", operation_id="post_motorcade_programme", response_class=Response)
@bounded(media_type="application/geo+json")
def post_programme(req: ProgrammeRequest, impact: ImpactDep, coverage: CoverageDep) -> Response:
    """Return several convoys evaluated together: holds of one crossing that overlap are merged.

    One Feature per convoy (its chosen candidate, its own cost alone), the merged `schedule`,
    `person_hours_lost` of the programme, `apart_person_hours` (the convoys priced one by one,
    summed) and the townships. Shift one convoy's time and ask again to see the cost change.
    """
    trips = _trips(list(req.convoys), req, "convoys")
    prog: ProgrammeAnswer = impact.motorcades.programme(trips, [c.choose for c in req.convoys], network=req.network)
    feats = []
    for k, (ans, c) in enumerate(zip(prog.answers, prog.chosen, strict=True)):
        f = _candidate_feature(impact, coverage, ans, ans.candidates.index(c), c)
        f["properties"] = {"convoy": k + 1, **f["properties"]}
        feats.append(f)
    first = prog.answers[0]
    body = {
        "type": "FeatureCollection",
        "features": feats,
        "person_hours_lost": round(prog.person_hours, 3),
        "apart_person_hours": round(prog.apart_person_hours, 3),
        "merged_holds": sum(1 for h in prog.holds if len(h.hold.convoys) > 1),
        "schedule": sorted(_hold_entries(impact, first, prog.holds), key=lambda e: e["start"]),
        "townships": _townships(coverage, first, prog.by_town_persons, prog.by_town_hours),
        "network": first.net.name,
        "model": MOTORCADE_MODEL,
        "warnings": sorted({w for a in prog.answers for w in a.warnings}),
        "attribution": IMPACT_ATTRIBUTION,
    }
    return Response(orjson.dumps(body), media_type="application/geo+json")
