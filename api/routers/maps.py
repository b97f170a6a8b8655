"""Map pages."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse

from api.compute import bounded
from api.context import ContextDep, CoverageDep, RoutingDep
from api.convert import QueryPlan, QueryTravel, time_of_day, to_place
from api.schemas import AnyModeT, MetricT, ModeT
from layers.routing import Closures

router = APIRouter(prefix="/maps", tags=["maps"])

# The pages (api.maps, with folium) are imported by the first page a worker builds, not at
# start-up: they cost half a second of imports that no route or API answer needs.

SiteIdP = Annotated[str, Path(description="A site id or name", max_length=100, examples=["lugou-wanping"])]
Basemap = Annotated[
    str,
    Query(
        description="osm (OpenStreetMap tiles; where they cannot load, the page switches to local), local (the "
        "basemap drawn from the shipped data, /basemap: no internet needed) or none",
        pattern="^(osm|local|none)$",
    ),
]


@router.get("", response_class=HTMLResponse, operation_id="index_map")
@bounded(media_type="text/html")
def get_index_map(ctx: ContextDep, basemap: Basemap = "osm") -> HTMLResponse:
    """Show every site on one map."""
    from api.maps import index_map

    return HTMLResponse(index_map(ctx, basemap=basemap))


@router.get("/sites/{site_id}", response_class=HTMLResponse, operation_id="site_map")
@bounded(media_type="text/html")
def get_site_map(
    site_id: SiteIdP,
    ctx: ContextDep,
    basemap: Basemap = "osm",
    mode: Annotated[
        AnyModeT | None,
        Query(description="The bands' mode (none: the first mode whose network reaches the site)"),
    ] = None,
) -> HTMLResponse:
    """Show one site: boundary, sub-sites, roads, subway lines, stations and entrances, bands, access points."""
    from api.maps import site_map

    return HTMLResponse(site_map(ctx, site_id, basemap=basemap, mode=mode))


@router.get("/routes", response_class=HTMLResponse, operation_id="route_map")
@bounded(media_type="text/html")
def get_route_map(
    routing: RoutingDep,
    origin: Annotated[
        str, Query(description="'lon,lat' or a site id/name", max_length=200, examples=["capital-airport"])
    ],
    destination: Annotated[
        str, Query(description="'lon,lat' or a site id/name", max_length=200, examples=["forbidden-city"])
    ],
    mode: ModeT = "drive",
    metric: MetricT = "fastest",
    alternatives: Annotated[int, Query(ge=1, le=5)] = 3,
    close_street: Annotated[
        list[str] | None, Query(description="Street names to close (repeatable, at most 50)", max_length=50)
    ] = None,
    basemap: Basemap = "osm",
) -> HTMLResponse:
    """Show the route(s) between two places with alternatives, closures and a summary table."""
    from api.maps import route_map

    return HTMLResponse(
        route_map(
            routing,
            to_place(origin),
            to_place(destination),
            mode=mode,
            metric=metric,
            alternatives=alternatives,
            closures=Closures(streets=tuple(close_street or ())),
            basemap=basemap,
        )
    )


# The candidate sites the detailed drive network covers (the far sites are on the coarse regional one).
DEFAULT_COVERAGE_SITES = ["central-axis", "three-hills-five-gardens", "lugou-wanping"]


@router.get("/coverage", response_class=HTMLResponse, operation_id="coverage_map")
@bounded(media_type="text/html")
def get_coverage_map(
    coverage: CoverageDep,
    sites: Annotated[list[str] | None, Query(description="Site ids or 'lon,lat' (repeatable)", max_length=20)] = None,
    minutes: Annotated[float, Query(gt=0, le=180)] = 15.0,
    mode: ModeT = "drive",
    basemap: Basemap = "osm",
) -> HTMLResponse:
    """Show what a set of sites covers together, the overlap, and the townships left uncovered."""
    from api.maps import coverage_map

    return HTMLResponse(
        coverage_map(coverage, sites or DEFAULT_COVERAGE_SITES, minutes=minutes, mode=mode, basemap=basemap)
    )


@router.get("/impact", response_class=HTMLResponse, operation_id="impact_map")
@bounded(media_type="text/html")
def get_impact_map(
    ctx: ContextDep,
    travel: QueryTravel,
    plan: QueryPlan,
    plan_id: Annotated[str | None, Query(max_length=64, description="A saved plan's id")] = None,
    network: Annotated[str | None, Query(max_length=64)] = None,
    show: Annotated[ShowT, Query(description="The delay the townships are coloured by")] = "all modes",
    basemap: Basemap = "osm",
) -> HTMLResponse:
    """Show what a closure plan costs: by township, mode and hour; the plan, the most delayed trips, a table."""
    from api.maps import impact_map, query_string

    if plan_id is None and plan.is_empty():
        plan = dataclasses.replace(plan, name="Chang'an Avenue", closures=Closures(streets=DEFAULT_IMPACT_STREETS))
    res = ctx.impact.evaluate(plan, travel=travel, network=network)
    query = query_string(
        plan_id,
        [] if plan_id else list(plan.closures.streets),
        [] if plan_id else list(plan.entrances),
        plan.window,
        network,
    )
    return HTMLResponse(impact_map(ctx, plan, res, query=query, basemap=basemap, show=show))


@router.get("/closure-cost", response_class=HTMLResponse, operation_id="closure_cost_map")
@bounded(media_type="text/html")
def get_closure_cost_map(
    ctx: ContextDep,
    travel: QueryTravel,
    hour: Annotated[int, Query(ge=0, le=23, description="The hour the holds start")] = 8,
    minutes: Annotated[float, Query(gt=0, le=1440, allow_inf_nan=False, description="How long a hold lasts")] = 2.0,
    network: Annotated[str | None, Query(max_length=64)] = None,
    colour: Annotated[
        Literal["cost", "flow"], Query(description="Colour links by the cost of a hold or car flow")
    ] = "cost",
    basemap: Basemap = "osm",
) -> HTMLResponse:
    """Show the closure-cost atlas: every road link coloured by what holding it costs at the hour, or by its flow."""
    from api.maps import closure_cost_map

    page = closure_cost_map(ctx, travel, hour=hour, minutes=minutes, network=network, basemap=basemap, colour=colour)
    return HTMLResponse(page)


@router.get("/motorcade", response_class=HTMLResponse, operation_id="motorcade_map")
@bounded(media_type="text/html")
def get_motorcade_map(
    ctx: ContextDep,
    origin: Annotated[
        str, Query(min_length=1, max_length=100, description="A site id or 'lon,lat'")
    ] = "capital-airport",
    destination: Annotated[str, Query(min_length=1, max_length=100)] = "116.3056,39.9236",
    depart: Annotated[str, Query(max_length=8, description="HH:MM[:SS]")] = "09:00",
    vehicles: Annotated[int, Query(ge=1, le=500)] = 25,
    before: Annotated[float, Query(ge=0, le=1800, allow_inf_nan=False, description="Hold before the convoy, s")] = 0.0,
    after: Annotated[float, Query(ge=0, le=1800, allow_inf_nan=False, description="Hold after it, s")] = 0.0,
    basemap: Basemap = "osm",
) -> HTMLResponse:
    """Show a convoy's candidate routes, the recommended schedule's held crossings and the townships it costs."""
    from api.maps import motorcade_map
    from geo.motorcade import Convoy
    from layers.motorcade import Motorcade

    trip = Motorcade(
        to_place(origin),
        to_place(destination),
        depart_s=time_of_day(depart, "depart"),
        convoy=Convoy(vehicles, None, before, after),
    )
    ans = ctx.impact.motorcades.plan(trip)
    query = {
        "origin": origin,
        "destination": destination,
        "depart": depart,
        "vehicles": str(vehicles),
        "before": f"{before:g}",
        "after": f"{after:g}",
    }
    return HTMLResponse(motorcade_map(ctx, ans, query=query, basemap=basemap))


ShowT = Literal["all modes", "car", "bus", "subway", "bike", "walk"]
# Opened without a plan, the page shows the closure of Chang'an Avenue through Tiananmen.
DEFAULT_IMPACT_STREETS = ("东长安街", "西长安街")


@router.get("/planner", response_class=HTMLResponse, operation_id="planner_map")
@bounded(media_type="text/html")
def get_planner(ctx: ContextDep, basemap: Basemap = "osm") -> HTMLResponse:
    """Plan routes interactively: click origin and destination (or pick sites), choose mode and closures."""
    from api.maps import planner_map

    return HTMLResponse(planner_map(ctx, kind="route", basemap=basemap))


@router.get("/isochrones", response_class=HTMLResponse, operation_id="isochrone_map")
@bounded(media_type="text/html")
def get_isochrone_page(ctx: ContextDep, basemap: Basemap = "osm") -> HTMLResponse:
    """Draw isochrones interactively: click a point (or pick a site), choose mode, bands and direction."""
    from api.maps import planner_map

    return HTMLResponse(planner_map(ctx, kind="isochrone", basemap=basemap))
