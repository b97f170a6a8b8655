"""Saved closure plans: `/plans` (versioned, with author; exported and imported as GeoJSON)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import shapely
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.auth import editor
from api.compute import bounded
from api.context import ImpactDep, PlansDep
from api.downloads import FORMAT_DOC, CrsQ, FormatQ, download_crs, vector_response
from api.motorcade_out import crossing_points, programme_snapshot
from api.schemas import IMPACT_ATTRIBUTION, GeoJSONResponse, PlanIn, RequestModel
from geo.errors import InvalidInputError, NotFoundError
from geo.limits import LIMITS
from layers.credits import OSM_CREDIT
from layers.keys import ApiKey
from layers.plans import SavedPlan, feature_to_body, plan_feature

if TYPE_CHECKING:
    from layers.impact import ImpactService

router = APIRouter(tags=["plans"])
Editor = Annotated[ApiKey, Depends(editor)]


class PlanCreate(PlanIn):
    """A new plan: its closures, and optionally its id and a note."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"id": "changan-2026", "name": "Chang'an Avenue", "streets": ["东长安街", "西长安街"]}]
        }
    )

    id: str | None = Field(None, min_length=1, max_length=64, description="Lower-case letters, digits, dashes")
    note: str | None = Field(None, max_length=500)


class PlanUpdate(PlanIn):
    """A new version of a plan (the whole plan), based on the version you read."""

    base_version: int = Field(ge=1, le=1_000_000, description="The version this edit is based on")
    note: str | None = Field(None, max_length=500)


class PlanOut(BaseModel):
    """One version of a saved plan."""

    id: str
    version: int
    created_at: str
    author: str | None
    note: str | None
    plan: dict[str, Any] = Field(description="name, streets, areas (GeoJSON), entrances, sites")


class ImportRequest(RequestModel):
    """A GeoJSON FeatureCollection of plans, as `GET /plans/export` writes it."""

    type: str = Field(pattern="^FeatureCollection$")
    features: list[dict[str, Any]] = Field(max_length=LIMITS.max_plan_file_features)
    # The members the export writes besides the features (read, never stored); any other is refused.
    name: str | None = Field(None, max_length=200)
    attribution: str | None = Field(None, max_length=1000)


def _out(p: SavedPlan) -> PlanOut:
    return PlanOut(id=p.id, version=p.version, created_at=p.created_at, author=p.author, note=p.note, plan=p.body)


def _body(impact: ImpactService, plan: PlanIn) -> dict[str, Any]:
    """Validate a plan completely (geometry, streets, entrances, sites) and return what is stored."""
    parsed = plan.to_plan()
    impact.validate(parsed)
    body = plan.model_dump(include={"name", "window", "streets", "areas", "entrances", "sites"}, exclude_none=False)
    if plan.motorcades:  # the programme is planned now: a convoy that cannot go is refused, and its schedule kept
        prog = impact.motorcades.programme(list(parsed.motorcades), list(parsed.motorcade_choices), field="motorcades")
        body["motorcades"] = [t.model_dump(exclude_none=True) for t in plan.motorcades]
        body["schedule"] = programme_snapshot(impact, prog)
    body["streets"] = [s if isinstance(s, str) else s.model_dump(exclude_none=True) for s in plan.streets]
    body["entrances"] = [e if isinstance(e, str) else e.model_dump(exclude_none=True) for e in plan.entrances]
    if plan.crs is not None:  # drawn in another CRS: stored in WGS84, as every plan is (with each area's own window)
        body["areas"] = [
            shapely.geometry.mapping(a)
            if w is None
            else {"type": "Feature", "geometry": shapely.geometry.mapping(a), "properties": {"window": w.iso()}}
            for a, w in zip(parsed.closures.areas, parsed.area_windows, strict=True)
        ]
    return body


@router.post("/plans", response_model=PlanOut, status_code=201, operation_id="create_plan")
@bounded(status=201)
def create_plan(req: PlanCreate, plans: PlansDep, impact: ImpactDep, key: Editor) -> PlanOut:
    """Save a closure plan (version 1); a plan naming what does not exist is refused and nothing is stored."""
    return _out(plans.create(_body(impact, req), author=key.name, plan_id=req.id, note=req.note))


@router.get("/plans", response_model=list[PlanOut], operation_id="list_plans")
def list_plans(plans: PlansDep) -> list[PlanOut]:
    """Return the latest version of every saved plan, newest first."""
    return [_out(p) for p in plans.list()]


@router.get("/plans/export", response_class=GeoJSONResponse, operation_id="export_plans")
def export_plans(plans: PlansDep) -> GeoJSONResponse:
    """Return every plan's latest version as a GeoJSON FeatureCollection (areas as MultiPolygons)."""
    feats = [plan_feature(p) for p in plans.list()]
    return GeoJSONResponse(
        {"type": "FeatureCollection", "name": "closure-plans", "features": feats, "attribution": OSM_CREDIT}
    )


@router.post("/plans/import", response_model=dict[str, Any], status_code=201, operation_id="import_plans")
@bounded(status=201)
def import_plans(req: ImportRequest, plans: PlansDep, impact: ImpactDep, key: Editor) -> dict[str, Any]:
    """Save every plan of a FeatureCollection, all or none (one bad plan refuses the file)."""
    if not req.features:
        raise InvalidInputError("the FeatureCollection holds no plan.")
    items = []
    for i, f in enumerate(req.features):
        pid, body = feature_to_body(f, f"features[{i}]")
        try:
            plan = PlanIn.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first.get("loc", ()))
            raise InvalidInputError(f"features[{i}]: {where}: {first.get('msg', 'invalid')}") from exc
        try:
            items.append((pid, _body(impact, plan)))
        except InvalidInputError as exc:
            raise InvalidInputError(f"features[{i}]: {exc}") from exc
    ids = plans.import_bodies(items, author=key.name)
    return {"imported": len(ids), "ids": ids}


@router.get("/plans/{plan_id}", response_model=PlanOut, operation_id="get_plan")
def get_plan(
    plan_id: str,
    plans: PlansDep,
    version: Annotated[int | None, Query(ge=1, le=1_000_000, description="A past version")] = None,
) -> PlanOut:
    """Return a plan's latest version (or ``version``)."""
    return _out(plans.get(plan_id, version))


@router.get("/plans/{plan_id}/versions", response_model=list[PlanOut], operation_id="plan_versions")
def plan_versions(plan_id: str, plans: PlansDep) -> list[PlanOut]:
    """Return every version of a plan, oldest first."""
    return [_out(p) for p in plans.versions(plan_id)]


@router.put("/plans/{plan_id}", response_model=PlanOut, operation_id="update_plan")
@bounded()
def update_plan(plan_id: str, req: PlanUpdate, plans: PlansDep, impact: ImpactDep, key: Editor) -> PlanOut:
    """Save a new version of a plan; 409 when it changed since ``base_version``."""
    plans.get(plan_id)  # 404 before any validation work
    return _out(
        plans.update(plan_id, _body(impact, req), author=key.name, base_version=req.base_version, note=req.note)
    )


@router.get("/plans/{plan_id}/schedule", responses=FORMAT_DOC, operation_id="plan_schedule", response_class=Response)
def plan_schedule(
    plan_id: str,
    plans: PlansDep,
    version: Annotated[int | None, Query(ge=1, le=1_000_000, description="A past version")] = None,
    part: Annotated[
        Literal["crossings", "routes"], Query(description="The held crossings (points) or the convoys' routes (lines)")
    ] = "crossings",
    format: FormatQ = "geojson",
    crs: CrsQ = None,
) -> Response:
    """Return a saved plan's motorcade schedule as it was computed when the version was saved, for GIS.

    The held crossings as points (`start`, `end`: local clock times; the convoys; the cost) or
    each convoy's route as a line (`depart`, `arrive`); GeoJSON or a GeoPackage in `crs`.
    """
    epsg = download_crs(crs)
    saved = plans.get(plan_id, version)
    sched = saved.body.get("schedule")
    if not sched:
        raise NotFoundError(f"plan {plan_id!r} (version {saved.version}) holds no motorcade programme.")
    feats: list[tuple[shapely.Geometry, dict[str, Any]]] = []
    if part == "crossings":
        feats = crossing_points(sched["crossings"])
    else:
        for c in sched["convoys"]:
            props = {k: (",".join(v) if k == "kinds" else v) for k, v in c.items() if k != "route"}
            feats.append((shapely.LineString(c["route"]), props))
    members = {
        "plan": saved.id,
        "version": saved.version,
        "part": part,
        "network": sched["network"],
        "person_hours_lost": sched["person_hours_lost"],
        "times": sched["times"],
    }
    return vector_response(
        feats, members, fmt=format, layer=f"schedule_{part}", attribution=IMPACT_ATTRIBUTION, crs=epsg
    )
