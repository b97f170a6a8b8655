"""The page of one site: its outline, roads, stations, bands, proposals, access routes and the draw tool."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from folium import plugins

from api.convert import access_info
from api.maps.base import (
    _MARGIN_LAT,
    _MARGIN_LON,
    _ROAD_COLOUR,
    _ROAD_WEIGHT,
    _ROUTE_COLOURS,
    ACCESS_ORIGINS,
    BAND_COLOURS,
    FastGeoJson,
    PageMap,
    _add_html,
    _at_least,
    _band_popup,
    _esc,
    _features_json,
    _fmt_min,
    _js_safe,
    _layer_list,
    _legend,
    _new_map,
    _page,
    _road_class,
    _vendored,
    subway_lines_layer,
)
from geo.errors import InvalidInputError, NoRouteError, OutsideCoverageError
from layers.regional import REGIONAL_NETWORK
from layers.transit import MAX_WALK_MIN

if TYPE_CHECKING:
    from api.context import Context


def site_map(ctx: Context, site_id: str, *, basemap: str = "osm", mode: str | None = None) -> str:
    """Return the HTML page of one site.

    It shows the site boundary and sub-sites, the roads around it styled by class, the
    subway lines in their colours, stations and entrances, the Forbidden City buildings
    where they are near, the travel-time bands by ``mode`` (None: the first mode whose
    network reaches the site; ``"transit"``: walking and the subway over 08:00-09:00,
    the median) and the access point on each covering network, with a layer switcher.
    """
    if mode not in (None, *SITE_MODES):
        raise InvalidInputError(f"`mode` must be one of {', '.join(SITE_MODES)}; got {mode!r}.")
    site = ctx.sites.get(site_id)
    minx, miny, maxx, maxy = site.boundary.bounds
    view = (minx - _MARGIN_LON, miny - _MARGIN_LAT, maxx + _MARGIN_LON, maxy + _MARGIN_LAT)
    m = _new_map((site.lat, site.lon), basemap=basemap)
    access = access_info(ctx.routing, site)
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
            look="regionalSkeleton",
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
            look="roads",
            args={"colour": _ROAD_COLOUR, "weight": _ROAD_WEIGHT},
        ).add_to(m)
    heritage = ctx.layers.query("heritage-buildings", bbox=view)
    if not heritage.empty:
        FastGeoJson(
            _features_json(heritage[["name", "area_m2", "geometry"]], tolerance_deg=0.000005),
            name=f"Heritage buildings ({len(heritage)})",
            look="heritageBuildings",
        ).add_to(m)
    kids = ctx.sites.children(site.id)
    if not kids.empty:
        FastGeoJson(
            _features_json(kids[["id", "name_en", "name_zh", "boundary_source", "geometry"]]),
            name=f"Sub-sites ({len(kids)})",
            look="subSites",
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
    lines = ctx.layers.query("subway-lines", bbox=view)
    if not lines.empty:
        subway_lines_layer(lines).add_to(m)
    stations = ctx.layers.query("subway-stations", bbox=view)
    if not stations.empty:
        FastGeoJson(
            _features_json(stations[["name", "lines", "colour", "geometry"]]),
            name=f"Subway stations ({len(stations)})",
            look="stations",
        ).add_to(m)
    entrances = ctx.layers.query("subway-entrances", bbox=view)
    if not entrances.empty:
        FastGeoJson(
            _features_json(entrances[["name", "geometry"]]),
            name=f"Subway entrances ({len(entrances)})",
            look="entrances",
        ).add_to(m)
    iso_mode = mode or next((a.mode for a in access if a.covered), None)
    band_title, band_rows, band_error = _bands(ctx, site.id, iso_mode, m)
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
    unc = site.properties.get("uncertainty_m")
    _add_html(
        m,
        "site.html",
        title=site.name_en,
        site=site,
        boundary_source=str(site.properties["boundary_source"]).removeprefix("outline: "),
        area_km2=site.properties["area_km2"],
        uncertainty_m=None if unc is None or unc != unc else float(unc),  # NaN when the outline is exact
        coverage_error=None if drive.covered else drive.message or "",
        regional=regional,
        modes=[(k, f"/maps/sites/{site.id}?mode={k}&basemap={basemap}", k == iso_mode) for k in SITE_MODES],
        band_error=band_error,
        transit=iso_mode == "transit",
    )
    _legend(m, band_title, band_rows, element_id="site-legend", sections=[("Map key", _SITE_KEY)])
    _draw_tool(m, site.id)
    return _page(m, site.name_en)


# The modes a site page draws its bands for (switched by links in its panel).
SITE_MODES = ("drive", "walk", "transit")

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
        look="populationDensity",
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
        look="proposals",
    ).add_to(m)


def _draw_tool(m: PageMap, site_id: str) -> None:
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
    _add_html(m, "footprint_panel.html")
    m.page["draw"] = {"site": site_id}


def _bands(
    ctx: Context, site_id: str, mode: str | None, m: folium.Map
) -> tuple[str, list[tuple[str, str]], str | None]:
    """Draw a site's bands by ``mode`` (None: no network reaches it); return the legend's title, rows and why none."""
    if mode is None:
        return "", [], None
    try:
        title, rows = _isochrone_layers(ctx, site_id, mode, m)
    except (OutsideCoverageError, NoRouteError) as e:
        return "", [], f"No {mode} bands here: {e}"
    return title, rows, None


def _isochrone_layers(ctx: Context, site_id: str, mode: str, m: folium.Map) -> tuple[str, list[tuple[str, str]]]:
    """Draw a site's travel-time bands (largest first) and return the legend's title and rows."""
    iso = ctx.coverage.site_bands(site_id, mode)
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
            look="band",
            args={"colour": colour},
            show=b.minutes <= (30 if mode == "transit" else 15),
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
    if mode == "transit" and ctx.transit.walk_alone_note(site_id):
        coarse = f" (walking alone: no station within {MAX_WALK_MIN:g} min's walk)"
    return f"Travel time by {mode}{coarse}", rows[::-1]


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
