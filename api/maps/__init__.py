"""Folium web maps, one module per page (`base` holds what they share).

folium draws the map and its layers; the pages' HTML is Jinja2 templates in
``api/templates`` (every value escaped, `base.render`); their JavaScript and CSS are
``api/static/js/venue-planner.js`` and ``api/static/css/venue-planner.css``, started by
the page's data (one JSON block). Every page runs only folium's two inline scripts under
the page's CSP nonce (`base._page`), loads Leaflet and its plugins from the service, and
credits OpenStreetMap.
"""

from api.maps.base import BAND_COLOURS, DATA_CREDIT, OSM_CREDIT
from api.maps.closurecost import closure_cost_map
from api.maps.coverage import coverage_map
from api.maps.impact import impact_map, query_string
from api.maps.index import index_map
from api.maps.motorcade import motorcade_map
from api.maps.planner import planner_map
from api.maps.routes import route_map
from api.maps.site import site_map

__all__ = [
    "BAND_COLOURS",
    "DATA_CREDIT",
    "OSM_CREDIT",
    "closure_cost_map",
    "coverage_map",
    "impact_map",
    "index_map",
    "motorcade_map",
    "planner_map",
    "query_string",
    "route_map",
    "site_map",
]
