"""Folium map pages for planners.

Pages load Leaflet from the service itself (``/static/vendor``), so they work where
CDNs and web tiles cannot be reached; the "No basemap" base layer keeps them readable
there too. Every page credits OpenStreetMap.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

import folium
import geopandas as gpd
import shapely
from branca.element import Element, Figure

from api.routers.sites import access_info
from geo.errors import DataSourceError

if TYPE_CHECKING:
    from api.context import Context

__all__ = ["index_map", "site_map"]

OSM_CREDIT = '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
DATA_CREDIT = f"Data {OSM_CREDIT} (ODbL); population WorldPop (CC BY 4.0)"
_BLANK_TILE = "data:image/gif;base64,R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="
_ROAD_WEIGHT = {"motorway": 4, "trunk": 4, "primary": 3, "secondary": 2.5, "tertiary": 2}
_ROAD_COLOUR = {"motorway": "#e34a33", "trunk": "#fc8d59", "primary": "#fdbb84", "secondary": "#fee8c8"}
_KIND_COLOUR = {
    "candidate_site": "#b2182b",
    "sub_site": "#ef8a62",
    "airport": "#2166ac",
    "railway_station": "#4393c3",
    "venue": "#762a83",
}
# Degrees of margin around a site for the roads and stations shown.
_MARGIN_LAT = 0.0135  # about 1.5 km
_MARGIN_LON = 0.0176


def _root(m: folium.Map) -> Figure:
    root = m.get_root()
    assert isinstance(root, Figure)  # folium maps always sit in a Figure
    return root


def _new_map(location: tuple[float, float], *, basemap: str) -> folium.Map:
    m = folium.Map(location=list(location), zoom_start=14, tiles=None, control_scale=True)
    m.default_js = [("leaflet", "/static/vendor/leaflet/leaflet.js"), ("jquery", "/static/vendor/jquery/jquery.min.js")]
    m.default_css = [("leaflet_css", "/static/vendor/leaflet/leaflet.css")]
    folium.TileLayer(
        "OpenStreetMap", name="OpenStreetMap", attr=f"Map tiles {OSM_CREDIT}; {DATA_CREDIT}", show=basemap == "osm"
    ).add_to(m)
    folium.TileLayer(_BLANK_TILE, name="No basemap", attr=DATA_CREDIT, show=basemap == "none", max_zoom=19).add_to(m)
    return m


def _road_style(feature: dict[str, Any]) -> dict[str, Any]:
    hw = str(feature["properties"].get("highway", ""))
    hw = hw.strip('[]"').split('"')[0].removesuffix("_link")
    return {"color": _ROAD_COLOUR.get(hw, "#969696"), "weight": _ROAD_WEIGHT.get(hw, 1.2), "opacity": 0.9}


def _panel(title: str, body: str) -> Element:
    return Element(
        '<div id="site-panel" style="position:fixed;top:10px;left:60px;z-index:1000;max-width:420px;'
        "background:rgba(255,255,255,.93);padding:8px 12px;border-radius:6px;font:13px/1.4 sans-serif;"
        f'box-shadow:0 1px 4px rgba(0,0,0,.3)"><b style="font-size:15px">{title}</b><br>{body}</div>'
    )


def _geojson(gdf: gpd.GeoDataFrame) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(gdf.to_json(na="null", drop_id=True))
    return doc


def site_map(ctx: Context, site_id: str, *, basemap: str = "osm") -> str:
    """Return the HTML page of one site.

    It shows the site boundary and sub-sites, the roads around it styled by class, the
    subway stations and entrances, the Forbidden City buildings where they are near, and
    the access point on each covering network, with a layer switcher.
    """
    site = ctx.sites.get(site_id)
    minx, miny, maxx, maxy = site.boundary.bounds
    view = (minx - _MARGIN_LON, miny - _MARGIN_LAT, maxx + _MARGIN_LON, maxy + _MARGIN_LAT)
    m = _new_map((site.lat, site.lon), basemap=basemap)
    access = access_info(ctx, site)
    drive = next(a for a in access if a.mode == "drive")
    if drive.covered:
        roads = ctx.layers.query("roads-drive", bbox=view)
        roads = roads[["name", "highway", "speed_kph", "length_m", "geometry"]].copy()
        roads["geometry"] = shapely.simplify(roads.geometry.values, 0.00002)
        roads["speed_kph"] = roads["speed_kph"].round(0)
        roads["length_m"] = roads["length_m"].round(0)
        folium.GeoJson(
            _geojson(roads),
            name=f"Roads, drive ({len(roads)} edges)",
            style_function=_road_style,
            tooltip=folium.GeoJsonTooltip(["name", "highway", "speed_kph"], aliases=["Street", "Class", "km/h"]),
        ).add_to(m)
    heritage = ctx.layers.query("heritage-buildings", bbox=view)
    if not heritage.empty:
        folium.GeoJson(
            _geojson(heritage[["name", "area_m2", "geometry"]]),
            name=f"Heritage buildings ({len(heritage)})",
            style_function=lambda _: {"color": "#8c510a", "weight": 1, "fillColor": "#d8b365", "fillOpacity": 0.6},
            tooltip=folium.GeoJsonTooltip(["name", "area_m2"], aliases=["Building", "m²"]),
        ).add_to(m)
    kids = ctx.sites.children(site.id)
    if not kids.empty:
        folium.GeoJson(
            _geojson(kids[["id", "name_en", "name_zh", "boundary_source", "geometry"]]),
            name=f"Sub-sites ({len(kids)})",
            style_function=lambda _: {"color": "#ef8a62", "weight": 2, "fillOpacity": 0.12},
            tooltip=folium.GeoJsonTooltip(
                ["name_en", "name_zh", "boundary_source"], aliases=["Sub-site", "", "Outline"]
            ),
        ).add_to(m)
    approx = str(site.properties["boundary_source"]).startswith("outline")
    folium.GeoJson(
        shapely.geometry.mapping(site.boundary),
        name="Site boundary",
        style_function=lambda _: {
            "color": "#b2182b",
            "weight": 3,
            "fillOpacity": 0.05,
            "dashArray": "8 6" if approx else None,
        },
        tooltip=html.escape(f"{site.name_en} {site.name_zh}"),
    ).add_to(m)
    stations = ctx.layers.query("subway-stations", bbox=view)
    if not stations.empty:
        fg = folium.FeatureGroup(name=f"Subway stations ({len(stations)})")
        for _, st in stations.iterrows():
            folium.CircleMarker(
                [st.geometry.y, st.geometry.x], radius=6, color="#ffffff", weight=2, fill=True,
                fill_color=st["colour"], fill_opacity=1.0,
                tooltip=html.escape(f"{st['name']} — {st['lines']}"),
            ).add_to(fg)  # fmt: skip
        fg.add_to(m)
    entrances = ctx.layers.query("subway-entrances", bbox=view)
    if not entrances.empty:
        fg = folium.FeatureGroup(name=f"Subway entrances ({len(entrances)})")
        for _, en in entrances.iterrows():
            folium.CircleMarker(
                [en.geometry.y, en.geometry.x], radius=2.5, color="#252525", weight=1, fill=True, fill_opacity=1.0,
                tooltip=html.escape(str(en["name"])),
            ).add_to(fg)  # fmt: skip
        fg.add_to(m)
    fg = folium.FeatureGroup(name="Access points")
    for a in access:
        if a.covered and a.access_lat is not None and a.access_lon is not None:
            folium.CircleMarker(
                [a.access_lat, a.access_lon], radius=7, color="#000000", weight=2, fill=True, fill_color="#ffff33",
                fill_opacity=1.0, tooltip=f"{a.mode} access on {a.network} ({a.boundary_gap_m:.0f} m from boundary)",
            ).add_to(fg)  # fmt: skip
    fg.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    lines = [
        html.escape(site.name_zh),
        f"Boundary: {html.escape(str(site.properties['boundary_source']).removeprefix('outline: '))}",
        f"Area {site.properties['area_km2']} km²",
    ]
    unc = site.properties.get("uncertainty_m")
    if unc is not None and unc == unc:  # NaN when the outline is exact
        lines.append(f"Uncertainty ±{float(site.properties['uncertainty_m']):.0f} m")
    if not drive.covered:
        lines.append(f'<span style="color:#b2182b" id="coverage-notice">{html.escape(drive.message or "")}</span>')
    _root(m).html.add_child(_panel(html.escape(site.name_en), "<br>".join(lines)))
    _root(m).header.add_child(Element(f"<title>{html.escape(site.name_en)} — venue planner</title>"))
    return _root(m).render()


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
                tooltip=html.escape(f"{row['name_en']} {row['name_zh']}"),
            )
            folium.Popup(
                f'<a href="/maps/sites/{row["id"]}">{html.escape(str(row["name_en"]))}</a><br>{row["kind"]}',
                max_width=260,
            ).add_to(outline)
            outline.add_to(fg)
        fg.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    minx, miny, maxx, maxy = df.total_bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    items = "".join(
        f'<li><a href="/maps/sites/{r["id"]}">{html.escape(str(r["name_en"]))}</a> {html.escape(str(r["name_zh"]))}</li>'
        for _, r in df[df["kind"] != "sub_site"].iterrows()
    )
    _root(m).html.add_child(
        _panel("Beijing venue and heritage-site planner", f"<ul style='margin:4px 0;padding-left:18px'>{items}</ul>")
    )
    _root(m).header.add_child(Element("<title>Sites — venue planner</title>"))
    return _root(m).render()
