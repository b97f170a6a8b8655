"""Sites: the catalogue and each site's access to the road networks."""

from __future__ import annotations

import json
from typing import Annotated

import geopandas as gpd
from fastapi import APIRouter, Depends, Path

from api.context import Context, get_context
from api.schemas import AccessInfo, SiteCollection, SiteDetail, SiteFeature
from geo.errors import OutsideCoverageError
from geo.network import MODES
from layers.networks import site_access
from layers.sites import Site

router = APIRouter(prefix="/sites", tags=["sites"])


def _collection(gdf: gpd.GeoDataFrame) -> SiteCollection:
    return SiteCollection.model_validate(json.loads(gdf.to_json(na="null", drop_id=True)))


def access_info(ctx: Context, site: Site) -> list[AccessInfo]:
    """Return, per mode, the network covering the site and its access point, or why none does."""
    out = []
    for mode in MODES:
        try:
            net, snap = site_access(
                ctx.networks,
                site.lon,
                site.lat,
                site.boundary_utm(),
                mode=mode,
                label=f"site {site.id!r}",
                max_distance_m=ctx.settings.site_access_max_m,
            )
        except OutsideCoverageError as exc:
            out.append(AccessInfo(mode=mode, covered=False, message=str(exc)))
            continue
        walk = ctx.routing.walk_density(net, site.id) if mode == "walk" else None
        out.append(
            AccessInfo(
                mode=mode,
                covered=True,
                network=net.name,
                access_lon=round(snap.lon, 7),
                access_lat=round(snap.lat, 7),
                boundary_gap_m=round(snap.distance_m, 1),
                walkable_km_per_km2=None if walk is None else round(walk.km_per_km2, 2),
                walking_inside_modelled=None if walk is None else not walk.sparse,
                note=walk.note(net.name) if walk is not None and walk.sparse else None,
            )
        )
    return out


@router.get("", response_model=SiteCollection, operation_id="list_sites")
def list_sites(ctx: Annotated[Context, Depends(get_context)]) -> SiteCollection:
    """List every candidate site, sub-site and supporting place as GeoJSON."""
    return _collection(ctx.sites.frame())


@router.get("/{site_id}", response_model=SiteDetail, operation_id="get_site")
def get_site(
    site_id: Annotated[str, Path(description="A site id or name", max_length=100, examples=["summer-palace"])],
    ctx: Annotated[Context, Depends(get_context)],
) -> SiteDetail:
    """Return one site (by id or name) with its sub-sites and road access."""
    site = ctx.sites.get(site_id)
    df = ctx.sites.frame()
    feature = SiteFeature.model_validate(
        json.loads(df[df["id"] == site.id].to_json(na="null", drop_id=True))["features"][0]
    )
    return SiteDetail(
        site=feature,
        sub_sites=_collection(ctx.sites.children(site.id)),
        access=access_info(ctx, site),
        map=f"/maps/sites/{site.id}",
    )
