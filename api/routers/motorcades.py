"""Motorcades: `/motorcades` (a convoy's candidate routes and their rolling closure schedules) and programmes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
import shapely
from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import ConfigDict, Field

from api.compute import bounded
from api.context import CoverageDep, ImpactDep
from api.downloads import FORMAT_DOC, CrsQ, FormatQ, download_crs, vector_response
from api.motorcade_out import (
    MOTORCADE_MODEL,
    candidate_feature,
    crossing_points,
    hold_entries,
    link_entries,
    members,
    townships,
)
from api.schemas import IMPACT_ATTRIBUTION, ProgrammeTripIn, TravelIn, TripIn, motorcade_trips
from geo.errors import InvalidInputError
from geo.motorcade import MAX_CONVOYS
from layers.motorcade import ProgrammeAnswer

router = APIRouter(tags=["motorcades"])


class MotorcadeRequest(TripIn, TravelIn):
    """A convoy's trip and who travels (the event model's modes, profile and trip rate)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"origin": "capital-airport", "destination": [116.3056, 39.9236], "depart_at": "09:00"}]
        }
    )
    network: str | None = Field(None, max_length=64, description="Drive network (default: the one holding both ends)")


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
    trip = motorcade_trips([req], req.travel(), "")[0]
    ans = impact.motorcades.plan(trip, network=req.network)
    feats = [candidate_feature(impact, coverage, ans, i, c) for i, c in enumerate(ans.candidates)]
    body = {"type": "FeatureCollection", "features": feats, **members(ans)}
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
    trip = motorcade_trips([req], req.travel(), "")[0]
    ans = impact.motorcades.plan(trip, network=req.network)
    i = ans.recommended if candidate is None else candidate
    if i >= len(ans.candidates):
        raise InvalidInputError(f"`candidate` is {i}; this trip has {len(ans.candidates)} candidates.")
    c = ans.candidates[i]
    feats: list[tuple[shapely.Geometry, dict[str, Any]]] = []
    if part == "crossings":
        feats = crossing_points(hold_entries(impact, ans, c.holds))
    else:
        for e in link_entries(impact, ans, c):
            props = {"kind": "link", "streets": " / ".join(e["streets"]), "start": e["start"], "end": e["end"]}
            feats.append((shapely.LineString([e["from"], e["to"]]), props))
    extra = {**members(ans), "candidate": i, "part": part}
    return vector_response(
        feats, extra, fmt=format, layer=f"motorcade_{part}", attribution=IMPACT_ATTRIBUTION, crs=epsg
    )


@router.post("/motorcades/programme", operation_id="post_motorcade_programme", response_class=Response)
@bounded(media_type="application/geo+json")
def post_programme(req: ProgrammeRequest, impact: ImpactDep, coverage: CoverageDep) -> Response:
    """Return several convoys evaluated together: holds of one crossing that overlap are merged.

    One Feature per convoy (its chosen candidate, its own cost alone), the merged `schedule`,
    `person_hours_lost` of the programme, `apart_person_hours` (the convoys priced one by one,
    summed) and the townships. Shift one convoy's time and ask again to see the cost change.
    """
    trips = motorcade_trips(list(req.convoys), req.travel(), "convoys")
    prog: ProgrammeAnswer = impact.motorcades.programme(trips, [c.choose for c in req.convoys], network=req.network)
    feats = []
    for k, (ans, c) in enumerate(zip(prog.answers, prog.chosen, strict=True)):
        f = candidate_feature(impact, coverage, ans, ans.candidates.index(c), c)
        f["properties"] = {"convoy": k + 1, **f["properties"]}
        feats.append(f)
    first = prog.answers[0]
    body = {
        "type": "FeatureCollection",
        "features": feats,
        "person_hours_lost": round(prog.person_hours, 3),
        "apart_person_hours": round(prog.apart_person_hours, 3),
        "merged_holds": sum(1 for h in prog.holds if len(h.hold.convoys) > 1),
        "schedule": sorted(hold_entries(impact, first, prog.holds), key=lambda e: e["start"]),
        "townships": townships(coverage, first, prog.by_town_persons, prog.by_town_hours),
        "network": first.net.name,
        "model": MOTORCADE_MODEL,
        "warnings": sorted({w for a in prog.answers for w in a.warnings}),
        "attribution": IMPACT_ATTRIBUTION,
    }
    return Response(orjson.dumps(body), media_type="application/geo+json")
