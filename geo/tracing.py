"""Trace the cells of a boolean raster into polygons, in numpy.

The result is the polygons `rasterio.features.shapes` (GDAL's polygonizer) gives with
``connectivity=4`` for the cells that are True: cells that share an edge belong to one
polygon, cells that touch only at a corner to two (which touch at that point), and holes
where cells are False. Every vertex is a cell corner where the outline turns.

It is two to three times as fast as GDAL with the conversion of its output to shapely
(`bench/coverage.py` prints both), and builds no Python object per vertex:

1. Each grid line between a True and a False cell is a boundary edge, directed with the
   True cell on its right. Maximal runs of edges with the same direction along a row or a
   column are the sides of the outlines; their ends are the vertices.
2. Every vertex ends one side and starts the next (horizontal then vertical, or the
   other way). Sides are matched by their shared corner. At a corner where two True
   cells touch diagonally (and two False ones), two outlines meet: if the two True cells
   belong to different polygons each outline turns round its own cell; if they belong to
   one polygon, the outline turns so that it does not touch itself (the polygon's shell
   and a hole, or two holes, then touch at that point, which is valid).
3. The sides form cycles (one per ring); their order comes from pointer jumping.
4. A ring is a shell or a hole by the sign of its area, and belongs to the polygon of
   the cells on its inner side (``scipy.ndimage.label``).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np
import shapely

if TYPE_CHECKING:
    from affine import Affine
    from numpy.typing import NDArray

__all__ = ["trace_cell_parts", "trace_cells"]


def trace_cells(mask: NDArray[np.bool_], transform: Affine) -> shapely.Geometry:
    """Return the True cells of ``mask`` as a MultiPolygon (an empty Polygon if none).

    Parameters
    ----------
    mask
        Cells, row 0 at the top.
    transform
        Affine transform from (column, row) cell corners to map coordinates (any CRS; the
        result is in the same one).

    Returns
    -------
    shapely.Geometry
        Valid MultiPolygon equal to GDAL's polygonizer output with 4-connectivity.
    """
    return trace_cell_parts(mask, transform)[0]


def trace_cell_parts(mask: NDArray[np.bool_], transform: Affine) -> tuple[shapely.Geometry, NDArray[np.int32]]:
    """Return `trace_cells`' MultiPolygon and, per cell, 1 + the index of its part in it (0 where False).

    Parameters
    ----------
    mask
        Boolean cell mask.
    transform
        The affine transform from (column, row) to map coordinates.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"`mask` must be 2-D; got shape {mask.shape}.")
    if not mask.any():
        return shapely.Polygon(), np.zeros(mask.shape, dtype=np.int32)
    rows, cols, ring_of_vertex, poly_of_ring, labels = _trace(mask)
    # Padded corner (r, c) is corner (r - 1, c - 1) of the mask.
    a, b, c, d, e, f = transform.a, transform.b, transform.c, transform.d, transform.e, transform.f
    u = cols - 1.0
    v = rows - 1.0
    xy = np.column_stack([a * u + b * v + c, d * u + e * v + f])
    rings = shapely.linearrings(xy, indices=ring_of_vertex)
    polys = shapely.polygons(rings, indices=poly_of_ring)
    # The labels are 1..n, each the cells of one polygon, and the polygons are in label order.
    return shapely.multipolygons(polys), labels


def _runs(s: NDArray[np.int8]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Return flat indices of the first and last element of each run of one nonzero value.

    Runs do not cross rows: the first and last column of ``s`` are zero.
    """
    flat = s.reshape(-1)
    nz = _flatnonzero(flat)
    if len(nz) == 0:
        return nz, nz
    val = flat[nz]
    brk = (np.diff(nz) != 1) | (np.diff(val) != 0)
    starts = np.ones(len(nz), dtype=bool)
    starts[1:] = brk
    ends = np.ones(len(nz), dtype=bool)
    ends[:-1] = brk
    return nz[starts], nz[ends]


def _flatnonzero(flat: NDArray[np.int8]) -> NDArray[np.intp]:
    """Return np.flatnonzero(flat), quicker when few are nonzero (it scans 8 bytes at a time)."""
    n8 = len(flat) // 8 * 8
    words = np.flatnonzero(flat[:n8].view(np.uint64))
    cand = (words[:, None] * 8 + np.arange(8)).reshape(-1)
    head = cand[flat[cand] != 0]
    tail = np.flatnonzero(flat[n8:]) + n8
    return np.concatenate([head, tail]).astype(np.intp, copy=False)


_SCRATCH = threading.local()  # per thread: a reusable int32 lookup table (see `_pick`)


def _lookup(size: int) -> NDArray[np.int32]:
    """Return this thread's lookup table of at least ``size`` entries (stale values in it: see `_pick`)."""
    table: NDArray[np.int32] | None = getattr(_SCRATCH, "table", None)
    if table is None or len(table) < size:
        table = _SCRATCH.table = np.empty(size, dtype=np.int32)
    return table


def _pick(
    size: int,
    sorted_a: NDArray[np.intp],
    query_a: NDArray[np.intp],
    sorted_b: NDArray[np.intp],
    query_b: NDArray[np.intp],
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.bool_], NDArray[np.bool_]]:
    """Return the positions of the queries in two arrays of distinct keys below ``size``, and whether each is there.

    A table from key to position answers each query at once (no search). Entries not
    written in this call hold stale positions: a position counts only where the array
    holds the queried key there, so a stale one is never taken for a hit.
    """
    out = []
    for keys, query in ((sorted_a, query_a), (sorted_b, query_b)):
        table = _lookup(size)
        if len(keys) == 0:
            out.append((np.zeros(len(query), dtype=np.intp), np.zeros(len(query), dtype=bool)))
            continue
        table[keys] = np.arange(len(keys), dtype=np.int32)
        pos = table[np.clip(query, 0, size - 1)].astype(np.intp)
        np.clip(pos, 0, len(keys) - 1, out=pos)
        out.append((pos, (keys[pos] == query) & (query >= 0) & (query < size)))
    (ia, has_a), (ib, has_b) = out
    return ia, ib, has_a, has_b


def _trace(
    mask: NDArray[np.bool_],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.intp], NDArray[np.intp], NDArray[np.int32]]:
    """Return vertex rows and columns (padded corner indices), ring of each vertex, polygon of each ring, cell labels."""
    h, w = mask.shape
    h2, w2 = h + 2, w + 2
    cells = np.zeros((h2, w2), dtype=np.int8)
    cells[1:-1, 1:-1] = mask
    from scipy import ndimage  # imported by the first trace, not by a start that needs none (0.05 s)

    labels, _ = ndimage.label(mask)
    flat_cells = cells.reshape(-1)
    flat_labels = labels.reshape(-1)

    def label_at(r: NDArray[np.intp], c: NDArray[np.intp]) -> NDArray[np.int32]:
        """Return the polygon label of padded cells (r, c) (which must be True).

        Parameters
        ----------
        r
            Padded row indices.
        c
            Padded column indices.
        """
        return flat_labels[(r - 1) * w + (c - 1)]

    # Horizontal sides: line r + 1 lies between padded rows r and r + 1; +1 = True cell
    # below, traversed towards +column (True on the right, rows growing downwards).
    sh = cells[1:] - cells[:-1]
    hs, he = _runs(sh)
    h_row = hs // w2 + 1
    c0, c1 = hs % w2, he % w2 + 1
    h_down = sh.reshape(-1)[hs] > 0
    h_from = np.where(h_down, c0, c1)
    h_to = np.where(h_down, c1, c0)
    # Vertical sides: line c + 1 lies between padded columns c and c + 1; +1 = True cell on
    # the left, traversed towards +row. (Runs found on the transpose: sorted by column.)
    sv = np.ascontiguousarray((cells[:, :-1] - cells[:, 1:]).T)
    vs, ve = _runs(sv)
    v_col = vs // h2 + 1
    r0, r1 = vs % h2, ve % h2 + 1
    v_left = sv.reshape(-1)[vs] > 0
    v_to = np.where(v_left, r1, r0)

    def same_polygon(r: NDArray[np.intp], c: NDArray[np.intp]) -> NDArray[np.bool_]:
        """Return whether the two True cells touching diagonally at corners (r, c) share a polygon.

        Parameters
        ----------
        r
            Padded row indices of the corners.
        c
            Padded column indices of the corners.
        """
        upper = np.where(flat_cells[(r - 1) * w2 + c - 1] > 0, label_at(r - 1, c - 1), label_at(r - 1, c))
        lower = np.where(flat_cells[r * w2 + c] > 0, label_at(r, c), label_at(r, c - 1))
        return np.asarray(upper == lower)

    # After a horizontal side ending at corner (R, C): the vertical side at that corner,
    # below it (starting at row R) or above it (ending at row R). Both are there only where
    # two True cells touch diagonally: take the one round the same cell, or round the other
    # cell when both cells are in one polygon (so that no ring touches itself).
    cr, cc = h_row, h_to
    ib, ia, has_b, has_a = _pick(h2 * w2, vs, (cc - 1) * h2 + cr, ve, (cc - 1) * h2 + cr - 1)
    below = has_b.copy()
    both = np.flatnonzero(has_a & has_b)
    if len(both):
        below[both] = h_down[both] ^ same_polygon(cr[both], cc[both])
    v_after_h = np.where(below, ib, ia)
    # After a vertical side ending at corner (R, C): the horizontal side right of it
    # (starting at column C) or left of it (ending at column C); likewise where both are.
    cr, cc = v_to, v_col
    ir, il, has_r, has_l = _pick(h2 * w2, hs, (cr - 1) * w2 + cc, he, (cr - 1) * w2 + cc - 1)
    right = has_r.copy()
    both = np.flatnonzero(has_r & has_l)
    if len(both):
        v_lower = v_to[both] == r0[both]  # the side lies below the corner: its cell is in the lower row
        right[both] = h_down[ir[both]] == (v_lower ^ same_polygon(cr[both], cc[both]))
    h_after_v = np.where(right, ir, il)
    nxt = h_after_v[v_after_h]  # the horizontal side after each horizontal side

    ring, rank, ring_len, first = _cycles(nxt)
    # Each ring: twice its signed area (sum over horizontal sides of d(column) * row, rows
    # growing downwards), positive for a hole (the True cells are kept on the right); its
    # polygon is the label of the cell inside its first side.
    n_rings = len(ring_len)
    area2 = np.bincount(ring, weights=(h_to - h_from) * h_row, minlength=n_rings)
    inner_row = np.where(h_down[first], h_row[first], h_row[first] - 1)
    ring_label = label_at(inner_row, np.minimum(h_from[first], h_to[first]))
    ring_order = np.lexsort((area2 > 0, ring_label))  # per polygon: shell first
    new_ring = np.empty(n_rings, dtype=np.intp)
    new_ring[ring_order] = np.arange(n_rings)
    ring_start = np.zeros(n_rings, dtype=np.intp)
    np.cumsum(ring_len[ring_order][:-1], out=ring_start[1:])
    pos = ring_start[new_ring[ring]] + rank
    # Two vertices per horizontal side: where it starts and where it ends.
    n_v = 2 * len(nxt)
    rows = np.empty(n_v)
    cols = np.empty(n_v)
    rows[2 * pos] = h_row
    rows[2 * pos + 1] = h_row
    cols[2 * pos] = h_from
    cols[2 * pos + 1] = h_to
    ring_of_vertex = np.repeat(np.arange(n_rings), 2 * ring_len[ring_order])
    _, poly_of_ring = np.unique(ring_label[ring_order], return_inverse=True)
    return rows, cols, ring_of_vertex, poly_of_ring, labels


def _cycles(
    nxt: NDArray[np.intp],
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]:
    """Return each element's cycle and rank in it, and each cycle's length and first element.

    Pointer jumping: the smallest index on each cycle (found by doubling) starts the cycle,
    and ranks count the steps from it (doubling again on the cycle cut before it).
    """
    n = len(nxt)
    idx = np.arange(n)
    # After s rounds, head[i] is the smallest index among the 2**s elements from i on; it
    # is the cycle's smallest once a round changes nothing.
    head = idx
    p = nxt
    while True:
        lower = np.minimum(head, head[p])
        if np.array_equal(lower, head):
            break
        head = lower
        p = p[p]
    is_head = head == idx
    heads = np.flatnonzero(is_head)
    ring = (np.cumsum(is_head) - 1)[head]
    ring_len = np.bincount(ring, minlength=len(heads))
    # Distance to the cycle's last element (the one before its head), by doubling.
    last = np.zeros(n, dtype=bool)
    last[head[nxt] == nxt] = True
    succ = np.where(last, idx, nxt)
    dist = (~last).astype(np.intp)
    rounds = 0
    while (1 << rounds) < int(ring_len.max()):
        dist = dist + dist[succ]
        succ = succ[succ]
        rounds += 1
    rank = ring_len[ring] - 1 - dist
    return ring, rank, ring_len, heads
