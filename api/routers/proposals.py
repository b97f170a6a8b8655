"""Saved proposals: created from an analysed footprint, versioned, never lost; exported and imported."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import shapely
from fastapi import APIRouter, Depends, File, Header, Query, UploadFile
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.auth import editor
from api.compute import bounded
from api.context import FootprintsDep, ProposalsDep, SitesDep
from api.convert import analyze_footprint, footprint_in
from api.downloads import FORMAT_DOC, CrsQ, FormatQ, download_crs, export_response
from api.schemas import (
    EXAMPLE_FOOTPRINT,
    FOOTPRINT_ATTRIBUTION,
    FootprintIn,
    GeoJSONGeometry,
    InputCrs,
    RequestModel,
)
from geo.errors import InvalidInputError
from geo.limits import LIMITS
from layers.errors import PreconditionRequiredError
from layers.footprints import DEFAULT_BUFFER_M
from layers.keys import ApiKey
from layers.proposal_records import FLOORS_RANGE, HEIGHT_RANGE_M
from layers.proposals import Proposal, ProposalChanges, ProposalStore

if TYPE_CHECKING:
    from layers.sites import SiteCatalog

router = APIRouter(tags=["proposals"])

MAX_VERSION = 1_000_000_000  # SQLite integers are 64-bit; nobody makes a billion edits
# A proposal outside every site but this close to one belongs to it.
NEAR_SITE_M = 500.0


class ProposalIn(FootprintIn):
    """A proposal to save."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Museum extension",
                    "footprint": EXAMPLE_FOOTPRINT,
                    "use": "museum",
                    "floors": 2,
                }
            ]
        }
    )

    name: str = Field(min_length=1, max_length=200)
    id: str | None = Field(None, description="Optional id (lower-case letters, digits, dashes); generated if absent")
    site_id: str | None = Field(None, description="Site it belongs to (default: the site the footprint lies in)")
    note: str | None = Field(None, max_length=1000)
    buffer_m: float = Field(DEFAULT_BUFFER_M, ge=0, le=1000)


class ProposalUpdate(RequestModel):
    """Changes to a proposal; what is absent is carried over. Each update is a new version."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"floors": 3, "note": "one more floor", "base_version": 1}]}
    )

    name: str | None = Field(None, min_length=1, max_length=200)
    footprint: GeoJSONGeometry | None = None
    crs: InputCrs = None
    use: str | None = Field(None, max_length=LIMITS.max_use_chars)
    floors: int | None = Field(None, ge=FLOORS_RANGE[0], le=FLOORS_RANGE[1])
    height_m: float | None = Field(None, ge=HEIGHT_RANGE_M[0], le=HEIGHT_RANGE_M[1])
    underground: bool | None = None
    site_id: str | None = Field(None, max_length=100)
    note: str | None = Field(None, max_length=1000)
    buffer_m: float = Field(DEFAULT_BUFFER_M, ge=0, le=1000)
    base_version: int | None = Field(
        None,
        ge=1,
        le=MAX_VERSION,
        description="The version this edit is based on (or send If-Match with its ETag); required",
    )


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
    author: str | None = Field(None, description="Name of the API key that wrote this version")
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
        author=p.author,
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


def etag(p: Proposal) -> str:
    """Return the ETag of a proposal's version (what If-Match must repeat)."""
    return f'"v{p.version}"'


def _with_etag(p: Proposal, status: int = 200) -> Response:
    return Response(
        _out(p).model_dump_json(), status_code=status, media_type="application/json", headers={"etag": etag(p)}
    )


def _base_version(if_match: str | None, base_version: int | None) -> int:
    """Return the version an edit was based on, from If-Match or the body (one is required)."""
    if if_match is not None:
        m = re.fullmatch(r'\s*(?:W/)?"v(\d{1,9})"\s*', if_match)
        if m is None:
            raise InvalidInputError(f'If-Match must be the ETag of a version, such as "v3"; got {if_match[:40]!r}.')
        v = int(m.group(1))
        if base_version is not None and base_version != v:
            raise InvalidInputError(f"If-Match says version {v} but base_version says {base_version}; send one.")
        return v
    if base_version is None:
        raise PreconditionRequiredError(
            "say which version this edit is based on: send If-Match with the ETag of GET /proposals/{id} "
            '(such as "v3") or base_version in the body. Without it a concurrent edit could be lost.'
        )
    return base_version


IfMatch = Annotated[
    str | None, Header(alias="If-Match", description='The ETag of the version the edit is based on, e.g. "v3"')
]
Editor = Annotated[ApiKey, Depends(editor)]


def _props(req: FootprintIn) -> dict[str, Any]:
    return {"use": req.use, "floors": req.floors, "height_m": req.height_m, "underground": req.underground}


def _site_of(sites: SiteCatalog, given: str | None, analysis: Mapping[str, Any]) -> str | None:
    """Return the site a proposal belongs to: the one given, else where its footprint lies (or lies near)."""
    if given is not None:
        return sites.get(given).id
    near = analysis.get("nearest_site") or {}
    site = analysis.get("sub_site") or analysis.get("site")
    if site is None and near.get("distance_m", 1e9) <= NEAR_SITE_M:
        site = near["site"]
    return str(site) if site is not None else None


@router.post("/proposals", response_model=ProposalOut, status_code=201, operation_id="create_proposal")
@bounded(status=201)
def create_proposal(
    req: ProposalIn, proposals: ProposalsDep, sites: SitesDep, footprints: FootprintsDep, key: Editor
) -> Response:
    """Save a proposal with its analysis (version 1)."""
    f, a = analyze_footprint(footprints, req, buffer_m=req.buffer_m)
    if req.site_id is not None:
        sites.get(req.site_id)
    site = _site_of(sites, req.site_id, a)
    p = proposals.create(
        name=req.name,
        geometry=f.geometry,
        properties=_props(req),
        analysis=a,
        site_id=site,
        proposal_id=req.id,
        note=req.note,
        author=key.name,
    )
    return _with_etag(p, 201)


@router.get("/proposals", response_model=list[ProposalOut], operation_id="list_proposals")
def list_proposals(
    proposals: ProposalsDep,
    sites: SitesDep,
    site: Annotated[
        str | None,
        Query(description="Only this site's proposals (a candidate site's include its sub-sites')", max_length=100),
    ] = None,
) -> list[ProposalOut]:
    """List the latest version of every proposal, newest first."""
    if site is None:
        return [_out(p) for p in proposals.list()]
    s = sites.get(site)
    ids = [s.id, *sites.children(s.id)["id"].astype(str)]
    return [_out(p) for p in proposals.list(site_ids=ids)]


@router.get("/proposals/export", response_model=None, responses=FORMAT_DOC, operation_id="export_proposals")
def export_proposals(
    proposals: ProposalsDep,
    format: FormatQ = "gpkg",
    all_versions: Annotated[bool, Query(description="Every version, not only the latest (lossless backup)")] = True,
    crs: CrsQ = None,
) -> Response:
    """Export the proposals as a GeoPackage (default) or GeoJSON; with every version it re-imports losslessly.

    GeoJSON is streamed, one feature at a time, straight from the database (always WGS84);
    ``crs`` sets the GeoPackage's CRS (the import reads it back).
    """
    epsg = download_crs(crs)
    if format == "geojson":
        return StreamingResponse(
            _geojson_export(proposals, all_versions=all_versions),
            media_type="application/geo+json",
            headers={"content-disposition": 'attachment; filename="proposals.geojson"'},
        )
    gdf = proposals.frame(all_versions=all_versions)
    if epsg is not None:
        gdf = gdf.to_crs(epsg)
    return export_response(gdf, name="proposals", fmt=format, attribution=FOOTPRINT_ATTRIBUTION)


def _geojson_export(proposals: ProposalStore, *, all_versions: bool) -> Iterator[bytes]:
    yield b'{"type":"FeatureCollection","features":['
    first = True
    for p in proposals.iter_versions(all_versions=all_versions):
        record = proposals.export_record(p)
        feature = (
            '{"type":"Feature","geometry":'
            + shapely.to_geojson(p.geometry)
            + ',"properties":'
            + json.dumps(record, ensure_ascii=False)
            + "}"
        )
        yield (("" if first else ",") + feature).encode()
        first = False
    yield ('],"attribution":' + json.dumps(FOOTPRINT_ATTRIBUTION, ensure_ascii=False) + "}").encode()


@router.post("/proposals/import", response_model=dict[str, int], operation_id="import_proposals")
def import_proposals(
    proposals: ProposalsDep,
    file: Annotated[UploadFile, File(description="An export (.gpkg or .geojson), at most 20 MB by default")],
    key: Editor,
) -> dict[str, int]:
    """Load an export back (all or nothing; existing ids are refused; every record checked as a write)."""
    label = Path(file.filename or "upload").name[:100] or "upload"
    with tempfile.TemporaryDirectory(prefix="venue-planner-import-") as tmp:
        path = Path(tmp) / "upload"
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out, 1 << 20)
        return {"versions": proposals.import_file(path, label=label)}


@router.get("/proposals/{proposal_id}", response_model=ProposalOut, operation_id="get_proposal")
def get_proposal(
    proposal_id: str,
    proposals: ProposalsDep,
    version: Annotated[
        int | None, Query(ge=1, le=MAX_VERSION, description="A given version (default: the latest)")
    ] = None,
) -> Response:
    """Return a proposal (the latest version, or a given one), with its version's ETag."""
    return _with_etag(proposals.get(proposal_id, version))


@router.put("/proposals/{proposal_id}", response_model=ProposalOut, operation_id="update_proposal")
@bounded()
def update_proposal(
    proposal_id: str,
    req: ProposalUpdate,
    footprints: FootprintsDep,
    proposals: ProposalsDep,
    sites: SitesDep,
    key: Editor,
    if_match: IfMatch = None,
) -> Response:
    """Change a proposal: a new version is added; the analysis is redone when the footprint or use changes.

    The edit must say which version it is based on (If-Match or base_version): when that
    is no longer the latest, nothing is saved and the answer is 412 with the current version.
    """
    base = _base_version(if_match, req.base_version)
    cur = proposals.get(proposal_id)
    ProposalStore.require_version(cur, base)  # early answer; the store checks again inside its transaction
    props = dict(cur.properties)
    for k in ("use", "floors", "height_m", "underground"):
        v = getattr(req, k)
        if v is not None:
            props[k] = v
    geometry = analysis = None
    if req.footprint is not None or props != cur.properties:
        doc = req.footprint if req.footprint is not None else shapely.geometry.mapping(cur.geometry)
        f = footprint_in(doc, limits=footprints.routing.limits, crs=req.crs if req.footprint is not None else None)
        analysis = footprints.analyze(
            f, use=props.get("use"), floors=props.get("floors"), height_m=props.get("height_m"),
            underground=bool(props.get("underground")), buffer_m=req.buffer_m,
        )  # fmt: skip
        geometry = f.geometry
    # The site follows the footprint: a proposal moved into another site lists under it.
    moved = req.footprint is not None
    site = _site_of(sites, req.site_id, analysis or {}) if moved or req.site_id is not None else None
    p = proposals.update(
        proposal_id,
        ProposalChanges(
            name=req.name,
            geometry=geometry,
            properties=props,
            analysis=analysis,
            site_id=site,
            clear_site=moved and site is None,
        ),
        note=req.note,
        author=key.name,
        base_version=base,
    )
    return _with_etag(p)


@router.delete("/proposals/{proposal_id}", status_code=204, operation_id="delete_proposal")
def delete_proposal(proposal_id: str, proposals: ProposalsDep, key: Editor, if_match: IfMatch = None) -> Response:
    """Delete a proposal (its history is kept; POST /proposals/{id}/undelete brings it back).

    With If-Match, only when that version is still the latest (412 otherwise).
    """
    proposals.delete(proposal_id, base_version=None if if_match is None else _base_version(if_match, None))
    return Response(status_code=204)


@router.post("/proposals/{proposal_id}/undelete", response_model=ProposalOut, operation_id="undelete_proposal")
def undelete_proposal(proposal_id: str, proposals: ProposalsDep, key: Editor) -> Response:
    """Bring back a deleted proposal."""
    return _with_etag(proposals.undelete(proposal_id))


@router.get("/proposals/{proposal_id}/versions", response_model=list[ProposalOut], operation_id="proposal_versions")
def proposal_versions(proposal_id: str, proposals: ProposalsDep) -> list[ProposalOut]:
    """Return every version of a proposal, oldest first."""
    return [_out(p) for p in proposals.versions(proposal_id)]


class RestoreRequest(RequestModel):
    """Which version to bring back."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"version": 1}]})

    version: int = Field(ge=1, le=MAX_VERSION)


@router.post("/proposals/{proposal_id}/restore", response_model=ProposalOut, operation_id="restore_proposal")
def restore_proposal(
    proposal_id: str,
    req: RestoreRequest,
    proposals: ProposalsDep,
    key: Editor,
    if_match: IfMatch = None,
) -> Response:
    """Restore an old version (as a new version: history is never rewritten); If-Match is honoured."""
    base = None if if_match is None else _base_version(if_match, None)
    return _with_etag(proposals.restore(proposal_id, req.version, author=key.name, base_version=base))
