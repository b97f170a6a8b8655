# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled inner loops of the single-route hot path (snapping, street legs, route lines).

Each is a loop over a few dozen array rows that numpy would run as a dozen small array
operations; the callers in `geo.snapping` and `geo.routing` document what they compute.
Built by the project's install (setup.py, Cython); `geo/_kernels.pyi` types them for mypy.
"""

import numpy as np

from libc.math cimport INFINITY, floor, hypot, sqrt


cdef inline double _to_segment(const double* r, double x, double y, double* t, double* qx, double* qy) noexcept nogil:
    """Return the squared distance from (x, y) to the segment of grid row ``r``; set its nearest point and where it lies (0..1)."""
    cdef double px = x - r[0]
    cdef double py = y - r[1]
    cdef double f = (px * r[2] + py * r[3]) * r[4]
    if f < 0.0:
        f = 0.0
    elif f > 1.0:
        f = 1.0
    px -= f * r[2]
    py -= f * r[3]
    t[0] = f
    qx[0] = x - px
    qy[0] = y - py
    return px * px + py * py


def near_segments(
    const long long[::1] start,
    const int[::1] segs,
    const double[:, ::1] data,
    double x0,
    double y0,
    long long width,
    long long height,
    double cell,
    double x,
    double y,
    double limit,
    double tie,
):
    """Return (nearest distance, candidates) of a point from a `geo.snapping.SegmentGrid`, or None.

    None when the point is outside the grid, its cell lists no segment, or the nearest
    segment is farther than ``limit``. Each candidate is a segment within ``tie`` of the
    nearest (1e-12 relative slack) as (distance, edge, fraction of the edge's line before
    the nearest point, nearest point x, y).
    """
    cdef long long col = <long long>floor((x - x0) / cell)
    cdef long long row = <long long>floor((y - y0) / cell)
    if col < 0 or col >= width or row < 0 or row >= height:
        return None
    cdef long long c = row * width + col
    cdef long long a = start[c]
    cdef long long b = start[c + 1]
    cdef long long i, s
    cdef double t, qx, qy, d2, total, along
    cdef double best = 1e300
    if a == b:
        return None
    for i in range(a, b):
        d2 = _to_segment(&data[segs[i], 0], x, y, &t, &qx, &qy)
        if d2 < best:
            best = d2
    cdef double nearest = sqrt(best)
    if nearest > limit:
        return None
    cdef double bound = (nearest + tie) * (nearest + tie) * (1.0 + 1e-12)
    out = []
    for i in range(a, b):
        d2 = _to_segment(&data[segs[i], 0], x, y, &t, &qx, &qy)
        if d2 <= bound:
            s = segs[i]
            total = data[s, 6]
            along = data[s, 5] + t * hypot(data[s, 2], data[s, 3])
            out.append((sqrt(d2), <long long>data[s, 7], along / total if total > 0.0 else 0.0, qx, qy))
    return nearest, out


def street_runs(
    long long head_label,
    double head_length,
    double head_time,
    const long long[::1] rows,
    const long long[::1] label,
    const double[::1] length,
    const double[::1] time,
    long long tail_label,
    double tail_length,
    double tail_time,
    dict joins,
    object joins_of,
):
    """Return a route's street runs as [(label, length, time)]: see `RoutingEngine._merge_streets`.

    The pieces are the head, the rows (``label``, ``length``, ``time`` by row) and the
    tail (none when ``tail_label`` is -1). Consecutive pieces whose labels join
    (``joins[(a, b)]``, else ``joins_of(a, b)``) make one run, labelled by its longest
    piece (the first of equal ones); pieces of no length count only when every piece is one.
    """
    cdef Py_ssize_t n = rows.shape[0]
    cdef Py_ssize_t total = n + 1 + (tail_label >= 0)
    cdef Py_ssize_t k
    cdef long long code, prev, run_label
    cdef double ln, tm, run_len, run_time, longest
    cdef bint started = False
    runs = []
    for k in range(total):
        if k == 0:
            code, ln, tm = head_label, head_length, head_time
        elif k <= n:
            code, ln, tm = label[rows[k - 1]], length[rows[k - 1]], time[rows[k - 1]]
        else:
            code, ln, tm = tail_label, tail_length, tail_time
        if not ln > 0.0:
            continue
        if not started:
            started = True
            run_label, run_len, run_time, longest, prev = code, ln, tm, ln, code
            continue
        if code != prev:
            joined = joins.get((prev, code))
            if joined is None:
                joined = joins_of(prev, code)
            prev = code
            if not joined:
                runs.append((run_label, run_len, run_time))
                run_label, run_len, run_time, longest = code, ln, tm, ln
                continue
        run_len += ln
        run_time += tm
        if ln > longest:
            longest = ln
            run_label = code
    if not started:
        return [(head_label, head_length, head_time)]
    runs.append((run_label, run_len, run_time))
    return runs


def chain_lines(const double[:, ::1] flat, const long long[::1] offsets, const long long[::1] rows):
    """Return the lines of consecutive rows as one (n, 2) array, each joining point once: see `_Lines.chain`."""
    cdef Py_ssize_t m = rows.shape[0]
    cdef Py_ssize_t k, total = 1, at = 0
    cdef long long i, first
    for k in range(m):
        total += offsets[rows[k] + 1] - offsets[rows[k]] - 1
    if m == 0:
        total = 0
    out = np.empty((total, 2))
    cdef double[:, ::1] o = out
    for k in range(m):
        first = offsets[rows[k]] + (1 if k > 0 else 0)
        for i in range(first, offsets[rows[k] + 1]):
            o[at, 0] = flat[i, 0]
            o[at, 1] = flat[i, 1]
            at += 1
    return out


cdef inline void _push(double* hk, int* hv, int* size, double k, int v) noexcept nogil:
    cdef int i = size[0]
    cdef int p
    size[0] += 1
    while i > 0:
        p = (i - 1) >> 1
        if hk[p] <= k:
            break
        hk[i] = hk[p]
        hv[i] = hv[p]
        i = p
    hk[i] = k
    hv[i] = v


cdef inline void _pop(double* hk, int* hv, int* size) noexcept nogil:
    cdef int n = size[0] - 1
    cdef double k = hk[n]
    cdef int v = hv[n]
    cdef int i = 0
    cdef int c
    size[0] = n
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and hk[c + 1] < hk[c]:
            c += 1
        if hk[c] >= k:
            break
        hk[i] = hk[c]
        hv[i] = hv[c]
        i = c
    if n > 0:
        hk[i] = k
        hv[i] = v


def local_detours(
    const int[::1] indptr,
    const int[::1] indices,
    const double[::1] weights,
    const long long[::1] src,
    const long long[::1] rows,
    const long long[::1] targets,
    const double[::1] base,
    double limit,
):
    """Return, per item, the shortest way from the tail of arc ``rows[a]`` to node ``targets[a]`` without that arc, less ``base[a]``.

    One Dijkstra per item over the CSR graph with the row left out, stopped at the target or
    beyond ``limit`` seconds (inf: no way within the limit): see `geo.assign.local_detours`.
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1
    cdef Py_ssize_t m = rows.shape[0]
    out = np.full(m, np.inf)
    cdef double[::1] o = out
    dist_a = np.full(n, np.inf)
    cdef double[::1] dist = dist_a
    touched_a = np.empty(n, dtype=np.intc)
    cdef int[::1] touched = touched_a
    heap_k_a = np.empty(indices.shape[0] + 1)
    heap_v_a = np.empty(indices.shape[0] + 1, dtype=np.intc)
    cdef double[::1] hk = heap_k_a
    cdef int[::1] hv = heap_v_a
    cdef Py_ssize_t a, j
    cdef int nt, size, x, y, target, skip
    cdef double d, nd
    with nogil:
        for a in range(m):
            skip = <int>rows[a]
            x = <int>src[skip]
            target = <int>targets[a]
            nt = 0
            size = 0
            dist[x] = 0.0
            touched[nt] = x
            nt += 1
            _push(&hk[0], &hv[0], &size, 0.0, x)
            while size > 0:
                d = hk[0]
                x = hv[0]
                _pop(&hk[0], &hv[0], &size)
                if d > dist[x]:
                    continue
                if x == target:
                    o[a] = d - base[a]
                    if o[a] < 0.0:
                        o[a] = 0.0
                    break
                if d > limit:
                    break
                for j in range(indptr[x], indptr[x + 1]):
                    if j == skip:
                        continue
                    y = indices[j]
                    nd = d + weights[j]
                    if nd < dist[y]:
                        if dist[y] == INFINITY:
                            touched[nt] = y
                            nt += 1
                        dist[y] = nd
                        _push(&hk[0], &hv[0], &size, nd, y)
            for j in range(nt):
                dist[touched[j]] = INFINITY
    return out
