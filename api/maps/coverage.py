"""The page of multi-site coverage: union, overlap and the townships left uncovered."""

from __future__ import annotations

from typing import TYPE_CHECKING

import folium
import shapely

from api.maps.base import (
    _add_html,
    _esc,
    _layer_list,
    _legend,
    _new_map,
    _page,
)

if TYPE_CHECKING:
    from layers.coverage import CoverageService

_SHARE_CLASSES = (
    (0.95, "#1a9850", "covered (≥ 95 %)"),
    (0.5, "#fee08b", "partial (50–95 %)"),
    (0.0, "#d73027", "gap (< 50 %)"),
)


def coverage_map(
    coverage: CoverageService, sites: list[str], *, minutes: float = 15.0, mode: str = "drive", basemap: str = "osm"
) -> str:
    """Return the page of multi-site coverage: the union and overlap of the sites' bands and a township choropleth."""
    sc = coverage.site_set(list(sites), mode=mode, minutes=minutes)
    outlines = coverage.township_outlines()
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
    _add_html(
        m,
        "coverage.html",
        title="Coverage and gaps",
        sites=len(sc.places),
        mode=mode,
        minutes=minutes,
        truncated=sc.union.truncated,
        population=sc.union.population,
        share_pct=100 * sc.union.population_share,
        overlap=sc.overlap.population,
        gaps=len(gaps),
        assessed=len(table),
        uncovered=float(table["uncovered"].sum()),
        not_assessed=len(not_assessed),
        not_assessed_people=int(not_assessed["population"].sum()),
    )
    _legend(
        m, "Township people within reach", [(c, label) for _, c, label in _SHARE_CLASSES], element_id="coverage-legend"
    )
    return _page(m, "Coverage")
