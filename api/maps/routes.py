"""The page of the routes between two places, with alternatives, closures and their figures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import folium
import numpy as np
import shapely

from api.maps.base import (
    _ROUTE_COLOURS,
    _add_html,
    _esc,
    _fmt_min,
    _layer_list,
    _new_map,
    _page,
)
from geo.routing import route_overlap
from layers.routing import Closures, Place

if TYPE_CHECKING:
    from layers.routing import RoutingService


def route_map(
    routing: RoutingService,
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
    routes, a, b = routing.routes(
        origin, destination, mode=mode, metric=metric, alternatives=alternatives, closures=closures
    )
    coords = np.vstack([r.coords for r in routes])
    m = _new_map((float(coords[:, 1].mean()), float(coords[:, 0].mean())), basemap=basemap)
    if closures and closures.streets:
        shut = routing.closed_edges(a.network, Closures(streets=closures.streets))
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
    rows: list[dict[str, Any]] = []
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
        rows.append(
            {
                "rank": rank,
                "colour": _ROUTE_COLOURS[rank % len(_ROUTE_COLOURS)],
                "travel_time_s": r.travel_time_s,
                "length_m": r.length_m,
                "overlap_pct": 100.0 if rank == 0 else 100 * route_overlap(r, routes[0]),
                "streets": list(dict.fromkeys(st.label for st in sorted(r.streets, key=lambda st: -st.length_m)))[:3],
            }
        )
    legs, warnings = routing.route_notes(routes[0], a, b, mode=mode)
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
    _add_html(
        m,
        "routes.html",
        title="Access routes",
        origin=a.label,
        destination=b.label,
        mode=mode,
        metric=metric,
        rows=rows,
        warnings=warnings,
    )
    return _page(m, "Routes")
