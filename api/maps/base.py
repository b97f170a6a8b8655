"""What every map page shares: the map with its controls, escaping, the CSP nonce, fast GeoJSON layers, panels and legends."""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import Element, Figure, MacroElement
from folium import plugins
from folium.elements import JSCSSMixin
from jinja2 import Template

from api.downloads import feature_collection_json
from api.middleware import NONCE_TOKEN

if TYPE_CHECKING:
    pass


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
    return _js_safe(feature_collection_json(list(zip(geoms, props, strict=True))))


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


def _fmt_min(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"
