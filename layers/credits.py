"""The credits every map, export and answer carries: one wording, defined once.

OpenStreetMap data is ODbL and must credit "© OpenStreetMap contributors"; the population
is WorldPop (CC BY 4.0).
"""

from __future__ import annotations

__all__ = ["OSM_AND_POPULATION", "OSM_CONTRIBUTORS", "OSM_CREDIT", "WORLDPOP_CREDIT"]

OSM_CONTRIBUTORS = "© OpenStreetMap contributors"
OSM_CREDIT = f"{OSM_CONTRIBUTORS} (ODbL)"
WORLDPOP_CREDIT = "population WorldPop (www.worldpop.org), CC BY 4.0"
OSM_AND_POPULATION = f"{OSM_CREDIT}; {WORLDPOP_CREDIT}"
