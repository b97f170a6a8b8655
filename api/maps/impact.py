"""The closure-impact map page: a plan, the delay choropleth, the most delayed routes, a table."""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING

import folium
import geopandas as gpd
import shapely

from api.maps.base import FastGeoJson, _add_html, _esc, _features_json, _layer_list, _legend, _new_map, _page
from geo.eventtime import ClockWindow
from layers.impact import ClosurePlan, ImpactResult

if TYPE_CHECKING:
    from api.context import Context

__all__ = ["impact_map"]

# Mean delay per trip, seconds: ColorBrewer YlOrRd.
DELAY_CLASSES = ((60.0, "#bd0026"), (30.0, "#f03b20"), (10.0, "#fd8d3c"), (2.0, "#fecc5c"), (0.0, "#ffffb2"))
CUT_COLOUR = "#54278f"


def _colour(t_mean: float, cut_share: float) -> str:
    if cut_share >= 0.5:
        return CUT_COLOUR
    if t_mean <= 0:
        return "#f7f7f7"
    return next(c for lo, c in DELAY_CLASSES if t_mean >= lo)


SHOW_CHOICES = ("all modes", "car", "bus", "subway", "bike", "walk")


def impact_map(
    ctx: Context, plan: ClosurePlan, res: ImpactResult, *, query: str, basemap: str = "osm", show: str = "all modes"
) -> str:
    """Return the page of one plan's impact; ``query`` is the page's query string; ``show``: the delay coloured."""
    net = res.network
    m = _new_map((39.905, 116.397), basemap=basemap, zoom=12)
    outlines = ctx.coverage.township_outlines()
    rows = []
    for ti in res.townships:
        cut_share = ti.people_cut_off / ti.population if ti.population else 0.0
        shown = ti.mode_delay_s.get(show, ti.mean_delay_s)
        rows.append(
            {
                "district": ti.district,
                "township": ti.township,
                "population": round(ti.population),
                "mean": round(ti.mean_delay_s, 1),
                "p90": round(ti.p90_delay_s, 1),
                "cut": round(ti.people_cut_off),
                "walk": None
                if ti.entrance_walk_before_s is None or ti.entrance_walk_after_s is None
                else round(ti.entrance_walk_after_s - ti.entrance_walk_before_s),
                "shown": round(shown, 1),
                "colour": _colour(shown, cut_share),
            }
        )
    frame = gpd.GeoDataFrame(rows, geometry=[outlines[ti.township_id] for ti in res.townships], crs=4326)
    FastGeoJson(
        _features_json(frame, tolerance_deg=0.0003, decimals=5),
        name=f"Mean delay per trip, {_esc(show)} ({len(frame)} townships)",
        look="impactTownships",
    ).add_to(m)
    # The plan: closed streets (their edges), areas, entrances.
    shut = ctx.routing.closed_edges(net, plan.closures) if plan.closures else set()
    if shut:
        g = net.graph
        lines = []
        for u, v in shut:
            d = next(iter(g.get_edge_data(u, v).values()))
            geom = d.get("geometry") or shapely.LineString(
                [(g.nodes[u]["x"], g.nodes[u]["y"]), (g.nodes[v]["x"], g.nodes[v]["y"])]
            )
            lines.append(geom)
        FastGeoJson(
            _features_json(gpd.GeoDataFrame({"k": range(len(lines))}, geometry=lines, crs=4326), decimals=6),
            name=f"Closed roads ({len(lines)} edges)",
            look="closedRoads",
        ).add_to(m)
    if plan.closures.areas:
        FastGeoJson(
            _features_json(
                gpd.GeoDataFrame({"k": range(len(plan.closures.areas))}, geometry=list(plan.closures.areas), crs=4326)
            ),
            name=f"Closed areas ({len(plan.closures.areas)})",
            look="closedAreas",
        ).add_to(m)
    if res.entrances_closed:
        ent = ctx.layers.load("subway-entrances")
        ent = ent[ent["name"].isin(res.entrances_closed)][["name", "geometry"]]
        FastGeoJson(
            _features_json(ent),
            name=f"Closed subway entrances ({len(ent)})",
            look="closedEntrances",
        ).add_to(m)
    if res.top_pairs:
        fg = folium.FeatureGroup(name=f"Most delayed trips ({len(res.top_pairs)}): before dashed, after solid")
        for p in res.top_pairs:
            tip = _esc(f"{p.origin} → {p.destination}: {p.before_s / 60:.1f} → {p.after_s / 60:.1f} min")
            folium.PolyLine(
                [(y, x) for x, y in p.before.coords], color="#4d4d4d", weight=3, dash_array="6 6", tooltip=tip
            ).add_to(fg)
            folium.PolyLine(
                [(y, x) for x, y in p.after.coords], color="#2166ac", weight=4, opacity=0.8, tooltip=tip
            ).add_to(fg)
        fg.add_to(m)
    _layer_list(m, collapsed=True)
    minx, miny, maxx, maxy = shapely.union_all(frame.geometry.to_numpy()).bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    _add_html(
        m,
        "impact.html",
        title=plan.name or "Closure plan impact",
        closes=[*plan.closures.streets, *(f"area #{i + 1}" for i in range(len(plan.closures.areas)))]
        + ([f"{len(res.entrances_closed)} subway entrances"] if res.entrances_closed else []),
        network=net.name,
        s=(summary := res.summary()),
        hours_max=max(summary.get("person_hours_by_hour") or [0.0]),
        start="" if plan.window is None else plan.window.iso()["start"].split("T")[-1],
        end=""
        if plan.window is None or plan.window.end_s > 86400
        else plan.window.iso()["end"].replace("24:00", "23:59"),
        show=show,
        show_choices=SHOW_CHOICES,
        hidden=[(k, v) for k, v in urllib.parse.parse_qsl(query) if k not in ("start", "end")]
        + ([("basemap", basemap)] if basemap != "osm" else []),
        sites=res.sites,
        worst=[
            x
            for x in sorted(res.townships, key=lambda x: (-x.people_cut_off, -x.mean_delay_s))[:8]
            if x.mean_delay_s > 0 or x.people_cut_off > 0
        ],
        query=query,
        warnings=res.warnings,
    )
    legend_rows = [(c, f"≥ {lo:g} s mean delay per trip") for lo, c in DELAY_CLASSES if lo > 0]
    legend_rows += [("#f7f7f7", "no delay"), (CUT_COLOUR, "half or more of its trips cut off")]
    _legend(m, "Townships", legend_rows, element_id="impact-legend")
    return _page(m, "Closure impact")


def query_string(
    plan_id: str | None, streets: list[str], entrances: list[str], window: ClockWindow | None, network: str | None
) -> str:
    """Return the query string that asks `/impact` for the same plan."""
    params: list[tuple[str, str]] = []
    if plan_id:
        params.append(("plan_id", plan_id))
    params += [("street", s) for s in streets] + [("entrance", e) for e in entrances]
    if window is not None:
        params += [("start", window.iso()["start"]), ("end", window.iso()["end"])]
    if network:
        params.append(("network", network))
    return urllib.parse.urlencode(params)
