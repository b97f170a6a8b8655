"""Fast routing on a road graph: contraction hierarchies, edge snapping, closures.

The hot path never touches networkx. A graph is turned once into compact arrays:
node coordinates, and per metric (``travel_time_s``, ``length_m``) the cheapest edge of
every directed node pair. Plain routes and matrices use pandana's contraction
hierarchies (C++); pandana stores weights as integers of 1/1000, so the cost of each
returned path is recomputed in floating point from the arrays. Requests with closures
or penalties (alternatives) copy the weight array, change it, and run scipy's Dijkstra
on the CSR matrix: nothing is rebuilt.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from geo.errors import InvalidInputError, NoRouteError
from geo.network import road_class, street_name

if TYPE_CHECKING:
    import networkx as nx
    from numpy.typing import NDArray

    from geo.snapping import Snap

__all__ = [
    "METRICS",
    "Metric",
    "Route",
    "RoutingEngine",
    "StreetLeg",
    "build_engine",
    "order_stops",
    "route_overlap",
]

Metric = Literal["fastest", "shortest"]
METRICS: tuple[Metric, ...] = ("fastest", "shortest")
_WEIGHT = {"fastest": "travel_time_s", "shortest": "length_m"}
_UNREACHABLE = 4_000_000.0  # pandana returns 4294967.295 for pairs with no path


_AT_NODE = 1e-9  # a snap this close to an edge's end is on its node


class _End(NamedTuple):
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


@dataclass(frozen=True)
class StreetLeg:
    """A run of consecutive edges of one street (or, unnamed, of one road class)."""

    name: str  # "" for an unnamed road
    length_m: float
    travel_time_s: float
    road_class: str = ""  # the OSM highway value of the leg's longest piece

    @property
    def label(self) -> str:
        """The name, or "unnamed <class>" for a road without one."""
        return self.name or f"unnamed {self.road_class or 'road'}"


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

    def cost(self) -> float:
        """Return the optimised quantity: seconds for fastest, metres for shortest."""
        return self.travel_time_s if self.metric == "fastest" else self.length_m


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence C-level stdout (pandana prints its progress from C++)."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "wb") as devnull:  # noqa: PTH123 - a file descriptor is needed
        os.dup2(devnull.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


_SEP = "\x1f"  # between a street's name and its road class in the per-edge labels


def _edge_name(data: dict[str, object]) -> str:
    """Return an edge's street label: its name (names joined by " / "), the unit separator, its road class."""
    return f"{street_name(data)}{_SEP}{road_class(data)}"


def _merge_streets(labels: list[str], lengths: list[float], times: list[float]) -> tuple[StreetLeg, ...]:
    """Return the streets of a route: consecutive pieces of one street merged into one leg.

    Pieces belong to one street when their names share a name (osmnx joins the names of
    ways merged into one edge: "Airport Expressway / 机场高速" continues "机场高速"), or,
    unnamed, when their road class is the same. A leg is labelled by its longest piece.
    """
    runs: list[tuple[set[str], str, str, float, float, float]] = []  # names, name, class, length, time, longest
    for label, ln, t in zip(labels, lengths, times, strict=True):
        name, cls = label.split(_SEP)
        key = set(name.split(" / ")) if name else set()
        if runs:
            prev_key, pname, pcls, pln, pt, plong = runs[-1]
            same = bool(key & prev_key) if key else (not prev_key and cls == pcls)
            if same:
                longer = ln > plong
                runs[-1] = (key or prev_key, name if longer else pname, cls if longer else pcls, pln + ln, pt + t,
                            max(ln, plong))  # fmt: skip
                continue
        runs.append((key, name, cls, ln, t, ln))
    return tuple(StreetLeg(name, ln, t, cls) for _, name, cls, ln, t, _ in runs)


class RoutingEngine:
    """Routes on one graph (one mode). Build it with `build_engine`; it never changes the graph."""

    def __init__(self, graph: nx.MultiDiGraph) -> None:
        import pandana

        self.graph = graph
        self.node_ids = np.array(list(graph.nodes), dtype=np.int64)
        self.index = {int(n): i for i, n in enumerate(self.node_ids)}
        self.lon = np.array([graph.nodes[n]["x"] for n in self.node_ids], dtype=float)
        self.lat = np.array([graph.nodes[n]["y"] for n in self.node_ids], dtype=float)
        n = len(self.node_ids)
        self._row: dict[Metric, dict[tuple[int, int], int]] = {}
        self._csr: dict[Metric, csr_matrix] = {}
        self._time: dict[Metric, NDArray[np.float64]] = {}
        self._length: dict[Metric, NDArray[np.float64]] = {}
        self._src: dict[Metric, NDArray[np.int64]] = {}
        self._dst: dict[Metric, NDArray[np.int64]] = {}
        self._coords: dict[Metric, list[NDArray[np.float64]]] = {}
        self._names: dict[Metric, NDArray[np.object_]] = {}
        self._codes: dict[Metric, NDArray[np.int64]] = {}
        self._keyarr: dict[Metric, NDArray[np.int64]] = {}
        for metric in METRICS:
            wname = _WEIGHT[metric]
            best: dict[tuple[int, int], tuple[float, int, float, float]] = {}
            for u, v, k, d in graph.edges(keys=True, data=True):
                pair = (self.index[u], self.index[v])
                w = float(d[wname])
                if pair not in best or w < best[pair][0]:
                    best[pair] = (w, int(k), float(d["travel_time_s"]), float(d["length_m"]))
            pairs = sorted(best)
            src = np.array([p[0] for p in pairs], dtype=np.int64)
            dst = np.array([p[1] for p in pairs], dtype=np.int64)
            wts = np.array([best[p][0] for p in pairs], dtype=float)
            self._row[metric] = {p: i for i, p in enumerate(pairs)}
            self._time[metric] = np.array([best[p][2] for p in pairs], dtype=float)
            self._length[metric] = np.array([best[p][3] for p in pairs], dtype=float)
            self._src[metric], self._dst[metric] = src, dst
            # Per row, what a route needs: the edge's line and street name (precomputed so
            # that assembling a route never touches networkx or shapely objects).
            self._coords[metric] = [
                self._edge_line(int(self.node_ids[a]), int(self.node_ids[b]), best[(a, b)][1]) for a, b in pairs
            ]
            self._names[metric] = np.array(
                [
                    _edge_name(graph.edges[int(self.node_ids[a]), int(self.node_ids[b]), best[(a, b)][1]])
                    for a, b in pairs
                ],
                dtype=object,
            )
            self._codes[metric] = src * n + dst  # sorted, since pairs are
            self._keyarr[metric] = np.array([best[p][1] for p in pairs], dtype=np.int64)
            self._csr[metric] = csr_matrix((np.maximum(wts, 1e-9), (src, dst)), shape=(n, n))
        # pandana needs one edge list for all impedances: use the union of pairs, each
        # with its own best weight per metric.
        pairs_all = sorted(set(self._row["fastest"]) | set(self._row["shortest"]))
        frm = np.array([p[0] for p in pairs_all], dtype=np.int64)
        to = np.array([p[1] for p in pairs_all], dtype=np.int64)
        weights = pd.DataFrame(
            {m: [float(self._csr[m][p[0], p[1]]) if p in self._row[m] else 1e9 for p in pairs_all] for m in METRICS}
        )
        with _quiet_stdout():
            self._ch = pandana.Network(
                pd.Series(self.lon), pd.Series(self.lat), pd.Series(frm), pd.Series(to), weights, twoway=False
            )
        self._ch_lock = threading.Lock()
        self._imp = {m: i for i, m in enumerate(METRICS)}

    # -- node-level queries ---------------------------------------------------------

    def _check_metric(self, metric: str) -> Metric:
        if metric not in METRICS:
            raise InvalidInputError(f"`metric` must be one of {', '.join(METRICS)}; got {metric!r}.")
        return metric

    def node_path(self, a: int, b: int, *, metric: Metric) -> list[int]:
        """Return the node indices of a shortest path between node indices (CH)."""
        if a == b:
            return [a]
        with self._ch_lock:
            path = self._ch.net.shortest_path(int(a), int(b), self._imp[metric])
        return [int(p) for p in path]

    def node_costs(self, a: NDArray[np.int64], b: NDArray[np.int64], *, metric: Metric) -> NDArray[np.float64]:
        """Return shortest-path costs between paired node indices (inf where unreachable)."""
        if len(a) == 0:
            return np.empty(0)
        with self._ch_lock:
            out = np.asarray(
                self._ch.net.shortest_path_distances(a.astype(np.int64), b.astype(np.int64), self._imp[metric]),
                dtype=float,
            )
        out[out > _UNREACHABLE] = np.inf
        out[a == b] = 0.0
        return out

    def path_totals(self, path: Sequence[int], *, metric: Metric) -> tuple[float, float]:
        """Return (travel_time_s, length_m) along node indices, in floating point."""
        rows = [self._row[metric][(u, v)] for u, v in itertools.pairwise(path)]
        return float(self._time[metric][rows].sum()), float(self._length[metric][rows].sum())

    # -- snapped queries ------------------------------------------------------------

    def _ends(self, snap: Snap, metric: Metric, *, origin: bool) -> list[tuple[int, float, float, float]]:
        """Return (node index, cost, time, length) of the graph nodes reachable from/to a snap."""
        return [(e.node, e.cost, e.time, e.length) for e in self.end_points(snap, metric, origin=origin)]

    def end_points(self, snap: Snap, metric: Metric, *, origin: bool) -> list[_End]:
        """Return the ways from a snapped point to the graph's nodes (``origin``) or back.

        Every candidate edge of the snap counts (a point on a junction meets each edge
        there), in each direction the edge may be driven; per node, the cheapest is kept.
        """
        wname = _WEIGHT[metric]
        best: dict[int, _End] = {}

        def add(node: int, share: float, data: dict[str, Any], u: int, v: int, k: int, f0: float, f1: float) -> None:
            e = _End(
                self.index[node],
                share * float(data[wname]),
                share * float(data["travel_time_s"]),
                share * float(data["length_m"]),
                u,
                v,
                k,
                f0,
                f1,
            )
            old = best.get(e.node)
            if old is None or e.cost < old.cost:
                best[e.node] = e

        for u, v, k, f in snap.candidates():
            fwd = self.graph.edges[u, v, k]
            rev = self._reverse(u, v, k)
            if f <= _AT_NODE:
                add(u, 0.0, fwd, u, v, k, 0.0, 0.0)
            if f >= 1.0 - _AT_NODE:
                add(v, 0.0, fwd, u, v, k, 1.0, 1.0)
            if origin:
                add(v, 1.0 - f, fwd, u, v, k, f, 1.0)
                if rev is not None:
                    add(u, f, rev, u, v, k, f, 0.0)
            else:
                add(u, f, fwd, u, v, k, 0.0, f)
                if rev is not None:
                    add(v, 1.0 - f, rev, u, v, k, 1.0, f)
        return list(best.values())

    def _reverse(self, u: int, v: int, key: int) -> dict[str, Any] | None:
        """Return the edge running back along edge (u, v, key) (a two-way street), if any."""
        back = self.graph.get_edge_data(v, u)
        if not back:
            return None
        ln = float(self.graph.edges[u, v, key]["length_m"])
        for data in back.values():
            if abs(float(data["length_m"]) - ln) < max(1.0, 0.02 * ln):
                return dict(data)
        return None

    def route(
        self,
        origin: Snap,
        destination: Snap,
        *,
        metric: str = "fastest",
        blocked: NDArray[np.bool_] | None = None,
        penalty: NDArray[np.float64] | None = None,
    ) -> Route:
        """Return the best route between two snapped points.

        Parameters
        ----------
        origin, destination
            Points snapped to this engine's graph.
        metric
            ``"fastest"`` (travel time) or ``"shortest"`` (length).
        blocked
            Per-row mask of the metric's edge arrays that may not be used (closures);
            see `edge_mask`. The snapped edges themselves stay usable.
        penalty
            Per-row multipliers of the weights (for alternatives); costs are still
            reported unpenalised.

        Raises
        ------
        NoRouteError
            When no path joins the points.
        """
        m = self._check_metric(metric)
        starts = self.end_points(origin, m, origin=True)
        ends = self.end_points(destination, m, origin=False)
        candidates: list[tuple[float, list[int], _End, _End | None]] = []
        direct = self._same_edge(origin, destination, m)
        if blocked is None and penalty is None:
            combos = [(s, e) for s in starts for e in ends]
            a = np.array([s.node for s, _ in combos], dtype=np.int64)
            b = np.array([e.node for _, e in combos], dtype=np.int64)
            totals = self.node_costs(a, b, metric=m) + np.array([s.cost + e.cost for s, e in combos])
            best_i = int(np.argmin(totals))
            if np.isfinite(totals[best_i]):
                s, e = combos[best_i]
                candidates.append((float(totals[best_i]), self.node_path(s.node, e.node, metric=m), s, e))
        else:
            weights = self._csr[m].data.copy()
            if penalty is not None:
                weights = weights * penalty
            if blocked is not None:
                weights[blocked] = np.inf
            finite = np.isfinite(weights)
            mat = csr_matrix((weights[finite], (self._src[m][finite], self._dst[m][finite])), shape=self._csr[m].shape)
            for s in starts:
                dist, pred = dijkstra(mat, indices=s.node, return_predecessors=True)
                for e in ends:
                    if np.isfinite(dist[e.node]):
                        total = float(dist[e.node]) + s.cost + e.cost
                        candidates.append((total, _walk_back(pred, s.node, e.node), s, e))
        if direct is not None:
            candidates.append((direct.cost, [], direct, None))
        if not candidates:
            raise NoRouteError(
                f"no {m} route joins the origin ({origin.lat:.5f} N, {origin.lon:.5f} E) and the destination "
                f"({destination.lat:.5f} N, {destination.lon:.5f} E) on this network (one-way streets or "
                "disconnected roads); move a point onto a connected road."
            )
        _, path, first, last = min(candidates, key=lambda c: c[0])
        return self._assemble(path, first, last, m)

    def _same_edge(self, origin: Snap, destination: Snap, metric: Metric) -> _End | None:
        """Return the cheapest way along one edge from origin to destination, if they share one."""
        best: _End | None = None
        wname = _WEIGHT[metric]
        dest = {(u, v, k): f for u, v, k, f in destination.candidates()}
        for u, v, k, f0 in origin.candidates():
            f1 = dest.get((u, v, k))
            if f1 is None:
                continue
            data = self.graph.edges[u, v, k] if f1 >= f0 else self._reverse(u, v, k)
            if data is None:
                continue
            df = abs(f1 - f0)
            e = _End(-1, df * float(data[wname]), df * float(data["travel_time_s"]), df * float(data["length_m"]),
                     u, v, k, f0, f1)  # fmt: skip
            if best is None or e.cost < best.cost:
                best = e
        return best

    def _edge_line(self, u: int, v: int, key: int) -> NDArray[np.float64]:
        data = self.graph.edges[u, v, key]
        geom = data.get("geometry")
        if geom is not None:
            return np.asarray(geom.coords, dtype=float)
        return np.array(
            [[self.graph.nodes[u]["x"], self.graph.nodes[u]["y"]], [self.graph.nodes[v]["x"], self.graph.nodes[v]["y"]]]
        )

    @staticmethod
    def _partial(line: NDArray[np.float64], f0: float, f1: float) -> NDArray[np.float64]:
        """Return the part of a lon/lat line between fractions f0 <= f1 of its (planar) length."""
        step = np.diff(line, axis=0)
        cum = np.empty(len(line))
        cum[0] = 0.0
        np.cumsum(np.hypot(step[:, 0], step[:, 1]), out=cum[1:])
        total = cum[-1]
        if total <= 0:
            return line[:1].copy()
        d0, d1 = f0 * total, f1 * total
        x = np.interp((d0, d1), cum, line[:, 0])
        y = np.interp((d0, d1), cum, line[:, 1])
        inner = line[(cum > d0) & (cum < d1)]
        out = np.empty((len(inner) + 2, 2))
        out[0] = x[0], y[0]
        out[1:-1] = inner
        out[-1] = x[1], y[1]
        return out

    def _piece(self, e: _End) -> NDArray[np.float64]:
        """Return the line of an end's partial edge, in the direction travelled."""
        line = self._edge_line(e.u, e.v, e.key)
        if e.f0 <= e.f1:
            return self._partial(line, e.f0, e.f1)
        return self._partial(line, e.f1, e.f0)[::-1]

    def _assemble(self, path: list[int], s: _End, e: _End | None, metric: Metric) -> Route:
        first = np.array([_edge_name(self.graph.edges[s.u, s.v, s.key])], dtype=object)
        if e is None:  # origin and destination on the same edge
            return self._finish(self._piece(s), (), (), first, np.array([s.length]), np.array([s.time]), metric)
        pieces: list[NDArray[np.float64]] = [self._piece(s)]
        p = np.asarray(path, dtype=np.int64)
        rows = np.searchsorted(self._codes[metric], p[:-1] * len(self.node_ids) + p[1:])
        ids = self.node_ids
        edges = list(zip(ids[p[:-1]].tolist(), ids[p[1:]].tolist(), self._keyarr[metric][rows].tolist(), strict=True))
        coords_by_row = self._coords[metric]
        pieces.extend(coords_by_row[r] for r in rows.tolist())
        mid_lengths = self._length[metric][rows]
        pieces.append(self._piece(e))
        coords = np.concatenate(pieces)  # every piece is (n, 2)
        last = np.array([_edge_name(self.graph.edges[e.u, e.v, e.key])], dtype=object)
        names = np.concatenate([first, self._names[metric][rows], last])
        lengths = np.concatenate([[s.length], mid_lengths, [e.length]])
        times = np.concatenate([[s.time], self._time[metric][rows], [e.time]])
        nodes = tuple(ids[p].tolist())
        return self._finish(coords, nodes, tuple(edges), names, lengths, times, metric, tuple(mid_lengths.tolist()))

    @staticmethod
    def _finish(
        coords: NDArray[np.float64],
        nodes: tuple[int, ...],
        edges: tuple[tuple[int, int, int], ...],
        names: NDArray[np.object_],
        lengths: NDArray[np.float64],
        times: NDArray[np.float64],
        metric: Metric,
        edge_lengths: tuple[float, ...] = (),
    ) -> Route:
        keep = np.ones(len(coords), dtype=bool)
        keep[1:] = np.any(np.abs(np.diff(coords, axis=0)) > 1e-10, axis=1)
        coords = coords[keep]
        if len(coords) == 1:
            coords = np.vstack([coords, coords])
        # Runs of the same street name, merged; zero-length pieces (a snap on a node) dropped.
        used = lengths > 0
        if not used.any():
            used[0] = True
        names, lengths, times = names[used], lengths[used], times[used]
        change = np.ones(len(names), dtype=bool)
        change[1:] = names[1:] != names[:-1]
        starts = np.flatnonzero(change)
        run_len = np.add.reduceat(lengths, starts)
        run_time = np.add.reduceat(times, starts)
        streets = _merge_streets(names[starts].tolist(), run_len.tolist(), run_time.tolist())
        return Route(
            coords=coords,
            nodes=nodes,
            edges=edges,
            travel_time_s=float(times.sum()),
            length_m=float(lengths.sum()),
            streets=streets,
            metric=metric,
            edge_lengths_m=edge_lengths,
        )

    # -- closures, alternatives, matrices ----------------------------------------------

    def edge_mask(self, edges: set[tuple[int, int]], *, metric: str) -> NDArray[np.bool_]:
        """Return the per-row mask of the metric's arrays for graph node-id pairs ``edges``."""
        m = self._check_metric(metric)
        mask = np.zeros(len(self._src[m]), dtype=bool)
        rows = self._row[m]
        for u, v in edges:
            i = rows.get((self.index.get(u, -1), self.index.get(v, -1)))
            if i is not None:
                mask[i] = True
        return mask

    def alternatives(
        self,
        origin: Snap,
        destination: Snap,
        *,
        metric: str = "fastest",
        k: int = 3,
        blocked: NDArray[np.bool_] | None = None,
        penalty_factor: float = 1.6,
        max_overlap: float = 0.8,
    ) -> list[Route]:
        """Return up to ``k`` routes: the best, then reasonably different ones.

        Each found route's edges are penalised (weights times ``penalty_factor``) and the
        search is repeated; a candidate whose overlap (by length) with any route kept so far
        exceeds ``max_overlap`` is dropped. Alternatives are never faster than the best.
        """
        m = self._check_metric(metric)
        best = self.route(origin, destination, metric=m, blocked=blocked)
        routes = [best]
        penalty = np.ones(len(self._src[m]))
        for _ in range(4 * max(k - 1, 0)):
            if len(routes) >= k:
                break
            for r in routes:
                penalty[self._rows_of(r, m)] *= penalty_factor
            try:
                cand = self.route(origin, destination, metric=m, blocked=blocked, penalty=penalty)
            except NoRouteError:
                break
            if all(route_overlap(cand, r) <= max_overlap for r in routes) and cand.cost() >= best.cost() - 1e-6:
                routes.append(cand)
        return routes

    def _rows_of(self, route: Route, metric: Metric) -> list[int]:
        rows = self._row[metric]
        return [rows[(self.index[u], self.index[v])] for u, v, _ in route.edges]

    def matrix(
        self, origins: Sequence[Snap], destinations: Sequence[Snap], *, metric: str = "fastest"
    ) -> NDArray[np.float64]:
        """Return the (origins x destinations) cost matrix (inf where unreachable).

        The cost is seconds for ``fastest`` and metres for ``shortest``.
        """
        m = self._check_metric(metric)
        s_ends = [self._ends(o, m, origin=True) for o in origins]
        d_ends = [self._ends(d, m, origin=False) for d in destinations]
        a_idx, b_idx, extra, cell = [], [], [], []
        for i, se in enumerate(s_ends):
            for j, de in enumerate(d_ends):
                for s in se:
                    for e in de:
                        a_idx.append(s[0])
                        b_idx.append(e[0])
                        extra.append(s[1] + e[1])
                        cell.append(i * len(d_ends) + j)
        costs = self.node_costs(np.array(a_idx, dtype=np.int64), np.array(b_idx, dtype=np.int64), metric=m) + np.array(
            extra
        )
        flat = np.full(len(origins) * len(destinations), np.inf)
        np.minimum.at(flat, np.array(cell, dtype=np.int64), costs)
        out = flat.reshape(len(origins), len(destinations))
        for i, o in enumerate(origins):
            for j, d in enumerate(destinations):
                direct = self._same_edge(o, d, m)
                if direct is not None:
                    out[i, j] = min(out[i, j], direct.cost)
        return out


def _walk_back(pred: NDArray[np.int32], source: int, target: int) -> list[int]:
    path = [target]
    while path[-1] != source:
        p = int(pred[path[-1]])
        if p < 0:
            raise NoRouteError("internal: broken predecessor chain")
        path.append(p)
    return path[::-1]


def route_overlap(a: Route, b: Route) -> float:
    """Return the share of ``a``'s length (over full edges) that ``b`` also uses."""
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


def build_engine(graph: nx.MultiDiGraph) -> RoutingEngine:
    """Return a routing engine over ``graph`` (which it does not change)."""
    return RoutingEngine(graph)
