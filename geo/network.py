"""Road-network rules and edge attributes: which ways each mode uses, and speeds.

The way filters mirror osmnx's ``network_type="drive"`` and ``"walk"`` Overpass
filters, so that a network built here from an OSM file matches the one osmnx would
download for the same area, with one deliberate difference: walking leaves out trunk
roads and their links (Beijing's ring roads and expressways) unless a way is tagged
``foot=yes``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import networkx as nx

from geo.errors import InvalidInputError

__all__ = [
    "CONNECTOR_CLASS",
    "DEFAULT_SPEEDS_KPH",
    "DRIVE_EXCLUDED_HIGHWAYS",
    "MODES",
    "REGIONAL_CLASS",
    "WALK_EXCLUDED_HIGHWAYS",
    "WALK_SPEED_KPH",
    "Mode",
    "add_speeds",
    "check_mode",
    "road_class",
    "street_label",
    "street_name",
    "way_allowed",
]

Mode = Literal["drive", "walk"]
MODES: tuple[Mode, ...] = ("drive", "walk")

# osmnx 2.x _get_network_filter("drive") and ("walk"), as sets of excluded highway values.
DRIVE_EXCLUDED_HIGHWAYS = frozenset(
    [
        "abandoned",
        "bridleway",
        "bus_guideway",
        "construction",
        "corridor",
        "cycleway",
        "elevator",
        "escalator",
        "footway",
        "no",
        "path",
        "pedestrian",
        "planned",
        "platform",
        "proposed",
        "raceway",
        "razed",
        "service",
        "steps",
        "track",
    ]
)
WALK_EXCLUDED_HIGHWAYS = frozenset(
    [
        "abandoned",
        "bus_guideway",
        "construction",
        "cycleway",
        "motorway",
        "motorway_link",
        "no",
        "planned",
        "platform",
        "proposed",
        "raceway",
        "razed",
        # Not in osmnx's walk filter: in Beijing, trunk roads are the ring roads' and radial
        # expressways' main carriageways, closed to pedestrians (they walk on the side roads).
        "trunk",
        "trunk_link",
    ]
)
# A way of an excluded class is walkable anyway when tagged for pedestrians.
_FOOT_ALLOWED = frozenset(["yes", "designated", "permissive"])
_DRIVE_EXCLUDED_SERVICE = frozenset(["alley", "driveway", "emergency_access", "parking", "parking_aisle", "private"])

# Speeds for ways without a usable maxspeed: the design speeds of Chinese urban roads
# (CJJ 37-2012: expressway 60-100, arterial 40-60, sub-arterial 30-50, branch 20-40 km/h),
# taken at the middle of each range. osmnx's own imputation (mean of the observed
# maxspeed of the class) is used for classes not listed here.
DEFAULT_SPEEDS_KPH: Mapping[str, float] = {
    "motorway": 80.0,
    "motorway_link": 50.0,
    "trunk": 60.0,
    "trunk_link": 40.0,
    "primary": 50.0,
    "primary_link": 35.0,
    "secondary": 40.0,
    "secondary_link": 30.0,
    "tertiary": 30.0,
    "tertiary_link": 25.0,
    "unclassified": 30.0,
    "residential": 25.0,
    "living_street": 15.0,
    "road": 30.0,
    "service": 15.0,
}
WALK_SPEED_KPH = 4.5
# The road classes of the regional skeleton's chords and of the links joining them to the
# detailed roads (see geo.regional): not OSM highway values, and labelled as such.
REGIONAL_CLASS = "regional_skeleton"
CONNECTOR_CLASS = "regional_link"
_CLASS_LABELS = {
    REGIONAL_CLASS: "major road (regional skeleton, coarse)",
    CONNECTOR_CLASS: "link to the regional skeleton",
}


def street_name(data: Mapping[str, object]) -> str:
    """Return an edge's street name: its OSM name, several joined by " / ", or "".

    Parameters
    ----------
    data
        An edge's attributes.
    """
    name = data.get("name")
    if isinstance(name, list):
        return " / ".join(str(n) for n in name)
    return name if isinstance(name, str) else ""


def road_class(data: Mapping[str, object]) -> str:
    """Return an edge's OSM highway class (the first, where osmnx merged several).

    Parameters
    ----------
    data
        An edge's attributes.
    """
    hw = data.get("highway", "")
    return str(hw[0] if isinstance(hw, list) else hw)


def street_label(data: Mapping[str, object]) -> str:
    """Return an edge's street name, or "unnamed <class>" for a road without one.

    Parameters
    ----------
    data
        An edge's attributes.
    """
    cls = road_class(data)
    return street_name(data) or _CLASS_LABELS.get(cls) or f"unnamed {cls or 'road'}"


def check_mode(mode: str) -> Mode:
    """Return ``mode`` if it is a known travel mode, else raise a clear error.

    Parameters
    ----------
    mode
        The travel mode asked for.
    """
    if mode not in MODES:
        raise InvalidInputError(f"`mode` must be one of {', '.join(MODES)}; got {mode!r}.")
    return mode


def way_allowed(tags: Mapping[str, str], mode: Mode) -> bool:
    """Return whether an OSM way with ``tags`` belongs to the ``mode`` network.

    Parameters
    ----------
    tags
        The way's OSM tags.
    mode
        ``"drive"`` or ``"walk"``.
    """
    hw = tags.get("highway")
    if not hw or tags.get("area") == "yes":
        return False
    if mode == "drive":
        return not (
            hw in DRIVE_EXCLUDED_HIGHWAYS
            or tags.get("access") == "private"
            or tags.get("motor_vehicle") == "no"
            or tags.get("motorcar") == "no"
            or tags.get("service") in _DRIVE_EXCLUDED_SERVICE
        )
    foot = tags.get("foot")
    if foot in _FOOT_ALLOWED and hw not in ("motorway", "motorway_link"):
        return True
    return not (hw in WALK_EXCLUDED_HIGHWAYS or foot == "no" or tags.get("service") == "private")


# Where osmnx merged ways of several classes into one edge, the class listed first sets the
# edge's speed: the main road's (a primary road with its link is a primary road).
_CLASS_RANK = {
    c: i
    for i, c in enumerate(
        (
            "motorway", "trunk", "primary", "secondary", "tertiary", "unclassified", "residential",
            "motorway_link", "trunk_link", "primary_link", "secondary_link", "tertiary_link",
            "living_street", "road", "service",
        )
    )
}  # fmt: skip


def _canonical_lists(g: nx.MultiDiGraph) -> None:
    """Put the list attributes of osmnx's merged edges in a fixed order, in place.

    osmnx builds them from sets, so their order (and with it the class that sets an edge's
    speed, and the order of joined names) would change with Python's hash seed from one
    process to the next.
    """
    for _, _, data in g.edges(data=True):
        for key, value in data.items():
            if isinstance(value, list):
                if key == "highway":
                    data[key] = sorted(value, key=lambda c: (_CLASS_RANK.get(str(c), len(_CLASS_RANK)), str(c)))
                else:
                    data[key] = sorted(value, key=str)


def add_speeds(graph: nx.MultiDiGraph, *, mode: Mode) -> nx.MultiDiGraph:
    """Return a copy of ``graph`` with ``speed_kph`` and ``travel_time_s`` on every edge.

    Drive edges use their ``maxspeed`` where present, `DEFAULT_SPEEDS_KPH` for the
    listed classes otherwise, and osmnx's imputation for the rest. Walk edges use
    `WALK_SPEED_KPH`. Edge ``length`` (metres, from osmnx) is copied to ``length_m``.

    Parameters
    ----------
    graph
        An osmnx graph with ``length`` on every edge.
    mode
        ``"drive"`` or ``"walk"``.
    """
    g = graph.copy()
    _canonical_lists(g)
    if mode == "drive":
        # osmnx's pure speed imputation, imported when a graph is built (osmnx takes a second to import)
        from osmnx.routing import add_edge_speeds

        g = add_edge_speeds(g, hwy_speeds=dict(DEFAULT_SPEEDS_KPH), fallback=30.0)
    else:
        nx.set_edge_attributes(g, WALK_SPEED_KPH, "speed_kph")
    for _, _, data in g.edges(data=True):
        length = float(data["length"])
        data["length_m"] = length
        data["travel_time_s"] = length / (float(data["speed_kph"]) / 3.6)
    return g
