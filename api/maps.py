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
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, Figure, MacroElement
from folium import plugins
from folium.elements import JSCSSMixin
from jinja2 import Template

from api.convert import access_info
from api.middleware import NONCE_TOKEN
from geo.crs import distance_m
from geo.errors import DataSourceError, InvalidInputError, NoRouteError, OutsideCoverageError
from geo.routing import route_overlap
from layers.coverage import Isochrone
from layers.regional import REGIONAL_NETWORK
from layers.routing import Closures, Place

if TYPE_CHECKING:
    from api.context import Context

__all__ = [
    "ACCESS_ORIGINS",
    "BAND_COLOURS",
    "coverage_map",
    "index_map",
    "planner_map",
    "route_map",
    "site_map",
    "warm_site_pages",
]

# Where delegations arrive: routes from these are drawn on every site page they reach.
ACCESS_ORIGINS = ("capital-airport", "daxing-airport", "beijing-south-station", "beijing-west-station")
_ROUTE_COLOURS = ("#08519c", "#6a51a3", "#e6550d", "#31a354", "#636363")

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


def _esc(text: object) -> str:
    """Escape text for HTML that folium also places inside a JavaScript template literal.

    ``html.escape`` alone leaves ``${`` and backticks, which a template literal would
    run or end; they become character references, which the browser shows as typed.
    """
    return html.escape(str(text)).replace("$", "&#36;").replace("`", "&#96;").replace("\\", "&#92;")


def _js_json(value: object) -> str:
    """Return ``value`` as JSON that is safe inside a ``<script>`` element."""
    return _js_safe(json.dumps(value, ensure_ascii=False, default=str))


def _js_safe(text: str) -> str:
    """Return JSON text made safe inside a ``<script>`` element (no ``</script>``, no U+2028).

    ``<``, ``>``, ``&`` and the two line separators only occur inside JSON strings, where
    their unicode escapes mean the same characters.
    """
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


# folium writes two inline scripts: its settings in the head and the page's script at the
# end of the body. Nothing else on a page may be a bare <script> tag.
_INLINE_SCRIPTS = 2


def _page(m: folium.Map) -> str:
    """Render a page; its own inline scripts, and nothing else, get the CSP nonce.

    Planner text reaches pages escaped, so it cannot contain a ``<script>`` tag; should an
    escape ever be missed, the page is refused (a 500 with a request id) instead of
    giving an injected script the nonce.
    """
    html = _root(m).render()
    parts = html.split("<script>")
    if len(parts) != _INLINE_SCRIPTS + 1:
        raise RuntimeError(f"a page holds {len(parts) - 1} bare <script> tags, not {_INLINE_SCRIPTS}: refused")
    return f'<script nonce="{NONCE_TOKEN}">'.join(parts)


def _root(m: folium.Map) -> Figure:
    root = m.get_root()
    assert isinstance(root, Figure)  # folium maps always sit in a Figure
    return root


_VENDOR = "/static/vendor"


def _vendored(plugin: Any, js: list[tuple[str, str]], css: list[tuple[str, str]]) -> Any:  # noqa: ANN401 - folium plugins
    """Point a folium plugin at the copies served by the service (no CDN)."""
    plugin.default_js = [(name, f"{_VENDOR}/{path}") for name, path in js]
    plugin.default_css = [(name, f"{_VENDOR}/{path}") for name, path in css]
    return plugin


# Offline, the OpenStreetMap background cannot load: say so on the map, once, instead of a
# silent grey map. (Text only, through textContent: nothing from the page is interpreted.)
_TILE_ERROR_JS = """
(function () {
  var shown = false;
  TILES.on('tileerror', function () {
    if (shown) { return; }
    shown = true;
    var box = L.control({position: 'bottomright'});
    box.onAdd = function () {
      var d = L.DomUtil.create('div', 'tile-error-notice');
      d.id = 'tile-error-notice';
      d.style.cssText = 'background:#fff3cd;border:1px solid #d39e00;padding:4px 8px;border-radius:4px;' +
        'font:12px sans-serif;max-width:320px';
      d.textContent = 'The OpenStreetMap background could not load (no internet here?). The data layers ' +
        'work without it: choose "No basemap" in the layer list.';
      return d;
    };
    box.addTo(MAP);
  });
})();
"""


def _new_map(location: tuple[float, float], *, basemap: str, zoom: int = 14) -> folium.Map:
    """Return a map with both base layers, a scale bar, measure, fullscreen and mini-map controls."""
    m = folium.Map(location=list(location), zoom_start=zoom, tiles=None, control_scale=True)
    m.default_js = [("leaflet", f"{_VENDOR}/leaflet/leaflet.js"), ("jquery", f"{_VENDOR}/jquery/jquery.min.js")]
    m.default_css = [("leaflet_css", f"{_VENDOR}/leaflet/leaflet.css")]
    osm = folium.TileLayer(
        "OpenStreetMap", name="OpenStreetMap", attr=f"Map tiles {OSM_CREDIT}; {DATA_CREDIT}", show=basemap == "osm"
    )
    osm.add_to(m)
    _script(m, _TILE_ERROR_JS.replace("TILES", osm.get_name()).replace("MAP", m.get_name()))
    folium.TileLayer(_BLANK_TILE, name="No basemap", attr=DATA_CREDIT, show=basemap == "none", max_zoom=19).add_to(m)
    _vendored(
        plugins.Fullscreen(position="topleft"),
        [("Control.Fullscreen.js", "leaflet-fullscreen/Control.FullScreen.js")],
        [("Control.FullScreen.css", "leaflet-fullscreen/Control.FullScreen.css")],
    ).add_to(m)
    _MeasureControl().add_to(m)
    mini_tiles = (
        folium.TileLayer("OpenStreetMap", attr=OSM_CREDIT)
        if basemap == "osm"
        else folium.TileLayer(_BLANK_TILE, attr=DATA_CREDIT)
    )
    _vendored(
        plugins.MiniMap(tile_layer=mini_tiles, position="bottomleft", toggle_display=True, zoom_level_offset=-5),
        [("Control_MiniMap_js", "leaflet-minimap/Control.MiniMap.min.js")],
        [("Control_MiniMap_css", "leaflet-minimap/Control.MiniMap.min.css")],
    ).add_to(m)
    return m


class _MeasureControl(JSCSSMixin, MacroElement):
    """Distance measuring (Leaflet.PolylineMeasure, vendored; needs no eval, unlike leaflet-measure)."""

    default_js = [  # noqa: RUF012 - folium's own class attribute
        ("polylinemeasure_js", f"{_VENDOR}/leaflet-polylinemeasure/Leaflet.PolylineMeasure.js")
    ]
    default_css = [  # noqa: RUF012 - folium's own class attribute
        ("polylinemeasure_css", f"{_VENDOR}/leaflet-polylinemeasure/Leaflet.PolylineMeasure.css")
    ]

    def __init__(self) -> None:
        super().__init__()
        self._name = "MeasureControl"
        self._template = Template(
            "{% macro script(this, kwargs) %}"
            "L.control.polylineMeasure({position: 'topleft', unit: 'metres', showBearings: false, "
            "clearMeasurementsOnStop: false, showClearControl: true}).addTo({{ this._parent.get_name() }});"
            "{% endmacro %}"
        )


def _road_class(highway: object) -> str:
    hw = str(highway)
    return hw.strip('[]"').split('"')[0].removesuffix("_link")


_ROAD_STYLE_JS = (
    "function (f) { var c = "
    + json.dumps(_ROAD_COLOUR)
    + ", w = "
    + json.dumps(_ROAD_WEIGHT)
    + "; var h = f.properties.highway; return {color: c[h] || '#969696', weight: w[h] || 1.2, opacity: 0.9}; }"
)


def _features_json(gdf: gpd.GeoDataFrame, *, tolerance_deg: float = 0.0, decimals: int = 6) -> str:
    """Return a compact GeoJSON FeatureCollection: simplified geometry, coordinates to ``decimals`` places."""
    geoms = gdf.geometry.to_numpy()
    if tolerance_deg > 0:
        geoms = shapely.simplify(geoms, tolerance_deg, preserve_topology=True)
    geoms = shapely.transform(geoms, lambda c: np.round(c, decimals))
    props = gdf.drop(columns=gdf.geometry.name).to_dict("records")
    parts = [
        '{"type":"Feature","geometry":'
        + shapely.to_geojson(g)
        + ',"properties":'
        + json.dumps(p, ensure_ascii=False, default=str)
        + "}"
        for g, p in zip(geoms, props, strict=True)
    ]
    return _js_safe('{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}")


class FastGeoJson(folium.map.Layer):
    """A GeoJSON layer styled in the browser: the data is written once, compactly.

    folium's GeoJson evaluates a Python style function per feature and embeds the
    result; for thousands of roads that doubles the page and takes most of its build
    time. Here the style and tooltip are JavaScript expressions (``p`` is the
    feature's properties, ``esc`` escapes HTML).
    """

    def render(self, **kwargs: Any) -> str:  # noqa: ANN401 - branca's signature
        """Write the layer's script as is (a template would re-parse the data: 0.1 s per MB)."""
        assert self._parent is not None  # added to a map before rendering
        name, parent = self.get_name(), self._parent.get_name()
        opts = []
        if self.style:
            opts.append(f"style: {self.style}")
        if self.point:
            opts.append(f"pointToLayer: function (f, ll) {{ return {self.point}; }}")
        each = ["var p = f.properties;"]
        if self.tooltip:
            each.append(f"layer.bindTooltip({self.tooltip}, {{sticky: true}});")
        if self.popup:
            each.append(f"layer.bindPopup({self.popup}, {{maxWidth: 360}});")
        opts.append("onEachFeature: function (f, layer) { " + " ".join(each) + " }")
        js = (
            f"var {name} = (function () {{ function esc(s) {{ return String(s === null || s === undefined ? '' : s)"
            ".replace(/[&<>\"]/g, function (c) { return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '\"': '&quot;'}[c]; }); }"
            f" return L.geoJSON({self.data}, {{{', '.join(opts)}}}); }})();\n"
            + (f"{name}.addTo({parent});\n" if self.show else "")
        )
        _root_of(self).script.add_child(_Raw(js), name=name)
        return ""

    def __init__(
        self,
        data: str,
        *,
        name: str,
        style: str = "",
        point: str = "",
        tooltip: str = "",
        popup: str = "",
        show: bool = True,
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "FastGeoJson"
        self.data = data
        self.style = style
        self.point = point
        self.tooltip = tooltip
        self.popup = popup


def _panel(title: str, body: str) -> _Raw:
    return _Raw(
        '<div id="site-panel" style="position:fixed;top:10px;left:60px;z-index:1000;max-width:420px;'
        "background:rgba(255,255,255,.93);padding:8px 12px;border-radius:6px;font:13px/1.4 sans-serif;"
        f'box-shadow:0 1px 4px rgba(0,0,0,.3)"><b style="font-size:15px">{title}</b><br>{body}</div>'
    )


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
    _population_layer(ctx, view, m)  # first, so that it lies under the other layers
    regional = drive.covered and drive.network == REGIONAL_NETWORK
    if regional:
        # The far sites: the coarse skeleton is their only road data. Drawn a band wider
        # than the site, so that the roads its access routes and bands follow show.
        wide = (view[0] - 0.1, view[1] - 0.08, view[2] + 0.1, view[3] + 0.08)
        skel = ctx.layers.query("roads-regional", bbox=wide)
        FastGeoJson(
            _features_json(skel[["length_m", "geometry"]]),
            name=f"Major roads, regional skeleton ({len(skel)} chords, coarse)",
            style="function (f) { return {color: '#762a83', weight: 3, dashArray: '6 4'}; }",
            tooltip="'major road (regional skeleton, straight chord of ' + Math.round(p.length_m) + ' m; positions ±100 m)'",
        ).add_to(m)
    elif drive.covered:
        roads = ctx.layers.query("roads-drive", bbox=view)
        # A two-way street is two edges on one line: draw each line once.
        pair = np.sort(roads[["u", "v"]].to_numpy(), axis=1)
        roads = roads[~pd.DataFrame(pair).duplicated().to_numpy()]
        roads = roads[["name", "highway", "speed_kph", "geometry"]].copy()
        roads["highway"] = [_road_class(h) for h in roads["highway"]]
        roads["speed_kph"] = roads["speed_kph"].round(0).astype(int)
        FastGeoJson(
            _features_json(roads, tolerance_deg=0.00002),
            name=f"Roads, drive ({len(roads)} edges)",
            style=_ROAD_STYLE_JS,
            tooltip="esc(p.name || 'unnamed ' + p.highway) + ' — ' + p.highway + ', ' + p.speed_kph + ' km/h'",
        ).add_to(m)
    heritage = ctx.layers.query("heritage-buildings", bbox=view)
    if not heritage.empty:
        FastGeoJson(
            _features_json(heritage[["name", "area_m2", "geometry"]], tolerance_deg=0.000005),
            name=f"Heritage buildings ({len(heritage)})",
            style="function (f) { return {color: '#8c510a', weight: 1, fillColor: '#d8b365', fillOpacity: 0.6}; }",
            tooltip="esc(p.name || 'building') + ', ' + Math.round(p.area_m2) + ' m²'",
        ).add_to(m)
    kids = ctx.sites.children(site.id)
    if not kids.empty:
        FastGeoJson(
            _features_json(kids[["id", "name_en", "name_zh", "boundary_source", "geometry"]]),
            name=f"Sub-sites ({len(kids)})",
            style="function (f) { return {color: '#ef8a62', weight: 2, fillOpacity: 0.12}; }",
            tooltip="'<a href=\"/maps/sites/' + esc(encodeURIComponent(p.id)) + '\">' + esc(p.name_en) + '</a> ' + esc(p.name_zh) + '<br>' + esc(p.boundary_source)",
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
        tooltip=_esc(f"{site.name_en} {site.name_zh}"),
    ).add_to(m)
    stations = ctx.layers.query("subway-stations", bbox=view)
    if not stations.empty:
        FastGeoJson(
            _features_json(stations[["name", "lines", "colour", "geometry"]]),
            name=f"Subway stations ({len(stations)})",
            point="L.circleMarker(ll, {radius: 6, color: '#ffffff', weight: 2, fillColor: f.properties.colour, fillOpacity: 1})",
            tooltip="esc(p.name) + ' — ' + esc(p.lines)",
        ).add_to(m)
    entrances = ctx.layers.query("subway-entrances", bbox=view)
    if not entrances.empty:
        FastGeoJson(
            _features_json(entrances[["name", "geometry"]]),
            name=f"Subway entrances ({len(entrances)})",
            point="L.circleMarker(ll, {radius: 2.5, color: '#252525', weight: 1, fillColor: '#252525', fillOpacity: 1})",
            tooltip="esc(p.name)",
        ).add_to(m)
    band_title: str = ""
    band_rows: list[tuple[str, str]] = []
    iso_mode = next((a.mode for a in access if a.covered), None)
    if iso_mode is not None:
        band_title, band_rows = _isochrone_layers(ctx, site.id, iso_mode, m)
    _proposal_layer(ctx, site.id, m)
    if drive.covered:
        _access_routes(ctx, site.id, m)
    fg = folium.FeatureGroup(name="Access points")
    for a in access:
        if a.covered and a.access_lat is not None and a.access_lon is not None:
            folium.CircleMarker(
                [a.access_lat, a.access_lon], radius=7, color="#000000", weight=2, fill=True, fill_color="#ffff33",
                fill_opacity=1.0, tooltip=f"{a.mode} access on {a.network} ({a.boundary_gap_m:.0f} m from boundary)",
            ).add_to(fg)  # fmt: skip
    if any(a.covered for a in access):
        fg.add_to(m)
    _layer_list(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    lines = [
        _esc(site.name_zh),
        f"Boundary: {_esc(str(site.properties['boundary_source']).removeprefix('outline: '))}",
        f"Area {site.properties['area_km2']} km²",
    ]
    unc = site.properties.get("uncertainty_m")
    if unc is not None and unc == unc:  # NaN when the outline is exact
        lines.append(f"Uncertainty ±{float(site.properties['uncertainty_m']):.0f} m")
    if not drive.covered:
        lines.append(f'<span style="color:#b2182b" id="coverage-notice">{_esc(drive.message or "")}</span>')
    elif regional:
        note = (
            "Roads: only the coarse regional skeleton of major roads covers this site (no local streets, positions "
            "±100 m); travel times are calibrated on the central 2013 network and the bands are coarse. Walking is "
            "not modelled here. Import a current OpenStreetMap extract for street-level answers."
        )
        lines.append(f'<span style="color:#8c510a" id="coverage-notice">{_esc(note)}</span>')
    _root(m).html.add_child(_panel(_esc(site.name_en), "<br>".join(lines)))
    _root(m).html.add_child(
        _Raw(_legend(band_title, band_rows, element_id="site-legend", sections=[("Map key", _SITE_KEY)]))
    )
    _draw_tool(m, site.id)
    _root(m).header.add_child(_Raw(f"<title>{_esc(site.name_en)} — venue planner</title>"))
    return _page(m)


_SITE_KEY = [
    ("#b2182b", "site boundary (dashed: approximate)"),
    ("#ef8a62", "sub-site"),
    ("#e34a33", "motorway / trunk road"),
    ("#fdbb84", "primary road"),
    ("#969696", "other drivable road"),
    ("#d8b365", "heritage building"),
    ("#ffff33", "access point"),
    ("#e41a1c", "proposal with a high-severity conflict"),
    ("#fd8d3c", "proposal with a medium conflict"),
    ("#3182bd", "proposal, no serious conflict"),
    ("#bd0026", "≥ 30,000 people/km² (population layer)"),
    ("#f03b20", "20,000–30,000 people/km²"),
    ("#fd8d3c", "10,000–20,000 people/km²"),
    ("#fecc5c", "3,000–10,000 people/km²"),
    ("#ffffb2", "< 3,000 people/km²"),
]
_SEVERITY_COLOUR = {"high": "#e41a1c", "medium": "#fd8d3c"}


# People per km² (townships, WorldPop spread evenly), ColorBrewer YlOrRd.
_DENSITY_CLASSES = ((30_000, "#bd0026"), (20_000, "#f03b20"), (10_000, "#fd8d3c"), (3_000, "#fecc5c"), (0, "#ffffb2"))


def _population_layer(ctx: Context, view: tuple[float, float, float, float], m: folium.Map) -> None:
    """Draw the townships around a site as a choropleth of people per km² (hidden until chosen)."""
    towns = ctx.layers.query("townships", bbox=view)
    if towns.empty:
        return
    towns = towns[["district", "township", "population", "area_km2", "geometry"]].copy()
    towns["density"] = (towns["population"] / towns["area_km2"].clip(lower=0.01)).round(0)
    towns["colour"] = [next(c for lo, c in _DENSITY_CLASSES if d >= lo) for d in towns["density"]]
    FastGeoJson(
        _features_json(towns, tolerance_deg=0.0002, decimals=5),
        name=f"Population density ({len(towns)} townships)",
        style="function (f) { return {color: '#636363', weight: 0.8, fillColor: f.properties.colour, fillOpacity: 0.5}; }",
        tooltip="esc(p.district) + ' ' + esc(p.township) + ': ' + p.population.toLocaleString('en') + ' people, ' + "
        "p.density.toLocaleString('en') + ' per km²'",
        show=False,
    ).add_to(m)


def _proposal_layer(ctx: Context, site_id: str, m: folium.Map) -> None:
    """Draw the saved proposals of a site and its sub-sites, coloured by their worst conflict.

    Proposals are data written once as JSON and labelled in the browser with ``esc``:
    nothing a planner typed is ever part of the page's markup or script.
    """
    ids = {site_id, *ctx.sites.children(site_id)["id"]}
    items = ctx.proposals.map_features(ids)
    feats = []
    for p in items:
        worst = next((c["severity"] for c in p["conflicts"] if c["severity"] in ("high", "medium")), None)
        geometry = p.pop("geometry")
        p["colour"] = _SEVERITY_COLOUR.get(worst or "", "#3182bd")
        feats.append(
            '{"type":"Feature","geometry":' + geometry + ',"properties":' + json.dumps(p, ensure_ascii=False) + "}"
        )
    FastGeoJson(
        _js_safe('{"type":"FeatureCollection","features":[' + ",".join(feats) + "]}"),
        name=f"Saved proposals ({len(items)})",
        style="function (f) { var c = f.properties.colour; return {color: c, weight: 3, fillColor: c, fillOpacity: 0.3}; }",
        tooltip="esc(p.name) + ' (v' + p.version + ')'",
        popup="'<b class=\"proposal-name\">' + esc(p.name) + '</b> — version ' + p.version + ' of ' + p.versions + '<br>' + "
        "esc(p.use || '') + ' ' + (p.area_m2 === null ? '' : Math.round(p.area_m2).toLocaleString('en') + ' m²') + "
        "'<ul style=\"margin:2px 0;padding-left:16px\">' + (p.conflicts.map(function (c) { return '<li><b>' + "
        "esc(c.severity) + '</b>: ' + esc(c.message) + '</li>'; }).join('') || '<li>no conflicts</li>') + '</ul>' + "
        "'<a href=\"/proposals/' + esc(encodeURIComponent(p.id)) + '/versions\" target=\"_blank\">history</a>'",
    ).add_to(m)


_DRAW_JS = """
(function () {
  var map = MAP;
  window.plannerMap = map;
  var panel = document.getElementById('footprint-panel');
  var last = null;
  function esc(s) { return String(s === null || s === undefined ? '' : s).replace(/[&<>"]/g, function (c) {
    return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[c]; }); }
  function fmt(x, d) { return x === null || x === undefined ? '—' : Number(x).toLocaleString('en', {maximumFractionDigits: d || 0}); }
  function render(a) {
    var c = a.conflicts.map(function (k) { return '<li class="conflict-' + k.severity + '"><b>' + esc(k.severity) + '</b>: ' + esc(k.message) + '</li>'; }).join('');
    var e = a.elevation.available ? fmt(a.elevation.elevation_m_min) + '–' + fmt(a.elevation.elevation_m_max) + ' m, slope ≤ ' + fmt(a.elevation.slope_pct_max, 1) + ' %' : esc(a.elevation.message);
    panel.innerHTML = '<b>Footprint analysis</b> <a href="#" id="fp-close">×</a><br>' +
      '<span id="fp-area">' + fmt(a.area_m2) + ' m²</span>, perimeter ' + fmt(a.perimeter_m) + ' m<br>' +
      'Site: ' + esc(a.site || '—') + (a.sub_site ? ' / ' + esc(a.sub_site) : '') + '<br>' +
      'People within 500 m / 1 km: ' + fmt(a.population.within_500m) + ' / ' + fmt(a.population.within_1000m) + '<br>' +
      'Nearest drivable road: ' + fmt(a.access.drive_distance_m) + ' m' + (a.access.access_street ? ' (' + esc(a.access.access_street) + ')' : '') + '<br>' +
      'Walk to the subway: ' + fmt(a.access.walk_to_subway_m) + ' m (' + esc(a.access.subway_entrance) + ')<br>' +
      'Terrain: ' + e + '<br>' +
      (a.warnings.length ? '<i>' + esc(a.warnings.join(' ')) + '</i><br>' : '') +
      '<ul id="fp-conflicts" style="margin:4px 0;padding-left:16px">' + (c || '<li>no conflicts</li>') + '</ul>' +
      '<input id="fp-name" placeholder="proposal name" style="width:60%"> <button id="fp-save">Save as proposal</button><br>' +
      '<input id="fp-key" type="password" placeholder="API key (editor), kept for this tab only" style="width:80%;display:' +
      (sessionStorage.getItem('venuePlannerKey') ? 'none' : 'inline') + '">' +
      '<div id="fp-saved"></div>';
    document.getElementById('fp-close').addEventListener('click', function (ev) { ev.preventDefault(); window.closeFootprint(); });
    document.getElementById('fp-save').addEventListener('click', function () { window.saveFootprint(); });
  }
  map.on('draw:created', function (e) {
    last = e.layer.toGeoJSON().geometry;
    panel.style.display = 'block';
    panel.innerHTML = 'Analysing…';
    fetch('/footprints/analyze', {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({footprint: last})})
      .then(function (r) { return r.json().then(function (b) { return {ok: r.ok, b: b}; }); })
      .then(function (x) { if (!x.ok) { panel.innerHTML = '<b>Cannot analyse this footprint</b><br><span id="fp-error">' + esc(x.b.error.message) + '</span>'; } else { render(x.b); } })
      .catch(function (err) { panel.innerHTML = 'The service did not answer: ' + esc(err); });
  });
  window.closeFootprint = function () { panel.style.display = 'none'; return false; };
  window.saveFootprint = function () {
    var name = document.getElementById('fp-name').value || 'Untitled proposal';
    var typed = document.getElementById('fp-key').value.trim();
    if (typed) { sessionStorage.setItem('venuePlannerKey', typed); }
    var key = sessionStorage.getItem('venuePlannerKey');
    var out = document.getElementById('fp-saved');
    if (!key) { out.innerHTML = '<span id="fp-need-key">Saving needs an API key with the editor role: type it above.</span>'; return; }
    fetch('/proposals', {method: 'POST', headers: {'content-type': 'application/json', 'authorization': 'Bearer ' + key},
      body: JSON.stringify({name: name, footprint: last, site_id: SITE})})
      .then(function (r) { return r.json().then(function (b) { return {ok: r.ok, status: r.status, b: b}; }); })
      .then(function (x) {
        if (x.status === 401 || x.status === 403) {
          sessionStorage.removeItem('venuePlannerKey');
          document.getElementById('fp-key').style.display = 'inline';
        }
        out.innerHTML = x.ok ? 'Saved as <b id="fp-saved-id">' + esc(x.b.id) + '</b> (version ' + x.b.version + ')'
          : '<span id="fp-save-error">' + esc(x.b.error.message) + '</span>';
      });
  };
})();
"""


def _draw_tool(m: folium.Map, site_id: str) -> None:
    """Add the draw tool: a drawn polygon is analysed at once and can be saved as a proposal."""
    _vendored(
        plugins.Draw(
            export=False,
            position="topleft",
            draw_options={"polyline": False, "circle": False, "marker": False, "circlemarker": False},
            edit_options={"edit": False, "remove": True},
        ),
        [("leaflet_draw_js", "leaflet-draw/leaflet.draw.js")],
        [("leaflet_draw_css", "leaflet-draw/leaflet.draw.css")],
    ).add_to(m)
    _root(m).html.add_child(
        _Raw(
            '<div id="footprint-panel" style="display:none;position:fixed;top:170px;left:60px;z-index:1000;'
            "max-width:420px;background:rgba(255,255,255,.95);padding:8px 12px;border-radius:6px;"
            'font:13px/1.4 sans-serif;box-shadow:0 1px 4px rgba(0,0,0,.3)"></div>'
        )
    )
    _script(m, _DRAW_JS.replace("MAP", m.get_name()).replace("SITE", _js_json(site_id)))


class _Raw(Element):
    """Text written into the page as is (branca's Element would parse it as a template)."""

    def __init__(self, text: str) -> None:
        super().__init__("")
        self.text = text

    def render(self, **kwargs: Any) -> str:  # noqa: ANN401 - branca's signature
        """Return the text."""
        return self.text


class _Script(MacroElement):
    """Script run after the map and the layers added before it exist."""

    def __init__(self, js: str) -> None:
        super().__init__()
        self.js = js

    def render(self, **kwargs: Any) -> str:  # noqa: ANN401 - branca's signature
        """Add the script to the page."""
        _root_of(self).script.add_child(_Raw(self.js), name=self.get_name())
        return ""


def _root_of(el: MacroElement) -> Figure:
    root = el.get_root()
    assert isinstance(root, Figure)  # elements of a map sit in a Figure
    return root


def _layer_list(m: folium.Map) -> None:
    """Add the layer list: open on a large screen, folded on a small one (where it would cover the map)."""
    control = folium.LayerControl(collapsed=False)
    control.add_to(m)
    _script(m, f"if (window.innerWidth < 1000 || window.innerHeight < 700) {{ {control.get_name()}.collapse(); }}")


def _script(m: folium.Map, js: str) -> None:
    """Run ``js`` after the map and its layers exist."""
    m.add_child(_Script(js))


# Colour ramp of isochrone bands (ColorBrewer RdYlGn, 5 classes, green = near).
BAND_COLOURS = ("#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59", "#d73027", "#a50026", "#67001f")
SITE_BANDS_MIN = (5.0, 10.0, 15.0, 30.0)
# Display tolerance of band outlines, metres (figures are computed on the exact cells).
DISPLAY_TOLERANCE_M = 20.0


def _legend(
    title: str,
    rows: list[tuple[str, str]],
    *,
    element_id: str,
    sections: list[tuple[str, list[tuple[str, str]]]] | None = None,
) -> str:
    def items(rs: list[tuple[str, str]]) -> str:
        return "".join(
            f'<div><span style="display:inline-block;width:14px;height:14px;background:{c};opacity:.8;'
            f'margin-right:6px;vertical-align:middle;border:1px solid #555"></span>{label}</div>'
            for c, label in rs
        )

    body = (f"<b>{title}</b>{items(rows)}" if rows else "") + "".join(
        f"<b>{t}</b>{items(rs)}" for t, rs in (sections or [])
    )
    return (
        f'<div id="{element_id}" class="map-legend" style="position:fixed;bottom:24px;right:10px;z-index:1000;'
        "background:rgba(255,255,255,.93);padding:6px 10px;border-radius:6px;font:12px/1.5 sans-serif;"
        f'box-shadow:0 1px 4px rgba(0,0,0,.3);max-height:45vh;overflow:auto">{body}</div>'
    )


def _at_least(props: dict[str, Any]) -> str:
    """Return "≥ " for a band cut by the edge of its network (its figures are lower bounds)."""
    return "≥ " if props.get("truncated") else ""


def _band_popup(props: dict[str, Any], mode: str) -> str:
    lines = "".join(f"<li>{_esc(line)}: {len(names)}</li>" for line, names in sorted(props["stations"].items()))
    return (
        f"<b>{props['minutes']:g} min by {mode}</b><br>"
        + (
            "<i>reaches the edge of the road network: the band would go farther, figures are lower bounds</i><br>"
            if props.get("truncated")
            else ""
        )
        + f"{_at_least(props)}{props['population']:,.0f} people ({100 * props['population_share']:.2f} % of Beijing)<br>"
        f"{props['area_km2']:.1f} km²; {props['station_count']} subway stations, {props['entrances']} entrances"
        + (f"<ul style='margin:2px 0;padding-left:16px'>{lines}</ul>" if lines else "")
    )


def site_isochrone(ctx: Context, site_id: str, mode: str) -> Isochrone:
    """Return a site page's bands: `SITE_BANDS_MIN`, or on the regional network its own (15-90 min)."""
    net = ctx.routing.resolve(site_id, mode=mode, label="site").network
    if net.source.regional:  # 100 m cells: outlines simplified to the cell size
        return ctx.coverage.isochrone(site_id, mode=mode, bands_min=ctx.coverage.default_bands(net), tolerance_m=100.0)
    return ctx.coverage.isochrone(site_id, mode=mode, bands_min=SITE_BANDS_MIN, tolerance_m=DISPLAY_TOLERANCE_M)


def warm_site_pages(ctx: Context) -> None:
    """Compute the travel-time bands of every site page now (about 0.3 s each), not on a first visit."""
    for sid in ctx.sites.ids():
        site = ctx.sites.get(sid)
        for a in access_info(ctx, site):
            if a.covered:
                site_isochrone(ctx, sid, a.mode)
                break


def _isochrone_layers(ctx: Context, site_id: str, mode: str, m: folium.Map) -> tuple[str, list[tuple[str, str]]]:
    """Draw a site's travel-time bands (largest first) and return the legend's title and rows."""
    iso = site_isochrone(ctx, site_id, mode)
    rows = []
    for i in reversed(range(len(iso.bands))):
        b = iso.bands[i]
        colour = BAND_COLOURS[i]
        props = {
            "minutes": b.minutes,
            "population": b.population,
            "population_share": b.population_share,
            "area_km2": b.area_km2,
            "station_count": len({n for names in b.stations.values() for n in names}),
            "entrances": b.entrances,
            "stations": b.stations,
            "truncated": b.truncated,
        }
        frame = gpd.GeoDataFrame({"popup": [_band_popup(props, mode)]}, geometry=[b.polygon], crs=4326)
        FastGeoJson(
            _features_json(frame),
            name=f"Within {b.minutes:g} min ({mode})",
            style=f"function (f) {{ return {{color: '{colour}', weight: 1, fillColor: '{colour}', fillOpacity: 0.22}}; }}",
            popup="p.popup",
            show=b.minutes <= 15,
        ).add_to(m)
        more = _at_least(props)
        rows.append(
            (
                colour,
                f"≤ {b.minutes:g} min: {more}{b.population / 1e6:.2f} M people, {more}{props['station_count']} stations"
                + (" (reaches the network's edge)" if b.truncated else ""),
            )
        )
    coarse = " (coarse: regional skeleton)" if any(b.coarse for b in iso.bands) else ""
    return f"Travel time by {mode}{coarse}", rows[::-1]


def _fmt_min(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def _access_routes(ctx: Context, site_id: str, m: folium.Map) -> None:
    """Draw the fastest drive routes from the airports and main stations to a site."""
    fg = folium.FeatureGroup(name="Access routes (drive, fastest)")
    drawn = 0
    for i, origin in enumerate(ACCESS_ORIGINS):
        if origin == site_id:
            continue
        try:
            routes, a, _ = ctx.routing.routes(origin, site_id)
        except (OutsideCoverageError, NoRouteError, InvalidInputError):
            continue
        r = routes[0]
        folium.PolyLine(
            [(lat, lon) for lon, lat in r.coords],
            color=_ROUTE_COLOURS[i % len(_ROUTE_COLOURS)],
            weight=5,
            opacity=0.85,
            tooltip=_esc(f"From {a.label}: {_fmt_min(r.travel_time_s)}, {r.length_m / 1000:.1f} km"),
        ).add_to(fg)
        drawn += 1
    if drawn:
        fg.add_to(m)


def route_map(
    ctx: Context,
    origin: Place,
    destination: Place,
    *,
    mode: str = "drive",
    metric: str = "fastest",
    alternatives: int = 3,
    closures: Closures | None = None,
    basemap: str = "osm",
) -> str:
    """Return a page with the route(s) between two places, their stops, closures and figures."""
    routes, a, b = ctx.routing.routes(
        origin, destination, mode=mode, metric=metric, alternatives=alternatives, closures=closures
    )
    coords = np.vstack([r.coords for r in routes])
    m = _new_map((float(coords[:, 1].mean()), float(coords[:, 0].mean())), basemap=basemap)
    if closures and closures.streets:
        shut = ctx.routing.closed_edges(a.network, Closures(streets=closures.streets))
        g = a.network.graph
        fg = folium.FeatureGroup(name=f"Closed streets ({len(closures.streets)})")
        for u, v in shut:
            for data in g.get_edge_data(u, v).values():
                geom = data.get("geometry")
                pts = (
                    list(geom.coords)
                    if geom is not None
                    else [(g.nodes[u]["x"], g.nodes[u]["y"]), (g.nodes[v]["x"], g.nodes[v]["y"])]
                )
                folium.PolyLine([(y, x) for x, y in pts], color="#e41a1c", weight=6, opacity=0.8).add_to(fg)
        fg.add_to(m)
    if closures and closures.areas:
        fg = folium.FeatureGroup(name=f"Closed areas ({len(closures.areas)})")
        for area in closures.areas:
            folium.GeoJson(
                shapely.geometry.mapping(area),
                style_function=lambda _: {"color": "#e41a1c", "weight": 2, "fillColor": "#e41a1c", "fillOpacity": 0.25},
            ).add_to(fg)
        fg.add_to(m)
    rows = []
    for i, r in enumerate(reversed(routes)):
        rank = len(routes) - 1 - i
        name = "Best route" if rank == 0 else f"Alternative {rank}"
        group = folium.FeatureGroup(name=f"{name} ({_fmt_min(r.travel_time_s)})")
        folium.PolyLine(
            [(lat, lon) for lon, lat in r.coords],
            color=_ROUTE_COLOURS[rank % len(_ROUTE_COLOURS)],
            weight=7 if rank == 0 else 4,
            opacity=0.9 if rank == 0 else 0.7,
            dash_array=None if rank == 0 else "10 8",
            tooltip=_esc(f"{name}: {_fmt_min(r.travel_time_s)}, {r.length_m / 1000:.2f} km"),
        ).add_to(group)
        group.add_to(m)
    for rank, r in enumerate(routes):
        main = list(dict.fromkeys(st.label for st in sorted(r.streets, key=lambda st: -st.length_m)))[:3]
        overlap = 100.0 if rank == 0 else 100 * route_overlap(r, routes[0])
        rows.append(
            f"<tr><td style='color:{_ROUTE_COLOURS[rank % len(_ROUTE_COLOURS)]}'>&#9632; {rank}</td>"
            f"<td>{_fmt_min(r.travel_time_s)}</td><td>{r.length_m / 1000:.2f} km</td><td>{overlap:.0f}%</td>"
            f"<td>{_esc(', '.join(main))}</td></tr>"
        )
    legs, warnings = ctx.routing.route_notes(routes[0], a, b, mode=mode)
    for leg in legs:
        if leg.distance_m > 0:
            folium.PolyLine(
                [(lat, lon) for lon, lat in leg.coords], color="#333", weight=3, opacity=0.9, dash_array="4 6",
                tooltip=_esc(f"{leg.end}: {leg.distance_m:.0f} m off the road network (straight line)"),
            ).add_to(m)  # fmt: skip
    for p, label, colour in ((a, "Origin", "#1a9850"), (b, "Destination", "#d73027")):
        folium.CircleMarker(
            [p.snap.lat, p.snap.lon], radius=8, color="#000", weight=2, fill=True, fill_color=colour, fill_opacity=1,
            tooltip=_esc(f"{label}: {p.label} (snapped {p.snap.distance_m:.0f} m)"),
        ).add_to(m)  # fmt: skip
    _layer_list(m)
    m.fit_bounds([[coords[:, 1].min(), coords[:, 0].min()], [coords[:, 1].max(), coords[:, 0].max()]])
    table = (
        "<table id='route-summary' style='border-collapse:collapse;font-size:12px'>"
        "<tr><th>#</th><th>time</th><th>length</th><th>shared</th><th>main streets</th></tr>"
        + "".join(rows)
        + "</table>"
    )
    notes = "".join(f"<li>{_esc(w)}</li>" for w in warnings)
    body = f"{_esc(a.label)} → {_esc(b.label)}<br>{mode}, {metric}<br>{table}" + (
        f"<ul id='route-warnings' style='max-width:420px;font-size:12px;color:#8c510a'>{notes}</ul>" if notes else ""
    )
    _root(m).html.add_child(_panel("Access routes", body))
    _root(m).header.add_child(_Raw("<title>Routes — venue planner</title>"))
    return _page(m)


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


_SHARE_CLASSES = (
    (0.95, "#1a9850", "covered (≥ 95 %)"),
    (0.5, "#fee08b", "partial (50–95 %)"),
    (0.0, "#d73027", "gap (< 50 %)"),
)


def coverage_map(
    ctx: Context, sites: list[str], *, minutes: float = 15.0, mode: str = "drive", basemap: str = "osm"
) -> str:
    """Return the page of multi-site coverage: the union and overlap of the sites' bands and a township choropleth."""
    sc = ctx.coverage.site_set(list(sites), mode=mode, minutes=minutes)
    outlines = ctx.coverage.township_outlines()
    union = sc.union.polygon
    minx, miny, maxx, maxy = union.bounds if not union.is_empty else (116.2, 39.8, 116.6, 40.05)
    m = _new_map(((miny + maxy) / 2, (minx + maxx) / 2), basemap=basemap)
    table = sc.townships[sc.townships["assessed"]]
    town_fg = folium.FeatureGroup(name=f"Townships by covered share ({len(table)})")
    for r in table.to_dict("records"):
        share = float(r["covered_share"])
        colour = next(c for lo, c, _ in _SHARE_CLASSES if share >= lo)
        folium.GeoJson(
            shapely.geometry.mapping(outlines[int(r["township_id"])]),
            style_function=lambda _, c=colour: {"color": "#555", "weight": 0.6, "fillColor": c, "fillOpacity": 0.45},
            tooltip=_esc(
                f"{r['district']} {r['township']}: {100 * share:.0f} % of {int(r['population']):,} people "
                f"within {minutes:g} min ({float(r['uncovered']):,.0f} not)"
            ),
        ).add_to(town_fg)
    town_fg.add_to(m)
    for fig, name, colour, fill in (
        (sc.union, "Union", "#08519c", 0.35),
        (sc.overlap, "Covered twice or more", "#6a51a3", 0.5),
    ):
        if not fig.polygon.is_empty:
            # Filled, without outlines: the bands follow the roads, and outlined they read as a road map.
            folium.GeoJson(
                shapely.geometry.mapping(fig.polygon),
                name=f"{name} ({fig.population / 1e6:.2f} M people)",
                style_function=lambda _, c=colour, f=fill: {"color": c, "weight": 0, "fillColor": c, "fillOpacity": f},
            ).add_to(m)
    fg = folium.FeatureGroup(name="Sites")
    for p, fig in zip(sc.places, sc.per_site, strict=True):
        folium.CircleMarker(
            [p.snap.lat, p.snap.lon], radius=8, color="#000", weight=2, fill=True, fill_color="#ffff33", fill_opacity=1,
            tooltip=_esc(f"{p.label}: {'≥ ' if fig.truncated else ''}{fig.population:,.0f} people within {minutes:g} min"),
        ).add_to(fg)  # fmt: skip
    fg.add_to(m)
    _layer_list(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    gaps = table[table["covered_share"] < 0.5]
    not_assessed = sc.townships[~sc.townships["assessed"]]
    body = (
        f"{len(sc.places)} sites, {mode}, within {minutes:g} min<br>"
        f"Together: {'≥ ' if sc.union.truncated else ''}{sc.union.population:,.0f} people "
        f"({100 * sc.union.population_share:.1f} % of Beijing"
        + ("; a band reaches the edge of the road network, so this is a lower bound" if sc.union.truncated else "")
        + "); "
        f"twice or more: {sc.overlap.population:,.0f}<br>"
        f"<span id='gap-summary'>Gaps: {len(gaps)} of {len(table)} townships in the network, "
        f"{float(table['uncovered'].sum()):,.0f} people not covered.</span><br>"
        f"<span style='color:#777'>{len(not_assessed)} townships ({int(not_assessed['population'].sum()):,} people) "
        "lie outside the road network and are not assessed.</span>"
    )
    _root(m).html.add_child(_panel("Coverage and gaps", body))
    _root(m).html.add_child(
        _Raw(
            _legend(
                "Township people within reach",
                [(c, label) for _, c, label in _SHARE_CLASSES],
                element_id="coverage-legend",
            )
        )
    )
    _root(m).header.add_child(_Raw("<title>Coverage — venue planner</title>"))
    return _page(m)


_PLANNER_JS = """
(function () {
  var map = MAP;
  window.plannerMap = map;
  var KIND = PAGEKIND;
  var points = [];
  var markers = L.layerGroup().addTo(map);
  var results = L.layerGroup().addTo(map);
  var colours = COLOURS;
  function esc(s) { return String(s === null || s === undefined ? '' : s).replace(/[&<>"]/g, function (c) {
    return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[c]; }); }
  function val(id) { return document.getElementById(id).value; }
  function status(t) { document.getElementById('planner-status').innerHTML = t; }
  function place(i) { var p = points[i]; return typeof p === 'string' ? p : p[0].toFixed(6) + ',' + p[1].toFixed(6); }
  function mark(lonlat, label, colour) {
    L.circleMarker([lonlat[1], lonlat[0]], {radius: 8, color: '#000', weight: 2, fillColor: colour, fillOpacity: 1})
      .bindTooltip(label).addTo(markers);
  }
  map.on('click', function (e) {
    var need = KIND === 'route' ? 2 : 1;
    if (points.length >= need) { points = []; markers.clearLayers(); results.clearLayers(); }
    points.push([e.latlng.lng, e.latlng.lat]);
    mark(points[points.length - 1], points.length === 1 ? 'origin' : 'destination', points.length === 1 ? '#1a9850' : '#d73027');
    if (points.length === need) { window.runPlanner(); } else { status('Now click the destination.'); }
  });
  window.pickSites = function () {
    points = [val('pick-a')];
    if (KIND === 'route') { points.push(val('pick-b')); }
    markers.clearLayers();
    window.runPlanner();
  };
  document.getElementById('pick-go').addEventListener('click', function () { window.pickSites(); });
  function fail(b) { status('<span id="planner-error" style="color:#b2182b">' + esc(b.error ? b.error.message : b) + '</span>'); }
  window.runPlanner = function () {
    results.clearLayers();
    status('Working…');
    if (KIND === 'route') {
      var q = 'origin=' + encodeURIComponent(place(0)) + '&destination=' + encodeURIComponent(place(1)) +
        '&mode=' + val('mode') + '&metric=' + val('metric') + '&alternatives=' + val('alternatives');
      val('closures').split(',').map(function (s) { return s.trim(); }).filter(Boolean).forEach(function (s) {
        q += '&close_street=' + encodeURIComponent(s); });
      fetch('/routes?' + q).then(function (r) { return r.json().then(function (b) { return {ok: r.ok, b: b}; }); }).then(function (x) {
        if (!x.ok) { return fail(x.b); }
        var rows = '';
        x.b.features.slice().reverse().forEach(function (f) {
          var k = f.properties.rank;
          L.geoJSON(f, {style: {color: colours[k % colours.length], weight: k === 0 ? 7 : 4, opacity: 0.85, dashArray: k === 0 ? null : '10 8'}})
            .bindTooltip((k === 0 ? 'Best route' : 'Alternative ' + k) + ': ' + (f.properties.travel_time_s / 60).toFixed(1) + ' min').addTo(results);
        });
        x.b.features.forEach(function (f) {
          var p = f.properties, k = p.rank;
          var seen = {}, main = p.streets.slice().sort(function (a, b) { return b.length_m - a.length_m; })
            .filter(function (s) { var n = !seen[s.label]; seen[s.label] = true; return n; })
            .slice(0, 3).map(function (s) { return esc(s.label); }).join(', ');
          rows += '<tr><td style="color:' + colours[k % colours.length] + '">&#9632; ' + k + '</td><td>' + (p.travel_time_s / 60).toFixed(1) +
            ' min</td><td>' + (p.length_m / 1000).toFixed(2) + ' km</td><td>' + Math.round(100 * p.overlap_with_best) + '%</td><td>' + main + '</td></tr>';
        });
        var best = x.b.features[0].properties, o = best.origin, d = best.destination;
        best.access.forEach(function (leg) {
          if (leg.distance_m > 0) {
            L.polyline(leg.coordinates.map(function (c) { return [c[1], c[0]]; }), {color: '#333', weight: 3, dashArray: '4 6'})
              .bindTooltip(esc(leg.end + ': ' + Math.round(leg.distance_m) + ' m off the road network (straight line)')).addTo(results);
          }
        });
        mark([o.lon, o.lat], 'origin: ' + o.input, '#1a9850'); mark([d.lon, d.lat], 'destination: ' + d.input, '#d73027');
        var notes = best.warnings.map(function (w) { return '<li>' + esc(w) + '</li>'; }).join('');
        status('<table id="planner-table" style="border-collapse:collapse;font-size:12px"><tr><th>#</th><th>time</th><th>length</th><th>shared</th><th>main streets</th></tr>' + rows + '</table>' +
          (notes ? '<ul id="planner-warnings" style="max-width:420px;font-size:12px;color:#8c510a">' + notes + '</ul>' : ''));
        map.fitBounds(results.getLayers()[0].getBounds(), {padding: [40, 40]});
      }).catch(fail);
    } else {
      var origin = typeof points[0] === 'string' ? points[0] : points[0];
      var bands = val('bands').split(',').map(Number).filter(function (x) { return x > 0; });
      fetch('/isochrones', {method: 'POST', headers: {'content-type': 'application/json'},
        body: JSON.stringify({origin: origin, mode: val('mode'), bands_min: bands, reverse: document.getElementById('reverse').checked})})
        .then(function (r) { return r.json().then(function (b) { return {ok: r.ok, b: b}; }); }).then(function (x) {
          if (!x.ok) { return fail(x.b); }
          var n = x.b.features.length, rows = '';
          x.b.features.forEach(function (f, i) {
            var c = colours[n - 1 - i], p = f.properties;
            L.geoJSON(f, {style: {color: c, weight: 1, fillColor: c, fillOpacity: 0.25}})
              .bindPopup('<b>' + p.minutes + ' min</b><br>' + (p.truncated ? '≥ ' : '') + Math.round(p.population).toLocaleString('en') + ' people, ' + p.station_count + ' stations' + (p.truncated ? '<br><i>reaches the edge of the road network: a lower bound</i>' : ''))
              .addTo(results);
          });
          x.b.features.slice().reverse().forEach(function (f, i) {
            var p = f.properties;
            rows += '<tr><td style="color:' + colours[i] + '">&#9632; ≤ ' + p.minutes + ' min</td><td>' + (p.truncated ? '≥ ' : '') + (p.population / 1e6).toFixed(2) +
              ' M people</td><td>' + p.station_count + ' stations</td><td>' + p.area_km2.toFixed(1) + ' km²</td></tr>';
          });
          var o = x.b.origin;
          mark([o.lon, o.lat], esc(o.input), '#1a9850');
          status('<table id="planner-table" style="border-collapse:collapse;font-size:12px">' + rows + '</table>');
          map.fitBounds(results.getLayers()[0].getBounds(), {padding: [20, 20]});
        }).catch(fail);
    }
  };
})();
"""


# The planner opens on two different places, so that the first click on Route answers.
PLANNER_ORIGIN = "capital-airport"
PLANNER_DESTINATION = "forbidden-city"
PLANNER_ORIGIN_ISO = "temple-of-heaven"


def _context_layers(ctx: Context, m: folium.Map, df: gpd.GeoDataFrame) -> None:
    """Draw what a planner needs to see before the first click: the sites and where the road data ends; fit to it."""
    FastGeoJson(
        _features_json(df[["id", "name_en", "name_zh", "geometry"]], tolerance_deg=0.0001),
        name=f"Sites ({len(df)})",
        style="function (f) { return {color: '#b2182b', weight: 1.5, fillOpacity: 0.08}; }",
        tooltip="esc(p.name_en) + ' ' + esc(p.name_zh)",
    ).add_to(m)
    nets = [n for n in ctx.networks.all("drive") if not n.source.regional]
    frame = gpd.GeoDataFrame(
        {"name": [n.name for n in nets]},
        geometry=[shapely.LineString(n.extent.exterior.coords) for n in nets],
        crs=4326,
    )
    FastGeoJson(
        _features_json(frame, tolerance_deg=0.0005),
        name="Where the street data ends",
        style="function (f) { return {color: '#525252', weight: 2, dashArray: '8 6'}; }",
        tooltip="'street network ' + esc(p.name) + ': beyond this line only the major-road skeleton (driving)'",
    ).add_to(m)
    minx, miny, maxx, maxy = shapely.union_all(frame.geometry.to_numpy()).bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]])


def planner_map(ctx: Context, *, kind: str = "route", basemap: str = "osm") -> str:
    """Return the interactive route planner (``kind="route"``) or isochrone page (``"isochrone"``).

    Click the map (origin, then destination) or pick sites; the page calls the JSON API
    (``GET /routes`` or ``POST /isochrones``) and draws the answer with its figures.
    """
    if kind not in ("route", "isochrone"):
        raise InvalidInputError(f"`kind` must be route or isochrone; got {kind!r}.")
    m = _new_map((39.905, 116.39), basemap=basemap, zoom=12)
    df = ctx.sites.frame()

    def opts(selected: str) -> str:
        return "".join(
            f'<option value="{_esc(r["id"])}"{" selected" if r["id"] == selected else ""}>{_esc(str(r["name_en"]))}</option>'
            for r in df.to_dict("records")
        )

    _context_layers(ctx, m, df)
    if kind == "route":
        form = (
            "Click the origin, then the destination, or pick two sites:<br>"
            f"<select id='pick-a'>{opts(PLANNER_ORIGIN)}</select> → <select id='pick-b'>{opts(PLANNER_DESTINATION)}</select> "
            "<button id='pick-go'>Route</button><br>"
            "<select id='mode'><option>drive</option><option>walk</option></select> "
            "<select id='metric'><option>fastest</option><option>shortest</option></select> "
            "alternatives <select id='alternatives'><option>1</option><option>2</option><option selected>3</option></select><br>"
            "closed streets <input id='closures' placeholder='前门大街, …' style='width:60%'>"
        )
        title = "Route planner"
    else:
        form = (
            "Click a point, or pick a site:<br>"
            f"<select id='pick-a'>{opts(PLANNER_ORIGIN_ISO)}</select> <button id='pick-go'>Isochrones</button><br>"
            "<select id='mode'><option>drive</option><option>walk</option></select> "
            "bands <input id='bands' value='5,10,15,30' style='width:90px'> min "
            "<label><input type='checkbox' id='reverse'> to the point</label>"
        )
        title = "Isochrones"
    body = f"{form}<div id='planner-status' style='margin-top:6px'>Routes come from the JSON API.</div>"
    _root(m).html.add_child(_panel(title, body))
    colours = list(_ROUTE_COLOURS) if kind == "route" else list(BAND_COLOURS)
    js = (
        _PLANNER_JS.replace("MAP", m.get_name())
        .replace("PAGEKIND", _js_json(kind))
        .replace("COLOURS", _js_json(colours))
    )
    _script(m, js)
    folium.LayerControl(collapsed=True).add_to(m)
    _root(m).header.add_child(_Raw(f"<title>{title} — venue planner</title>"))
    return _page(m)
