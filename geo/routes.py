"""Routes as values: a route, its street legs, how a snapped end joins the graph, stop orders.

Pure and small: what `geo.routing.RoutingEngine` returns and the functions that compare
or order routes.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from geo.engine_arrays import Metric
from geo.network import street_label

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["End", "Route", "StreetLeg", "order_stops", "partial_line", "route_overlap"]

_E2 = 0.00669437999014  # WGS84 first eccentricity squared


def _lon_scale(lat: float) -> float:
    """Return a degree of longitude's length on the ground over a degree of latitude's, at ``lat``.

    The prime vertical radius times cos(lat) over the meridian radius: (1 - e² sin²φ) cos φ / (1 - e²).
    """
    phi = math.radians(lat)
    return (1.0 - _E2 * math.sin(phi) ** 2) * math.cos(phi) / (1.0 - _E2)


class End(NamedTuple):
    """How a snapped point joins a graph node: the cost, and the partial edge travelled.

    The piece runs along edge (u, v, key) from fraction ``f0`` to ``f1`` of its line
    (``f0 > f1`` when travelled against the line's direction, on the reverse edge).
    ``node`` is -1 for a route that stays on one edge.
    """

    node: int
    cost: float
    time: float
    length: float
    u: int
    v: int
    key: int
    f0: float
    f1: float
    row: int  # the edge table's row of (u, v, key)


class StreetLeg(NamedTuple):
    """A run of consecutive edges of one street (or, unnamed, of one road class)."""

    name: str  # "" for an unnamed road
    length_m: float
    travel_time_s: float
    road_class: str = ""  # the OSM highway value of the leg's longest piece

    @property
    def label(self) -> str:
        """The name, or "unnamed <class>" for a road without one (see `geo.network.street_label`)."""
        return _leg_label(self.name, self.road_class)


@functools.lru_cache(maxsize=8192)
def _leg_label(name: str, road_class: str) -> str:
    return street_label({"name": name, "highway": road_class})


@dataclass(frozen=True)
class Route:
    """One route between two snapped points.

    Attributes
    ----------
    coords
        (n, 2) lon/lat of the route line, from the snapped origin to the snapped destination.
    nodes
        Graph node ids passed through, in order.
    edges
        The (u, v, key) graph edges fully traversed, in order.
    travel_time_s, length_m
        Totals along the route, including the partial edges at both ends.
    edge_lengths_m, edge_times_s
        Each fully traversed edge's length and time, in order.
    head_time_s
        The time from the snapped origin to the first node (the partial edge at the start).
    edge_rows
        The routing engine's arc rows of ``edges`` (indexes of its per-arc arrays).
    streets
        The streets used, in order, with the distance on each.
    """

    coords: NDArray[np.float64] = field(repr=False)
    nodes: tuple[int, ...]
    edges: tuple[tuple[int, int, int], ...]
    travel_time_s: float
    length_m: float
    streets: tuple[StreetLeg, ...]
    metric: Metric
    edge_lengths_m: tuple[float, ...] = ()
    edge_times_s: tuple[float, ...] = ()  # of the edges fully traversed, in order
    head_time_s: float = 0.0  # from the snapped origin to the first node
    edge_rows: tuple[int, ...] = ()  # the engine's arc rows of ``edges`` (for its per-arc arrays)

    def cost(self) -> float:
        """Return the optimised quantity: seconds for fastest, metres for shortest."""
        return self.travel_time_s if self.metric == "fastest" else self.length_m


def partial_line(line: list[list[float]], f0: float, f1: float) -> list[list[float]]:
    """Return the part of a lon/lat line between fractions f0 <= f1 of its length.

    Fractions are of the length on the ground, as snapping measures them (in UTM): a
    degree of longitude is shorter than one of latitude, so each segment's run in
    longitude is scaled by the ellipsoid's ratio at its latitude (within a millimetre of
    the UTM fraction on a kilometre of road).

    Parameters
    ----------
    line
        A lon/lat line as a list of [lon, lat] points.
    f0
        Where the part starts, as a fraction of the line's length.
    f1
        Where the part ends, as a fraction of the line's length.
    """
    cum = [0.0]
    for (x0, y0), (x1, y1) in itertools.pairwise(line):
        cum.append(cum[-1] + math.hypot((x1 - x0) * _lon_scale(0.5 * (y0 + y1)), y1 - y0))
    total = cum[-1]
    if total <= 0:
        return line[:1]
    d0, d1 = f0 * total, f1 * total

    def at(d: float) -> list[float]:
        i = max(bisect.bisect_right(cum, d) - 1, 0)
        if i >= len(line) - 1:
            return line[-1]
        t = (d - cum[i]) / (cum[i + 1] - cum[i]) if cum[i + 1] > cum[i] else 0.0
        (x0, y0), (x1, y1) = line[i], line[i + 1]
        return [x0 + t * (x1 - x0), y0 + t * (y1 - y0)]

    if d1 <= d0:
        return [at(d0)]
    return [at(d0), *(pt for pt, c in zip(line, cum, strict=True) if d0 < c < d1), at(d1)]


def route_overlap(a: Route, b: Route) -> float:
    """Return the share of ``a``'s length (over full edges) that ``b`` also uses.

    Parameters
    ----------
    a
        The route whose length is shared out.
    b
        The other route.
    """
    if not a.edges:
        return 1.0 if not b.edges else 0.0
    eb = {(u, v) for u, v, _ in b.edges}
    total = sum(a.edge_lengths_m)
    shared = sum(ln for (u, v, _), ln in zip(a.edges, a.edge_lengths_m, strict=True) if (u, v) in eb)
    return shared / total if total > 0 else 1.0


def order_stops(costs: NDArray[np.float64]) -> list[int]:
    """Return the best visiting order of stops 1..n-2 with fixed start 0 and end n-1.

    Exact Held-Karp dynamic programme over a cost matrix (inf where unreachable).

    Parameters
    ----------
    costs
        (n, n) matrix of leg costs between the stops.
    """
    n = len(costs)
    mids = list(range(1, n - 1))
    if len(mids) <= 1:
        return list(range(n))
    best: dict[tuple[int, int], tuple[float, int]] = {}
    for i, s in enumerate(mids):
        best[(1 << i, i)] = (float(costs[0, s]), -1)
    full = (1 << len(mids)) - 1
    for mask in range(1, full + 1):
        for j in range(len(mids)):
            if not mask & (1 << j) or (mask, j) not in best:
                continue
            base = best[(mask, j)][0]
            for k in range(len(mids)):
                if mask & (1 << k):
                    continue
                nm = mask | (1 << k)
                c = base + float(costs[mids[j], mids[k]])
                if (nm, k) not in best or c < best[(nm, k)][0]:
                    best[(nm, k)] = (c, j)
    last = min(range(len(mids)), key=lambda j: best[(full, j)][0] + float(costs[mids[j], n - 1]))
    order = []
    mask, j = full, last
    while j != -1:
        order.append(mids[j])
        _, prev = best[(mask, j)]
        mask ^= 1 << j
        j = prev
    return [0, *order[::-1], n - 1]
