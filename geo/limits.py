"""The bounds every request is held to, in one place.

`Limits` is a plain value: the API builds one from its settings (``VENUE_PLANNER_MAX_*``,
see ``api/settings.py``) and passes it into the services, which pass it on to the
functions here. `LIMITS` holds the defaults, which are also the ceilings: the request
schemas of the API are bounded by them (so that an oversized request is refused before it
is parsed), and a deployment may lower a limit but not raise it past its default.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from geo.errors import InvalidInputError

__all__ = ["LIMITS", "Limits", "limit_docs"]


@dataclass(frozen=True)
class Limits:
    """Bounds on what one request may ask for (each described in `limit_docs`)."""

    max_minutes: float = 180.0
    max_metres: float = 100_000.0
    max_bands: int = 8
    max_footprint_vertices: int = 10_000
    max_footprint_area_m2: float = 5_000_000.0
    max_area_vertices: int = 2_000
    max_stops: int = 25
    max_optimised_stops: int = 10
    max_matrix_cells: int = 20_000  # a 131 x 131 township matrix (17,161 cells) fits
    max_sites: int = 25
    max_candidates: int = 20
    max_plan_entrances: int = 200
    max_plan_file_features: int = 500
    max_compare: int = 5
    max_import_versions: int = 100_000
    max_name_chars: int = 200
    max_note_chars: int = 1_000
    max_use_chars: int = 100
    max_ogc_items: int = 10_000

    def __post_init__(self) -> None:
        """Refuse a limit that is not positive or that exceeds its default (the request schemas' ceiling)."""
        for f in fields(self):
            value, ceiling = getattr(self, f.name), f.default
            if not isinstance(ceiling, int | float):  # every field has a number default
                continue
            if not 0 < value <= ceiling:
                raise InvalidInputError(
                    f"`{f.name}` must be above 0 and at most {ceiling:g} (its default); got {value!r}."
                )


def limit_docs() -> dict[str, tuple[float, str]]:
    """Return each limit's default and description, by name.

    Returns
    -------
    dict
        ``{name: (default, description)}`` in declaration order.
    """
    return {f.name: (getattr(LIMITS, f.name), _DOCS[f.name]) for f in fields(Limits)}


LIMITS = Limits()

_DOCS = {
    "max_minutes": "Largest travel time of an isochrone band or coverage, minutes.",
    "max_metres": "Largest distance band along the network, metres.",
    "max_bands": "Most bands in one isochrone.",
    "max_footprint_vertices": "Most vertices of a footprint or proposal.",
    "max_footprint_area_m2": "Largest footprint area, square metres.",
    "max_area_vertices": "Most vertices of one closure area.",
    "max_stops": "Most stops of an itinerary.",
    "max_optimised_stops": "Most intermediate stops an itinerary reorders (exact, Held-Karp).",
    "max_matrix_cells": "Most origin x destination cells of a route matrix.",
    "max_sites": "Most sites or points of one coverage request.",
    "max_candidates": "Most candidates of a site choice.",
    "max_plan_entrances": "Most subway entrances or stations a closure plan shuts.",
    "max_plan_file_features": "Most plans in one imported file.",
    "max_compare": "Most closure plans compared at once.",
    "max_import_versions": "Most proposal versions in one imported file.",
    "max_name_chars": "Longest proposal name, characters.",
    "max_note_chars": "Longest note of a version, characters.",
    "max_use_chars": "Longest `use` of a proposal, characters.",
    "max_ogc_items": "Most features of one OGC API items page (`limit`).",
}
