"""Walks between places on the walk network and the subway stations' entrances.

A station is entered and left by its entrances (a station with none listed, at its own
position: `layers.transit` says so). Each entrance is snapped to the walk network; the
walk to it is the network's walk plus the straight line from the network to the entrance.
Walks are found with scipy's Dijkstra on the routing engine's graph, stopped at the
longest walk allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.sparse.csgraph import dijkstra

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from scipy.sparse import csr_matrix

    from geo.routing import RoutingEngine
    from geo.snapping import Snap

__all__ = ["StationWalks", "Walk"]


@dataclass(frozen=True)
class Walk:
    """Seconds on foot between one place and every station, and by which entrance (-1: none)."""

    seconds: NDArray[np.float64] = field(repr=False)
    entrance: NDArray[np.int64] = field(repr=False)
    node_s: NDArray[np.float64] = field(repr=False)  # the walk network's nodes, from (or to) the place


class StationWalks:
    """The entrances of every station on one walk network.

    Parameters
    ----------
    engine
        The walk network's routing engine.
    snaps
        Each entrance's snap on the network (None: too far from it, not usable).
    station
        Each entrance's station index.
    n_stations
        How many stations the feed has.
    speed_mps
        Walking speed, metres per second (for the gap between the network and an entrance).
    """

    def __init__(
        self,
        engine: RoutingEngine,
        snaps: list[Snap | None],
        station: NDArray[np.int64],
        n_stations: int,
        speed_mps: float,
    ) -> None:
        self.engine = engine
        self.n_stations = n_stations
        self.station = np.asarray(station, dtype=np.int64)
        self.speed_mps = speed_mps
        self._csr: csr_matrix = engine._csr["fastest"]
        self._csr_t: csr_matrix = self._csr.T.tocsr()
        self.snaps = snaps
        gap = np.array([s.distance_m if s is not None else np.inf for s in snaps]) / speed_mps

        def ends(origin: bool) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
            ent, node, cost = [], [], []
            for i, s in enumerate(snaps):
                if s is None:
                    continue
                for e in engine.end_points(s, "fastest", origin=origin):
                    ent.append(i)
                    node.append(e.node)
                    cost.append(e.cost + gap[i])
            return np.array(ent, dtype=np.int64), np.array(node, dtype=np.int64), np.array(cost)

        self._in = ends(origin=False)  # node -> entrance
        self._out = ends(origin=True)  # entrance -> node

    def _node_seconds(self, snap: Snap, *, limit_s: float, towards: bool) -> NDArray[np.float64]:
        best = np.full(len(self.engine.node_ids), np.inf)
        for e in self.engine.end_points(snap, "fastest", origin=not towards):
            if e.cost > limit_s:
                continue
            dist = dijkstra(self._csr_t if towards else self._csr, indices=e.node, limit=limit_s - e.cost)
            np.minimum(best, dist + e.cost, out=best)
        return best

    def _per_station(
        self, node_s: NDArray[np.float64], ends: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        ent, node, cost = ends
        t = node_s[node] + cost
        per_ent = np.full(len(self.station), np.inf)
        np.minimum.at(per_ent, ent, t)
        seconds = np.full(self.n_stations, np.inf)
        np.minimum.at(seconds, self.station, per_ent)
        best_ent = np.full(self.n_stations, -1, dtype=np.int64)
        hit = np.isfinite(per_ent)
        order = np.argsort(-per_ent[hit], kind="stable")  # the quickest written last
        idx = np.flatnonzero(hit)[order]
        best_ent[self.station[idx]] = idx
        return seconds, best_ent

    def from_place(self, snap: Snap, *, limit_s: float) -> Walk:
        """Return the walk from a place to every station within ``limit_s`` seconds.

        Parameters
        ----------
        snap
            The place's snap on this network (its own gap to the network is the caller's).
        limit_s
            The longest walk, seconds.
        """
        node_s = self._node_seconds(snap, limit_s=limit_s, towards=False)
        seconds, ent = self._per_station(node_s, self._in)
        seconds[seconds > limit_s] = np.inf
        return Walk(seconds, ent, node_s)

    def to_place(self, snap: Snap, *, limit_s: float) -> Walk:
        """Return the walk from every station within ``limit_s`` seconds to a place.

        Parameters
        ----------
        snap
            The place's snap on this network.
        limit_s
            The longest walk, seconds.
        """
        node_s = self._node_seconds(snap, limit_s=limit_s, towards=True)
        seconds, ent = self._per_station(node_s, self._out)
        seconds[seconds > limit_s] = np.inf
        return Walk(seconds, ent, node_s)

    def egress_table(self, *, limit_s: float) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.float32]]:
        """Return, per station, the nodes within ``limit_s`` seconds' walk of its entrances and the seconds (CSR).

        Parameters
        ----------
        limit_s
            The longest walk, seconds.
        """
        ent, node, cost = self._out
        indptr = [0]
        nodes: list[NDArray[np.int32]] = []
        secs: list[NDArray[np.float32]] = []
        for s in range(self.n_stations):
            sel = np.flatnonzero(self.station[ent] == s)
            if not len(sel):
                indptr.append(indptr[-1])
                continue
            dist = dijkstra(self._csr, indices=node[sel], limit=limit_s)
            best = np.min(dist + cost[sel][:, None], axis=0)
            hit = np.flatnonzero(best <= limit_s)
            nodes.append(hit.astype(np.int32))
            secs.append(best[hit].astype(np.float32))
            indptr.append(indptr[-1] + len(hit))
        return (
            np.array(indptr, dtype=np.int64),
            np.concatenate(nodes) if nodes else np.empty(0, dtype=np.int32),
            np.concatenate(secs) if secs else np.empty(0, dtype=np.float32),
        )
