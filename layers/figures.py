"""Key figures of every site, side by side (the index page's table)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from geo.crs import distance_m
from geo.errors import InvalidInputError, NoRouteError, OutsideCoverageError

if TYPE_CHECKING:
    from layers.coverage import CoverageService
    from layers.registry import LayerStore
    from layers.routing import RoutingService

__all__ = ["FIGURES_MINUTES", "FIGURES_ORIGIN", "SiteFigures", "site_figures"]

# The drive band whose people are counted, and where the drive time is measured from.
FIGURES_MINUTES = 15.0
FIGURES_ORIGIN = "capital-airport"


@dataclass(frozen=True)
class SiteFigures:
    """One site's key figures; ``None`` where no network reaches (the reason is in the ``*_note``)."""

    id: str
    name_en: str
    name_zh: str
    people: float | None
    """People within `FIGURES_MINUTES` by drive (the site's own bands)."""
    people_lower_bound: bool
    """The band reaches the edge of its network: at least this many."""
    people_coarse: bool
    """Counted on the regional skeleton (about)."""
    from_origin_s: float | None
    """Fastest drive from `FIGURES_ORIGIN`; ``None`` for the origin itself or where no route exists."""
    is_origin: bool
    station: str
    """The nearest subway station to the site's centre, and its straight-line distance."""
    station_m: float
    proposals: int
    """Saved proposals of the site and its sub-sites."""


def site_figures(
    routing: RoutingService, coverage: CoverageService, layers: LayerStore, proposal_counts: dict[str, int]
) -> list[SiteFigures]:
    """Return the figures of every candidate site and supporting place (not sub-sites), in catalogue order.

    Parameters
    ----------
    routing
        The routing service.
    coverage
        The coverage service.
    layers
        The layer store.
    proposal_counts
        Saved proposals per site id.
    """
    sites = routing.sites
    df = sites.frame()
    stations = layers.load("subway-stations")
    sx, sy = stations.geometry.x.to_numpy(), stations.geometry.y.to_numpy()
    out = []
    for r in df[df["kind"] != "sub_site"].to_dict("records"):
        sid = str(r["id"])
        people: float | None = None
        lower = coarse = False
        try:
            band = next(b for b in coverage.site_bands(sid, "drive").bands if b.minutes == FIGURES_MINUTES)
            people, lower, coarse = band.population, band.truncated, band.coarse
        except (OutsideCoverageError, NoRouteError, InvalidInputError):
            pass
        drive_s: float | None = None
        if sid != FIGURES_ORIGIN:
            with contextlib.suppress(OutsideCoverageError, NoRouteError, InvalidInputError):
                drive_s = routing.routes(FIGURES_ORIGIN, sid)[0][0].travel_time_s
        d = distance_m(float(r["centre_lon"]), float(r["centre_lat"]), sx, sy)
        j = int(np.argmin(d))
        ids = {sid, *sites.children(sid)["id"]}
        out.append(
            SiteFigures(
                id=sid,
                name_en=str(r["name_en"]),
                name_zh=str(r["name_zh"]),
                people=people,
                people_lower_bound=lower,
                people_coarse=coarse,
                from_origin_s=drive_s,
                is_origin=sid == FIGURES_ORIGIN,
                station=str(stations["name"].iloc[j]),
                station_m=float(d[j]),
                proposals=sum(n for s, n in proposal_counts.items() if s in ids),
            )
        )
    return out
