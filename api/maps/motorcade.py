"""The motorcade page: a convoy's candidate routes, the recommended schedule's held crossings, the townships it costs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import shapely

from api.maps.base import FastGeoJson, _add_html, _features_json, _layer_list, _legend, _new_map, _page
from layers.motorcade import clock, crossing_streets

if TYPE_CHECKING:
    from api.context import Context
    from layers.motorcade import MotorcadeAnswer

__all__ = ["motorcade_map"]

# Candidates, the recommended drawn last and widest: ColorBrewer Set1.
CANDIDATE_COLOURS = ("#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf", "#999999")
# Person-hours of one held crossing: ColorBrewer YlOrRd.
HOLD_CLASSES = ((2.0, "#bd0026"), (0.5, "#f03b20"), (0.1, "#fd8d3c"), (0.0, "#fecc5c"))
# Person-hours of a township's residents: ColorBrewer Purples.
TOWN_CLASSES = ((5.0, "#54278f"), (1.0, "#756bb1"), (0.2, "#9e9ac8"), (0.0, "#cbc9e2"))


def _colour(value: float, classes: tuple[tuple[float, str], ...]) -> str:
    return next(c for lo, c in classes if value >= lo)


def motorcade_map(ctx: Context, ans: MotorcadeAnswer, *, query: dict[str, str], basemap: str = "osm") -> str:
    """Return the page of one trip's candidates (``query``: the form's values, shown back in it)."""
    engine = ctx.routing.engine(ans.net)
    app = ctx.impact.motorcades.approaches(ans.net, engine, ans.trip.travel)
    rec = ans.candidates[ans.recommended]
    m = _new_map(
        (float(np.mean(rec.route.coords[:, 1])), float(np.mean(rec.route.coords[:, 0]))), basemap=basemap, zoom=12
    )
    towns = ctx.coverage.townships
    rows = [int(ans.towns.rows[k]) for k in np.flatnonzero(rec.by_town_persons >= 0.05).tolist()]
    hours = {int(ans.towns.rows[k]): float(rec.by_town_hours[k]) for k in range(len(ans.towns.rows))}
    if rows:
        frame = gpd.GeoDataFrame(
            [
                {
                    "name": f"{towns['district'].iloc[r]} {towns['township'].iloc[r]}",
                    "ph": round(hours[r], 2),
                    "colour": _colour(hours[r], TOWN_CLASSES),
                }
                for r in rows
            ],
            geometry=list(towns.geometry.iloc[rows]),
            crs=4326,
        )
        FastGeoJson(
            _features_json(frame, tolerance_deg=0.0005, decimals=5),
            name="Townships whose residents meet the holds (recommended)",
            look="motorcadeTownships",
        ).add_to(m)
    order = [i for i in range(len(ans.candidates)) if i != ans.recommended] + [ans.recommended]
    lines = gpd.GeoDataFrame(
        [
            {
                "label": f"{i}. {', '.join(ans.candidates[i].kinds)}"
                + (" (recommended)" if i == ans.recommended else ""),
                "min": round(ans.candidates[i].convoy_time_s / 60, 1),
                "ph": round(ans.candidates[i].person_hours, 1),
                "colour": CANDIDATE_COLOURS[i % len(CANDIDATE_COLOURS)],
                "w": 8 if i == ans.recommended else 4,
            }
            for i in order
        ],
        geometry=[shapely.LineString(ans.candidates[i].route.coords) for i in order],
        crs=4326,
    )
    FastGeoJson(
        _features_json(lines, decimals=6),
        name="Candidate routes",
        look="motorcadeCandidates",
    ).add_to(m)
    holds = gpd.GeoDataFrame(
        [
            {
                "streets": " / ".join(crossing_streets(engine, app.into(h.hold.node))[:4]),
                "start": clock(h.hold.start_s),
                "end": clock(h.hold.end_s),
                "ph": round(h.person_hours, 2),
                "persons": round(float(h.persons.sum()), 1),
                "colour": _colour(h.person_hours, HOLD_CLASSES),
            }
            for h in rec.holds
        ],
        geometry=[shapely.Point(float(engine.lon[h.hold.node]), float(engine.lat[h.hold.node])) for h in rec.holds],
        crs=4326,
    )
    FastGeoJson(
        _features_json(holds, decimals=6),
        name=f"Held crossings of candidate {ans.recommended} ({len(holds)})",
        look="motorcadeHolds",
    ).add_to(m)
    _layer_list(m, collapsed=True)
    _add_html(
        m,
        "motorcade.html",
        title="Motorcade",
        ans=ans,
        candidates=[(i, c, CANDIDATE_COLOURS[i % len(CANDIDATE_COLOURS)]) for i, c in enumerate(ans.candidates)],
        clock=clock,
        worst=sorted(rec.holds, key=lambda h: -h.person_hours)[:8],
        streets=lambda h: " / ".join(crossing_streets(engine, app.into(h.hold.node))[:3]),
        query=query,
        basemap=basemap,
    )
    legend = [(c, f"≥ {lo:g} person-hours at a held crossing") for lo, c in HOLD_CLASSES if lo > 0]
    legend.append(("#fecc5c", "under 0.1 person-hours"))
    _legend(m, "Held crossings", legend, element_id="motorcade-legend")
    return _page(m, "Motorcade")
