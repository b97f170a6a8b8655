"""Fast routing on a road graph: customizable contraction hierarchies, edge snapping, closures.

The hot path never touches networkx. A graph is turned once into compact arrays (node
coordinates, and per metric (``travel_time_s``, ``length_m``) the cheapest edge of every
directed node pair with its line and street label), cacheable on disk. Routes and
matrices run on RoutingKit's customizable contraction hierarchy (``routingkit_cch``):
one weight-independent hierarchy, one customised metric per weight in integers of 1/1000
(the cost of each returned path is recomputed in floating point from the arrays). The
arrays are built by `geo.engine_arrays` and kept on disk by ``layers``; the route values
live in `geo.routes`.
Closures re-customise only the closed arcs of a scratch metric; penalties (alternatives)
customise it fully (about 10 ms). Nothing is rebuilt per request.
"""

from __future__ import annotations

import bisect
import ctypes
import math
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import routingkit_cch as rk
from scipy.sparse import csr_matrix

from geo._kernels import street_runs
from geo.engine_arrays import METRICS, SEP, Lines, Metric, engine_arrays
from geo.errors import InvalidInputError, NoRouteError
from geo.routes import End, Route, StreetLeg, order_stops, partial_line, route_overlap

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

_SCALE = 1000.0  # CCH weights are integers: milliseconds (fastest) or millimetres (shortest)
_INF = 2**31 - 1  # RoutingKit's infinite weight: a closed arc


def _to_int(weights: NDArray[np.float64]) -> NDArray[np.int64]:
    """Return weights as the CCH's integers (at least 1, below infinity)."""
    return np.clip(np.round(weights * _SCALE), 1, _INF - 1).astype(np.int64)


def _int_cost(cost: float) -> int:
    return round(cost * _SCALE)


_NO_ROWS = np.empty(0, dtype=np.int64)
_AT_NODE = 1e-9  # a snap this close to an edge's end is on its node
_SAME = 1e-10  # degrees: route line points this close are one


T = TypeVar("T")


def _pinned(obj: T) -> T:
    """Keep a binding object that must be freed on the thread that made it from ever being freed.

    The binding's partial updater and query objects are "unsendable" (pyo3): freeing one
    on another thread (an engine collected by another thread, a thread-local dropped at
    exit) raises in the destructor and leaks it anyway. Holding one extra reference leaks
    it without the error; there is one updater per engine and one query per thread and
    metric, for the life of the process.
    """
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))
    return obj


class RoutingEngine:
    """Routes on one graph (one mode). Build it with `build_engine`; it never changes the graph.

    Parameters
    ----------
    graph
        A road graph in WGS84 with ``travel_time_s`` and ``length_m`` on every edge (never changed).
    arrays
        The graph's `geo.engine_arrays.engine_arrays`, when already built; built when None.
    """

    def __init__(self, graph: nx.MultiDiGraph, *, arrays: Mapping[str, NDArray[Any]] | None = None) -> None:
        self.graph = graph
        if arrays is None:
            arrays = engine_arrays(graph)
        self.node_ids = np.asarray(arrays["node_ids"], dtype=np.int64)
        self.index = dict(zip(self.node_ids.tolist(), range(len(self.node_ids)), strict=True))
        self.lon = np.asarray(arrays["lon"], dtype=float)
        self.lat = np.asarray(arrays["lat"], dtype=float)
        n = len(self.node_ids)
        self._row_maps: dict[Metric, dict[tuple[int, int], int]] = {}
        self._csr: dict[Metric, csr_matrix] = {}
        self._time: dict[Metric, NDArray[np.float64]] = {}
        self._length: dict[Metric, NDArray[np.float64]] = {}
        self._src: dict[Metric, NDArray[np.int64]] = {}
        self._dst: dict[Metric, NDArray[np.int64]] = {}
        self._coords: dict[Metric, Lines] = {}
        self._labels: dict[Metric, NDArray[np.int64]] = {}
        self._codes: dict[Metric, NDArray[np.int64]] = {}
        self._keyarr: dict[Metric, NDArray[np.int64]] = {}
        for metric in METRICS:
            src = np.asarray(arrays[f"{metric}.src"], dtype=np.int64)
            dst = np.asarray(arrays[f"{metric}.dst"], dtype=np.int64)
            self._src[metric], self._dst[metric] = src, dst
            self._time[metric] = np.asarray(arrays[f"{metric}.time"], dtype=float)
            self._length[metric] = np.asarray(arrays[f"{metric}.length"], dtype=float)
            # Per row, what a route needs: the edge's line and street label (precomputed so
            # that assembling a route never touches networkx or shapely objects).
            self._coords[metric] = Lines(arrays[f"{metric}.coords"], arrays[f"{metric}.offsets"])
            self._labels[metric] = np.asarray(arrays[f"{metric}.label"]).view(np.ndarray)
            self._codes[metric] = src * n + dst  # sorted, since pairs are
            self._keyarr[metric] = np.asarray(arrays[f"{metric}.key"], dtype=np.int64)
            wts = np.asarray(arrays[f"{metric}.w"], dtype=float)
            self._csr[metric] = csr_matrix((np.maximum(wts, 1e-9), (src, dst)), shape=(n, n))
        # Every graph edge, for the snapped ends of a route (see `_edge_table`); plain Python
        # lists where a route reads single values.
        self._e_codes: list[int] = arrays["edge.code"].tolist()  # searched per request: a list bisects quicker
        self._e_kmul = int(arrays["edge.kmul"][0])
        self._e_u: list[int] = arrays["edge.u"].tolist()
        self._e_v: list[int] = arrays["edge.v"].tolist()
        self._e_time: list[float] = arrays["edge.time"].tolist()
        self._e_length: list[float] = arrays["edge.length"].tolist()
        self._e_label: list[int] = arrays["edge.label"].tolist()
        self._e_rev: list[int] = arrays["edge.rev"].tolist()
        self._e_lines = Lines(arrays["edge.coords"], arrays["edge.offsets"])
        self._label_text: list[str] = arrays["labels"].tolist()
        self._label_joins: dict[tuple[int, int], bool] = {}
        self._label_parts: dict[int, tuple[str, str]] = {}
        # One customizable contraction hierarchy (RoutingKit's CCH) over the node pairs (the
        # same pairs for both metrics), with a metric per weight: integer milliseconds
        # (fastest) and millimetres (shortest). Costs of returned paths are recomputed in
        # floating point from the arrays.
        order: list[int] = np.asarray(arrays["order"], dtype=np.int64).tolist()
        self._cch = rk.CCH(order, self._src["fastest"].tolist(), self._dst["fastest"].tolist(), False)
        self._base_int = {m: _to_int(self._csr[m].data) for m in METRICS}
        self._metric = {m: rk.CCHMetric(self._cch, self._base_int[m].tolist()) for m in METRICS}
        # Scratch metrics for closures (partial re-customisation) and penalties (full), one
        # request at a time each, made by the first such request (a customisation, about
        # 25 ms: not at start-up); the base metrics are never changed.
        self._scratch: dict[Metric, rk.CCHMetric] = {}
        self._scratch_dirty = dict.fromkeys(METRICS, False)
        self._scratch_closed: dict[Metric, NDArray[np.int64]] = {m: np.empty(0, dtype=np.int64) for m in METRICS}
        self._scratch_lock = threading.Lock()
        self._local = threading.local()

    def _row(self, metric: Metric) -> dict[tuple[int, int], int]:
        """Return (node index pair) -> row of the metric's arrays, built on first use (closures need it)."""
        rows = self._row_maps.get(metric)
        if rows is None:
            src, dst = self._src[metric], self._dst[metric]
            rows = self._row_maps[metric] = {p: i for i, p in enumerate(zip(src.tolist(), dst.tolist(), strict=True))}
        return rows

    # -- node-level queries ---------------------------------------------------------

    def _check_metric(self, metric: str) -> Metric:
        if metric not in METRICS:
            raise InvalidInputError(f"`metric` must be one of {', '.join(METRICS)}; got {metric!r}.")
        return metric

    def _query(self, metric: Metric) -> rk.CCHQuery:
        """Return this thread's query object on the base metric."""
        qs = getattr(self._local, "queries", None)
        if qs is None:
            qs = self._local.queries = {}
        if metric not in qs:
            qs[metric] = _pinned(rk.CCHQuery(self._metric[metric]))
        return qs[metric]

    def node_path(self, a: int, b: int, *, metric: Metric) -> list[int]:
        """Return the node indices of a shortest path between node indices ([] if none).

        Parameters
        ----------
        a
            Start node index.
        b
            End node index.
        metric
            ``"fastest"`` (travel time) or ``"shortest"`` (length).
        """
        if a == b:
            return [a]
        res = self._query(metric).run(int(a), int(b))
        path = [int(p) for p in res.node_path] if res.distance is not None else []
        del res
        return path

    def node_costs(self, a: NDArray[np.int64], b: NDArray[np.int64], *, metric: Metric) -> NDArray[np.float64]:
        """Return shortest-path costs between paired node indices (inf where unreachable).

        Costs are the sums of the integer weights (1/1000 s or mm), in seconds or metres.

        Parameters
        ----------
        a
            Start node indices.
        b
            End node indices, paired with ``a``.
        metric
            ``"fastest"`` (travel time) or ``"shortest"`` (length).
        """
        out = np.empty(len(a))
        q = self._query(metric)
        for i, (x, y) in enumerate(zip(a.tolist(), b.tolist(), strict=True)):
            if x == y:
                out[i] = 0.0
                continue
            res = q.run(int(x), int(y))
            out[i] = np.inf if res.distance is None else res.distance / _SCALE
            del res
        return out

    def path_totals(self, path: Sequence[int], *, metric: Metric) -> tuple[float, float]:
        """Return (travel_time_s, length_m) along node indices, in floating point.

        Parameters
        ----------
        path
            Node indices of a path.
        metric
            ``"fastest"`` (travel time) or ``"shortest"`` (length).
        """
        rows = self._rows(path, metric)
        return float(self._time[metric][rows].sum()), float(self._length[metric][rows].sum())

    def _rows(self, path: Sequence[int], metric: Metric) -> NDArray[np.int64]:
        """Return the edge rows along a path of node indices."""
        p = np.asarray(path, dtype=np.int64)
        return np.searchsorted(self._codes[metric], p[:-1] * len(self.node_ids) + p[1:])

    # -- snapped queries ------------------------------------------------------------

    def _ends(self, snap: Snap, metric: Metric, *, origin: bool) -> list[tuple[int, float, float, float]]:
        """Return (node index, cost, time, length) of the graph nodes reachable from/to a snap."""
        return [(e.node, e.cost, e.time, e.length) for e in self.end_points(snap, metric, origin=origin)]

    def edge_row(self, u: int, v: int, key: int) -> int:
        """Return the row of graph edge (u, v, key) in the edge table (KeyError if the graph has none).

        Parameters
        ----------
        u
            The edge's first node id.
        v
            The edge's second node id.
        key
            The edge's key.
        """
        code = (self.index[u] * len(self.node_ids) + self.index[v]) * self._e_kmul + key
        codes = self._e_codes
        j = bisect.bisect_left(codes, code)
        if j == len(codes) or codes[j] != code:
            raise KeyError((u, v, key))
        return j

    def end_points(self, snap: Snap, metric: Metric, *, origin: bool, at_node_only: bool = False) -> list[End]:
        """Return the ways from a snapped point to the graph's nodes (``origin``) or back.

        Every candidate edge of the snap counts (a point on a junction meets each edge
        there), in each direction the edge may be driven; per node, the cheapest is kept.
        ``at_node_only``: a point on a junction is that junction alone. Right when no arc
        is closed or penalised: the hierarchy's arc between two nodes is never dearer
        than an edge between them, so leaving the junction along a whole edge to its
        other end is never cheaper than routing from the junction itself.

        Parameters
        ----------
        snap
            A point snapped to this engine's graph.
        metric
            ``"fastest"`` (travel time) or ``"shortest"`` (length).
        origin
            True for a route's start (ways to the nodes), False for its end (ways from them).
        at_node_only
            Only the ways of a point lying on a junction.
        """
        cost_of = self._e_time if metric == "fastest" else self._e_length
        e_time, e_length, e_u, e_v, e_rev = self._e_time, self._e_length, self._e_u, self._e_v, self._e_rev
        best: dict[int, End] = {}
        index = self.index
        for u, v, k, f in snap.candidates():
            if at_node_only and (f <= _AT_NODE or f >= 1.0 - _AT_NODE):
                # On a junction, which every edge there reaches at no cost: the first found stands for it.
                old = best.get(index[u] if f <= _AT_NODE else index[v])
                if old is not None and old.cost <= 0.0:
                    continue
            j = self.edge_row(u, v, k)
            r = e_rev[j]
            ways = []  # (node, share, row whose costs apply, f0, f1)
            if f <= _AT_NODE:
                ways.append((e_u[j], 0.0, j, 0.0, 0.0))
            if f >= 1.0 - _AT_NODE:
                ways.append((e_v[j], 0.0, j, 1.0, 1.0))
            if not (ways and at_node_only):
                if origin:
                    ways.append((e_v[j], 1.0 - f, j, f, 1.0))
                    if r >= 0:
                        ways.append((e_u[j], f, r, f, 0.0))
                else:
                    ways.append((e_u[j], f, j, 0.0, f))
                    if r >= 0:
                        ways.append((e_v[j], 1.0 - f, r, 1.0, f))
            for node, share, row, f0, f1 in ways:
                cost = share * cost_of[row]
                old = best.get(node)
                if old is None or cost < old.cost:
                    best[node] = End(node, cost, share * e_time[row], share * e_length[row], u, v, k, f0, f1, j)
        return list(best.values())

    def has_reverse(self, u: int, v: int, key: int) -> bool:
        """Return whether an edge runs back along edge (u, v, key) (a two-way street).

        Parameters
        ----------
        u
            The edge's first node id.
        v
            The edge's second node id.
        key
            The edge's key.
        """
        return self._e_rev[self.edge_row(u, v, key)] >= 0

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
        plain = blocked is None and penalty is None
        starts = self.end_points(origin, m, origin=True, at_node_only=plain)
        ends = self.end_points(destination, m, origin=False, at_node_only=plain)
        candidates: list[tuple[float, NDArray[np.int64], End, End | None]] = []
        direct = self._same_edge(origin, destination, m)
        if blocked is None and penalty is None:
            found = self._multi(self._query(m), starts, ends)
        else:
            with self._scratch_lock:
                metric_obj = self._prepare_scratch(m, blocked, penalty)
                q = rk.CCHQuery(metric_obj)
                found = self._multi(q, starts, ends)
                del q
        rows = _NO_ROWS
        if found is not None:
            path, rows, s, e = found
            # The cost matters only against a way along one edge.
            cost_of = self._time[m] if m == "fastest" else self._length[m]
            total = float(cost_of[rows].sum()) + s.cost + e.cost if direct is not None else 0.0
            candidates.append((total, path, s, e))
        if direct is not None:
            candidates.append((direct.cost, _NO_ROWS, direct, None))
        if not candidates:
            raise NoRouteError(
                f"no {m} route joins the origin ({origin.lat:.5f} N, {origin.lon:.5f} E) and the destination "
                f"({destination.lat:.5f} N, {destination.lon:.5f} E) on this network (one-way streets or "
                "disconnected roads); move a point onto a connected road."
            )
        _, path, first, last = min(candidates, key=lambda c: c[0])
        return self._assemble(path, rows, first, last, m)

    def _multi(
        self, q: rk.CCHQuery, starts: list[End], ends: list[End]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], End, End] | None:
        """Run one query from every start to every end (each with its cost).

        Return the best path's node indices, its rows (the hierarchy's arcs are the
        metrics' rows, in the same order: the nodes are their tails, then the last head),
        and its two ends.
        """
        if not starts or not ends:
            return None
        res = q.run_multi([(s.node, _int_cost(s.cost)) for s in starts], [(e.node, _int_cost(e.cost)) for e in ends])
        if res.distance is None:
            del res
            return None
        arcs = res.arc_path
        rows = np.array(arcs, dtype=np.int64)
        if arcs:
            path = np.empty(len(rows) + 1, dtype=np.int64)
            path[:-1] = self._src["fastest"][rows]
            path[-1] = self._dst["fastest"][arcs[-1]]
        else:
            path = np.array(res.node_path, dtype=np.int64)
        del res
        first, last = int(path[0]), int(path[-1])
        s = starts[0] if len(starts) == 1 else min((x for x in starts if x.node == first), key=lambda x: x.cost)
        e = ends[0] if len(ends) == 1 else min((x for x in ends if x.node == last), key=lambda x: x.cost)
        return path, rows, s, e

    def _updater(self) -> Any:  # noqa: ANN401 - the binding's partial updater
        """Return this thread's partial updater of the scratch metrics (the binding's are "unsendable": one per thread)."""
        up = getattr(self._local, "updater", None)
        if up is None:
            up = self._local.updater = _pinned(rk.CCHMetricPartialUpdater(self._cch))
        return up

    def _prepare_scratch(
        self, m: Metric, blocked: NDArray[np.bool_] | None, penalty: NDArray[np.float64] | None
    ) -> rk.CCHMetric:
        """Return the scratch metric with closures (and penalties) applied; hold the scratch lock.

        Closures are a partial re-customisation of the arcs that change. The scratch metric
        keeps the last closure set: the next request with the same closures (an event's
        plan, asked for route after route) needs no update at all, and a different set
        updates only the arcs that differ.
        """
        metric_obj = self._scratch.get(m)
        if metric_obj is None:
            metric_obj = self._scratch[m] = rk.CCHMetric(self._cch, self._base_int[m].tolist())
        if penalty is not None:
            w = np.minimum(np.round(self._csr[m].data * penalty * _SCALE), _INF - 1).astype(np.int64)
            if blocked is not None:
                w[blocked] = _INF
            metric_obj.reset(w.tolist())
            self._scratch_dirty[m] = True
            return metric_obj
        if self._scratch_dirty[m]:
            metric_obj.reset(self._base_int[m].tolist())
            self._scratch_dirty[m] = False
            self._scratch_closed[m] = np.empty(0, dtype=np.int64)
        want = np.flatnonzero(blocked) if blocked is not None else np.empty(0, dtype=np.int64)
        have = self._scratch_closed[m]
        if len(want) != len(have) or not np.array_equal(want, have):
            reopen = np.setdiff1d(have, want, assume_unique=True)
            close = np.setdiff1d(want, have, assume_unique=True)
            updates = {int(i): int(self._base_int[m][i]) for i in reopen.tolist()}
            updates.update(dict.fromkeys(close.tolist(), _INF))
            if updates:
                self._updater().apply(metric_obj, updates)
            self._scratch_closed[m] = want
        return metric_obj

    def _same_edge(self, origin: Snap, destination: Snap, metric: Metric) -> End | None:
        """Return the cheapest way along one edge from origin to destination, if they share one."""
        best: End | None = None
        cost_of = self._e_time if metric == "fastest" else self._e_length
        dest = {(u, v, k): f for u, v, k, f in destination.candidates()}
        for u, v, k, f0 in origin.candidates():
            f1 = dest.get((u, v, k))
            if f1 is None:
                continue
            j = self.edge_row(u, v, k)
            row = j if f1 >= f0 else self._e_rev[j]
            if row < 0:
                continue
            df = abs(f1 - f0)
            e = End(-1, df * cost_of[row], df * self._e_time[row], df * self._e_length[row], u, v, k, f0, f1, j)
            if best is None or e.cost < best.cost:
                best = e
        return best

    def _piece(self, e: End) -> list[list[float]]:
        """Return the line of an end's partial edge, in the direction travelled."""
        if e.f0 == e.f1 and e.f0 in (0.0, 1.0):  # a point on a node: the line's first or last point
            lines = self._e_lines
            return [lines.flat[lines.offsets[e.row] if e.f0 == 0.0 else lines.offsets[e.row + 1] - 1].tolist()]
        line = self._e_lines[e.row].tolist()
        if e.f0 <= e.f1:
            return partial_line(line, e.f0, e.f1)
        return partial_line(line, e.f1, e.f0)[::-1]

    def _assemble(
        self, path: NDArray[np.int64], rows: NDArray[np.int64], s: End, e: End | None, metric: Metric
    ) -> Route:
        if e is None:  # origin and destination on the same edge
            return self._finish(np.array(self._piece(s)), s, None, _NO_ROWS, (), (), metric)
        ids = self.node_ids[path].tolist()
        edges = tuple(zip(ids[:-1], ids[1:], self._keyarr[metric][rows].tolist(), strict=True))
        # No rows: the ends meet at one node (two points on edges that join there, or one point twice).
        mid = self._coords[metric].chain(rows) if len(rows) else np.array([[self.lon[path[0]], self.lat[path[0]]]])
        head, tail = self._piece(s), self._piece(e)
        # The pieces meet the path's first and last nodes (a point of the chained lines): once each.
        x0, y0 = mid[0].tolist()
        if abs(head[-1][0] - x0) <= _SAME and abs(head[-1][1] - y0) <= _SAME:
            head = head[:-1]
        x1, y1 = mid[-1].tolist()
        if abs(tail[0][0] - x1) <= _SAME and abs(tail[0][1] - y1) <= _SAME:
            tail = tail[1:]
        coords = np.empty((len(head) + len(mid) + len(tail), 2))
        if head:
            coords[: len(head)] = head
        coords[len(head) : len(head) + len(mid)] = mid
        if tail:
            coords[len(head) + len(mid) :] = tail
        return self._finish(coords, s, e, rows, tuple(ids), edges, metric)

    def _finish(
        self,
        coords: NDArray[np.float64],
        s: End,
        e: End | None,
        rows: NDArray[np.int64],
        nodes: tuple[int, ...],
        edges: tuple[tuple[int, int, int], ...],
        metric: Metric,
    ) -> Route:
        """Return the route of a line, its ends (``e`` None: one piece along one edge) and its rows between them."""
        times, lengths = self._time[metric], self._length[metric]
        mid_lengths = lengths[rows].tolist()
        tail = (-1, 0.0, 0.0) if e is None else (self._e_label[e.row], e.length, e.time)
        runs = street_runs(
            self._e_label[s.row], s.length, s.time, rows, self._labels[metric], lengths, times, *tail,
            self._label_joins, self._joins,
        )  # fmt: skip
        return Route(
            coords=np.vstack([coords, coords]) if len(coords) == 1 else coords,
            nodes=nodes,
            edges=edges,
            travel_time_s=math.fsum([s.time, *times[rows].tolist(), tail[2]]),
            length_m=math.fsum([s.length, *mid_lengths, tail[1]]),
            streets=self._legs(runs),
            metric=metric,
            edge_lengths_m=tuple(mid_lengths),
            edge_times_s=tuple(times[rows].tolist()),
            head_time_s=float(s.time) if e is not None else 0.0,
            edge_rows=tuple(rows.tolist()),
        )

    def _joins(self, a: int, b: int) -> bool:
        """Return whether a piece labelled ``b`` continues the street of the piece before it, labelled ``a``.

        Pieces belong to one street when their names share a name (osmnx joins the names of
        ways merged into one edge: "Airport Expressway / 机场高速" continues "机场高速"), or,
        both unnamed, when their road class is the same.
        """
        pair = (a, b)
        joined = self._label_joins.get(pair)
        if joined is None:
            (name_a, cls_a), (name_b, cls_b) = (self._label_text[c].split(SEP) for c in pair)
            if name_b:
                joined = bool(set(name_a.split(" / ")) & set(name_b.split(" / "))) if name_a else False
            else:
                joined = not name_a and cls_a == cls_b
            self._label_joins[pair] = joined
        return joined

    def _legs(self, runs: list[tuple[int, float, float]]) -> tuple[StreetLeg, ...]:
        """Return the street legs of a route's runs.

        A run (`geo._kernels.street_runs`) is consecutive pieces of one street (`_joins`),
        labelled by its longest piece (the first of equal ones); pieces of no length count
        only when every piece is one.
        """
        parts = self._label_parts
        legs = []
        for c, ln, t in runs:
            p = parts.get(c)
            if p is None:
                name, cls = self._label_text[c].split(SEP)
                p = parts[c] = (name, cls)
            legs.append(StreetLeg(p[0], ln, t, p[1]))
        return tuple(legs)

    # -- closures, alternatives, matrices ----------------------------------------------

    def edge_mask(self, edges: set[tuple[int, int]], *, metric: str) -> NDArray[np.bool_]:
        """Return the per-row mask of the metric's arrays for graph node-id pairs ``edges``.

        Parameters
        ----------
        edges
            Graph node-id pairs (u, v).
        metric
            ``"fastest"`` (travel time) or ``"shortest"`` (length).
        """
        m = self._check_metric(metric)
        mask = np.zeros(len(self._src[m]), dtype=bool)
        rows = self._row(m)
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

        Parameters
        ----------
        origin
            The start, snapped to this engine's graph.
        destination
            The end, snapped to this engine's graph.
        metric
            ``"fastest"`` (travel time) or ``"shortest"`` (length).
        k
            How many routes at most.
        blocked
            Per-row mask of the metric's arrays that may not be used (closures), or None.
        penalty_factor
            How much the weights of used edges grow for the next search.
        max_overlap
            The largest share of length an alternative may share with a route already found.
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
        rows = self._row(metric)
        return [rows[(self.index[u], self.index[v])] for u, v, _ in route.edges]

    def matrix(
        self,
        origins: Sequence[Snap],
        destinations: Sequence[Snap],
        *,
        metric: str = "fastest",
        blocked: NDArray[np.bool_] | None = None,
    ) -> NDArray[np.float64]:
        """Return the (origins x destinations) cost matrix (inf where unreachable).

        The cost is seconds for ``fastest`` and metres for ``shortest``. ``blocked`` closes
        edges as in `route` (the snapped edges themselves stay usable).

        Parameters
        ----------
        origins
            Start points snapped to this engine's graph.
        destinations
            End points snapped to this engine's graph.
        metric
            ``"fastest"`` (travel time) or ``"shortest"`` (length).
        blocked
            Per-row mask of the metric's arrays that may not be used (closures), or None.
        """
        if blocked is None or not blocked.any():
            return self._matrix(origins, destinations, self._check_metric(metric), None)
        with self._scratch_lock:
            m = self._check_metric(metric)
            return self._matrix(origins, destinations, m, self._prepare_scratch(m, blocked, None))

    def _matrix(
        self, origins: Sequence[Snap], destinations: Sequence[Snap], m: Metric, metric_obj: rk.CCHMetric | None
    ) -> NDArray[np.float64]:
        s_ends = [self.end_points(o, m, origin=True) for o in origins]
        d_ends = [self.end_points(d, m, origin=False) for d in destinations]
        out = np.full((len(origins), len(destinations)), np.inf)
        flat = [e for de in d_ends for e in de]
        if flat and any(s_ends):
            # Pin every end node of every destination once; one sweep per origin gives them all.
            targets = [e.node for e in flat]
            extra = np.array([e.cost for e in flat])
            owner = np.repeat(np.arange(len(destinations)), [len(de) for de in d_ends])
            starts_at = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]) if len(owner) else np.empty(0, int)
            has = np.array([len(de) > 0 for de in d_ends])
            otm = rk.CCHOneToMany(self._metric[m] if metric_obj is None else metric_obj, targets)
            for i, se in enumerate(s_ends):
                if not se:
                    continue
                got = otm.distances_from_multi([(s.node, _int_cost(s.cost)) for s in se])
                d = np.array(got, dtype=float) / _SCALE + extra  # None (unreachable) becomes NaN
                d[np.isnan(d)] = np.inf
                out[i, has] = np.minimum.reduceat(d, starts_at)
            del otm
        # Pairs on one edge may be joined along it without passing a node.
        on_edge: dict[tuple[int, int, int], list[int]] = {}
        for j, dd in enumerate(destinations):
            for u, v, k, _ in dd.candidates():
                on_edge.setdefault((u, v, k), []).append(j)
        for i, o in enumerate(origins):
            shared = {j for u, v, k, _ in o.candidates() for j in on_edge.get((u, v, k), ())}
            for j in shared:
                direct = self._same_edge(o, destinations[j], m)
                if direct is not None:
                    out[i, j] = min(out[i, j], direct.cost)
        return out


def build_engine(graph: nx.MultiDiGraph, *, arrays: Mapping[str, NDArray[Any]] | None = None) -> RoutingEngine:
    """Return a routing engine over ``graph`` (which it does not change).

    Parameters
    ----------
    graph
        A road graph in WGS84 with ``travel_time_s`` and ``length_m`` on every edge.
    arrays
        The graph's `geo.engine_arrays.engine_arrays`, when already built (read back
        memory-mapped from a cache by ``layers``); built from ``graph`` when None.

    Returns
    -------
    RoutingEngine
        The engine.
    """
    return RoutingEngine(graph, arrays=arrays)
