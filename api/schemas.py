"""Response models (OpenAPI) and the GeoJSON response class."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from geojson_pydantic import Feature, FeatureCollection, MultiPolygon, Polygon
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ERROR_RESPONSES",
    "AccessInfo",
    "ErrorBody",
    "GeoJSONResponse",
    "Health",
    "LayerInfo",
    "RequestModel",
    "SiteCollection",
    "SiteDetail",
    "SiteFeature",
    "SiteProperties",
]


class RequestModel(BaseModel):
    """A request body: unknown fields are refused (422 naming the field), numbers must be finite."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ErrorDetail(BaseModel):
    """What went wrong."""

    status: int
    code: str = Field(description="Stable error code, e.g. not_found, invalid_request, version_conflict, timeout")
    message: str = Field(description="What was wrong and how to fix it")
    request_id: str = Field(description="The request's id (also in the X-Request-ID header and the server log)")
    details: list[dict[str, Any]] | None = Field(None, description="Each invalid field (invalid_request)")
    current_version: int | None = Field(None, description="The proposal's latest version (version_conflict)")


class ErrorBody(BaseModel):
    """Every error answer of the service."""

    error: ErrorDetail


_ERRORS = {
    400: "Bad request or Host not allowed",
    401: "No valid API key",
    403: "The key's role does not allow this",
    404: "Not found",
    412: "The edit was based on an old version",
    413: "Body or upload too large",
    422: "Invalid input",
    428: "The edit did not say which version it was based on",
    500: "Unexpected error (report the request id)",
    503: "Busy, or data unavailable",
    504: "The request ran out of its time budget",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text} for code, text in _ERRORS.items()
}


class GeoJSONResponse(JSONResponse):
    """A JSON response with the GeoJSON media type (RFC 7946)."""

    media_type = "application/geo+json"


class Health(BaseModel):
    """Service status."""

    status: str
    version: str
    networks_loaded: list[str]
    attribution: str


class LayerInfo(BaseModel):
    """One registered layer."""

    id: str
    title: str
    kind: str = Field(description="vector, raster or network")
    geometry_type: str
    file: str
    crs: str
    attribution: str
    description: str
    style: dict[str, Any]
    href: str = Field(description="Where to get the data.")


class SiteProperties(BaseModel):
    """The facts of a site."""

    id: str
    parent: str | None
    group: str
    kind: str
    name_zh: str
    name_en: str
    event_tiers: str | None
    centre_lon: float
    centre_lat: float
    centre_source: str
    osm_ref: str | None
    boundary_source: str
    uncertainty_m: float | None
    area_km2: float


SiteFeature = Feature[Polygon | MultiPolygon, SiteProperties]
SiteCollection = FeatureCollection[SiteFeature]


class AccessInfo(BaseModel):
    """How a site meets a road network of one mode."""

    mode: str
    covered: bool
    network: str | None = None
    access_lon: float | None = None
    access_lat: float | None = None
    boundary_gap_m: float | None = Field(None, description="Distance from the boundary to the access road.")
    message: str | None = Field(None, description="Why the site is not covered, and what to do.")
    walkable_km_per_km2: float | None = Field(
        None, description="Walk mode: km of walkable way per km² more than 50 m inside the boundary"
    )
    walking_inside_modelled: bool | None = Field(
        None, description="Walk mode: false when the network has almost no way inside the site (no footpaths)"
    )
    note: str | None = Field(None, description="What the figures of this mode cannot be trusted for")


class SiteDetail(BaseModel):
    """A site with its sub-sites and its access to the road networks."""

    site: SiteFeature
    sub_sites: SiteCollection
    access: list[AccessInfo]
    map: str
