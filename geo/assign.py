"""All-or-nothing assignment of trips to the fastest routes, and where each route first meets a closure.

The road graph is a CSR matrix whose rows are the engine's arc rows (sorted by tail, then
head; one arc per node pair). From each origin node, one Dijkstra search (scipy) gives the
tree of fastest routes; every trip follows its tree (all-or-nothing: no congestion, every
trip on the fastest route before the closures; a stated simplification). From the trees:

- `AonTrees.flows`: the trips on each arc (a subtree sum: the trips to every node below it);
- `AonTrees.first_closed`: for a set of closed arcs, the first one each route meets (the
  approach where its traffic queues), by pointer jumping up the trees;
- `local_detours`: per arc, the fastest way round it from its tail to its head (a bound on
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

__all__ = ["AonTrees", "aon_trees", "local_detours"]

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
        arcs = self.arc.ravel()
        has = arcs >= 0
        out = np.zeros(self.n_arcs)
        # A node's load after the pass is its subtree's: every trip that crosses the arc into it.
        np.add.at(out, arcs[has], load[has])
        return out

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


def local_detours(graph: csr_matrix, rows: NDArray[np.int64], *, limit_s: float) -> NDArray[np.float64]:
    """Return, per arc row, how much longer the fastest way round it is (tail to head without it; inf if none).

    A trip that used the arc can always take that way, so it bounds the trip's detour from above.

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
    return _kernels.local_detours(
        g.indptr.astype(np.intc),
        g.indices.astype(np.intc),
        np.asarray(g.data, dtype=float),
        src,
        np.asarray(rows, dtype=np.int64),
        float(limit_s),
    )
