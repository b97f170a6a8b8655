"""Footprint analysis, alternatives, buildable area and setbacks (saved proposals: `api/routers/proposals.py`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.compute import bounded
from api.context import FootprintsDep, LimitsDep
from api.convert import analyze_footprint, footprint_in
from api.downloads import FORMAT_DOC, CrsQ, FormatQ, download_crs, vector_response
from api.schemas import (
    EXAMPLE_FOOTPRINT,
    FOOTPRINT_ATTRIBUTION,
    FootprintIn,
    GeoJSONGeometry,
    InputCrs,
    RequestModel,
)
from geo import footprints as fp
from geo.errors import InvalidInputError
from layers.footprints import DEFAULT_BUFFER_M

router = APIRouter(tags=["footprints"])

ATTRIBUTION = FOOTPRINT_ATTRIBUTION


class AnalyzeRequest(FootprintIn):
    """A footprint to analyse."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "footprint": EXAMPLE_FOOTPRINT,
                    "use": "museum extension",
                    "floors": 2,
                }
            ]
        }
    )

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


@router.post(
    "/footprints/analyze",
    response_model=Analysis,
    responses={200: {"content": {"application/geo+json": {}, "application/geopackage+sqlite3": {}}}},
    operation_id="analyze_footprint",
)
@bounded(model=Analysis)
def analyze(
    req: AnalyzeRequest,
    footprints: FootprintsDep,
    format: Annotated[
        Literal["json", "geojson", "gpkg"],
        Query(description="json (the analysis), or the footprint as a GeoJSON / GeoPackage feature carrying it"),
    ] = "json",
    crs: CrsQ = None,
) -> fp.Analysis | Response:
    """Analyse a footprint: area, site, heritage and protection-zone overlaps, roads, access, people, terrain, conflicts."""
    epsg = download_crs(crs)
    f, a = analyze_footprint(footprints, req, buffer_m=req.buffer_m)
    if format == "json":
        return a
    return vector_response(
        [(f.geometry, a)],
        {"attribution": ATTRIBUTION},
        fmt=format,
        layer="footprint",
        attribution=ATTRIBUTION,
        crs=epsg,
    )


class Alternative(FootprintIn):
    """One alternative of a comparison."""

    name: str = Field(min_length=1, max_length=100)


class CompareRequest(RequestModel):
    """Alternatives for one site."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "alternatives": [
                        {
                            "name": "East",
                            "footprint": {
                                "type": "Polygon",
                                "coordinates": [
                                    [
                                        [116.2264, 39.8484],
                                        [116.2284, 39.8484],
                                        [116.2284, 39.8499],
                                        [116.2264, 39.8499],
                                        [116.2264, 39.8484],
                                    ]
                                ],
                            },
                        },
                        {
                            "name": "Further east",
                            "footprint": {
                                "type": "Polygon",
                                "coordinates": [
                                    [
                                        [116.229, 39.8484],
                                        [116.2305, 39.8484],
                                        [116.2305, 39.8495],
                                        [116.229, 39.8495],
                                        [116.229, 39.8484],
                                    ]
                                ],
                            },
                        },
                    ]
                }
            ]
        }
    )

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
def compare(req: CompareRequest, footprints: FootprintsDep) -> CompareResponse:
    """Compare alternative footprints: one table, the best value of each row marked."""
    analyses = [
        analyze_footprint(footprints, alt, buffer_m=req.buffer_m, label=f"alternatives[{i}].footprint")[1]
        for i, alt in enumerate(req.alternatives)
    ]
    table = fp.compare([footprints.metrics(a) for a in analyses])
    return CompareResponse(
        names=[a.name for a in req.alternatives],
        table=[CompareRow(**row) for row in table],
        analyses=[Analysis(**a) for a in analyses],
    )


class BuildableRequest(RequestModel):
    """A parcel and the zones to keep clear."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "parcel": {
                        "type": "Polygon",
                        "coordinates": [
                            [
                                [116.389, 39.915],
                                [116.393, 39.915],
                                [116.393, 39.918],
                                [116.389, 39.918],
                                [116.389, 39.915],
                            ]
                        ],
                    },
                    "buffer_m": 20,
                }
            ]
        }
    )

    parcel: GeoJSONGeometry = Field(description="GeoJSON Polygon or MultiPolygon, WGS84 unless `crs`")
    crs: InputCrs = None
    buffer_m: float = Field(DEFAULT_BUFFER_M, ge=0, le=1000)
    protected_sites: list[str] | None = Field(
        None, description="Sites whose boundaries are protected (default: the sites the parcel is not mostly inside)"
    )


@router.post("/footprints/buildable", response_model=None, responses=FORMAT_DOC, operation_id="buildable_area")
@bounded()
def buildable(
    req: BuildableRequest, footprints: FootprintsDep, format: FormatQ = "geojson", crs: CrsQ = None
) -> Response:
    """Return the buildable part of a parcel, and the protected and buffer parts removed (they add up to the parcel)."""
    epsg = download_crs(crs)
    parcel = footprint_in(req.parcel, limits=footprints.routing.limits, label="parcel", crs=req.crs)
    out = footprints.buildable(parcel, buffer_m=req.buffer_m, protected_sites=req.protected_sites)
    areas = {"buildable": out["buildable_m2"], "protected": out["protected_m2"], "buffer": out["buffer_m2"]}
    feats = [(out["geometries"][k], {"part": k, "area_m2": a}) for k, a in areas.items()]
    meta = {k: v for k, v in out.items() if k != "geometries"}
    return vector_response(
        feats,
        {**meta, "warnings": list(parcel.warnings), "attribution": ATTRIBUTION},
        fmt=format,
        layer="buildable",
        attribution=ATTRIBUTION,
        crs=epsg,
    )


class SetbackRequest(RequestModel):
    """A footprint grown or shrunk."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "footprint": EXAMPLE_FOOTPRINT,
                    "distance_m": -10,
                }
            ]
        }
    )

    footprint: GeoJSONGeometry
    crs: InputCrs = None
    distance_m: float = Field(ge=-500, le=500, description="Positive grows, negative shrinks (a setback)")


@router.post(
    "/footprints/setback",
    response_model=None,
    responses={200: {"content": {"application/geo+json": {}}, "description": "The footprint as a GeoJSON feature"}},
    operation_id="setback_footprint",
)
@bounded()
def setback(req: SetbackRequest, limits: LimitsDep) -> Response:
    """Return the footprint grown or shrunk by a distance, with its area."""
    f = footprint_in(req.footprint, limits=limits, crs=req.crs)
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
