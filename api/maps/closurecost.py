"""The closure-cost atlas page: every road link coloured by what holding it costs at a chosen hour."""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd

from api.maps.base import FastGeoJson, _add_html, _features_json, _layer_list, _legend, _new_map, _page
from layers.atlas import ATLAS_TEXT, atlas_features, closure_atlas

if TYPE_CHECKING:
    from api.context import Context
    from layers.eventimpact import TravelModel

__all__ = ["closure_cost_map"]

# Person-hours of one hold: ColorBrewer YlOrRd.
COST_CLASSES = ((100.0, "#bd0026"), (20.0, "#f03b20"), (5.0, "#fd8d3c"), (1.0, "#fecc5c"), (0.0, "#ffffb2"))
# Cars per hour: ColorBrewer PuBu.
FLOW_CLASSES = ((4000.0, "#045a8d"), (2000.0, "#2b8cbe"), (1000.0, "#74a9cf"), (500.0, "#bdc9e1"), (0.0, "#f1eef6"))
MAX_LINKS = 6000  # the costliest (or busiest) links drawn (the download holds all)


def _colour(value: float, classes: tuple[tuple[float, str], ...] = COST_CLASSES) -> str:
    return next(c for lo, c in classes if value >= lo)


def closure_cost_map(
    ctx: Context,
    travel: TravelModel,
    *,
    hour: int,
    minutes: float,
    network: str | None,
    basemap: str = "osm",
    colour: str = "cost",
) -> str:
    """Return the atlas page for one hour and hold length; ``colour``: by ``cost`` of a hold or car ``flow``."""
    net = ctx.impact.network("drive", network)
    atlas = closure_atlas(ctx.impact.event, net, ctx.impact.towns(net), travel, hour=hour, minutes=minutes)
    feats = atlas_features(ctx.impact.event, net, atlas)
    by_flow = colour == "flow"
    ranked = sorted(feats, key=lambda f: -f[1]["flow_veh_h"]) if by_flow else feats
    top = ranked[:MAX_LINKS]
    rows = [
        {
            "street": p["street"] or p["road_class"],
            "flow": p["flow_veh_h"],
            "cost": p["cost_person_hours"],
            "choice": p["choice"],
            "colour": _colour(p["flow_veh_h"], FLOW_CLASSES) if by_flow else _colour(p["cost_person_hours"]),
            "w": 2 + min(6.0, p["flow_veh_h"] / 1000.0),
        }
        for _, p in reversed(top)  # costliest drawn last, on top
    ]
    frame = gpd.GeoDataFrame(rows, geometry=[g for g, _ in reversed(top)], crs=4326)
    m = _new_map((39.905, 116.397), basemap=basemap, zoom=12)
    FastGeoJson(
        _features_json(frame, decimals=5),
        name=f"Car flow at {hour:02d}:00 ({len(frame):,} busiest links)"
        if by_flow
        else f"Cost of holding each link {minutes:g} min at {hour:02d}:00 ({len(frame):,} costliest links)",
        look="closureCost",
    ).add_to(m)
    _layer_list(m, collapsed=True)
    q = f"hour={hour}&minutes={minutes:g}" + (f"&network={network}" if network else "")
    _add_html(
        m,
        "closure_cost.html",
        title="Closure-cost atlas",
        hour=hour,
        minutes=minutes,
        network=net.name,
        links=len(feats),
        drawn=len(frame),
        worst=[p for _, p in feats[:10]],
        total=sum(p["cost_person_hours"] for _, p in feats),
        query=q,
        hidden=([("network", network)] if network else []) + ([("basemap", basemap)] if basemap != "osm" else []),
        colour=colour,
        model=ATLAS_TEXT,
        warnings=ctx.routing.precision_warnings(net),
    )
    if by_flow:
        legend = [(c, f"≥ {lo:,.0f} cars per hour") for lo, c in FLOW_CLASSES if lo > 0]
        legend.append(("#f1eef6", "under 500 cars per hour"))
    else:
        legend = [(c, f"≥ {lo:g} person-hours per hold") for lo, c in COST_CLASSES if lo > 0]
        legend.append(("#ffffb2", "under 1 person-hour"))
    _legend(m, "Links (width: car flow)", legend, element_id="atlas-legend")
    return _page(m, "Closure-cost atlas")
