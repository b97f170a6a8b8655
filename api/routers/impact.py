"""Event closure impact: `/impact` evaluates a closure plan, `/impact/compare` ranks plans."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import shapely
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.compute import bounded
from api.context import Context, get_context
from api.downloads import FORMAT_DOC, FormatQ, vector_response
from api.schemas import RequestModel
from geo.errors import InvalidInputError
from layers.impact import MAX_PLAN_ENTRANCES, MODEL_TEXT, ClosurePlan, ImpactResult
from layers.routing import Closures, parse_polygon

router = APIRouter(tags=["impact"])

ATTRIBUTION = "© OpenStreetMap contributors (ODbL); population WorldPop (www.worldpop.org), CC BY 4.0"
MAX_COMPARE = 5
Name = Annotated[str, Field(min_length=1, max_length=200)]


class PlanIn(RequestModel):
    """A closure plan: streets by name, areas, subway entrances or stations shut, the sites it serves."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Chang'an Avenue", "streets": ["东长安街", "西长安街"]}]}
    )

    name: str = Field("", max_length=200, description="A label for the plan")
    streets: list[Name] = Field(default_factory=list, max_length=50, description="Street names, as in routes")
    areas: list[dict[str, Any]] = Field(
        default_factory=list, max_length=20, description="GeoJSON Polygon, MultiPolygon or Feature (WGS84)"
    )
    entrances: list[Name] = Field(
        default_factory=list,
        max_length=MAX_PLAN_ENTRANCES,
        description="Subway entrances shut: an entrance name ('天安门东 A出口'), its OSM id ('n123...') or a "
        "station name (all its entrances); entrances inside a closed area are shut with it",
    )
    sites: list[Name] = Field(default_factory=list, max_length=25, description="The sites the plan serves (ids)")

    def to_plan(self) -> ClosurePlan:
        """Validate the geometry and convert."""
        areas = tuple(parse_polygon(a, label=f"areas[{i}]") for i, a in enumerate(self.areas))
        return ClosurePlan(self.name, Closures(tuple(self.streets), areas), tuple(self.entrances), tuple(self.sites))


class ImpactRequest(RequestModel):
    """A plan (given, or saved: ``plan_id``) and the mode its trips take."""

    plan: PlanIn | None = Field(None, description="The plan; or give plan_id")
    plan_id: str | None = Field(None, max_length=64, description="A saved plan's id (its latest version)")
    mode: Literal["drive", "walk"] = "drive"
    network: str | None = Field(
        None,
        max_length=64,
        description="Network name (default: the shipped central network; 'beijing-regional' for the whole municipality by car)",
    )


class CompareRequest(RequestModel):
    """Two or more plans (given, or saved) evaluated the same way."""

    plans: list[PlanIn] = Field(default_factory=list, max_length=MAX_COMPARE)
    plan_ids: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=MAX_COMPARE)
    mode: Literal["drive", "walk"] = "drive"
    network: str | None = Field(None, max_length=64)


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


def _saved(ctx: Context, plan_id: str) -> ClosurePlan:
    """Return a saved plan's latest version as a plan (named by its id when it has no name)."""
    saved = ctx.plans.get(plan_id)
    plan = PlanIn.model_validate(saved.body).to_plan()
    return plan if plan.name else ClosurePlan(saved.id, plan.closures, plan.entrances, plan.sites)


def _one_plan(ctx: Context, plan: PlanIn | None, plan_id: str | None) -> ClosurePlan:
    if (plan is None) == (plan_id is None):
        raise InvalidInputError("give `plan` or `plan_id`, exactly one.")
    return plan.to_plan() if plan is not None else _saved(ctx, str(plan_id))


def _line(coords: Any) -> list[tuple[float, float]]:  # noqa: ANN401 - an (n, 2) array
    return [(round(float(x), 6), round(float(y), 6)) for x, y in coords]


def township_features(ctx: Context, res: ImpactResult) -> list[tuple[shapely.Geometry, dict[str, Any]]]:
    """Return the townships as (outline, properties)."""
    outlines = ctx.coverage.township_outlines()
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
                },
            )
        )
    return out


def members(res: ImpactResult) -> dict[str, Any]:
    """Return the collection's members besides the features."""
    return {
        "plan": {
            "name": res.plan.name,
            "streets": list(res.plan.closures.streets),
            "areas": len(res.plan.closures.areas),
            "entrances_closed": res.entrances_closed,
            "sites": list(res.plan.sites),
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
        "warnings": res.warnings,
        "attribution": ATTRIBUTION,
    }


@router.post("/impact", responses=FORMAT_DOC, operation_id="post_impact", response_class=Response)
@bounded()
def post_impact(
    req: ImpactRequest, ctx: Annotated[Context, Depends(get_context)], format: FormatQ = "geojson"
) -> Response:
    """Return what a closure plan costs each township: delays, people cut off, the walk to the subway.

    A GeoJSON FeatureCollection of townships (`population`, `mean_delay_s`, `p90_delay_s`,
    `people_cut_off`, the walk to the nearest open subway entrance before and after) with a
    top-level `summary` (`person_hours_lost` per trip-day, the model) and the ten most
    delayed origin-destination pairs with their routes before and after.
    """
    res = ctx.impact.evaluate(_one_plan(ctx, req.plan, req.plan_id), mode=req.mode, network=req.network)
    return vector_response(
        township_features(ctx, res), members(res), fmt=format, layer="impact", attribution=ATTRIBUTION
    )


StreetQ = Annotated[
    list[str] | None, Query(description="Street names to close (repeatable, at most 50)", max_length=50)
]
EntranceQ = Annotated[
    list[str] | None,
    Query(description="Subway entrances or stations to close (repeatable, at most 200)", max_length=MAX_PLAN_ENTRANCES),
]


def plan_from_query(
    ctx: Context, plan_id: str | None, street: list[str] | None, entrance: list[str] | None
) -> ClosurePlan:
    """Return the plan a GET request names: a saved plan, or streets and entrances (not both)."""
    for s in [*(street or []), *(entrance or [])]:
        if not 1 <= len(s) <= 200:
            raise InvalidInputError("each `street` and `entrance` must be 1-200 characters.")
    if plan_id is not None:
        if street or entrance:
            raise InvalidInputError("give `plan_id` or `street`/`entrance`, not both.")
        return _saved(ctx, plan_id)
    name = ", ".join([*(street or []), *(entrance or [])])[:200]
    return ClosurePlan(name, Closures(tuple(street or ())), tuple(entrance or ()))


@router.get("/impact", responses=FORMAT_DOC, operation_id="get_impact", response_class=Response)
@bounded(media_type="application/geo+json")
def get_impact(
    ctx: Annotated[Context, Depends(get_context)],
    plan_id: Annotated[str | None, Query(max_length=64, description="A saved plan's id")] = None,
    street: StreetQ = None,
    entrance: EntranceQ = None,
    mode: Literal["drive", "walk"] = "drive",
    network: Annotated[str | None, Query(max_length=64)] = None,
    format: FormatQ = "geojson",
) -> Response:
    """Return what `POST /impact` returns, for a saved plan or for streets and entrances in the URL (links, QGIS)."""
    res = ctx.impact.evaluate(plan_from_query(ctx, plan_id, street, entrance), mode=mode, network=network)
    return vector_response(
        township_features(ctx, res), members(res), fmt=format, layer="impact", attribution=ATTRIBUTION
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
    attribution: str = ATTRIBUTION


@router.post("/impact/compare", response_model=CompareResponse, operation_id="post_impact_compare")
@bounded()
def post_impact_compare(req: CompareRequest, ctx: Annotated[Context, Depends(get_context)]) -> CompareResponse:
    """Rank two or more closure plans by the person-hours they cost and say where each costs more."""
    if len(req.plans) + len(req.plan_ids) > MAX_COMPARE:
        raise InvalidInputError(
            f"compare at most {MAX_COMPARE} plans at once; got {len(req.plans) + len(req.plan_ids)}."
        )
    plans = [p.to_plan() for p in req.plans] + [_saved(ctx, pid) for pid in req.plan_ids]
    results = ctx.impact.compare(plans, mode=req.mode, network=req.network)
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
    return CompareResponse(mode=req.mode, network=best.network.name, ranking=ranking)
