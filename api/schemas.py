"""Response models (OpenAPI) and the GeoJSON response class."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from geojson_pydantic import Feature, FeatureCollection, MultiPolygon, Polygon
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AccessInfo",
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


class SiteDetail(BaseModel):
    """A site with its sub-sites and its access to the road networks."""

    site: SiteFeature
    sub_sites: SiteCollection
    access: list[AccessInfo]
    map: str
