"""The index page: every site on one map and a table of their key figures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import folium
import numpy as np
import shapely

from api.maps.base import (
    _KIND_COLOUR,
    _esc,
    _layer_list,
    _new_map,
    _page,
    _panel,
    _Raw,
    _root,
)
from api.maps.site import (
    site_isochrone,
)
from geo.crs import distance_m
from geo.errors import DataSourceError, InvalidInputError, NoRouteError, OutsideCoverageError

if TYPE_CHECKING:
    from api.context import Context


def _figure_row(ctx: Context, r: dict[str, Any], counts: dict[str, int]) -> str:
    """Return a table row of a site's key figures (blank where the networks do not reach)."""
    sid = str(r["id"])
    people = airport = "—"
    try:
        # The site page's bands (computed at start-up and kept): the same figure as a
        # one-site coverage within 15 minutes.
        iso = site_isochrone(ctx, sid, "drive")
        fig = next(b for b in iso.bands if b.minutes == 15.0)
        people = f"{'≥ ' if fig.truncated else '≈ ' if fig.coarse else ''}{fig.population / 1e6:.2f} M"
    except (OutsideCoverageError, NoRouteError, InvalidInputError):
        people = "outside network"
    if sid != "capital-airport":
        try:
            route = ctx.routing.routes("capital-airport", sid)[0][0]
            airport = f"{route.travel_time_s / 60:.0f} min"
        except (OutsideCoverageError, NoRouteError, InvalidInputError):
            airport = "outside network"
    st = ctx.layers.load("subway-stations")
    d = distance_m(float(r["centre_lon"]), float(r["centre_lat"]), st.geometry.x.to_numpy(), st.geometry.y.to_numpy())
    j = int(np.argmin(d))
    ids = {sid, *ctx.sites.children(sid)["id"]}
    count = sum(n for s_, n in counts.items() if s_ in ids)
    return (
        f'<tr><td><a href="/maps/sites/{_esc(sid)}">{_esc(str(r["name_en"]))}</a> {_esc(str(r["name_zh"]))}</td>'
        f"<td align=right>{people}</td><td>{_esc(str(st['name'].iloc[j]))} ({d[j]:,.0f} m)</td>"
        f"<td align=right>{airport}</td><td align=right>{count}</td></tr>"
    )


def index_map(ctx: Context, *, basemap: str = "osm") -> str:
    """Return the page with every site on one map and links to the site pages."""
    df = ctx.sites.frame()
    if df.empty:
        raise DataSourceError("the site catalogue is empty; rebuild the seeds.")
    m = _new_map((39.95, 116.40), basemap=basemap)
    for group, sub in df.groupby("group", sort=True):
        fg = folium.FeatureGroup(name=str(group))
        for _, row in sub.iterrows():
            colour = _KIND_COLOUR.get(str(row["kind"]), "#333333")
            outline = folium.GeoJson(
                shapely.geometry.mapping(row.geometry),
                style_function=lambda _, c=colour: {"color": c, "weight": 2, "fillOpacity": 0.1},
                tooltip=_esc(f"{row['name_en']} {row['name_zh']}"),
            )
            folium.Popup(
                f'<a href="/maps/sites/{row["id"]}">{_esc(str(row["name_en"]))}</a><br>{row["kind"]}',
                max_width=260,
            ).add_to(outline)
            if row["kind"] != "sub_site":  # candidate sites and supporting places carry their name
                folium.Marker(
                    [row.geometry.representative_point().y, row.geometry.representative_point().x],
                    icon=folium.DivIcon(
                        html=f'<div class="site-label">{_esc(str(row["name_en"]))}</div>',
                        icon_size=(160, 16),
                        icon_anchor=(0, 8),
                    ),
                ).add_to(fg)
            outline.add_to(fg)
        fg.add_to(m)
    _layer_list(m)
    minx, miny, maxx, maxy = df.total_bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    counts = ctx.proposals.count_by_site()  # one query for the whole table
    rows = "".join(_figure_row(ctx, r, counts) for r in df[df["kind"] != "sub_site"].to_dict("records"))
    table = (
        "<table id='site-figures' style='border-collapse:collapse;font-size:12px'>"
        "<tr><th align=left>Site</th><th>People ≤ 15 min drive</th><th>Nearest subway</th>"
        "<th>From Capital Airport</th><th>Proposals</th></tr>" + rows + "</table>"
    )
    links = (
        "<a href='/maps/planner'>Route planner</a> · <a href='/maps/isochrones'>Isochrones</a> · "
        "<a href='/maps/coverage'>Coverage and gaps</a> · <a href='/docs'>API</a> · <a href='/ogc'>OGC API</a><br>"
    )
    # The table can be folded away: on a small screen it would cover the west of the map.
    folded = f"<details id='figures-toggle' open><summary>Key figures per site</summary>{table}</details>"
    _root(m).html.add_child(_panel("Beijing venue and heritage-site planner", links + folded))
    _root(m).header.add_child(
        _Raw(
            "<style>.site-label{font:600 11px sans-serif;color:#222;white-space:nowrap;"
            "text-shadow:0 0 3px #fff,0 0 3px #fff,0 0 3px #fff}</style>"
        )
    )
    _root(m).header.add_child(_Raw("<title>Sites — venue planner</title>"))
    return _page(m)
