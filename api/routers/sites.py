"""Sites: the catalogue and each site's access to the road networks."""

from __future__ import annotations

import json
from typing import Annotated

import geopandas as gpd
from fastapi import APIRouter, Path

from api.context import RoutingDep, SitesDep
from api.convert import access_info
from api.schemas import SiteCollection, SiteDetail, SiteFeature

router = APIRouter(prefix="/sites", tags=["sites"])


def _collection(gdf: gpd.GeoDataFrame) -> SiteCollection:
    return SiteCollection.model_validate(json.loads(gdf.to_json(na="null", drop_id=True)))


@router.get("", response_model=SiteCollection, operation_id="list_sites")
def list_sites(sites: SitesDep) -> SiteCollection:
    """List every candidate site, sub-site and supporting place as GeoJSON."""
    return _collection(sites.frame())


@router.get("/{site_id}", response_model=SiteDetail, operation_id="get_site")
def get_site(
    site_id: Annotated[str, Path(description="A site id or name", max_length=100, examples=["summer-palace"])],
    sites: SitesDep,
    routing: RoutingDep,
) -> SiteDetail:
    """Return one site (by id or name) with its sub-sites and road access."""
    site = sites.get(site_id)
    df = sites.frame()
    feature = SiteFeature.model_validate(
        json.loads(df[df["id"] == site.id].to_json(na="null", drop_id=True))["features"][0]
    )
    return SiteDetail(
        site=feature,
        sub_sites=_collection(sites.children(site.id)),
        access=access_info(routing, site),
        map=f"/maps/sites/{site.id}",
    )
