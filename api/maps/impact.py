"""The closure-impact map page: a plan, the delay choropleth, the most delayed routes, a table."""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING

import folium
import geopandas as gpd
import shapely

from api.maps.base import FastGeoJson, _esc, _features_json, _legend, _new_map, _page, _panel, _Raw, _root
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


def impact_map(ctx: Context, plan: ClosurePlan, res: ImpactResult, *, query: str, basemap: str = "osm") -> str:
    """Return the page of one plan's impact; ``query`` is the page's query string (for the download links)."""
    net = res.network
    m = _new_map((39.905, 116.397), basemap=basemap, zoom=12)
    outlines = ctx.coverage.township_outlines()
    rows = []
    for ti in res.townships:
        cut_share = ti.people_cut_off / ti.population if ti.population else 0.0
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
                "colour": _colour(ti.mean_delay_s, cut_share),
            }
        )
    frame = gpd.GeoDataFrame(rows, geometry=[outlines[ti.township_id] for ti in res.townships], crs=4326)
    FastGeoJson(
        _features_json(frame, tolerance_deg=0.0003, decimals=5),
        name=f"Mean delay per trip ({len(frame)} townships)",
        style="function (f) { return {color: '#636363', weight: 0.7, fillColor: f.properties.colour, fillOpacity: 0.6}; }",
        tooltip="esc(p.district) + ' ' + esc(p.township) + ': mean +' + p.mean + ' s, p90 +' + p.p90 + ' s, ' + "
        "p.cut.toLocaleString('en') + ' people cut off' + (p.walk ? ', walk to the subway +' + p.walk + ' s' : '')",
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
            style="function (f) { return {color: '#e31a1c', weight: 6, opacity: 0.9}; }",
        ).add_to(m)
    if plan.closures.areas:
        FastGeoJson(
            _features_json(
                gpd.GeoDataFrame({"k": range(len(plan.closures.areas))}, geometry=list(plan.closures.areas), crs=4326)
            ),
            name=f"Closed areas ({len(plan.closures.areas)})",
            style="function (f) { return {color: '#e31a1c', weight: 2, dashArray: '6 4', fillColor: '#e31a1c', fillOpacity: 0.15}; }",
        ).add_to(m)
    if res.entrances_closed:
        ent = ctx.layers.load("subway-entrances")
        ent = ent[ent["name"].isin(res.entrances_closed)][["name", "geometry"]]
        FastGeoJson(
            _features_json(ent),
            name=f"Closed subway entrances ({len(ent)})",
            point="L.circleMarker(ll, {radius: 5, color: '#ffffff', weight: 2, fillColor: '#e31a1c', fillOpacity: 1})",
            tooltip="'closed: ' + esc(p.name)",
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
    folium.LayerControl(collapsed=True).add_to(m)
    minx, miny, maxx, maxy = shapely.union_all(frame.geometry.to_numpy()).bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    s = res.summary()
    worst = sorted(res.townships, key=lambda x: (-x.people_cut_off, -x.mean_delay_s))[:8]
    table = (
        "<table id='impact-table' style='border-collapse:collapse;font-size:12px'>"
        "<tr><th align=left>township</th><th>people</th><th>mean</th><th>p90</th><th>cut off</th></tr>"
        + "".join(
            f"<tr><td>{_esc(x.district)} {_esc(x.township)}</td><td align=right>{x.population:,.0f}</td>"
            f"<td align=right>+{x.mean_delay_s:.0f} s</td><td align=right>+{x.p90_delay_s:.0f} s</td>"
            f"<td align=right>{x.people_cut_off:,.0f}</td></tr>"
            for x in worst
            if x.mean_delay_s > 0 or x.people_cut_off > 0
        )
        + "</table>"
    )
    what = ", ".join(
        [*(_esc(st) for st in plan.closures.streets), *(f"area #{i + 1}" for i in range(len(plan.closures.areas)))]
        + ([f"{len(res.entrances_closed)} subway entrances"] if res.entrances_closed else [])
    )
    links = " · ".join(
        f"<a href='/impact?{_esc(query)}{'&amp;' if query else ''}format={fmt}'>{label}</a>"
        for fmt, label in (("geojson", "GeoJSON"), ("gpkg", "GeoPackage"))
    )
    body = (
        f"Closes: {what or 'nothing'} ({_esc(net.name)}, {_esc(res.mode)})<br>"
        f"<b>{s['person_hours_lost']:,.0f}</b> person-hours lost per trip-day; "
        f"<b>{s['people_cut_off']:,.0f}</b> trips cut off; {s['townships_delayed']} of {s['townships_assessed']} "
        f"townships delayed; {s['townships_with_longer_walk_to_subway']} with a longer walk to the subway.<br>"
        + "".join(
            f"<br>Access to {_esc(a.label)}: "
            + (
                f"{a.mean_before_s / 60:.1f} → {a.mean_after_s / 60:.1f} min (people-weighted), "
                f"{a.people_cut_off:,.0f} people cut off"
                if a.mean_before_s is not None and a.mean_after_s is not None
                else _esc(a.note or "not reachable")
            )
            for a in res.sites
        )
        + f"{table}<br>Download: {links}<br>"
        f"<details><summary>Model</summary><span style='font-size:11px'>{_esc(s['model'])}</span></details>"
        + "".join(f"<div style='font-size:11px;color:#8c510a'>{_esc(w)}</div>" for w in res.warnings)
    )
    _root(m).html.add_child(_panel(_esc(plan.name or "Closure plan impact"), body))
    legend_rows = [(c, f"≥ {lo:g} s mean delay per trip") for lo, c in DELAY_CLASSES if lo > 0]
    legend_rows += [("#f7f7f7", "no delay"), (CUT_COLOUR, "half or more of its trips cut off")]
    _root(m).html.add_child(_Raw(_legend("Townships", legend_rows, element_id="impact-legend")))
    _root(m).header.add_child(_Raw("<title>Closure impact — venue planner</title>"))
    return _page(m)


def query_string(plan_id: str | None, streets: list[str], entrances: list[str], mode: str, network: str | None) -> str:
    """Return the query string that asks `/impact` for the same plan."""
    params: list[tuple[str, str]] = []
    if plan_id:
        params.append(("plan_id", plan_id))
    params += [("street", s) for s in streets] + [("entrance", e) for e in entrances]
    params.append(("mode", mode))
    if network:
        params.append(("network", network))
    return urllib.parse.urlencode(params)
