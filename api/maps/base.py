"""What every map page shares: the map with its controls, templates and escaping, the page data, the CSP nonce, fast GeoJSON layers, legends."""

from __future__ import annotations

import functools
import html
import json
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import Element, Figure, MacroElement
from folium import plugins
from folium.elements import JSCSSMixin
from jinja2 import Environment, PackageLoader, StrictUndefined, Template
from markupsafe import Markup

from api.downloads import feature_collection_json
from api.middleware import NONCE_TOKEN
from api.settings import StoreSettings
from layers.basemap import BASEMAP_FILE, basemap_archive
from layers.basemap import MAX_ZOOM as BASEMAP_MAX_ZOOM
from layers.basemap import MIN_ZOOM as BASEMAP_MIN_ZOOM

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
# end of the body. Nothing else on a page may be a bare <script> tag: the pages' own code is
# /static/js/venue-planner.js, and their data a JSON block (type="application/json", never run).
_INLINE_SCRIPTS = 2


class PageMap(folium.Map):
    """A folium map that also carries the page's data for ``venue-planner.js`` (see `_page`)."""

    page: dict[str, Any]


def _page(m: PageMap, title: str) -> str:
    """Render a page titled ``title``; its own inline scripts, and nothing else, get the CSP nonce.

    The page's data (``m.page``: the names of its map, tile layer and layer list, and what
    the page script starts) goes in as JSON. Planner text reaches pages escaped, so it
    cannot contain a ``<script>`` tag; should an escape ever be missed, the page is refused
    (a 500 with a request id) instead of giving an injected script the nonce.
    """
    root = _root(m)
    root.header.add_child(_Raw(render("head.html", title=title)))
    root.html.add_child(_Raw(render("page_data.html", data=Markup(_js_json({"map": m.get_name(), **m.page})))))
    html = root.render()
    parts = html.split("<script>")
    if len(parts) != _INLINE_SCRIPTS + 1:
        raise RuntimeError(f"a page holds {len(parts) - 1} bare <script> tags, not {_INLINE_SCRIPTS}: refused")
    return f'<script nonce="{NONCE_TOKEN}">'.join(parts)


def _finalize(value: object) -> object:
    """Escape every value a template prints with `_esc` (also ``$`` and backticks), unless it is already markup."""
    return value if isinstance(value, Markup) else Markup(_esc("" if value is None else value))


def _num(value: float, decimals: int = 0) -> str:
    return f"{float(value):,.{decimals}f}"


def _minutes(seconds: float, unit: bool = True) -> str:
    return f"{seconds / 60:.1f}" + (" min" if unit else "")


# The pages' HTML: Jinja2 templates in api/templates, every value escaped.
_TEMPLATES = Environment(
    loader=PackageLoader("api", "templates"),
    autoescape=True,
    finalize=_finalize,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_TEMPLATES.filters.update(num=_num, minutes=_minutes, g=lambda x: f"{float(x):g}")


def render(template: str, **values: Any) -> Markup:  # noqa: ANN401 - template values
    """Return the HTML of ``api/templates/<template>`` filled with ``values`` (all escaped)."""
    return Markup(_TEMPLATES.get_template(template).render(**values))


def _add_html(m: folium.Map, template: str, **values: Any) -> None:  # noqa: ANN401 - template values
    """Add a template's HTML to the page's body."""
    _root(m).html.add_child(_Raw(render(template, **values)))


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


def _new_map(location: tuple[float, float], *, basemap: str, zoom: int = 14) -> PageMap:
    """Return a map with both base layers, a scale bar, measure, fullscreen and mini-map controls.

    Offline the OpenStreetMap background cannot load; the page says so on the map.
    """
    m = PageMap(location=list(location), zoom_start=zoom, tiles=None, control_scale=True)
    m.default_js = [
        ("leaflet", f"{_VENDOR}/leaflet/leaflet.js"),
        ("jquery", f"{_VENDOR}/jquery/jquery.min.js"),
        ("protomaps_leaflet", f"{_VENDOR}/protomaps-leaflet/protomaps-leaflet.js"),
        ("venue_planner", "/static/js/venue-planner.js"),
    ]
    m.default_css = [
        ("leaflet_css", f"{_VENDOR}/leaflet/leaflet.css"),
        ("venue_planner_css", "/static/css/venue-planner.css"),
    ]
    osm = folium.TileLayer(
        "OpenStreetMap", name="OpenStreetMap", attr=f"Map tiles {OSM_CREDIT}; {DATA_CREDIT}", show=basemap == "osm"
    )
    osm.add_to(m)
    m.page = {"tiles": osm.get_name()}
    local = OfflineBasemap(show=basemap == "local")
    local.add_to(m)
    m.page["basemap"] = local.get_name()
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


@functools.cache
def _basemap_bounds() -> tuple[float, float, float, float]:
    """Return the offline basemap's bounds (lon/lat), from the configured seeds (read once)."""
    return basemap_archive(StoreSettings().seeds_dir / BASEMAP_FILE).info.bounds


class OfflineBasemap(folium.map.Layer):
    """The basemap the service draws from its own data (`/basemap/{z}/{x}/{y}.mvt`): a base layer of the list.

    Its style lives in ``venue-planner.js`` (``VP.basemapLayer``); here only its options.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = VP.basemapLayer({{ this.options|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, *, show: bool) -> None:
        super().__init__(name="Basemap from the shipped data (offline)", overlay=False, show=show)
        self._name = "OfflineBasemap"
        b = _basemap_bounds()
        self.options = {
            "bounds": [[b[1], b[0]], [b[3], b[2]]],  # Leaflet asks for no tile outside the archive's
            "url": "/basemap/{z}/{x}/{y}.mvt",
            "minDataZoom": BASEMAP_MIN_ZOOM,
            "maxDataZoom": BASEMAP_MAX_ZOOM,
            "attribution": f"Basemap from the shipped data; {DATA_CREDIT}",
        }


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
            "{% macro script(this, kwargs) %}VP.measureControl({{ this._parent.get_name() }});{% endmacro %}"
        )


def _road_class(highway: object) -> str:
    hw = str(highway)
    return hw.strip('[]"').split('"')[0].removesuffix("_link")


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
    time. Here the layer names its look (style, marker, tooltip, popup), which lives
    in the static script (``VP.looks`` in ``venue-planner.js``), and hands it ``args``
    as plain JSON: no JavaScript is written in Python.
    """

    def render(self, **kwargs: Any) -> str:  # noqa: ANN401 - branca's signature
        """Write the layer's script as is (a template would re-parse the data: 0.1 s per MB)."""
        assert self._parent is not None  # added to a map before rendering
        name, parent = self.get_name(), self._parent.get_name()
        js = f"var {name} = VP.geoJsonLayer({self.data}, {_js_json(self.look)}, {_js_json(self.args)});\n" + (
            f"{name}.addTo({parent});\n" if self.show else ""
        )
        _root_of(self).script.add_child(_Raw(js), name=name)
        return ""

    def __init__(
        self,
        data: str,
        *,
        name: str,
        look: str,
        args: dict[str, Any] | None = None,
        show: bool = True,
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "FastGeoJson"
        self.data = data
        self.look = look
        self.args = args or {}


class _Raw(Element):
    """Text written into the page as is (branca's Element would parse it as a template)."""

    def __init__(self, text: str) -> None:
        super().__init__("")
        self.text = text

    def render(self, **kwargs: Any) -> str:  # noqa: ANN401 - branca's signature
        """Return the text."""
        return self.text


def _root_of(el: MacroElement) -> Figure:
    root = el.get_root()
    assert isinstance(root, Figure)  # elements of a map sit in a Figure
    return root


def _layer_list(m: PageMap, *, collapsed: bool = False) -> None:
    """Add the layer list: open on a large screen, folded on a small one (where it would cover the map)."""
    control = folium.LayerControl(collapsed=collapsed)
    control.add_to(m)
    m.page["layer_list"] = True


# Colour ramp of isochrone bands (ColorBrewer RdYlGn, 5 classes, green = near).
BAND_COLOURS = ("#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59", "#d73027", "#a50026", "#67001f")


def _legend(
    m: folium.Map,
    title: str,
    rows: list[tuple[str, str]],
    *,
    element_id: str,
    sections: list[tuple[str, list[tuple[str, str]]]] | None = None,
) -> None:
    """Add a map key: ``rows`` of (colour, label) under ``title``, then titled ``sections``."""
    _add_html(m, "legend.html", title=title, rows=rows, element_id=element_id, sections=sections or [])


def _at_least(props: dict[str, Any]) -> str:
    """Return "≥ " for a band cut by the edge of its network (its figures are lower bounds)."""
    return "≥ " if props.get("truncated") else ""


def _band_popup(props: dict[str, Any], mode: str) -> str:
    return str(render("band_popup.html", mode=mode, at_least=_at_least(props), **props))


def _fmt_min(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def subway_lines_layer(
    lines: gpd.GeoDataFrame, *, show: bool = True, name: str = "Subway lines (modelled feed)"
) -> FastGeoJson:
    """Return the subway lines drawn in their official colours (straight between stations, in running order).

    Parameters
    ----------
    lines
        Rows of the ``subway-lines`` layer.
    show
        Drawn when the page opens (else chosen in the layer list).
    name
        The name in the layer list.
    """
    frame = lines[["id", "name", "colour", "shape", "run_minutes", "geometry"]]
    return FastGeoJson(
        _features_json(frame, decimals=5),
        name=f"{name} ({len(frame)})",
        look="subwayLines",
        show=show,
    )
