"""Footprint analysis, alternatives, buildable area, and saved proposals with versions."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

import shapely
from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from api.compute import bounded
from api.context import Context, get_context
from api.downloads import FORMAT_DOC, FormatQ, vector_response
from api.routers.routes import OSM_CREDIT
from api.schemas import RequestModel
from geo import footprints as fp
from geo.errors import InvalidInputError
from layers.footprints import DEFAULT_BUFFER_M
from layers.proposals import Proposal
from layers.registry import export_vector

router = APIRouter(tags=["footprints"])

ATTRIBUTION = f"{OSM_CREDIT}; heritage buildings OSM; population WorldPop (CC BY 4.0); elevation SRTM (NASA)"
GeoJSONGeometry = dict[str, Any]
# A proposal outside every site but this close to one belongs to it.
NEAR_SITE_M = 500.0


class FootprintIn(RequestModel):
    """A proposed footprint and what it is for."""

    footprint: GeoJSONGeometry = Field(description="GeoJSON Polygon or MultiPolygon (or a Feature), WGS84 lon/lat")
    use: str | None = Field(None, max_length=100, description="e.g. museum extension, parking, hall")
    floors: int | None = Field(None, ge=-10, le=100)
    height_m: float | None = Field(None, ge=0, le=500)
    underground: bool = False


class AnalyzeRequest(FootprintIn):
    """A footprint to analyse."""

    buffer_m: float = Field(DEFAULT_BUFFER_M, ge=0, le=1000, description="Width of the buffer zone around sites")


class Analysis(BaseModel):
    """What a footprint touches (all metric work in UTM 50N)."""

    model_config = {"extra": "allow"}

    area_m2: float
    perimeter_m: float
    site: str | None
    sub_site: str | None
    heritage: list[dict[str, Any]]
    protection_zones: list[dict[str, Any]]
    buffer_zones: list[dict[str, Any]]
    roads: dict[str, Any]
    access: dict[str, Any]
    population: dict[str, float]
    elevation: dict[str, Any]
    conflicts: list[dict[str, str]]
    warnings: list[str]


def _analyze(
    ctx: Context, req: FootprintIn, *, buffer_m: float = DEFAULT_BUFFER_M, label: str = "footprint"
) -> tuple[fp.Footprint, dict[str, Any]]:
    f = fp.parse_footprint(req.footprint, label=label)
    a = ctx.footprints.analyze(
        f, use=req.use, floors=req.floors, height_m=req.height_m, underground=req.underground, buffer_m=buffer_m
    )
    return f, a


@router.post(
    "/footprints/analyze",
    response_model=Analysis,
    responses={200: {"content": {"application/geo+json": {}, "application/geopackage+sqlite3": {}}}},
    operation_id="analyze_footprint",
)
@bounded(model=Analysis)
def analyze(
    req: AnalyzeRequest,
    ctx: Annotated[Context, Depends(get_context)],
    format: Annotated[
        Literal["json", "geojson", "gpkg"],
        Query(description="json (the analysis), or the footprint as a GeoJSON / GeoPackage feature carrying it"),
    ] = "json",
) -> dict[str, Any] | Response:
    """Analyse a footprint: area, site, heritage and protection-zone overlaps, roads, access, people, terrain, conflicts."""
    f, a = _analyze(ctx, req, buffer_m=req.buffer_m)
    if format == "json":
        return a
    return vector_response(
        [(f.geometry, a)], {"attribution": ATTRIBUTION}, fmt=format, layer="footprint", attribution=ATTRIBUTION
    )


class Alternative(FootprintIn):
    """One alternative of a comparison."""

    name: str = Field(min_length=1, max_length=100)


class CompareRequest(RequestModel):
    """Alternatives for one site."""

    alternatives: list[Alternative] = Field(min_length=2, max_length=10)
    buffer_m: float = Field(DEFAULT_BUFFER_M, ge=0, le=1000)


class CompareRow(BaseModel):
    """One metric across the alternatives."""

    metric: str
    label: str
    better: Literal["min", "max"]
    values: list[float | None]
    best: list[int] = Field(description="Indices of the best alternative(s); empty when all are equal")


class CompareResponse(BaseModel):
    """All metrics of every alternative side by side, best value per row marked."""

    names: list[str]
    table: list[CompareRow]
    analyses: list[Analysis]


@router.post("/footprints/compare", response_model=CompareResponse, operation_id="compare_footprints")
@bounded()
def compare(req: CompareRequest, ctx: Annotated[Context, Depends(get_context)]) -> CompareResponse:
    """Compare alternative footprints: one table, the best value of each row marked."""
    analyses = [
        _analyze(ctx, alt, buffer_m=req.buffer_m, label=f"alternatives[{i}].footprint")[1]
        for i, alt in enumerate(req.alternatives)
    ]
    table = fp.compare([ctx.footprints.metrics(a) for a in analyses])
    return CompareResponse(
        names=[a.name for a in req.alternatives],
        table=[CompareRow(**row) for row in table],
        analyses=[Analysis(**a) for a in analyses],
    )


class BuildableRequest(RequestModel):
    """A parcel and the zones to keep clear."""

    parcel: GeoJSONGeometry = Field(description="GeoJSON Polygon or MultiPolygon, WGS84")
    buffer_m: float = Field(DEFAULT_BUFFER_M, ge=0, le=1000)
    protected_sites: list[str] | None = Field(
        None, description="Sites whose boundaries are protected (default: the sites the parcel is not mostly inside)"
    )


@router.post("/footprints/buildable", response_model=None, responses=FORMAT_DOC, operation_id="buildable_area")
@bounded()
def buildable(
    req: BuildableRequest, ctx: Annotated[Context, Depends(get_context)], format: FormatQ = "geojson"
) -> Response:
    """Return the buildable part of a parcel, and the protected and buffer parts removed (they add up to the parcel)."""
    parcel = fp.parse_footprint(req.parcel, label="parcel")
    out = ctx.footprints.buildable(parcel, buffer_m=req.buffer_m, protected_sites=req.protected_sites)
    geoms = out.pop("geometries")
    feats = [(geoms[k], {"part": k, "area_m2": out[f"{k}_m2"]}) for k in ("buildable", "protected", "buffer")]
    return vector_response(
        feats,
        {**out, "warnings": list(parcel.warnings), "attribution": ATTRIBUTION},
        fmt=format,
        layer="buildable",
        attribution=ATTRIBUTION,
    )


class SetbackRequest(RequestModel):
    """A footprint grown or shrunk."""

    footprint: GeoJSONGeometry
    distance_m: float = Field(ge=-500, le=500, description="Positive grows, negative shrinks (a setback)")


@router.post("/footprints/setback", response_model=None, operation_id="setback_footprint")
@bounded()
def setback(req: SetbackRequest, ctx: Annotated[Context, Depends(get_context)]) -> Response:
    """Return the footprint grown or shrunk by a distance, with its area."""
    f = fp.parse_footprint(req.footprint)
    g = fp.setback(f.geometry_utm, req.distance_m)
    if g.is_empty:
        raise InvalidInputError(f"shrinking by {-req.distance_m:g} m leaves nothing of the footprint.")
    props = {
        "distance_m": req.distance_m,
        "area_m2": round(float(g.area), 2),
        "original_area_m2": round(float(f.geometry_utm.area), 2),
    }
    return vector_response(
        [(fp.to_lonlat(g), props)],
        {"attribution": ATTRIBUTION},
        fmt="geojson",
        layer="setback",
        attribution=ATTRIBUTION,
    )


# -- proposals ---------------------------------------------------------------------------


class ProposalIn(FootprintIn):
    """A proposal to save."""

    name: str = Field(min_length=1, max_length=200)
    id: str | None = Field(None, description="Optional id (lower-case letters, digits, dashes); generated if absent")
    site_id: str | None = Field(None, description="Site it belongs to (default: the site the footprint lies in)")
    note: str | None = Field(None, max_length=1000)
    buffer_m: float = Field(DEFAULT_BUFFER_M, ge=0, le=1000)


class ProposalUpdate(RequestModel):
    """Changes to a proposal; what is absent is carried over. Each update is a new version."""

    name: str | None = Field(None, min_length=1, max_length=200)
    footprint: GeoJSONGeometry | None = None
    use: str | None = None
    floors: int | None = Field(None, ge=-10, le=100)
    height_m: float | None = Field(None, ge=0, le=500)
    underground: bool | None = None
    site_id: str | None = None
    note: str | None = Field(None, max_length=1000)
    buffer_m: float = Field(DEFAULT_BUFFER_M, ge=0, le=1000)


class ProposalOut(BaseModel):
    """One version of a proposal."""

    id: str
    version: int
    versions: int
    name: str
    site_id: str | None
    geometry: dict[str, Any]
    properties: dict[str, Any]
    analysis: dict[str, Any]
    note: str | None
    created_at: str
    updated_at: str


def _out(p: Proposal) -> ProposalOut:
    return ProposalOut(
        id=p.id,
        version=p.version,
        versions=p.versions,
        name=p.name,
        site_id=p.site_id,
        geometry=shapely.geometry.mapping(p.geometry),
        properties=p.properties,
        analysis=p.analysis,
        note=p.note,
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


def _props(req: FootprintIn) -> dict[str, Any]:
    return {"use": req.use, "floors": req.floors, "height_m": req.height_m, "underground": req.underground}


@router.post("/proposals", response_model=ProposalOut, status_code=201, operation_id="create_proposal")
@bounded(status=201)
def create_proposal(req: ProposalIn, ctx: Annotated[Context, Depends(get_context)]) -> ProposalOut:
    """Save a proposal with its analysis (version 1)."""
    f, a = _analyze(ctx, req, buffer_m=req.buffer_m)
    if req.site_id is not None:
        ctx.sites.get(req.site_id)
    near = a.get("nearest_site") or {}
    site = req.site_id or a.get("sub_site") or a.get("site")
    if site is None and near.get("distance_m", 1e9) <= NEAR_SITE_M:
        site = near["site"]
    p = ctx.proposals.create(
        name=req.name,
        geometry=f.geometry,
        properties=_props(req),
        analysis=a,
        site_id=site,
        proposal_id=req.id,
        note=req.note,
    )
    return _out(p)


@router.get("/proposals", response_model=list[ProposalOut], operation_id="list_proposals")
def list_proposals(
    ctx: Annotated[Context, Depends(get_context)],
    site: Annotated[str | None, Query(description="Only this site's proposals")] = None,
) -> list[ProposalOut]:
    """List the latest version of every proposal, newest first."""
    return [_out(p) for p in ctx.proposals.list(site_id=site)]


@router.get("/proposals/export", response_model=None, responses=FORMAT_DOC, operation_id="export_proposals")
def export_proposals(
    ctx: Annotated[Context, Depends(get_context)],
    format: FormatQ = "gpkg",
    all_versions: Annotated[bool, Query(description="Every version, not only the latest (lossless backup)")] = True,
) -> Response:
    """Export the proposals as a GeoPackage (default) or GeoJSON; with every version it re-imports losslessly."""
    gdf = ctx.proposals.frame(all_versions=all_versions)
    tmpdir = tempfile.mkdtemp(prefix="venue-planner-export-")
    out = Path(tmpdir) / f"proposals.{format}"
    export_vector(gdf, out, fmt=format, layer="proposals", attribution=ATTRIBUTION)

    def cleanup() -> None:
        out.unlink(missing_ok=True)
        Path(tmpdir).rmdir()

    media = "application/geopackage+sqlite3" if format == "gpkg" else "application/geo+json"
    return FileResponse(out, media_type=media, filename=out.name, background=BackgroundTask(cleanup))


@router.post("/proposals/import", response_model=dict[str, int], operation_id="import_proposals")
def import_proposals(
    ctx: Annotated[Context, Depends(get_context)],
    file: Annotated[UploadFile, File(description="An export (.gpkg or .geojson)")],
) -> dict[str, int]:
    """Load an export back (all or nothing; existing ids are refused)."""
    suffix = Path(file.filename or "upload.gpkg").suffix or ".gpkg"
    with tempfile.TemporaryDirectory(prefix="venue-planner-import-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(file.file.read())
        return {"versions": ctx.proposals.import_file(path)}


@router.get("/proposals/{proposal_id}", response_model=ProposalOut, operation_id="get_proposal")
def get_proposal(
    proposal_id: str,
    ctx: Annotated[Context, Depends(get_context)],
    version: Annotated[int | None, Query(ge=1, description="A given version (default: the latest)")] = None,
) -> ProposalOut:
    """Return a proposal (the latest version, or a given one)."""
    return _out(ctx.proposals.get(proposal_id, version))


@router.put("/proposals/{proposal_id}", response_model=ProposalOut, operation_id="update_proposal")
@bounded()
def update_proposal(
    proposal_id: str, req: ProposalUpdate, ctx: Annotated[Context, Depends(get_context)]
) -> ProposalOut:
    """Change a proposal: a new version is added; the analysis is redone when the footprint or use changes."""
    cur = ctx.proposals.get(proposal_id)
    props = dict(cur.properties)
    for k in ("use", "floors", "height_m", "underground"):
        v = getattr(req, k)
        if v is not None:
            props[k] = v
    geometry = analysis = None
    if req.footprint is not None or props != cur.properties:
        doc = req.footprint if req.footprint is not None else shapely.geometry.mapping(cur.geometry)
        f = fp.parse_footprint(doc)
        analysis = ctx.footprints.analyze(
            f, use=props.get("use"), floors=props.get("floors"), height_m=props.get("height_m"),
            underground=bool(props.get("underground")), buffer_m=req.buffer_m,
        )  # fmt: skip
        geometry = f.geometry
    if req.site_id is not None:
        ctx.sites.get(req.site_id)
    p = ctx.proposals.update(
        proposal_id,
        name=req.name,
        geometry=geometry,
        properties=props,
        analysis=analysis,
        site_id=req.site_id,
        note=req.note,
    )
    return _out(p)


@router.delete("/proposals/{proposal_id}", status_code=204, operation_id="delete_proposal")
def delete_proposal(proposal_id: str, ctx: Annotated[Context, Depends(get_context)]) -> Response:
    """Delete a proposal (its history is kept; POST /proposals/{id}/undelete brings it back)."""
    ctx.proposals.delete(proposal_id)
    return Response(status_code=204)


@router.post("/proposals/{proposal_id}/undelete", response_model=ProposalOut, operation_id="undelete_proposal")
def undelete_proposal(proposal_id: str, ctx: Annotated[Context, Depends(get_context)]) -> ProposalOut:
    """Bring back a deleted proposal."""
    return _out(ctx.proposals.undelete(proposal_id))


@router.get("/proposals/{proposal_id}/versions", response_model=list[ProposalOut], operation_id="proposal_versions")
def proposal_versions(proposal_id: str, ctx: Annotated[Context, Depends(get_context)]) -> list[ProposalOut]:
    """Return every version of a proposal, oldest first."""
    return [_out(p) for p in ctx.proposals.versions(proposal_id)]


class RestoreRequest(RequestModel):
    """Which version to bring back."""

    version: int = Field(ge=1)


@router.post("/proposals/{proposal_id}/restore", response_model=ProposalOut, operation_id="restore_proposal")
def restore_proposal(
    proposal_id: str, req: RestoreRequest, ctx: Annotated[Context, Depends(get_context)]
) -> ProposalOut:
    """Restore an old version (as a new version: history is never rewritten)."""
    return _out(ctx.proposals.restore(proposal_id, req.version))
