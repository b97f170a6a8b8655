"""The index page: every site on one map and a table of their key figures."""

from __future__ import annotations

from typing import TYPE_CHECKING

import folium
import shapely

from api.maps.base import (
    _KIND_COLOUR,
    _add_html,
    _esc,
    _layer_list,
    _new_map,
    _page,
    render,
)
from geo.errors import DataSourceError
from layers.figures import FIGURES_MINUTES, site_figures

if TYPE_CHECKING:
    from api.context import Context


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
                str(render("site_popup.html", id=row["id"], name_en=row["name_en"], kind=row["kind"])), max_width=260
            ).add_to(outline)
            if row["kind"] != "sub_site":  # candidate sites and supporting places carry their name
                folium.Marker(
                    [row.geometry.representative_point().y, row.geometry.representative_point().x],
                    icon=folium.DivIcon(
                        html=str(
                            render(
                                "site_label.html",
                                name_en=row["name_en"],
                                rank=0 if row["kind"] == "candidate_site" else 1,
                            )
                        ),
                        icon_size=(160, 16),
                        icon_anchor=(0, 8),
                    ),
                ).add_to(fg)
            outline.add_to(fg)
        fg.add_to(m)
    _layer_list(m)
    m.page["labels"] = True  # placed without overlaps by the page script
    minx, miny, maxx, maxy = df.total_bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    counts = ctx.proposals.count_by_site()  # one query for the whole table
    rows = site_figures(ctx.routing, ctx.coverage, ctx.layers, counts)
    title = "Beijing venue and heritage-site planner"
    _add_html(m, "index.html", title=title, rows=rows, minutes=FIGURES_MINUTES)
    return _page(m, "Sites")
