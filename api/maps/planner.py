"""The interactive route planner and isochrone pages (they call the JSON API)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import shapely

from api.maps.base import (
    _ROUTE_COLOURS,
    _VENDOR,
    BAND_COLOURS,
    FastGeoJson,
    PageMap,
    _add_html,
    _features_json,
    _layer_list,
    _new_map,
    _page,
    subway_lines_layer,
)
from geo.errors import InvalidInputError

if TYPE_CHECKING:
    from api.context import Context

# CGCS2000 / 3-degree Gauss-Kruger CM 117E (EPSG:4548), as the EPSG definition gives it to PROJ.
EPSG4548_PROJ = "+proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs"

# The planner opens on two different places, so that the first click on Route answers.
PLANNER_ORIGIN = "capital-airport"
PLANNER_DESTINATION = "forbidden-city"
PLANNER_ORIGIN_ISO = "temple-of-heaven"


def _context_layers(ctx: Context, m: PageMap, df: gpd.GeoDataFrame) -> None:
    """Draw what a planner needs to see before the first click: the sites and where the road data ends; fit to it."""
    FastGeoJson(
        _features_json(df[["id", "name_en", "name_zh", "geometry"]], tolerance_deg=0.0001),
        name=f"Sites ({len(df)})",
        look="plannerSites",
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
        look="streetDataEdge",
    ).add_to(m)
    minx, miny, maxx, maxy = shapely.union_all(frame.geometry.to_numpy()).bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]])


def planner_map(ctx: Context, *, kind: str = "route", basemap: str = "osm") -> str:
    """Return the interactive route planner (``kind="route"``) or isochrone page (``"isochrone"``).

    Click the map (origin, then destination) or pick sites; the page calls the JSON API
    (``GET /routes`` or ``POST /isochrones``) and draws the answer with its figures. Its
    mode switch offers drive, walk and transit; with transit it shows the departure window
    (and, for isochrones, the percentile) and draws the subway lines in their colours.
    """
    if kind not in ("route", "isochrone"):
        raise InvalidInputError(f"`kind` must be route or isochrone; got {kind!r}.")
    m = _new_map((39.905, 116.39), basemap=basemap, zoom=12)
    df = ctx.sites.frame()
    _context_layers(ctx, m, df)
    title = "Route planner" if kind == "route" else "Isochrones"
    _add_html(
        m,
        "planner.html",
        title=title,
        kind=kind,
        site_options=df[["id", "name_en"]].to_dict("records"),
        origin=PLANNER_ORIGIN if kind == "route" else PLANNER_ORIGIN_ISO,
        destination=PLANNER_DESTINATION,
    )
    lines = subway_lines_layer(ctx.layers.query("subway-lines"), show=False)
    lines.add_to(m)
    colours = list(_ROUTE_COLOURS) if kind == "route" else list(BAND_COLOURS)
    m.page["planner"] = {"kind": kind, "colours": colours, "lines": lines.get_name()}
    # The pointer's position in lon/lat and in EPSG:4548 metres (proj4js, vendored), for GIS staff.
    m.default_js = [*m.default_js, ("proj4", f"{_VENDOR}/proj4/proj4.js")]
    m.page["readout"] = {"epsg4548": EPSG4548_PROJ}
    _layer_list(m, collapsed=True)
    return _page(m, title)
