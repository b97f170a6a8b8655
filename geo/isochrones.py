"""Isochrones that follow the road network, on a metric grid.

Every edge of a routing engine is sampled every half cell (UTM 50N). For a request,
Dijkstra (scipy, on the engine's CSR arrays, stopped at the largest band) gives the
travel time to every node; the time at a sample is the time of the edge's tail plus the
edge's time to that sample (or, in reverse, the time from the sample to the edge's head
plus the head's time to the target). Each grid cell takes the smallest time of its
samples, one cell of dilation fills the road's width, and a band is the set of cells
within its time. Polygons are those cells traced (`geo.tracing`, exact cell outlines):
they follow the reachable roads, with holes where nothing is reachable.

The grid is aligned with the 100 m population raster (a cell is 1/k of a population
cell), so population within a band is exact sums over whole cells, with no resampling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from scipy.sparse.csgraph import dijkstra

from geo.bands import Band, Grid
from geo.crs import lonlat_to_utm
from geo.errors import InvalidInputError
from geo.limits import LIMITS, Limits

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from scipy.sparse import csr_matrix

    from geo.routing import Metric, RoutingEngine
    from geo.snapping import Snap

__all__ = [
    "DEFAULT_BANDS_MIN",
    "Band",
    "Grid",
    "Reach",
    "ReachIndex",
    "check_bands",
]

DEFAULT_BANDS_MIN = (5.0, 10.0, 15.0, 30.0)


def check_bands(
    bands: tuple[float, ...] | list[float], *, label: str = "bands_min", unit: str = "minutes", limits: Limits = LIMITS
) -> tuple[float, ...]:
    """Return the bands sorted and unique, or raise a clear error.

    ``unit`` is ``"minutes"`` (travel times, at most ``limits.max_minutes``) or
    ``"metres"`` (distances along the network, at most ``limits.max_metres``).

    Parameters
    ----------
    bands
        The band limits asked for.
    label
        How the argument is named in error messages.
    unit
        What the numbers are (``"minutes"`` or ``"metres"``), for error messages.
    limits
        The bounds (the number of bands, the largest value).
    """
    top, what, eg = (limits.max_minutes, "travel time", "[5, 10, 15, 30]") if unit == "minutes" else (
        limits.max_metres, "distance", "[500, 1000, 2000]")  # fmt: skip
    if len(bands) == 0:
        raise InvalidInputError(f"`{label}` is empty; give one to {limits.max_bands} {unit}, e.g. {eg}.")
    if len(bands) > limits.max_bands:
        raise InvalidInputError(f"`{label}` has {len(bands)} bands; at most {limits.max_bands} are allowed.")
    out = []
    for b in bands:
        t = float(b)
        if not np.isfinite(t) or t <= 0 or t > top:
            raise InvalidInputError(f"`{label}`: {b!r} {unit} is not a {what}; give {unit} in (0, {top:g}].")
        out.append(t)
    return tuple(sorted(set(out)))


@dataclass(frozen=True)
class Reach:
    """Travel minutes over a window of a grid (inf where nothing is reached).

    ``minutes`` covers rows ``row0:row0+h`` and columns ``col0:col0+w`` of ``grid``; the
    window is aligned with whole coarse cells.
    """

    grid: Grid
    row0: int
    col0: int
    minutes: NDArray[np.float32] = field(repr=False)
    roads: NDArray[np.bool_] = field(repr=False)
    limit_min: float
    node_minutes: NDArray[np.float64] = field(repr=False)
    node_xy: NDArray[np.float64] = field(repr=False, default_factory=lambda: np.empty((0, 2)))

    def full(self) -> NDArray[np.float32]:
        """Return the minutes over the whole grid (inf outside the window)."""
        out = np.full((self.grid.height, self.grid.width), np.inf, dtype=np.float32)
        h, w = self.minutes.shape
        out[self.row0 : self.row0 + h, self.col0 : self.col0 + w] = self.minutes
        return out

    def band(self, band_min: float) -> Band:
        """Return the cells within ``band_min`` minutes.

        Cells on reached roads, blocks that reached roads enclose, and the roadless cells
        next to reached roads (a verge of one cell) are in; cells of roads or junctions not
        reached within the band never are.

        Parameters
        ----------
        band_min
            The band's travel time, minutes.
        """
        if band_min > self.limit_min + 1e-9:
            raise InvalidInputError(
                f"band {band_min:g} min exceeds the {self.limit_min:g} min this reach was computed to."
            )
        band = Band.crop(self.grid, self.row0, self.col0, self.verge_minutes <= band_min, band_min)
        if len(self.node_xy) == 0:
            return band
        # A junction not reached in time in a cell that is in (next to one that is
        # reached, 20 m away) is carved out of the polygon with a 2 m square.
        x, y = self.node_xy[:, 0], self.node_xy[:, 1]
        inside = band.contains(x, y)
        reached = self.node_minutes <= band_min
        return Band(
            band.grid,
            band.row0,
            band.col0,
            band.mask,
            band.minutes,
            carve_out=self.node_xy[inside & ~reached],
        )

    @cached_property
    def verge_minutes(self) -> NDArray[np.float32]:
        """Return the minutes with a verge: a roadless cell takes its edge-neighbours' best time."""
        m = self.minutes
        near = m.copy()
        np.minimum(near[1:], m[:-1], out=near[1:])
        np.minimum(near[:-1], m[1:], out=near[:-1])
        np.minimum(near[:, 1:], m[:, :-1], out=near[:, 1:])
        np.minimum(near[:, :-1], m[:, 1:], out=near[:, :-1])
        return np.where(self.roads, m, near)


class ReachIndex:
    """Samples of every edge of an engine on a grid, ready for isochrones.

    Parameters
    ----------
    engine
        The routing engine of one network.
    grid
        The grid; build it with `Grid.covering` around the network.
    max_fill_m2
        Roadless areas up to this size are filled when reached roads enclose them;
        larger ones (parks, lakes, walled sites) stay holes.
    metric
        ``"fastest"``: costs are seconds and bands minutes. ``"shortest"``: costs are
        metres, and every "minute" of this class is 60 m (``limit_min = metres / 60``).
    """

    def __init__(
        self, engine: RoutingEngine, grid: Grid, *, max_fill_m2: float = 200_000.0, metric: Metric = "fastest"
    ) -> None:
        self.engine = engine
        self.grid = grid
        self.metric: Metric = metric
        m = metric
        self._csr: csr_matrix = engine._csr[m]
        self._csr_t: csr_matrix = self._csr.T.tocsr()
        self._w = self._csr.data.astype(float)
        self._src = engine._src[m]
        self._dst = engine._dst[m]
        lines = engine._coords[m]
        counts = lines.counts()
        allc = np.asarray(lines.flat)
        x, y = lonlat_to_utm(allc[:, 0], allc[:, 1], name="network")
        self.node_x, self.node_y = lonlat_to_utm(engine.lon, engine.lat, name="network")
        self._node_cell = grid.cell_of(self.node_x, self.node_y)
        self._node_xy = np.column_stack([self.node_x, self.node_y])
        # Densify every edge line so that samples are at most half a cell apart.
        step = grid.cell_m / 2.0
        ends = np.cumsum(counts)
        starts = ends - counts
        seg_len = np.hypot(np.diff(x), np.diff(y))
        seg_len[ends[:-1] - 1] = 0.0  # no segment joins consecutive edges
        valid = np.ones(len(x) - 1, dtype=bool)
        valid[ends[:-1] - 1] = False
        seg_row = np.repeat(np.arange(len(lines)), counts)[:-1]
        cum = np.concatenate([[0.0], np.cumsum(seg_len)])
        edge_len = cum[ends - 1] - cum[starts]
        seg_idx = np.flatnonzero(valid)
        n_pts = np.maximum(np.ceil(seg_len[seg_idx] / step).astype(np.int64), 1)
        rep = np.repeat(seg_idx, n_pts)
        within = np.arange(n_pts.sum()) - np.repeat(np.cumsum(n_pts) - n_pts, n_pts)
        t = within / np.repeat(n_pts, n_pts)
        px = x[rep] + t * (x[rep + 1] - x[rep])
        py = y[rep] + t * (y[rep + 1] - y[rep])
        row = seg_row[rep]
        along = cum[rep] - cum[starts[row]] + t * seg_len[rep]
        # Add each edge's last vertex.
        last_x, last_y = x[ends - 1], y[ends - 1]
        px = np.concatenate([px, last_x])
        py = np.concatenate([py, last_y])
        row = np.concatenate([row, np.arange(len(lines))])
        along = np.concatenate([along, edge_len])
        frac = np.where(edge_len[row] > 0, along / np.maximum(edge_len[row], 1e-9), 0.0)
        cells = grid.cell_of(px, py)
        keep = cells >= 0
        self.sample_row = row[keep]
        self.sample_frac = frac[keep]
        self.sample_cell = cells[keep]
        # The time from the tail to the sample, and from the sample to the head.
        w_row = self._w[self.sample_row]
        self._to_sample = self.sample_frac * w_row
        self._from_sample = (1.0 - self.sample_frac) * w_row
        self._tail = self._src[self.sample_row]
        self._head = self._dst[self.sample_row]
        # The samples of each edge row, for the snapped edges.
        self._row_order = np.argsort(self.sample_row, kind="stable")
        self._row_start = np.searchsorted(self.sample_row[self._row_order], np.arange(len(lines) + 1))
        self._build_blocks(max_fill_m2)

    def _build_blocks(self, max_fill_m2: float) -> None:
        """Find the roadless areas (blocks) that a band may fill when roads reached enclose them.

        A block is a 4-connected run of cells without samples. It is filled at the largest
        time of the road cells around it, unless it touches the grid's edge or is larger
        than ``max_fill_m2`` (parks, lakes and walled sites stay holes).
        """
        from scipy import ndimage  # only building an index needs it (0.13 s of imports a warm start skips)

        g = self.grid
        has = np.zeros(g.height * g.width, dtype=bool)
        has[self.sample_cell] = True
        self.has_sample = has.reshape(g.height, g.width)
        labels, n = ndimage.label(~self.has_sample)
        area = np.bincount(labels.ravel(), minlength=n + 1) * g.cell_m**2
        edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
        fillable = area <= max_fill_m2
        fillable[0] = False
        fillable[edge] = False
        # Pairs (block, road cell) of 4-neighbours, sorted by block.
        flat = np.arange(g.height * g.width).reshape(g.height, g.width)
        blocks, cells = [], []
        for a, b in (
            (np.s_[:, 1:], np.s_[:, :-1]),
            (np.s_[:, :-1], np.s_[:, 1:]),
            (np.s_[1:, :], np.s_[:-1, :]),
            (np.s_[:-1, :], np.s_[1:, :]),
        ):
            la, hb = labels[a], self.has_sample[b]
            sel = (la > 0) & hb & fillable[la]
            blocks.append(la[sel])
            cells.append(flat[b][sel])
        blk = np.concatenate(blocks)
        order = np.argsort(blk, kind="stable")
        self._pair_block = blk[order]
        self._pair_cell = np.concatenate(cells)[order]
        self._block_starts = (
            np.flatnonzero(np.r_[True, np.diff(self._pair_block) > 0]) if len(blk) else np.empty(0, int)
        )
        self._labels = labels
        self._n_blocks = n

    # What the engine provides is not kept when the index is pickled (see `attach`).
    _FROM_ENGINE = ("engine", "_csr", "_csr_t", "_w", "_src", "_dst", "_rows_of_node")

    def __getstate__(self) -> dict[str, object]:
        """Return the index's own arrays, without the engine (re-attach it with `attach`)."""
        return {k: v for k, v in self.__dict__.items() if k not in self._FROM_ENGINE}

    def attach(self, engine: RoutingEngine) -> ReachIndex:
        """Attach the engine an unpickled index was built on (the same graph) and return the index.

        Parameters
        ----------
        engine
            The routing engine of the graph.
        """
        m = self.metric
        if int(self.sample_row.max(initial=-1)) >= len(engine._src[m]):
            raise ValueError("this reach index was built on another graph")
        self.engine = engine
        self._csr = engine._csr[m]
        self._csr_t = self._csr.T.tocsr()
        self._w = self._csr.data.astype(float)
        self._src = engine._src[m]
        self._dst = engine._dst[m]
        return self

    @property
    def n_samples(self) -> int:
        """Return how many samples the edges were cut into."""
        return len(self.sample_row)

    def node_seconds(self, snaps: list[Snap], *, limit_s: float, reverse: bool = False) -> NDArray[np.float64]:
        """Return seconds from the nearest snap to every node (to it, if ``reverse``); inf beyond ``limit_s``.

        Parameters
        ----------
        snaps
            Snapped points (`geo.snapping.Snap`) on the engine's graph.
        limit_s
            Stop searching beyond this many seconds.
        reverse
            Times towards the places instead of from them.
        """
        best = np.full(len(self.engine.node_ids), np.inf)
        for snap in snaps:
            for node, offset, _, _ in self.engine._ends(snap, self.metric, origin=not reverse):
                if offset > limit_s:
                    continue
                mat = self._csr_t if reverse else self._csr
                dist = dijkstra(mat, indices=node, limit=limit_s - offset)
                np.minimum(best, dist + offset, out=best)
        return best

    def reach(self, snaps: list[Snap], *, limit_min: float, reverse: bool = False) -> Reach:
        """Return the travel minutes from (or, if ``reverse``, to) the nearest of ``snaps``.

        Parameters
        ----------
        snaps
            Points on this engine's graph.
        limit_min
            Stop at this many minutes; farther cells are inf.
        reverse
            Time needed to reach the snaps instead of time from them.
        """
        limit_s = float(limit_min) * 60.0
        node_s = self.node_seconds(snaps, limit_s=limit_s, reverse=reverse)
        return self.reach_nodes(node_s, snaps, limit_min=limit_min, reverse=reverse)

    def reach_nodes(
        self, node_s: NDArray[np.float64], snaps: list[Snap], *, limit_min: float, reverse: bool = False
    ) -> Reach:
        """Return the reach of given node times (seconds; inf where not reached), e.g. by transit and a walk.

        Parameters
        ----------
        node_s
            Seconds from (or, if ``reverse``, to) the places at every node of the engine's graph.
        snaps
            The places' points on this engine's graph (the samples on their own edges are timed from them).
        limit_min
            Stop at this many minutes; farther cells are inf.
        reverse
            Time needed to reach the snaps instead of time from them.
        """
        limit_s = float(limit_min) * 60.0
        reached = np.empty(0, dtype=np.int64) if reverse else np.flatnonzero(np.isfinite(node_s))
        if reverse:
            cost = self._from_sample + node_s[self._head]
        elif 2 * len(reached) > len(node_s):  # most of the network: every sample at once is cheaper
            cost = node_s[self._tail] + self._to_sample
        else:
            # Only the samples on edges leaving a reached node can be reached (besides those
            # on the snapped edges themselves): a 15-minute band touches a third of them.
            cost = np.full(len(self.sample_row), np.inf)
            sel = self._samples_leaving(reached)
            cost[sel] = node_s[self._tail[sel]] + self._to_sample[sel]
        cost = self._snapped_edges(cost, snaps, reverse=reverse)
        hit = cost <= limit_s
        g = self.grid
        if not hit.any():
            empty = np.full((g.k, g.k), np.inf, dtype=np.float32)
            return Reach(g, 0, 0, empty, np.zeros(empty.shape, dtype=bool), float(limit_min), node_s / 60.0)
        cells = self.sample_cell[hit]
        cell_min = np.full(g.height * g.width, np.inf, dtype=np.float32)
        np.minimum.at(cell_min, cells, (cost[hit] / 60.0).astype(np.float32))
        # A cell holding junctions is in a band only when one of its junctions is: a road
        # that merely passes a junction (a slip road, the other carriageway) does not
        # make it reachable. (A reached and an unreached junction in one cell: the cell
        # is in, and `Reach.band` carves the unreached one out.)
        hit_cell = np.zeros(g.height * g.width, dtype=bool)
        hit_cell[cells] = True
        near = (self._node_cell >= 0) & hit_cell[np.maximum(self._node_cell, 0)]
        node_cells = self._node_cell[near]
        uniq, inv = np.unique(node_cells, return_inverse=True)
        node_min = np.full(len(uniq), np.inf, dtype=np.float32)
        np.minimum.at(node_min, inv, (node_s[near] / 60.0).astype(np.float32))
        cell_min[uniq] = np.maximum(cell_min[uniq], node_min)
        # A block takes the time of the slowest road cell around it (inf if any is unreached).
        block_min = np.full(self._n_blocks + 1, np.inf, dtype=np.float32)
        if len(self._pair_block):
            block_min[self._pair_block[self._block_starts]] = np.maximum.reduceat(
                cell_min[self._pair_cell], self._block_starts
            )
        # The window: the rows and columns with a reached cell, one cell more, in whole coarse cells.
        hit_grid = hit_cell.reshape(g.height, g.width)
        rows = np.flatnonzero(hit_grid.any(axis=1))
        cols = np.flatnonzero(hit_grid.any(axis=0))
        k = g.k
        r0 = max(int(rows[0]) - 1, 0) // k * k
        c0 = max(int(cols[0]) - 1, 0) // k * k
        r1 = min(-(-(int(rows[-1]) + 2) // k) * k, g.height)
        c1 = min(-(-(int(cols[-1]) + 2) // k) * k, g.width)
        win = cell_min.reshape(g.height, g.width)[r0:r1, c0:c1]
        has = self.has_sample[r0:r1, c0:c1]
        minutes = block_min.take(self._labels[r0:r1, c0:c1])
        np.copyto(minutes, win, where=has)
        return Reach(g, r0, c0, minutes, has, float(limit_min), node_s / 60.0, self._node_xy)

    def _samples_leaving(self, nodes: NDArray[np.int64]) -> NDArray[np.int64]:
        """Return the samples on the edges that leave ``nodes`` (node indices).

        The engine's rows are sorted by tail node, so a node's rows are one run, and so are
        their samples in `_row_order`.
        """
        rows_of = self._rows_of_node
        lo = self._row_start[rows_of[nodes]]
        hi = self._row_start[rows_of[nodes + 1]]
        n = hi - lo
        keep = n > 0
        lo, n = lo[keep], n[keep]
        if not len(n):
            return np.empty(0, dtype=np.int64)
        ends = np.cumsum(n)
        idx = np.arange(int(ends[-1]), dtype=np.int64) + np.repeat(lo - (ends - n), n)
        return self._row_order[idx]

    @cached_property
    def _rows_of_node(self) -> NDArray[np.int64]:
        """Return, per node index, where its rows start (and, one past the last node, the row count)."""
        return np.searchsorted(self._src, np.arange(len(self.engine.node_ids) + 1)).astype(np.int64)

    def _snapped_edges(self, cost: NDArray[np.float64], snaps: list[Snap], *, reverse: bool) -> NDArray[np.float64]:
        """Lower the times of samples on the snapped edges themselves (reached without a node)."""
        eng = self.engine
        rows_of = eng._row(self.metric)
        keys = eng._keyarr[self.metric]
        out = cost
        for snap in snaps:
            for u, v, key, f in snap.candidates():
                iu, iv = eng.index[u], eng.index[v]
                fwd = rows_of.get((iu, iv))
                if fwd is not None and int(keys[fwd]) == key:
                    out = self._along(out, fwd, f, reverse=reverse)
                back = rows_of.get((iv, iu))
                if back is not None and eng.has_reverse(u, v, key):
                    out = self._along(out, back, 1.0 - f, reverse=reverse)
        return out

    def _along(self, cost: NDArray[np.float64], row: int, f: float, *, reverse: bool) -> NDArray[np.float64]:
        sel = self._row_order[self._row_start[row] : self._row_start[row + 1]]
        fr = self.sample_frac[sel]
        w = self._w[row]
        direct = (f - fr) * w if reverse else (fr - f) * w
        ok = direct >= 0
        out = cost  # the caller's own array (`reach` makes a new one per request)
        out[sel[ok]] = np.minimum(out[sel[ok]], direct[ok])
        return out
