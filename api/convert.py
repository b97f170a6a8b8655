"""Conversions between the API's models and the services' objects, shared by routers, pages and the CLI."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Annotated, Any, Literal

import shapely
from fastapi import Depends, Query

from api.context import PlansDep
from api.schemas import (
    IMPACT_ATTRIBUTION,
    AccessInfo,
    Endpoint,
    EntranceQ,
    FootprintIn,
    PairOut,
    PlanIn,
    StreetQ,
    TravelIn,
    to_place,
)
from geo import footprints as fp
from geo.crs import parse_crs
from geo.errors import InvalidInputError
from geo.eventtime import MODES, parse_instant, parse_window
from layers.eventimpact import TravelModel
from layers.footprints import DEFAULT_BUFFER_M
from layers.impact import ClosurePlan, ImpactResult
from layers.routing import Closures, ResolvedPlace

if TYPE_CHECKING:
    from geo.limits import Limits
    from layers.coverage import CoverageService
    from layers.footprints import FootprintService
    from layers.plans import PlanStore
    from layers.routing import RoutingService
    from layers.sites import Site

__all__ = [
    "access_info",
    "analyze_footprint",
    "endpoint",
    "impact_members",
    "one_plan",
    "parse_bbox",
    "plan_from_query",
    "saved_plan",
    "to_place",
    "township_features",
]


def time_of_day(value: str, label: str) -> float:
    """Return ``HH:MM[:SS]`` as seconds after midnight (a page's or the command line's time; the API takes date-times too)."""
    day, s = parse_instant(value, label)
    if day is not None:
        raise InvalidInputError(f"`{label}` takes a time of day 'HH:MM[:SS]' here; the API takes date-times.")
    return float(s)


def endpoint_data(p: ResolvedPlace) -> dict[str, Any]:
    """Describe a resolved place as plain JSON data (the members of `Endpoint`)."""
    return {
        "input": p.label,
        "site_id": p.site_id,
        "lon": round(p.snap.lon, 7),
        "lat": round(p.snap.lat, 7),
        "snap_distance_m": round(p.snap.distance_m, 1),
    }


def endpoint(p: ResolvedPlace) -> Endpoint:
    """Describe a resolved place."""
    return Endpoint(**endpoint_data(p))


def saved_plan(plans: PlanStore, plan_id: str) -> ClosurePlan:
    """Return a saved plan's latest version as a plan (named by its id when it has no name)."""
    saved = plans.get(plan_id)
    plan = PlanIn.from_saved(saved.body).to_plan()
    return plan if plan.name else dataclasses.replace(plan, name=saved.id)


def one_plan(plans: PlanStore, plan: PlanIn | None, plan_id: str | None) -> ClosurePlan:
    """Return the plan of a request that gives ``plan`` or ``plan_id`` (exactly one)."""
    if (plan is None) == (plan_id is None):
        raise InvalidInputError("give `plan` or `plan_id`, exactly one.")
    return plan.to_plan() if plan is not None else saved_plan(plans, str(plan_id))


def _line(coords: Any) -> list[tuple[float, float]]:  # noqa: ANN401 - an (n, 2) array
    return [(round(float(x), 6), round(float(y), 6)) for x, y in coords]


def township_features(coverage: CoverageService, res: ImpactResult) -> list[tuple[shapely.Geometry, dict[str, Any]]]:
    """Return the townships as (outline, properties)."""
    outlines = coverage.township_outlines()
    out = []
    for t in res.townships:
        walk_delay = (
            None
            if t.entrance_walk_before_s is None
            else (
                None
                if t.entrance_walk_after_s is None
                else round(t.entrance_walk_after_s - t.entrance_walk_before_s, 1)
            )
        )
        out.append(
            (
                outlines[t.township_id],
                {
                    "township_id": t.township_id,
                    "district": t.district,
                    "township": t.township,
                    "population": round(t.population),
                    "mean_delay_s": round(t.mean_delay_s, 1),
                    "p90_delay_s": round(t.p90_delay_s, 1),
                    "people_cut_off": round(t.people_cut_off, 1),
                    "entrance_walk_before_s": None
                    if t.entrance_walk_before_s is None
                    else round(t.entrance_walk_before_s, 1),
                    "entrance_walk_after_s": None
                    if t.entrance_walk_after_s is None
                    else round(t.entrance_walk_after_s, 1),
                    "entrance_delay_s": walk_delay,
                    **{f"{m}_delay_s": round(t.mode_delay_s.get(m, 0.0), 1) for m in MODES if m in res.travel.shares},
                    "queue_delay_s": round(t.queue_delay_s, 1),
                    "person_hours": round(t.person_hours, 2),
                    **({"motorcade_person_hours": round(t.motorcade_person_hours, 3)} if res.motorcade else {}),
                },
            )
        )
    return out


def impact_members(res: ImpactResult) -> dict[str, Any]:
    """Return the collection's members besides the features."""
    return {
        "plan": {
            "name": res.plan.name,
            "streets": list(res.plan.closures.streets),
            "areas": len(res.plan.closures.areas),
            "entrances_closed": res.entrances_closed,
            "sites": list(res.plan.sites),
            "window": None if res.plan.window is None else res.plan.window.iso(),
            "own_windows": _own_windows(res.plan),
            "motorcades": len(res.plan.motorcades),
        },
        "mode": res.mode,
        "network": res.network.name,
        "summary": res.summary(),
        "top_pairs": [
            PairOut(
                origin=p.origin,
                destination=p.destination,
                trips_per_day=round(p.trips, 1),
                before_s=round(p.before_s, 1),
                after_s=round(p.after_s, 1),
                delay_s=round(p.after_s - p.before_s, 1),
                before=_line(p.before.coords),
                after=_line(p.after.coords),
            ).model_dump()
            for p in res.top_pairs
        ],
        "sites": [
            {
                "site": a.site_id,
                "label": a.label,
                "mean_before_s": None if a.mean_before_s is None else round(a.mean_before_s, 1),
                "mean_after_s": None if a.mean_after_s is None else round(a.mean_after_s, 1),
                "people_cut_off": round(a.people_cut_off),
                "note": a.note,
            }
            for a in res.sites
        ],
        "warnings": res.warnings,
        "attribution": IMPACT_ATTRIBUTION,
    }


def _own_windows(plan: ClosurePlan) -> list[dict[str, Any]]:
    """Return the closures that carry their own window, with it (ISO 8601 local times)."""
    out = []
    kinds = (
        ("street", plan.closures.streets, plan.street_windows),
        ("area", [f"area #{i + 1}" for i in range(len(plan.closures.areas))], plan.area_windows),
        ("entrance", plan.entrances, plan.entrance_windows),
    )
    for kind, names, wins in kinds:
        out += [
            {"kind": kind, "name": n, "window": w.iso()} for n, w in zip(names, wins, strict=False) if w is not None
        ]
    return out


def query_plan(
    plans: PlansDep,
    plan_id: Annotated[str | None, Query(max_length=64, description="A saved plan's id")] = None,
    street: StreetQ = None,
    entrance: EntranceQ = None,
    start: Annotated[
        str | None, Query(max_length=40, description="The plan's window starts: 'HH:MM' or an ISO date-time")
    ] = None,
    end: Annotated[str | None, Query(max_length=40, description="The plan's window ends ('24:00' allowed)")] = None,
) -> ClosurePlan:
    """Return the plan a GET request's query names (a dependency; see `plan_from_query`); start/end set its window."""
    plan = plan_from_query(plans, plan_id, street, entrance)
    start, end = start or None, end or None  # a page's form sends empty times for the whole day
    if start is None and end is None:
        return plan
    if start is None or end is None:
        raise InvalidInputError("give both `start` and `end` for a window, or neither (the whole day).")
    return dataclasses.replace(plan, window=parse_window({"start": start, "end": end}, "window"))


def query_travel(
    modes: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Mode shares 'car:0.4,subway:0.6' summing to 1 (default: Beijing 2019; sources in the manual, Event closures)",
        ),
    ] = None,
    profile: Annotated[Literal["diurnal", "flat"], Query(description="When trips leave")] = "diurnal",
    trips_per_person: Annotated[float | None, Query(gt=0, le=20, allow_inf_nan=False)] = None,
    mode: Annotated[Literal["drive", "walk"] | None, Query(description="Older single-mode choice")] = None,
) -> TravelModel:
    """Return the travel model a GET request's query gives (a dependency)."""
    shares: dict[str, Any] | None = None
    if modes is not None:
        shares = {}
        for part in modes.split(","):
            k, sep, v = part.partition(":")
            try:
                shares[k.strip()] = float(v) if sep else None
            except ValueError:
                shares[k.strip()] = v
    req = TravelIn.model_validate({"modes": shares, "profile": profile, "trips_per_person": trips_per_person})
    return req.travel(mode)


def plan_from_query(
    plans: PlanStore, plan_id: str | None, street: list[str] | None, entrance: list[str] | None
) -> ClosurePlan:
    """Return the plan a GET request names: a saved plan, or streets and entrances (not both)."""
    for s in [*(street or []), *(entrance or [])]:
        if not 1 <= len(s) <= 200:
            raise InvalidInputError("each `street` and `entrance` must be 1-200 characters.")
    if plan_id is not None:
        if street or entrance:
            raise InvalidInputError("give `plan_id` or `street`/`entrance`, not both.")
        return saved_plan(plans, plan_id)
    name = ", ".join([*(street or []), *(entrance or [])])[:200]
    return ClosurePlan(name, Closures(tuple(street or ())), tuple(entrance or ()))


def access_info(routing: RoutingService, site: Site) -> list[AccessInfo]:
    """Return, per mode, the network covering the site and its access point, or why none does."""
    out = []
    for a in routing.site_networks(site.id):
        if a.network is None or a.snap is None:
            out.append(AccessInfo(mode=a.mode, covered=False, message=a.message))
            continue
        walk = a.walk
        out.append(
            AccessInfo(
                mode=a.mode,
                covered=True,
                network=a.network.name,
                access_lon=round(a.snap.lon, 7),
                access_lat=round(a.snap.lat, 7),
                boundary_gap_m=round(a.snap.distance_m, 1),
                walkable_km_per_km2=None if walk is None else round(walk.km_per_km2, 2),
                walking_inside_modelled=None if walk is None else not walk.sparse,
                note=walk.note(a.network.name) if walk is not None and walk.sparse else None,
            )
        )
    return out


def parse_bbox(bbox: str | None) -> tuple[float, float, float, float] | None:
    """Parse ``minlon,minlat,maxlon,maxlat`` (WGS84 / CRS84, longitude first): the one bbox rule of every endpoint."""
    if bbox is None:
        return None
    try:
        parts = [float(p) for p in bbox.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 4:
        raise InvalidInputError(f"`bbox` must be four numbers minlon,minlat,maxlon,maxlat; got {bbox!r}.")
    minx, miny, maxx, maxy = parts
    if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
        raise InvalidInputError(
            f"`bbox` {bbox!r} is not lon/lat with min < max (lon in -180..180, lat in -90..90); "
            "give longitude first, as GeoJSON does."
        )
    return minx, miny, maxx, maxy


def footprint_in(
    doc: dict[str, Any], *, limits: Limits, label: str = "footprint", crs: str | None = None
) -> fp.Footprint:
    """Parse a footprint of a request under the limits in force (`geo.footprints.parse_footprint`), from ``crs``."""
    return fp.parse_footprint(
        doc,
        label=label,
        max_vertices=limits.max_footprint_vertices,
        max_area_m2=limits.max_footprint_area_m2,
        crs=None if crs is None else parse_crs(crs),
    )


def analyze_footprint(
    footprints: FootprintService, req: FootprintIn, *, buffer_m: float = DEFAULT_BUFFER_M, label: str = "footprint"
) -> tuple[fp.Footprint, fp.Analysis]:
    """Parse a request's footprint (one repair rule, `geo.footprints.parse_footprint`) and analyse it."""
    f = footprint_in(req.footprint, limits=footprints.routing.limits, label=label, crs=req.crs)
    a = footprints.analyze(
        f, use=req.use, floors=req.floors, height_m=req.height_m, underground=req.underground, buffer_m=buffer_m
    )
    return f, a


QueryPlan = Annotated[ClosurePlan, Depends(query_plan)]  # a saved plan, or streets and entrances, from the query
QueryTravel = Annotated[TravelModel, Depends(query_travel)]  # modes, profile, trip rate from the query
