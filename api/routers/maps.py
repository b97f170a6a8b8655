"""Map pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse

from api.context import Context, get_context
from api.maps import index_map, site_map

router = APIRouter(prefix="/maps", tags=["maps"])

Basemap = Annotated[
    str, Query(description="osm (OpenStreetMap tiles) or none (no web tiles needed)", pattern="^(osm|none)$")
]


@router.get("", response_class=HTMLResponse, operation_id="index_map")
def get_index_map(ctx: Annotated[Context, Depends(get_context)], basemap: Basemap = "osm") -> HTMLResponse:
    """Show every site on one map."""
    return HTMLResponse(index_map(ctx, basemap=basemap))


@router.get("/sites/{site_id}", response_class=HTMLResponse, operation_id="site_map")
def get_site_map(site_id: str, ctx: Annotated[Context, Depends(get_context)], basemap: Basemap = "osm") -> HTMLResponse:
    """Show one site: boundary, sub-sites, roads, subway stations and entrances, access points."""
    return HTMLResponse(site_map(ctx, site_id, basemap=basemap))
