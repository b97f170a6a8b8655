"""Event closure impact: `/impact` evaluates a closure plan, `/impact/compare` ranks plans."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.compute import bounded
from api.context import CoverageDep, ImpactDep, PlansDep
from api.convert import QueryPlan, QueryTravel, impact_members, one_plan, saved_plan, township_features
from api.downloads import FORMAT_DOC, CrsQ, FormatQ, download_crs, vector_response
from api.schemas import IMPACT_ATTRIBUTION, PlanIn, TravelIn
from geo.limits import LIMITS
from layers.atlas import ATLAS_TEXT, atlas_features, closure_atlas
from layers.impact import MODEL_TEXT

router = APIRouter(tags=["impact"])


class ImpactRequest(TravelIn):
    """A plan (given, or saved: ``plan_id``) and who travels: modes, the hourly profile, the trip rate."""

    plan: PlanIn | None = Field(None, description="The plan; or give plan_id")
    plan_id: str | None = Field(None, max_length=64, description="A saved plan's id (its latest version)")
    mode: Literal["drive", "walk"] | None = Field(
        None, description="Older single-mode choice: 'drive' is modes={car: 1}, 'walk' is modes={walk: 1}"
    )
    network: str | None = Field(
        None,
        max_length=64,
        description="Network name (default: the shipped central network; 'beijing-regional' for the whole municipality by car)",
    )


class CompareRequest(TravelIn):
    """Two or more plans (given, or saved) evaluated the same way (windowed and all-day plans alike)."""

    plans: list[PlanIn] = Field(default_factory=list, max_length=LIMITS.max_compare)
    plan_ids: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=LIMITS.max_compare)
    mode: Literal["drive", "walk"] | None = None
    network: str | None = Field(None, max_length=64)


@router.post("/impact", responses=FORMAT_DOC, operation_id="post_impact", response_class=Response)
@bounded()
def post_impact(
    req: ImpactRequest,
    impact: ImpactDep,
    plans: PlansDep,
    coverage: CoverageDep,
    format: FormatQ = "geojson",
    crs: CrsQ = None,
) -> Response:
    """Return what a closure plan costs each township, by mode and hour, with the queues at held roads.

    A GeoJSON FeatureCollection of townships (`population`, `mean_delay_s`, `p90_delay_s`,
    `people_cut_off`, the delay per mode (`car_delay_s` ...), `queue_delay_s`, `person_hours`,
    the walk to the nearest open subway entrance before and after) with a top-level `summary`
    (`person_hours_lost` on the day, `person_hours_by_mode`, `person_hours_by_hour`, the
    model and its constants) and the ten most delayed car trips with their routes.
    """
    epsg = download_crs(crs)
    plan = one_plan(plans, req.plan, req.plan_id)
    res = impact.evaluate(plan, travel=req.travel(req.mode), network=req.network)
    return vector_response(
        township_features(coverage, res),
        impact_members(res),
        fmt=format,
        layer="impact",
        attribution=IMPACT_ATTRIBUTION,
        crs=epsg,
    )


@router.get("/impact", responses=FORMAT_DOC, operation_id="get_impact", response_class=Response)
@bounded(media_type="application/geo+json")
def get_impact(
    impact: ImpactDep,
    coverage: CoverageDep,
    plan: QueryPlan,
    travel: QueryTravel,
    network: Annotated[str | None, Query(max_length=64)] = None,
    format: FormatQ = "geojson",
    crs: CrsQ = None,
) -> Response:
    """Return what `POST /impact` returns, for a saved plan or for streets and entrances in the URL (links, QGIS)."""
    epsg = download_crs(crs)
    res = impact.evaluate(plan, travel=travel, network=network)
    return vector_response(
        township_features(coverage, res),
        impact_members(res),
        fmt=format,
        layer="impact",
        attribution=IMPACT_ATTRIBUTION,
        crs=epsg,
    )


HourQ = Annotated[int, Query(ge=0, le=23, description="The hour of the day the hold starts (0-23)")]
MinutesQ = Annotated[
    float, Query(gt=0, le=1440, allow_inf_nan=False, description="How long each link is held, minutes (default 2)")
]


@router.get("/impact/closure-cost", responses=FORMAT_DOC, operation_id="get_closure_cost", response_class=Response)
@bounded(media_type="application/geo+json")
def get_closure_cost(
    impact: ImpactDep,
    travel: QueryTravel,
    hour: HourQ = 8,
    minutes: MinutesQ = 2.0,
    network: Annotated[str | None, Query(max_length=64)] = None,
    format: FormatQ = "geojson",
    crs: CrsQ = None,
) -> Response:
    """Return every road link's car flow at an hour and what holding it for `minutes` costs (the atlas).

    One Feature per directed link with car traffic: `flow_veh_h` (the hour's car trips
    assigned all-or-nothing), `saturation_veh_h`, `flow_ratio`, the wait per trip if it waits
    (`wait_s`, null: the queue would not clear), the way round the link (`detour_s`), the
    smaller of the two (`choice`) and `cost_person_hours` of one hold, costliest first.
    """
    epsg = download_crs(crs)
    net = impact.network("drive", network)
    atlas = closure_atlas(impact.event, net, impact.towns(net), travel, hour=hour, minutes=minutes)
    members = {
        "hour": hour,
        "minutes": minutes,
        "network": net.name,
        "trips_per_person": round(atlas.trips_per_person, 3),
        "model": ATLAS_TEXT,
        "warnings": impact.routing.precision_warnings(net),
        "attribution": IMPACT_ATTRIBUTION,
    }
    return vector_response(
        atlas_features(impact.event, net, atlas),
        members,
        fmt=format,
        layer="closure-cost",
        attribution=IMPACT_ATTRIBUTION,
        crs=epsg,
    )


class Ranked(BaseModel):
    """A plan's place in the comparison."""

    rank: int
    name: str
    cost_person_hours: float = Field(description="person_hours_lost plus one hour per trip cut off (the ranking)")
    person_hours_lost: float
    people_cut_off: float
    townships_delayed: int
    costs_more_than_best: list[dict[str, Any]] = Field(
        description="The townships where this plan delays people most beyond the best plan (mean delay, seconds)"
    )


class CompareResponse(BaseModel):
    """Plans ranked by their cost: person-hours lost plus one hour per trip cut off."""

    mode: str
    network: str
    model: str = MODEL_TEXT
    ranking: list[Ranked]
    attribution: str = IMPACT_ATTRIBUTION


@router.post("/impact/compare", response_model=CompareResponse, operation_id="post_impact_compare")
@bounded()
def post_impact_compare(req: CompareRequest, impact: ImpactDep, plans: PlansDep) -> CompareResponse:
    """Rank two or more closure plans by the person-hours they cost and say where each costs more."""
    chosen = [p.to_plan() for p in req.plans] + [saved_plan(plans, pid) for pid in req.plan_ids]
    results = impact.compare(chosen, travel=req.travel(req.mode), network=req.network)
    order = sorted(range(len(results)), key=lambda i: results[i].figures.cost_hours)
    best = results[order[0]]
    best_delay = {t.township_id: t.mean_delay_s for t in best.townships}
    ranking = []
    for rank, i in enumerate(order):
        r = results[i]
        extra = [(t.mean_delay_s - best_delay.get(t.township_id, 0.0), t) for t in r.townships]
        worse = [
            {"township": t.township, "district": t.district, "extra_mean_delay_s": round(d, 1)}
            for d, t in sorted(extra, key=lambda e: -e[0])[:5]
            if d > 0.05
        ]
        ranking.append(
            Ranked(
                rank=rank,
                name=r.plan.name or f"plan {i + 1}",
                cost_person_hours=round(r.figures.cost_hours, 2),
                person_hours_lost=round(r.person_hours_lost, 2),
                people_cut_off=round(r.figures.total_cut_off, 1),
                townships_delayed=sum(1 for t in r.townships if t.mean_delay_s > 0),
                costs_more_than_best=worse,
            )
        )
    return CompareResponse(mode=req.mode or "modes", network=best.network.name, ranking=ranking)
