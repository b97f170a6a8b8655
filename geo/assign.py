"""All-or-nothing assignment of trips to the fastest routes, and where each route first meets a closure.

The road graph is a CSR matrix whose rows are the engine's arc rows (sorted by tail, then
head; one arc per node pair). From each origin node, one Dijkstra search (scipy) gives the
tree of fastest routes; every trip follows its tree (all-or-nothing: no congestion, every
trip on the fastest route before the closures; a stated simplification). From the trees:

- `AonTrees.flows`: the trips on each arc (a subtree sum: the trips to every node below it);
- `AonTrees.first_closed`: for a set of closed arcs, the first one each route meets (the
  approach where its traffic queues), by pointer jumping up the trees;
- `local_detours`: per arc, the fastest way round the one-way chain it lies in (a bound on
  the detour of any trip that used it), for the closure-cost atlas.

Everything here is pure: arrays in, arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from geo import _kernels

__all__ = ["AonTrees", "aon_trees", "chains", "crossing_detours", "local_detours"]

_NONE = -9999  # scipy's predecessor of a root or an unreached node


@dataclass(frozen=True)
class AonTrees:
    """The fastest-route trees from the origin nodes: per origin, each node's parent and the arc row into it."""

    origins: NDArray[np.int64]  # node per origin
    parent: NDArray[np.int64]  # (O, N) parent node, or the node itself at the root and where unreached
    arc: NDArray[np.int64]  # (O, N) arc row from the parent, -1 at the root and where unreached
    n_arcs: int

    def flows(self, trips: NDArray[np.float64], dest_nodes: NDArray[np.int64]) -> NDArray[np.float64]:
        """Return the trips on each arc row when origin k sends ``trips[k, j]`` to node ``dest_nodes[j]``.

        Parameters
        ----------
        trips
            (O, D) trips from each origin to each destination.
        dest_nodes
            The node of each destination.
        """
        load = self.loads(trips, dest_nodes).ravel()
        arcs = self.arc.ravel()
        has = arcs >= 0
        out = np.zeros(self.n_arcs)
        # A node's load is its subtree's: every trip that crosses the arc into it.
        np.add.at(out, arcs[has], load[has])
        return out

    def loads(self, trips: NDArray[np.float64], dest_nodes: NDArray[np.int64]) -> NDArray[np.float64]:
        """Return (O, N): per origin, the trips that cross the tree's arc into each node (its subtree's trips).

        Parameters
        ----------
        trips
            (O, D) trips from each origin to each destination.
        dest_nodes
            The node of each destination.
        """
        o, n = self.parent.shape
        load = np.zeros(o * n)
        flat_dest = (np.arange(o)[:, None] * n + dest_nodes[None, :]).ravel()
        np.add.at(load, flat_dest, np.asarray(trips, dtype=float).ravel())
        parent = (self.parent + (np.arange(o) * n)[:, None]).ravel()
        depth = self._depth().ravel()
        order = np.argsort(-depth, kind="stable")
        bounds = np.searchsorted(-depth[order], np.arange(-int(depth.max()), 0))
        for k in range(len(bounds)):  # deepest level first: each node passes its load to its parent
            lo = bounds[k]
            hi = bounds[k + 1] if k + 1 < len(bounds) else int(np.searchsorted(-depth[order], 0))
            idx = order[lo:hi]
            np.add.at(load, parent[idx], load[idx])
        return load.reshape(o, n)

    def by_origin(
        self, loads: NDArray[np.float64], rows: NDArray[np.int64], heads: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """Return (O, len(rows)): each origin's trips on each of the given arc rows.

        Parameters
        ----------
        loads
            `loads` of the trips.
        rows
            Arc rows.
        heads
            Each row's head node.
        """
        return np.where(self.arc[:, heads] == rows[None, :], loads[:, heads], 0.0)

    def _depth(self) -> NDArray[np.int64]:
        """Return each node's depth in its tree (0 at the root and where unreached), by pointer jumping."""
        o, n = self.parent.shape
        anc = (self.parent + (np.arange(o) * n)[:, None]).ravel()
        depth = (self.arc.ravel() >= 0).astype(np.int64)
        while True:  # list ranking: add the depth of the segment above, then jump twice as far
            depth = depth + depth[anc]
            nxt = anc[anc]
            if np.array_equal(nxt, anc):
                return depth.reshape(o, n)
            anc = nxt

    def first_closed(self, blocked: NDArray[np.bool_], dest_nodes: NDArray[np.int64]) -> NDArray[np.int64]:
        """Return (O, D): the first blocked arc row on each origin's route to each destination, or -1.

        Parameters
        ----------
        blocked
            Per arc row, whether it is closed.
        dest_nodes
            The node of each destination.
        """
        o, n = self.parent.shape
        arcs = self.arc.ravel()
        first = np.where((arcs >= 0) & blocked[np.maximum(arcs, 0)], arcs, -1)
        anc = (self.parent + (np.arange(o) * n)[:, None]).ravel()
        while True:
            up = first[anc]
            first = np.where(up >= 0, up, first)  # the ancestor's segment lies nearer the root
            nxt = anc[anc]
            if np.array_equal(nxt, anc):
                break
            anc = nxt
        return first.reshape(o, n)[:, dest_nodes]


def aon_trees(graph: csr_matrix, origins: NDArray[np.int64]) -> AonTrees:
    """Return the fastest-route trees from ``origins`` over a CSR graph whose data order is the arc rows.

    Parameters
    ----------
    graph
        (N, N) arc times, one stored value per arc row, rows sorted (as `geo.routing` builds them).
    origins
        The origin nodes.
    """
    g = graph.tocsr()
    n = g.shape[0]
    _, pred = dijkstra(g, indices=np.asarray(origins), return_predecessors=True)
    pred = np.asarray(pred, dtype=np.int64).reshape(len(origins), n)
    node = np.broadcast_to(np.arange(n), pred.shape)
    reached = pred != _NONE
    parent = np.where(reached, pred, node)
    codes = np.repeat(np.arange(n, dtype=np.int64), np.diff(g.indptr)) * n + g.indices
    want = parent * n + node
    rows = np.searchsorted(codes, want)
    arc = np.where(reached, np.minimum(rows, len(codes) - 1), -1)
    return AonTrees(np.asarray(origins, dtype=np.int64), parent.astype(np.int64), arc.astype(np.int64), len(codes))


def chains(
    graph: csr_matrix, rows: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Return, per arc row, the one-way chain it lies in: its first row, its last head node and its time.

    A chain runs on through nodes with one arc in and one out (a road drawn with several
    vertices, a one-way carriageway between junctions): nothing can join or leave it there,
    so a way round one of its arcs is a way round all of it.

    Parameters
    ----------
    graph
        (N, N) arc times whose data order is the arc rows.
    rows
        The arc rows.
    """
    g = graph.tocsr()
    n = g.shape[0]
    src = np.repeat(np.arange(n, dtype=np.int64), np.diff(g.indptr))
    dst = g.indices.astype(np.int64)
    w = np.asarray(g.data, dtype=float)
    indeg = np.bincount(dst, minlength=n)
    outdeg = np.diff(g.indptr)
    through = (indeg == 1) & (outdeg == 1)
    in_arc = np.full(n, -1, dtype=np.int64)
    in_arc[dst] = np.arange(len(dst))
    first = np.asarray(rows, dtype=np.int64).copy()
    last = first.copy()
    time = w[first].copy()
    for _ in range(n):  # back to the chain's start (a closed loop of through nodes stops where it began)
        t = src[first]
        m = through[t] & (in_arc[t] != np.asarray(rows))
        if not m.any():
            break
        first[m] = in_arc[t[m]]
        time[m] += w[first[m]]
    for _ in range(n):  # on to its end
        h = dst[last]
        m = through[h] & (g.indptr[h] != np.asarray(rows))
        if not m.any():
            break
        last[m] = g.indptr[h[m]]
        time[m] += w[last[m]]
    return first, dst[last], time


def local_detours(graph: csr_matrix, rows: NDArray[np.int64], *, limit_s: float) -> NDArray[np.float64]:
    """Return, per arc row, how much longer the fastest way round its chain is (inf: none within ``limit_s``).

    The way round goes from the start of the arc's one-way chain (`chains`) to its end without
    it (or, where the chain ends at a fork with no other way in, to the head of each arc of the
    fork: the longest of those). A trip that passes through the chain can always take it, so it
    bounds that trip's detour from above (a trip that starts or ends inside the chain, or ends at
    its fork, cannot).

    Parameters
    ----------
    graph
        (N, N) arc times whose data order is the arc rows.
    rows
        The arc rows to price.
    limit_s
        Give up (inf) beyond this many seconds of way round.
    """
    g = graph.tocsr()
    src = np.repeat(np.arange(g.shape[0], dtype=np.int64), np.diff(g.indptr))
    first, end, time = chains(g, rows)
    args = (g.indptr.astype(np.intc), g.indices.astype(np.intc), np.asarray(g.data, dtype=float), src)
    out = _kernels.local_detours(*args, first, end, time, float(limit_s))
    # A chain that ends where the road forks, with no other way in: a trip goes on along one of
    # the fork's arcs, so the way round to that arc's head bounds it; the longest of them bounds them all.
    indeg = np.bincount(g.indices, minlength=g.shape[0])
    fork = np.flatnonzero(np.isinf(out) & (indeg[end] == 1))
    if len(fork):
        item = np.repeat(fork, np.diff(g.indptr)[end[fork]])
        arcs = np.concatenate([np.arange(g.indptr[v], g.indptr[v + 1]) for v in end[fork].tolist()])
        via = _kernels.local_detours(
            *args, first[item], g.indices[arcs].astype(np.int64), time[item] + g.data[arcs], float(limit_s)
        )
        worst = np.full(len(out), -np.inf)
        np.maximum.at(worst, item, via)
        out[fork] = worst[fork]
    return out


def crossing_detours(
    graph: csr_matrix, node: int, rows: NDArray[np.int64], *, limit_s: float
) -> dict[int, NDArray[np.float64]]:
    """Return, per approach arc row into ``node``, the fastest way round the node to each of its exits.

    For an approach u -> node and an exit node -> x (x not u: no U-turns), the way from u to
    x that does not pass the node, less the time through it; inf where there is none within
    ``limit_s`` seconds.

    Parameters
    ----------
    graph
        (N, N) arc times whose data order is the arc rows.
    node
        The crossing.
    rows
        The approaches (arc rows whose head is ``node``).
    limit_s
        Give up (inf) beyond this many seconds of way round.
    """
    g = graph.tocsr()
    src = np.repeat(np.arange(g.shape[0], dtype=np.int64), np.diff(g.indptr))
    w = np.asarray(g.data, dtype=float).copy()
    w[g.indices == node] = np.inf  # nothing enters the held crossing
    exits = np.arange(g.indptr[node], g.indptr[node + 1], dtype=np.int64)
    items: list[tuple[int, int]] = [
        (int(r), int(e)) for r in rows.tolist() for e in exits.tolist() if g.indices[e] != src[r]
    ]
    out: dict[int, NDArray[np.float64]] = {int(r): np.empty(0) for r in rows.tolist()}
    if not items:
        return out
    a = np.array([r for r, _ in items], dtype=np.int64)
    e = np.array([x for _, x in items], dtype=np.int64)
    base = np.asarray(g.data, dtype=float)[a] + np.asarray(g.data, dtype=float)[e]
    found = _kernels.local_detours(
        g.indptr.astype(np.intc),
        g.indices.astype(np.intc),
        w,
        src,
        a,
        g.indices[e].astype(np.int64),
        base,
        float(limit_s),
    )
    for r in out:
        out[r] = found[a == r]
    return out
